# -*- coding: utf-8 -*-
"""Planning core: desired vs current -> changes, and the predicted state."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    PlanError, check_ifname, diff_columns, plan_bridge, plan_bridge_absent, plan_ports, simulate,
    unapplied, BRIDGE_COLUMNS)


def iface(**cols):
    base = {'type': 'system', 'options': {}, 'external_ids': {}, 'other_config': {},
            'mtu_request': None, 'ofport_request': None, 'bfd': {}}
    base.update(cols)
    return base


def port(interfaces, **cols):
    base = {'tag': None, 'trunks': [], 'vlan_mode': None, 'bond_mode': None, 'lacp': None,
            'external_ids': {}, 'other_config': {}, 'interfaces': interfaces}
    base.update(cols)
    return base


def bridge(ports, **cols):
    base = {'datapath_type': 'netdev', 'fail_mode': None, 'protocols': [], 'external_ids': {},
            'other_config': {}, 'controllers': [], 'ports': ports}
    base.update(cols)
    return base


STATE = {
    'br-phy': bridge({
        'br-phy': port({'br-phy': iface(type='internal')}),
        'eth1': port({'eth1': iface()}),
        'tep0': port({'tep0': iface(type='internal')}, tag=10),
    }, external_ids={'owner': 'someone-else'}),
}


def test_diff_columns_merge_keeps_unlisted_keys_and_removes_null_ones():
    cur = {'external_ids': {'a': '1', 'b': '2'}}
    assert diff_columns(cur, {'external_ids': {'a': '1'}}, {'external_ids': 'merge'}) == {}
    assert diff_columns(cur, {'external_ids': {'b': None, 'c': 3}}, {'external_ids': 'merge'}) == {
        'external_ids': {'a': '1', 'c': '3'}}


def test_diff_columns_exact_set_and_scalar():
    kinds = {'options': 'exact', 'trunks': 'set', 'tag': 'scalar'}
    cur = {'options': {'remote_ip': '1.2.3.4', 'key': '5'}, 'trunks': [2, 1], 'tag': 4}
    assert diff_columns(cur, {'options': {'remote_ip': '1.2.3.4'}, 'trunks': [1, 2], 'tag': 4}, kinds) == {
        'options': {'remote_ip': '1.2.3.4'}}
    assert diff_columns(cur, {'tag': None, 'trunks': None}, kinds) == {}


def test_nothing_to_do_when_state_matches():
    desired = {'tep0': {'tag': 10, 'interfaces': {'tep0': {'type': 'internal'}}},
               'eth1': {'interfaces': {'eth1': {'type': 'system'}}}}
    assert plan_bridge(STATE, 'br-phy', {'datapath_type': 'netdev'}, desired) == []


def test_changed_vlan_and_new_port_and_purge():
    desired = {'tep0': {'tag': 20, 'interfaces': {'tep0': {'type': 'internal'}}},
               'mgmt0': {'interfaces': {'mgmt0': {'type': 'internal', 'mtu_request': 1400}}}}
    changes = plan_bridge(STATE, 'br-phy', {}, desired, purge_ports=True)
    assert changes == [
        {'op': 'add_port', 'bridge': 'br-phy', 'port': 'mgmt0', 'set': {},
         'interfaces': {'mgmt0': {'type': 'internal', 'mtu_request': 1400}}},
        {'op': 'set_port', 'bridge': 'br-phy', 'port': 'tep0', 'set': {'tag': 20}},
        {'op': 'del_port', 'bridge': 'br-phy', 'port': 'eth1'},
    ]
    after = simulate(STATE, changes)
    assert sorted(after['br-phy']['ports']) == ['br-phy', 'mgmt0', 'tep0']
    assert after['br-phy']['ports']['tep0']['tag'] == 20
    assert after['br-phy']['ports']['mgmt0']['interfaces']['mgmt0']['mtu_request'] == 1400
    assert STATE['br-phy']['ports']['tep0']['tag'] == 10, 'simulate must not modify its input'
    assert unapplied(after, changes) == []


def test_purge_filter_protects_ports():
    changes = plan_ports('br-phy', STATE['br-phy']['ports'], {}, purge=True,
                         purge_filter=lambda name, p: name != 'tep0')
    assert changes == [{'op': 'del_port', 'bridge': 'br-phy', 'port': 'eth1'}]


def test_bond_members_added_and_removed():
    state = {'br0': bridge({'bond0': port({'eth0': iface(), 'eth1': iface()}, bond_mode='active-backup')})}
    desired = {'bond0': {'bond_mode': 'balance-slb', 'interfaces': {'eth1': {}, 'eth2': {}}}}
    changes = plan_bridge(state, 'br0', {}, desired)
    assert [c['op'] for c in changes] == ['set_port', 'add_interface', 'del_interface']
    after = simulate(state, changes)
    assert sorted(after['br0']['ports']['bond0']['interfaces']) == ['eth1', 'eth2']


def test_new_bridge_gets_its_local_port_and_absent_removes_it():
    changes = plan_bridge({}, 'br-int', {'fail_mode': 'secure', 'protocols': ['OpenFlow13']})
    assert changes == [{'op': 'add_bridge', 'bridge': 'br-int',
                        'set': {'fail_mode': 'secure', 'protocols': ['OpenFlow13']}}]
    after = simulate({}, changes)
    assert after['br-int']['ports']['br-int']['interfaces']['br-int']['type'] == 'internal'
    assert plan_bridge_absent(after, 'br-int') == [{'op': 'del_bridge', 'bridge': 'br-int'}]
    assert plan_bridge_absent({}, 'br-int') == []


def test_unapplied_reports_what_the_database_lacks():
    changes = [{'op': 'set_port', 'bridge': 'br-phy', 'port': 'tep0', 'set': {'tag': 30}},
               {'op': 'del_bridge', 'bridge': 'br-phy'}]
    assert unapplied(STATE, changes) == ['bridge=br-phy port=tep0 tag is 10, not 30',
                                         'bridge=br-phy still there (del_bridge)']


def test_controllers_are_a_set():
    state = {'br0': bridge({}, controllers=['tcp:198.18.0.1:6653'])}
    assert diff_columns(state['br0'], {'controllers': ['tcp:198.18.0.1:6653']}, BRIDGE_COLUMNS) == {}


@pytest.mark.parametrize('name', ['', 'a' * 16, 'has space', 'sl/ash'])
def test_bad_interface_names(name):
    with pytest.raises(PlanError, match='is not a valid interface name'):
        check_ifname(name, 'port')
