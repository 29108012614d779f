# -*- coding: utf-8 -*-
"""The OVSDB modules against real ovsdb-server/ovs-vswitchd in a lab host.

The playbook asserts each behaviour as it goes (check mode, idempotence, refusals,
errors, SSL); here we check the run as a whole and a few results across tasks.
"""

from __future__ import annotations

import os

from conftest import HERE, results

PLAYBOOK = os.path.join(HERE, 'playbooks', 'ovs_modules.yml')


def test_ovs_modules_against_real_ovs(lab_playbook):
    pb = lab_playbook('ovs_single.yml')
    data = pb.run(PLAYBOOK)
    assert data['stats']['ovs1']['failures'] == 0
    created = results(data, 'Bridge with a bond, internal ports and a patch port')['ovs1']
    ops = [(c['op'], c.get('port')) for c in created['changes']]
    assert ops == [('add_bridge', None), ('add_port', 'bond0'), ('add_port', 'mgmt0'),
                   ('add_port', 'patch-int'), ('add_port', 'tep0')]
    assert results(data, 'The same again')['ovs1']['changed'] is False
    tunnels = results(data, 'VXLAN mesh with BFD')['ovs1']['tunnels']
    assert sorted(t['remote_ip'] for t in tunnels.values()) == ['198.18.1.12', '198.18.1.13', '198.18.1.14']
    refusals = results(data, 'Bad input is refused before anything is written')['ovs1']['results']
    assert all(r['failed'] for r in refusals)
