# -*- coding: utf-8 -*-
"""netvirt.overlay.ovs_bridges' record against real ovsdb-server/ovs-vswitchd in a lab host.

The playbook asserts each run as it goes (tests/integration/playbooks/ovs_bridges_record.yml); here
the run as a whole, and that every drift ran the module again.
"""

from __future__ import annotations

import os

from conftest import HERE

PLAYBOOK = os.path.join(HERE, 'playbooks', 'ovs_bridges_record.yml')
DRIFTS = 7


def test_a_kept_result_only_while_nothing_it_reads_changed(lab_playbook):
    pb = lab_playbook('ovs_single.yml')
    data = pb.run(PLAYBOOK)
    assert data['stats']['ovs1']['failures'] == 0
    runs = [host['ovs1'] for play in data['plays'] for task in play['tasks']
            for name, host in [(task['task']['name'], task['hosts'])]
            if name.endswith('Switch with a tunnel group, flows, groups and an address') and 'ovs1' in host]
    recorded = [run['recorded'] for run in runs]
    # first (changes, and keeps its check's result), second (that result), third (the record forgotten:
    # the module), fourth, check mode, learned flow; each drift's three (the second one's either way: the
    # state may move after the module's check, BFD's or a port number's); another request.
    assert len(runs) == 6 + 3 * DRIFTS + 1, len(runs)
    drifts = [recorded[6 + 3 * n:9 + 3 * n] for n in range(DRIFTS)]
    assert recorded[:6] == [False, True, False, True, True, True] and recorded[-1] is False, recorded
    assert all(drift[0] is False and drift[2] is True for drift in drifts), drifts
    # A kept result: no module ran (Ansible adds the module's invocation to what a module returns).
    assert all(('invocation' in run) != run['recorded'] for run in runs), runs
    assert [run['changed'] for run in runs] == [True] + [False] * 5 + [True, False, False] * DRIFTS + [True]
