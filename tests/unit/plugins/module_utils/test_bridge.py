# -*- coding: utf-8 -*-
"""ovs_bridge's validation: everything wrong is refused before the database is touched."""

from __future__ import annotations

import re

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._bridge import (
    check_against_database, check_against_host, desired_ports, plan, validate_bridge)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError

from .test_vswitch import STATE, bridge, iface, port


def params(**kw):
    base = {'bridge': 'br-int', 'state': 'present', 'ports': [], 'purge_ports': False, 'controllers': None}
    base.update(kw)
    return base


def p(name, **kw):
    base = {'name': name, 'type': 'system'}
    base.update(kw)
    return base


@pytest.mark.parametrize('ports, message', [
    ([p('a'), p('a')], "port 'a' is listed twice"),
    ([p('b0', interfaces=['e1'])], 'a bond needs at least two interfaces'),
    ([p('b0', interfaces=['e1', 'e2']), p('b1', interfaces=['e2', 'e3'])], "interface 'e2' is used by both"),
    ([p('e1'), p('b0', interfaces=['e1', 'e2'])], "interface 'e1' is used by both port 'e1' and port 'b0'"),
    ([p('x', bond_mode='balance-slb')], 'bond_mode and lacp apply only to bonds'),
    ([p('x', type='patch')], 'a patch port needs peer'),
    ([p('x', peer='y')], 'peer is only for type patch'),
    ([p('x', tag=4096)], 'tag 4096 is outside 0-4095'),
    ([p('x', trunks=[1, 5000])], 'trunk 5000 is outside 0-4095'),
    ([p('x', mtu=40)], 'mtu 40 is outside 68-65535'),
    ([p('x', ofport=0)], 'ofport 0 is outside 1-65279'),
    ([p('x' * 16)], 'is not a valid interface name'),
])
def test_bad_ports_are_refused(ports, message):
    with pytest.raises(PlanError, match=message):
        desired_ports(ports)


def test_port_named_like_the_bridge_is_refused():
    with pytest.raises(PlanError, match="has the bridge's own name"):
        validate_bridge(params(ports=[p('br-int')]))


def test_bad_controller_is_refused():
    with pytest.raises(PlanError, match="controllers\\[0\\]: 'http://x' must start with tcp:, ssl:, unix:, ptcp:"):
        validate_bridge(params(controllers=['http://x']))


def test_ports_with_state_absent_are_refused():
    with pytest.raises(PlanError, match='ports cannot be given with state=absent'):
        validate_bridge(params(state='absent', ports=[p('a')]))


def test_port_on_another_bridge_is_refused():
    ports = desired_ports([p('eth1')])
    with pytest.raises(PlanError, match="port 'eth1' already exists on bridge 'br-phy'"):
        check_against_database(STATE, 'br-int', ports)


def test_bond_member_in_another_port_of_the_same_bridge_needs_purge():
    state = {'br0': bridge({'eth1': port({'eth1': iface()})})}
    ports = desired_ports([p('bond0', interfaces=['eth1', 'eth2'])])
    with pytest.raises(PlanError, match="interface 'eth1' is in port 'eth1' of this bridge"):
        check_against_database(state, 'br0', ports)
    check_against_database(state, 'br0', ports, purge=True)


def test_patch_port_options_and_purge_keeps_tunnels():
    state = {'br-int': bridge({
        'br-int': port({'br-int': iface(type='internal')}),
        'vm1': port({'vm1': iface()}),
        'gre-01020304': port({'gre-01020304': iface(type='gre')},
                             external_ids={'netvirt-overlay-tunnel-group': 'default'}),
    })}
    pr = params(ports=[p('patch-tun', type='patch', peer='patch-int')], purge_ports=True)
    changes = plan(pr, validate_bridge(pr), state)
    assert changes == [
        {'op': 'add_port', 'bridge': 'br-int', 'port': 'patch-tun', 'set': {},
         'interfaces': {'patch-tun': {'type': 'patch', 'options': {'peer': 'patch-int'}}}},
        {'op': 'del_port', 'bridge': 'br-int', 'port': 'vm1'},
    ]


def test_without_ports_the_bridge_ports_are_not_looked_at():
    pr = params(bridge='br-phy', ports=None, external_ids={'owner': 'someone-else'})
    assert plan(pr, validate_bridge(pr), STATE) == []


def refused(message):
    return pytest.raises(PlanError, match=re.escape(message))


