# -*- coding: utf-8 -*-
"""A lab host shares this machine's kernel, so the ovs role must not load a kernel module there:
with the userspace datapath it must not go through ovs-ctl's module loading (ovs-kmod-ctl), which
"ovs-ctl start" runs whatever the datapath. This machine's kernel has no module support, so a real
modprobe would only be skipped here; the test puts a recording stand-in (a test double) for
ovs-kmod-ctl in the lab host's own mount namespace, then runs the role."""

from __future__ import annotations

import os

from conftest import CREATE, HERE, in_lab_host

STATE = '/run/netvirt-lab/it-ovs'
KMOD_CTL = '/usr/share/openvswitch/scripts/ovs-kmod-ctl'
CALLS = '/etc/openvswitch/kmod-double/calls'
# Test double, bound over ovs-kmod-ctl in the lab host only (its mount namespace is private).
DOUBLE = r'''set -e
d=/etc/openvswitch/kmod-double
mkdir -p "$d"
printf '#!/bin/sh\necho "ovs-kmod-ctl $*" >> %s\n' > "$d/ovs-kmod-ctl"
chmod +x "$d/ovs-kmod-ctl"
: > %s
mount --bind "$d/ovs-kmod-ctl" %s
''' % (CALLS, CALLS, KMOD_CTL)


def calls():
    return in_lab_host(STATE, 'ovs1', ['cat', CALLS]).stdout.splitlines()


def test_ovs_role_starts_the_userspace_datapath_without_loading_modules(lab_playbook):
    pb = lab_playbook('ovs_single.yml')
    pb.run(CREATE)
    in_lab_host(STATE, 'ovs1', ['sh', '-c', DOUBLE])
    # The double records what ovs-ctl asks of it: a plain "ovs-ctl load-kmod" shows up.
    in_lab_host(STATE, 'ovs1', ['/usr/share/openvswitch/scripts/ovs-ctl', 'load-kmod'])
    assert calls() == ['ovs-kmod-ctl insert']
    in_lab_host(STATE, 'ovs1', ['sh', '-c', ': > ' + CALLS])

    pb.run(os.path.join(HERE, 'playbooks', 'ovs_role.yml'))

    assert in_lab_host(STATE, 'ovs1', ['ovs-appctl', '-t', 'ovs-vswitchd', 'version']).returncode == 0
    assert 'netdev' in in_lab_host(STATE, 'ovs1', ['ovs-vsctl', 'get', 'Open_vSwitch', '.', 'datapath_types']).stdout
    assert in_lab_host(STATE, 'ovs1', ['ovs-vsctl', 'get', 'Open_vSwitch', '.', 'external_ids:system-id']).stdout.strip() == 'ovs1'
    assert calls() == [], 'the ovs role asked ovs-kmod-ctl for kernel modules: %s' % calls()
