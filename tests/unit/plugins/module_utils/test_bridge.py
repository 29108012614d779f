# -*- coding: utf-8 -*-
"""ovs_bridge's validation: everything wrong is refused before the database is touched."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._bridge import (
    check_against_database, desired_ports, plan, validate_bridge)
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
    with pytest.raises(PlanError, match="controller 'http://x' must look like"):
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