@pytest.mark.parametrize('ports, message', [
    ([p('a', type='internal'), p('a', type='internal')], "ports[1].name: port 'a' is listed twice"),
    ([p('x' * 16)], 'ports[0].name: port name'),
    ([p('b0', interfaces=['e1', 'e1'])], "ports[0].interfaces: 'e1' is listed twice"),
    ([p('b0', interfaces=['e1', 'e/2'])], "ports[0].interfaces[1]: port 'b0': bond interface name 'e/2'"),
    ([p('b0', interfaces=['e1', 'e2'], ofport=5)], "ports[0].ofport: port 'b0': ofport applies to a single-interface port"),
    ([p('b0', interfaces=['e1', 'e2'], interface_external_ids={'a': 'b'})], 'ports[0].interface_external_ids'),
    ([p('x', type='patch', peer='x')], "ports[0].peer: port 'x': the peer 'x' is the port itself"),
    ([p('x', type='patch', peer='y/z')], "ports[0].peer: port 'x': peer name 'y/z'"),
    ([p('x', type='patch', peer='y', mtu=1500)], "ports[0].mtu: port 'x': a patch port has no MTU"),
    ([p('x', type='patch', peer='y', options={'peer': 'z'})], "ports[0].options.peer: port 'x': options.peer 'z'"),
    ([p('x', trunks=[10, 20, 10])], "ports[0].trunks: 10 is listed twice"),
    ([p('x', vlan_mode='access', trunks=[10])], "ports[0].trunks: port 'x': an access port carries only"),
    ([p('x', vlan_mode='trunk', tag=10)], "ports[0].tag: port 'x': a port with vlan_mode trunk has no tag"),
    ([p('x', type='internal', ofport=7), p('y', type='internal', ofport=7)],
     "ports[1].ofport: port 'y' asks for ofport 7, which port 'x' asks for too"),
    ([p('x', external_ids={'owners': ['a', 'b']})], "ports[0].external_ids.owners: ['a', 'b'] is a list"),
    ([p('x', other_config={'': 'v'})], "ports[0].other_config: the key '' must be a non-empty string"),
    ([p('x', interface_external_ids={'iface-id': {'a': 1}})], 'ports[0].interface_external_ids.iface-id'),
    ([p('x', type='patch', peer='y', options={'foo': [1]})], 'ports[0].options.foo: [1] is a list'),
    ([p('x', type='patch', peer='y', options={'foo': None})], 'ports[0].options: foo has no value'),
    ([p('x', tag=4096)], "ports[0].tag: port 'x': tag 4096 is outside 0-4095"),
    ([p('eth3', mac='02:00:00:00:00:01')], "ports[0].mac: port 'eth3': mac applies to internal ports"),
    ([p('b0', interfaces=['e1', 'e2'], mac='02:00:00:00:00:01')], "ports[0].mac: port 'b0': mac applies to a single"),
    ([p('tep0', type='internal', mac='02:00:00:00:00')], "ports[0].mac: port 'tep0': '02:00:00:00:00' is not a MAC"),
    ([p('tep0', type='internal', mac='03:00:00:00:00:01')], "ports[0].mac: port 'tep0': 03:00:00:00:00:01 is a multicast MAC"),
    ([p('tep0', type='internal', mac='00:00:00:00:00:00')], "ports[0].mac: port 'tep0': 00:00:00:00:00:00 is not a usable"),
])
def test_bad_ports_name_the_field(ports, message):
    with refused(message):
        desired_ports(ports)


@pytest.mark.parametrize('kw, message', [
    ({'controllers': ['tcp:192.0.2.300:6653']}, "controllers[0] 'tcp:192.0.2.300:6653' address: '192.0.2.300' is not"),
    ({'controllers': ['tcp:192.0.2.10:6653', 'ssl:192.0.2.10']}, "controllers[1] 'ssl:192.0.2.10' needs an address and a port"),
    ({'controllers': ['ptcp:70000']}, "controllers[0] 'ptcp:70000' port: 70000 is outside 0-65535"),
    ({'controllers': ['tcp:192.0.2.10:6653', 'tcp:192.0.2.10:6653']}, "controllers: 'tcp:192.0.2.10:6653' is listed twice"),
    ({'protocols': ['OpenFlow13', 'OpenFlow13']}, "protocols: 'OpenFlow13' is listed twice"),
    ({'external_ids': {'owners': ['a']}}, "external_ids.owners: ['a'] is a list"),
    ({'other_config': {'mac-table': {'size': 1}}}, 'other_config.mac-table'),
    ({'external_ids': {'': 'x'}}, "external_ids: the key '' must be a non-empty string"),
    ({'bridge': 'br/x'}, "bridge name 'br/x' is not a valid interface name"),
    ({'ports': [p('br-int', type='internal')]}, "ports[0].name: port 'br-int' has the bridge's own name"),
])
def test_bad_bridge_options_name_the_field(kw, message):
    with refused(message):
        validate_bridge(params(**kw))


