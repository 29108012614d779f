# -*- coding: utf-8 -*-
"""`site.yml --check --diff` tells the truth from the first run (inventories/lab, the static mesh
with service nodes and gateways, in a lab of its own name):

1. on a fresh lab, where no host has Open vSwitch running, nor any bridge, namespace or file of
   the roles, the check run goes to the end;
2. on the converged lab, with a pending change of encapsulation (GRE to VXLAN: every tunnel port
   is replaced, the flows and flood groups name ports that do not exist yet), the same.

Each time the check run changes nothing on any lab host (tests/integration/playbooks/files/
host_state.py: the Open_vSwitch database, flows and groups of every bridge, links and addresses,
network namespaces and their nftables rules, running daemons, the files the roles write), and
the real run that follows reports changed exactly the tasks, host by host, that check mode
reported changed.
"""

from __future__ import annotations

import os
import time

import pytest

from conftest import ROOT, SITE, changed_tasks, created_lab, host_states, state_differences

LAB = 'it-check-mode'
STATE = '/run/netvirt-lab/%s' % LAB
EXTRA = {'netvirt_lab_name': LAB, 'netvirt_lab_state_dir': STATE}
INVENTORY = os.path.join(ROOT, 'inventories', 'lab')
# Every host of the lab: those site.yml manages, and the VMs and outside hosts it must leave alone.
HOSTS = ('hv1', 'hv2', 'hv3', 'sn1', 'sn2', 'gw1', 'gw2', 'phys1', 'ext1', 'vm1', 'vm2', 'vm3', 'vm4')
# Where the roles write files on lab hosts (gateway_config_dir and gateway_run_dir of the lab).
FILE_DIRS = ('/run/netvirt-gateway',)


def snapshot():
    return host_states(STATE, HOSTS, FILE_DIRS)


def settled_snapshot(timeout=60):
    """The lab's state once it stops changing on its own: right after a deployment keepalived is
    still electing, and the active gateway's notify script adds br-l2's flows and brings links up."""
    deadline = time.monotonic() + timeout
    last = snapshot()
    while True:
        time.sleep(3)
        now = snapshot()
        if not state_differences(last, now):
            return now
        assert time.monotonic() < deadline, 'the lab keeps changing on its own: %s' % state_differences(last, now)
        last = now


def check_then_real(pb, extra_vars, label):
    before = settled_snapshot()
    check = pb.run(SITE, check=True, diff=True, extra_vars=extra_vars)
    changed = state_differences(before, snapshot())
    assert not changed, '%s: check mode changed %s' % (label, changed)
    real = pb.run(SITE, extra_vars=extra_vars)
    predicted, done = changed_tasks(check), changed_tasks(real)
    assert predicted == done, ('%s: check mode and the real run disagree\nonly predicted: %s\nonly done: %s'
                               % (label, sorted(predicted - done), sorted(done - predicted)))
    return predicted


@pytest.fixture(scope='module')
def fresh_lab():
    with created_lab(INVENTORY, EXTRA) as pb:
        yield pb


def test_check_mode_on_a_fresh_lab_then_on_a_pending_encapsulation_change(fresh_lab):
    predicted = check_then_real(fresh_lab, EXTRA, 'fresh lab')
    # The prediction covers every managed host and what a fresh host needs.
    assert set(host for host, _task in predicted) == {'hv1', 'hv2', 'hv3', 'sn1', 'sn2', 'gw1', 'gw2'}
    for task in ('netvirt.overlay.ovs : Start Open vSwitch for the userspace datapath (no kernel module)',
                 'netvirt.overlay.hypervisor : Tunnel endpoint address',
                 'netvirt.overlay.hypervisor : Bridges, ports and tunnels of this endpoint (stale tunnels removed)',
                 'netvirt.overlay.hypervisor : Overlay flows on the tunnel bridge'):
        assert ('hv1', task) in predicted, (task, sorted(predicted))

    vxlan = dict(EXTRA, overlay_encapsulation='vxlan')
    predicted = check_then_real(fresh_lab, vxlan, 'GRE to VXLAN')
    for task in ('netvirt.overlay.hypervisor : Bridges, ports and tunnels of this endpoint (stale tunnels removed)',
                 'netvirt.overlay.hypervisor : Overlay flows on the tunnel bridge',
                 'netvirt.overlay.hypervisor : Forget the MAC addresses learned through tunnels that were removed or replaced'):
        assert ('hv1', task) in predicted, (task, sorted(predicted))
