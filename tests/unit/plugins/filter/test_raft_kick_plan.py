# -*- coding: utf-8 -*-
"""raft_kick_plan: which servers of an OVN Raft cluster the controller role kicks, and when it may."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.filter.raft_kick_plan import raft_kick_plan

CLUSTER = '6d0f8c0e-9a43-4bd0-8a4c-2f43b8f0c6aa'


def status(own_sid, servers, database='OVN_Northbound', cluster=CLUSTER, state='cluster member'):
    """cluster/status as ovsdb-server prints it: own_sid is the server asked, servers [(sid, address)]."""
    lines = ['%s' % own_sid, 'Name: %s' % database, 'Cluster ID: %s (%s)' % (cluster[:4], cluster),
             'Server ID: %s (%s-1111-2222-3333-444444444444)' % (own_sid, own_sid * 2),
             'Address: ssl:%s:6643' % dict((s, a) for s, a in servers).get(own_sid, '198.18.0.99'),
             'Status: %s' % state, 'Role: follower', 'Term: 3', 'Leader: %s' % servers[0][0], 'Vote: unknown', '',
             'Log: [2, 40]', 'Entries not yet committed: 0', 'Entries not yet applied: 0',
             'Connections: ->0000 <-1a2b', 'Disconnections: 1', 'Servers:']
    for sid, address in servers:
        lines.append('    %s (%s at ssl:%s:6643)%s next_index=41 match_index=40' % (
            sid, sid, address, ' (self)' if sid == own_sid else ''))
    return '\n'.join(lines) + '\n'


def controller(address, *answers):
    return {'controller_address': address,
            'controller_member_status': {'results': [{'stdout': a, 'rc': 0} for a in answers]}}


THREE = [('aaaa', '198.18.0.21'), ('bbbb', '198.18.0.22'), ('cccc', '198.18.0.23')]


def healthy():
    return [controller(a, status(s, THREE), status(s, THREE, database='OVN_Southbound', cluster='7' * 8 + CLUSTER[8:]))
            for s, a in THREE]


def test_a_healthy_cluster_kicks_nobody():
    plan = raft_kick_plan(status('aaaa', THREE), healthy())
    assert plan == {'cluster_id': CLUSTER, 'listed': 3, 'agreeing': 3, 'safe': True, 'kick': [], 'unknown': []}


def test_the_dead_server_of_a_replaced_controller_is_kicked():
    """ctl3 was replaced by a fresh machine with the same address: it joined as dddd, the cluster
    still lists cccc (dead) at that address."""
    four = THREE + [('dddd', '198.18.0.23')]
    controllers = [controller('198.18.0.21', status('aaaa', four)), controller('198.18.0.22', status('bbbb', four)),
                   controller('198.18.0.23', status('dddd', four))]
    plan = raft_kick_plan(status('aaaa', four), controllers)
    assert plan['kick'] == [{'sid': 'cccc', 'address': '198.18.0.23', 'reason': 'replaced by server dddd at the same address'}]
    assert (plan['listed'], plan['agreeing'], plan['safe'], plan['unknown']) == (4, 3, True, [])


def test_a_controller_that_did_not_answer_keeps_its_server():
    """ctl3 is down (no answer registered): it may come back, nothing is kicked."""
    controllers = healthy()[:2] + [{'controller_address': '198.18.0.23'}]
    plan = raft_kick_plan(status('aaaa', THREE), controllers)
    assert plan['kick'] == [] and plan['agreeing'] == 2 and plan['safe']


def test_a_controller_that_answers_from_another_cluster_kicks_nothing_at_its_address():
    """A fresh ctl3 that made a cluster of its own (another cluster ID) is not the same cluster's
    member: the listed server at its address is not replaced by it."""
    other = '99999999-9a43-4bd0-8a4c-2f43b8f0c6aa'
    controllers = healthy()[:2] + [controller('198.18.0.23', status('eeee', [('eeee', '198.18.0.23')], cluster=other))]
    plan = raft_kick_plan(status('aaaa', THREE), controllers)
    assert plan['kick'] == [] and plan['agreeing'] == 2


def test_a_controller_removed_from_the_inventory_is_kicked():
    plan = raft_kick_plan(status('aaaa', THREE), healthy()[:2])
    assert plan['kick'] == [{'sid': 'cccc', 'address': '198.18.0.23', 'reason': 'not in the inventory'}]
    assert plan['unknown'] == ['198.18.0.23'] and plan['safe']


def test_an_inventory_that_lost_most_controllers_is_not_safe():
    plan = raft_kick_plan(status('aaaa', THREE), healthy()[:1])
    assert [k['address'] for k in plan['kick']] == ['198.18.0.22', '198.18.0.23']
    assert (plan['agreeing'], plan['listed'], plan['safe']) == (1, 3, False)


def test_a_replacement_while_most_servers_are_gone_is_not_safe():
    """Four listed, only the replacement and one other answer: 2 is no majority of 4."""
    four = THREE + [('dddd', '198.18.0.23')]
    controllers = [controller('198.18.0.21', status('aaaa', four)), {'controller_address': '198.18.0.22'},
                   controller('198.18.0.23', status('dddd', four))]
    plan = raft_kick_plan(status('aaaa', four), controllers)
    assert [k['sid'] for k in plan['kick']] == ['cccc'] and not plan['safe']


def test_answers_are_matched_by_database():
    """The southbound answer of a controller says nothing about its northbound server."""
    four = THREE + [('dddd', '198.18.0.23')]
    controllers = [controller('198.18.0.21', status('aaaa', four)), controller('198.18.0.22', status('bbbb', four)),
                   controller('198.18.0.23', status('dddd', four, database='OVN_Southbound'))]
    plan = raft_kick_plan(status('aaaa', four), controllers)
    assert plan['kick'] == [] and plan['agreeing'] == 2


def test_ipv6_addresses():
    servers = [('aaaa', '[fd00::21]'), ('bbbb', '[fd00::22]')]
    text = status('aaaa', servers)
    controllers = [controller('fd00::21', text)]
    plan = raft_kick_plan(text, controllers)
    assert plan['kick'] == [{'sid': 'bbbb', 'address': 'fd00::22', 'reason': 'not in the inventory'}]


@pytest.mark.parametrize('bad', ['', 'ovn-appctl: cannot connect', None, 42])
def test_not_a_cluster_status_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match='not the output of ovn-appctl cluster/status'):
        raft_kick_plan(bad, healthy())


@pytest.mark.parametrize('bad', [None, 'ctl1', [{'address': '198.18.0.21'}], [None]])
def test_controllers_without_addresses_are_refused(bad):
    with pytest.raises(AnsibleFilterError, match='controller_address'):
        raft_kick_plan(status('aaaa', THREE), bad)