def test_good_controllers_and_maps_pass():
    ports = validate_bridge(params(
        controllers=['tcp:192.0.2.10:6653', 'ssl:[2001:db8::1]:6653', 'ptcp:6653:127.0.0.1', 'pssl:', 'punix:/run/x.ctl'],
        protocols=['OpenFlow13', 'OpenFlow15'], external_ids={'n': 2, 'on': True, 'gone': None},
        ports=[p('eth3', vlan_mode='native-untagged', tag=10, trunks=[10, 20], ofport=7),
               p('patch-a', type='patch', peer='patch-b', options={'peer': 'patch-b'})]))
    assert ports['patch-a']['interfaces']['patch-a']['options'] == {'peer': 'patch-b'}
    assert ports['eth3']['interfaces']['eth3']['ofport_request'] == 7


def test_what_the_roles_pass_is_accepted():
    # roles/hypervisor underlay (NIC or bond, then tep0), integration bridge, gateway L2 bridges.
    validate_bridge(params(bridge='br-phy', ports=[
        {'name': 'bond0', 'interfaces': ['eth1', 'eth2'], 'bond_mode': 'balance-tcp', 'lacp': 'active', 'mtu': 1600},
        {'name': 'tep0', 'type': 'internal', 'mtu': 1600, 'mac': '02:4e:c6:12:01:0b'}]))
    validate_bridge(params(ports=[{'name': 'patch-tun', 'type': 'patch', 'peer': 'patch-int'},
                                  {'name': 'vm-a', 'mtu': 1458, 'tag': 1},
                                  {'name': 'vm-b', 'mtu': 1400, 'interface_external_ids': {'iface-id': 'lsp-b'}}]))
    validate_bridge(params(bridge='br-l2', ports=[{'name': 'eth2', 'trunks': [100, 200]},
                                                  {'name': 'l2phy-100', 'type': 'patch', 'peer': 'l2gw-100', 'tag': 100}]))


def exists_only(*names):
    return lambda name: name in names


def test_system_interfaces_must_exist_on_the_host():
    ports = desired_ports([p('eth1'), p('nosuchnic')])
    with refused("ports[1].name: port 'nosuchnic': network device 'nosuchnic' does not exist on this host"):
        check_against_host({}, 'br-new', ports, exists=exists_only('eth1'))
    bond = desired_ports([p('bond1', interfaces=['eth2', 'eth9'])])
    with refused("ports[0].interfaces[1]: port 'bond1': network device 'eth9' does not exist"):
        check_against_host(STATE, 'br-phy', bond, exists=exists_only('eth2', 'br-phy'))


def test_interfaces_the_database_has_are_not_looked_up():
    # eth1 is on br-phy already: its device may be gone (vswitchd reports that), the task still runs.
    check_against_host(STATE, 'br-phy', desired_ports([p('eth1'), p('tep0', type='internal')]), exists=exists_only())


def test_new_internal_port_or_bridge_must_not_take_a_device_name():
    with refused("ports[0].name: port 'eth2': an internal port creates its own network device, and this host "
                 "already has a device 'eth2'"):
        check_against_host(STATE, 'br-phy', desired_ports([p('eth2', type='internal')]), exists=exists_only('eth2'))
    with refused("bridge: a new bridge creates a network device named 'eth3'"):
        check_against_host(STATE, 'eth3', {}, exists=exists_only('eth3'))
    with refused("bridge: 'tep0' is already a port or interface on bridge 'br-phy'"):
        check_against_database(STATE, 'tep0', {})


def test_patch_peer_must_be_a_patch_port():
    with refused("ports[0].peer: port 'patch-x': the peer 'eth1' is a system port, not a patch port"):
        check_against_host(STATE, 'br-int', desired_ports([p('patch-x', type='patch', peer='eth1')]),
                           exists=exists_only())
    with refused("ports[0].peer: port 'patch-x': the peer 'vm1' is a internal port"):
        ports = desired_ports([p('patch-x', type='patch', peer='vm1'), p('vm1', type='internal')])
        check_against_host(STATE, 'br-int', ports, exists=exists_only())
    state = {'br-tun': bridge({'patch-int': port({'patch-int': iface(type='patch', options={'peer': 'patch-tun'})})})}
    check_against_host(state, 'br-int', desired_ports([p('patch-tun', type='patch', peer='patch-int')]),
                       exists=exists_only())
    # A peer that does not exist yet is the first of two tasks that patch two bridges.
    check_against_host({}, 'br-int', desired_ports([p('patch-tun', type='patch', peer='patch-int')]),
                       exists=exists_only())


