# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entering a lab host: its PID from the lab's state directory, and the nsenter command line that
runs a command in its namespaces. Apart from _lab.py because the namespace connection plugin needs
only this, and Ansible imports a collection's connection plugin, with everything it imports, anew
in every worker process it forks for a task and host, compiled from source (no bytecode kept)."""

from __future__ import annotations

import os


class LabError(Exception):
    pass


# The namespaces of a lab host that a command runs in (the cgroup, time and user namespaces are
# the machine's: a lab host has none of its own).
NAMESPACES = ['--mount', '--uts', '--ipc', '--net', '--pid']


def read_pid(state_dir_path, name):
    """The PID in the pid file of lab host NAME (STATE_DIR_PATH/NAME.pid), which
    playbooks/lab/create.yml writes; the host may have died since."""
    pidfile = os.path.join(state_dir_path, '%s.pid' % name)
    try:
        with open(pidfile) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        raise LabError("lab host '%s' is not running (no PID in %s); create the lab first "
                       "(playbooks/lab/create.yml)" % (name, pidfile))


def host_pid(state_dir_path, name):
    """read_pid of a lab host that runs in namespaces of its own: entering the machine's own
    would run the command on the machine itself, so that is refused."""
    pid = read_pid(state_dir_path, name)
    try:
        for ns in ('net', 'mnt'):
            if os.readlink('/proc/%d/ns/%s' % (pid, ns)) == os.readlink('/proc/self/ns/%s' % ns):
                raise LabError("refusing lab host '%s': PID %d from %s is in this machine's own %s namespace, "
                               "not a lab host" % (name, pid, os.path.join(state_dir_path, name + '.pid'), ns))
    except OSError:
        raise LabError("lab host '%s' (PID %d from %s) is gone; re-create the lab"
                       % (name, pid, os.path.join(state_dir_path, name + '.pid')))
    return pid


def enter(pid, argv, net_only=False, all_namespaces=False):
    """The command line that runs argv inside the namespaces of process PID: by default those of
    a lab host (NAMESPACES); net_only, only its network namespace; all_namespaces, every
    namespace the process has (nsenter --all: also the cgroup, time and user namespaces, which a
    booted machine's systemd has of its own). The one builder of nsenter command lines: the lab
    module, the machines (_machine.py), the namespace connection plugin (so the lab playbooks and
    the Molecule checks), the tests and the benchmark go through it."""
    if net_only and all_namespaces:
        raise LabError('enter: net_only and all_namespaces exclude each other')
    if all_namespaces:
        namespaces = ['--all']
    elif net_only:
        namespaces = ['--net']
    else:
        namespaces = NAMESPACES
    return ['nsenter', '--target', str(pid)] + namespaces + ['--'] + list(argv)
