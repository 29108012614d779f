# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmarks that build a lab of their own share (bench/fleet.py, bench/ansible_settings.py,
bench/bum_replication.py, bench/tunnel_ports.py):
where the lab's playbooks and probe are, the machine's guard (tools/host_guard.py) and a guarded
run with its report, and running a
command in a host of the lab the way the tests and Ansible's namespace connection do
(plugins/module_utils/_lab.py). Run the benchmarks after ``. tools/setup.sh``, which puts this
checkout on the collections path (NVO_COLLECTIONS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tools'))
if os.environ.get('NVO_COLLECTIONS'):
    sys.path.insert(0, os.environ['NVO_COLLECTIONS'])

import host_guard  # noqa: E402  (tools/host_guard.py: what no lab may change)
from ansible_collections.netvirt.overlay.plugins.module_utils import _lab  # noqa: E402

__all__ = ['LAB_PLAYBOOKS', 'PROBE', 'ROOT', 'Failed', 'command', 'enter', 'guarded_run', 'host_guard', 'host_pid', 'report',
           'run_inside', 'state_dir']

LAB_PLAYBOOKS = os.path.join(ROOT, 'playbooks', 'lab')
PROBE = os.path.join(LAB_PLAYBOOKS, 'files', 'netprobe.py')


def state_dir(lab):
    """Where the lab named lab keeps its state (/run/netvirt-lab/LAB)."""
    return _lab.state_dir(lab)


def host_pid(state, host):
    """The PID that holds a lab host's namespaces."""
    return _lab.host_pid(state, host)


def enter(pid, argv):
    """argv as it runs inside the lab host PID (a host_pid)."""
    return _lab.enter(pid, argv)


def command(state, host, argv):
    """argv as it runs inside a lab host (never in the machine's own namespaces)."""
    return _lab.enter(_lab.host_pid(state, host), argv)


def run_inside(state, host, argv, timeout=60):
    """Run argv inside a lab host: its CompletedProcess (text; the caller checks the exit code)."""
    return subprocess.run(command(state, host, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)


class Failed(Exception):
    """A step of a benchmark failed (a playbook, a probe): the run ends and its lab is removed."""


def guarded_run(state, work):
    """Run work() as a benchmark that builds a lab must: refused when the lab's state directory
    exists (a lab of that name runs, or was left behind); SIGTERM (a CI timeout, kill) ends it
    through work's finally blocks, like Ctrl-C; the machine's root namespace is compared before and
    after. Returns (the Failed message or None, the changes to the machine)."""
    if os.path.exists(state):
        raise SystemExit('BENCHMARK FAILED: %s exists: a lab of this name is running (or was left behind)' % state)

    def stop(signum, _frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, stop)
    before = host_guard.snapshot()
    failure = None
    try:
        work()
    except Failed as exc:
        failure = str(exc)
    return failure, host_guard.differences(before, host_guard.snapshot())


def report(text, output, failure, changed):
    """Print a benchmark's text (and write it to output, when given), then judge the run: SystemExit
    when it changed the machine, 2 when a step failed, else None (the caller judges its checks)."""
    print(text)
    if output:
        with open(output, 'w') as handle:
            handle.write(text)
    if changed:
        raise SystemExit('BENCHMARK FAILED: the benchmark changed this machine: %s' % '; '.join(changed))
    if failure:
        print('BENCHMARK FAILED: %s' % failure)
        return 2
    return None