def test_an_ofport_another_interface_of_the_bridge_asks_for_is_refused():
    state = {'br-int': bridge({'br-int': port({'br-int': iface(type='internal')}),
                               'vm1': port({'vm1': iface(ofport_request=7)}),
                               'gre-1': port({'gre-1': iface(type='gre', ofport_request=8)},
                                             external_ids={'netvirt-overlay-tunnel-group': 'default'})})}
    with refused("ports[0].ofport: ofport 7 is already asked for by interface 'vm1' of bridge 'br-int'"):
        check_against_database(state, 'br-int', desired_ports([p('vm2', type='internal', ofport=7)]))
    # purge_ports removes vm1, so its number is free; it keeps the tunnel, so 8 is not.
    check_against_database(state, 'br-int', desired_ports([p('vm2', type='internal', ofport=7)]), purge=True)
    with refused("ofport 8 is already asked for by interface 'gre-1'"):
        check_against_database(state, 'br-int', desired_ports([p('vm2', type='internal', ofport=8)]), purge=True)
    # The interface itself keeps its number.
    check_against_database(state, 'br-int', desired_ports([p('vm1', ofport=7)]))


def test_tag_and_trunks_need_a_vlan_mode_given_or_in_the_database():
    state = {'br-int': bridge({'vm1': port({'vm1': iface(type='internal')}, tag=100),
                               'vm2': port({'vm2': iface(type='internal')}, tag=100, vlan_mode='native-untagged')})}
    with refused("ports[0].trunks: port 'x': with tag 10 and no vlan_mode the port is an access port"):
        check_against_database({}, 'br-int', desired_ports([p('x', tag=10, trunks=[20])]))
    with refused("ports[0].trunks: port 'vm1': with tag 100 and no vlan_mode"):
        check_against_database(state, 'br-int', desired_ports([p('vm1', type='internal', trunks=[20])]))
    # vlan_mode kept from the database, or given.
    check_against_database(state, 'br-int', desired_ports([p('vm2', type='internal', trunks=[20])]))
    check_against_database(state, 'br-int', desired_ports([p('vm1', type='internal', trunks=[20],
                                                             vlan_mode='native-tagged')]))


def test_map_values_are_stored_as_ovs_reads_them():
    pr = params(bridge='br-phy', ports=None, external_ids={'enabled': True, 'count': 2})
    assert plan(pr, validate_bridge(pr), STATE) == [
        {'op': 'set_bridge', 'bridge': 'br-phy',
         'set': {'external_ids': {'owner': 'someone-else', 'enabled': 'true', 'count': '2'}}}]


def test_an_internal_port_keeps_the_mac_address_it_is_given():
    """tep0's MAC address goes to the Interface row (lower case), is set on an existing port that has
    another one or none, and a port that has it already is left alone."""
    ports = validate_bridge(params(bridge='br-phy', ports=[p('tep0', type='internal', mac='02:4E:C6:12:01:0B')]))
    assert ports['tep0']['interfaces']['tep0']['mac'] == '02:4e:c6:12:01:0b'
    wanted = params(bridge='br-phy', ports=[p('tep0', type='internal', mac='02:4e:c6:12:01:0b')])
    for have, expected in ((None, [{'op': 'set_interface', 'bridge': 'br-phy', 'port': 'tep0', 'interface': 'tep0',
                                    'set': {'mac': '02:4e:c6:12:01:0b'}}]),
                           ('02:4e:c6:12:01:0c', [{'op': 'set_interface', 'bridge': 'br-phy', 'port': 'tep0',
                                                   'interface': 'tep0', 'set': {'mac': '02:4e:c6:12:01:0b'}}]),
                           ('02:4e:c6:12:01:0b', [])):
        state = {'br-phy': bridge({'br-phy': port({'br-phy': iface(type='internal')}),
                                   'tep0': port({'tep0': iface(type='internal', mac=have)})})}
        assert plan(wanted, validate_bridge(wanted), state) == expected, have
    # Without mac, whatever the port has stays.
    unpinned = params(bridge='br-phy', ports=[p('tep0', type='internal')])
    state = {'br-phy': bridge({'br-phy': port({'br-phy': iface(type='internal')}),
                               'tep0': port({'tep0': iface(type='internal', mac='02:4e:c6:12:01:0c')})})}
    assert plan(unpinned, validate_bridge(unpinned), state) == []
