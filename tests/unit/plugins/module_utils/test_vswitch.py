# -*- coding: utf-8 -*-
"""Planning core: desired vs current -> changes, and the predicted state."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    PlanError, check_ifname, device_exists, diff_columns, map_column, plan_bridge, plan_bridge_absent,
    plan_ports, set_column, simulate, unapplied, undo_changes, validate_settings, BRIDGE_COLUMNS)


def iface(**cols):
    base = {'type': 'system', 'options': {}, 'external_ids': {}, 'other_config': {},
            'mtu_request': None, 'ofport_request': None, 'mac': None, 'bfd': {}}
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


def test_map_values_are_ovsdb_strings_never_python_text():
    kinds = {'external_ids': 'merge', 'options': 'exact'}
    assert diff_columns({}, {'external_ids': {'on': True, 'n': 2}, 'options': {'csum': False}}, kinds) == {
        'external_ids': {'on': 'true', 'n': '2'}, 'options': {'csum': 'false'}}
    with pytest.raises(PlanError, match=r"external_ids.remotes: \['a', 'b'\] is a list"):
        diff_columns({}, {'external_ids': {'remotes': ['a', 'b']}}, kinds)
    with pytest.raises(PlanError, match='options: peer has no value'):
        diff_columns({}, {'options': {'peer': None}}, kinds)


def test_set_with_an_element_twice_is_refused():
    # The database keeps a set: a list with a duplicate would never match, and fail every run.
    with pytest.raises(PlanError, match='trunks: 10 is listed twice'):
        diff_columns({'trunks': [10]}, {'trunks': [10, 10]}, {'trunks': 'set'})


def test_map_and_set_checks():
    assert map_column({'a': 1, 'b': None}, 'external_ids') == {'a': '1', 'b': None}
    assert map_column(None, 'external_ids') is None
    with pytest.raises(PlanError, match="other_config: the key '' must be a non-empty string"):
        map_column({'': 'x'}, 'other_config')
    with pytest.raises(PlanError, match='options: key has no value'):
        map_column({'key': None}, 'options', allow_none=False)
    assert set_column(['OpenFlow13'], 'protocols') == ['OpenFlow13']
    assert set_column(None, 'protocols') == []
    with pytest.raises(PlanError, match="protocols: 'OpenFlow13' is listed twice"):
        set_column(['OpenFlow13', 'OpenFlow13'], 'protocols')


def test_device_exists_looks_at_this_network_namespace():
    assert device_exists('lo')
    assert not device_exists('nvo-no-such0')


def test_settings_as_the_roles_write_them_pass():
    settings = validate_settings({
        'external_ids': {'system-id': 'hv1', 'hostname': 'hv1', 'ovn-remote': 'ssl:198.18.0.21:6642,ssl:198.18.0.22:6642',
                         'ovn-encap-type': 'geneve', 'ovn-encap-ip': '198.18.1.11', 'ovn-bridge': 'br-int',
                         'ovn-bridge-datapath-type': 'netdev', 'ovn-bridge-mappings': 'physnet1:br-phy,physnet2:br-ex',
                         'ovn-cms-options': 'enable-chassis-as-gw', 'ovn-remote-probe-interval': 5000, 'gone': None},
        'other_config': {'max-idle': '10000', 'hw-offload': False, 'n-handler-threads': '0x2'}})
    assert settings['external_ids']['ovn-remote-probe-interval'] == '5000'
    assert settings['external_ids']['gone'] is None
    assert settings['other_config'] == {'max-idle': '10000', 'hw-offload': 'false', 'n-handler-threads': '2'}
    assert validate_settings({'external_ids': {'ovn-remote': 'tcp:ovn-sb.example:6642'}, 'other_config': {}})


@pytest.mark.parametrize('column, key, value, message', [
    ('external_ids', 'ovn-remote', ['ssl:198.18.0.21:6642'], "external_ids.ovn-remote: ['ssl:198.18.0.21:6642'] is a list"),
    ('other_config', 'dpdk', {'init': True}, "other_config.dpdk: {'init': True} is a dict"),
    ('external_ids', '', 'hv1', "external_ids: the key '' must be a non-empty string"),
    ('external_ids', ' ', 'hv1', "external_ids: the key ' ' must be a non-empty string"),
    ('external_ids', 'system-id', '', "external_ids.system-id: '' is empty"),
    ('external_ids', 'ovn-remote', 'ssl:198.18.0.21:6642,ssl:198.18.0.22',
     "external_ids.ovn-remote 'ssl:198.18.0.22' needs an address and a port"),
    ('external_ids', 'ovn-remote', 'ssl:198.18.0.21:6642,', "external_ids.ovn-remote: 'ssl:198.18.0.21:6642,' has an empty element"),
    ('external_ids', 'ovn-encap-type', 'gre', "external_ids.ovn-encap-type: 'gre' is not one of geneve, vxlan, stt"),
    ('external_ids', 'ovn-encap-ip', '198.18.1.300', "external_ids.ovn-encap-ip: '198.18.1.300' is not an IP address"),
    ('external_ids', 'ovn-bridge', 'br/int', "external_ids.ovn-bridge: bridge name 'br/int'"),
    ('external_ids', 'ovn-bridge-datapath-type', 'dpdk', "'dpdk' is not one of system, netdev"),
    ('external_ids', 'ovn-bridge-mappings', 'physnet1:br-phy,physnet2', "'physnet2' must be PHYSICAL_NETWORK:BRIDGE"),
    ('external_ids', 'ovn-remote-probe-interval', 'soon', "external_ids.ovn-remote-probe-interval: 'soon' is not a whole number"),
    ('external_ids', 'ovn-remote-probe-interval', 500, '500 ms is too short'),
    ('other_config', 'n-handler-threads', 0, 'other_config.n-handler-threads: 0 is out of range (allowed: 1-'),
    ('other_config', 'max-idle', 100, 'other_config.max-idle: 100 is out of range (allowed: 500-'),
    ('other_config', 'stats-update-interval', '1000', 'allowed: 5000-'),
    ('other_config', 'hw-offload', 'yes', "other_config.hw-offload: 'yes' is not one of true, false"),
    ('other_config', 'dpdk-init', 'maybe', "other_config.dpdk-init: 'maybe' is not one of true, false, try"),
])
def test_bad_settings_name_the_key(column, key, value, message):
    with pytest.raises(PlanError) as exc:
        validate_settings({column: {key: value}})
    assert message in str(exc.value)


def test_undo_takes_the_database_back():
    state = {'br-phy': bridge({
        'br-phy': port({'br-phy': iface(type='internal')}),
        'eth1': port({'eth1': iface(mtu_request=1600, external_ids={'a': '1'})}, tag=10),
        'bond0': port({'eth2': iface(), 'eth3': iface()}, bond_mode='active-backup'),
        'old': port({'old': iface(type='internal', ofport_request=9)}, trunks=[5]),
    }, controllers=['tcp:192.0.2.1:6653'])}
    changes = [
        {'op': 'set_bridge', 'bridge': 'br-phy', 'set': {'controllers': ['tcp:192.0.2.2:6653'], 'fail_mode': 'secure'}},
        {'op': 'add_port', 'bridge': 'br-phy', 'port': 'nosuchnic', 'set': {'tag': 5},
         'interfaces': {'nosuchnic': {'type': 'system'}}},
        {'op': 'set_port', 'bridge': 'br-phy', 'port': 'eth1', 'set': {'tag': 20}},
        {'op': 'set_interface', 'bridge': 'br-phy', 'port': 'eth1', 'interface': 'eth1',
         'set': {'mtu_request': None, 'external_ids': {'a': '2'}}},
        {'op': 'add_interface', 'bridge': 'br-phy', 'port': 'bond0', 'interface': 'eth4', 'set': {}},
        {'op': 'del_interface', 'bridge': 'br-phy', 'port': 'bond0', 'interface': 'eth3'},
        {'op': 'del_port', 'bridge': 'br-phy', 'port': 'old'},
    ]
    after = simulate(state, changes)
    undo = undo_changes(state, changes)
    assert simulate(after, undo) == state
    assert unapplied(simulate(after, undo), undo) == []


def test_undo_of_a_new_bridge_removes_it_and_a_removed_bridge_cannot_come_back():
    changes = plan_bridge({}, 'br-new', {'fail_mode': 'secure'}, {'eth9': {'interfaces': {'eth9': {'type': 'system'}}}})
    assert undo_changes({}, changes) == [{'op': 'del_bridge', 'bridge': 'br-new'}]
    assert undo_changes(STATE, [{'op': 'del_bridge', 'bridge': 'br-phy'}]) is None
