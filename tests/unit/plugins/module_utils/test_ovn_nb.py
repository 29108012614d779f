# -*- coding: utf-8 -*-
"""ovn_topology's validation and planning: bad requests are refused before anything is
written, plans are minimal, and the simulated result is what a re-plan finds converged."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._ovn_nb import (
    OWNER_KEY, PlanError, plan, simulate, unapplied, validate, view)

OWNER = 'netvirt.overlay'
MARK = {OWNER_KEY: OWNER}


def empty():
    return {'switches': {}, 'routers': {}, 'ha_chassis_groups': {}}


def vm(name, mac, *ips, **kw):
    base = {'name': name, 'mac': mac, 'ips': list(ips), 'type': '', 'router_port': None, 'network_name': None,
            'l2gateway_chassis': None, 'tag': None, 'port_security': True, 'options': {}}
    base.update(kw)
    return base


def rport(name, target):
    return vm(name, None, type='router', router_port=target)


def lrp(name, mac, *networks, **kw):
    base = {'name': name, 'mac': mac, 'networks': list(networks), 'ha_chassis_group': None,
            'gateway_chassis': [], 'options': {}}
    base.update(kw)
    return base


def params(**kw):
    base = {
        'owner': OWNER, 'purge': True,
        'ha_chassis_groups': [{'name': 'edge', 'chassis': [{'name': 'gw1', 'priority': 20},
                                                           {'name': 'gw2', 'priority': 10}]}],
        'routers': [{'name': 'lr0', 'options': {}, 'ports': [
            lrp('lr0-blue', '02:00:00:00:01:01', '198.18.100.254/24'),
            lrp('lr0-red', '02:00:00:00:01:02', '198.18.101.254/24'),
            lrp('lr0-public', '02:00:00:00:01:03', '198.18.200.1/24', ha_chassis_group='edge')],
            'static_routes': [{'prefix': '0.0.0.0/0', 'nexthop': '198.18.200.254', 'output_port': None}],
            'nat': [{'type': 'snat', 'external_ip': '198.18.200.1', 'logical_ip': '198.18.100.0/23',
                     'logical_port': None, 'external_mac': None}]}],
        'switches': [
            {'name': 'blue', 'subnet': '198.18.100.0/24', 'acls': [], 'ports': [
                vm('vm1', '02:00:00:00:64:01', '198.18.100.1'), rport('blue-lr0', 'lr0-blue')]},
            {'name': 'red', 'subnet': '198.18.101.0/24', 'ports': [
                vm('vm3', '02:00:00:00:64:03', '198.18.101.3'), rport('red-lr0', 'lr0-red')],
             'acls': [{'direction': 'to-lport', 'priority': 1000, 'match': 'tcp.dst == 23', 'action': 'drop'}]},
            {'name': 'public', 'subnet': None, 'acls': [], 'ports': [
                rport('public-lr0', 'lr0-public'),
                vm('public-physnet', None, type='localnet', network_name='physnet')]},
        ],
    }
    base.update(kw)
    return base


def converged(p=None):
    desired = validate(p or params())
    return desired, simulate(empty(), plan(desired, empty(), OWNER))


# -- validation ---------------------------------------------------------------------

def test_valid_request_is_normalised():
    desired = validate(params())
    blue = desired['switches']['blue']
    assert blue['ports']['vm1']['addresses'] == ['02:00:00:00:64:01 198.18.100.1']
    assert blue['ports']['vm1']['port_security'] == ['02:00:00:00:64:01 198.18.100.1']
    assert blue['ports']['blue-lr0'] == {'type': 'router', 'addresses': ['router'], 'port_security': [],
                                         'options': {'router-port': 'lr0-blue'}, 'tag_request': None}
    assert blue['other_config'] == {'subnet': '198.18.100.0/24'}
    assert desired['routers']['lr0']['ports']['lr0-public']['ha_chassis_group'] == 'edge'
    assert desired['ha_chassis_groups']['edge'] == {'chassis': {'gw1': 20, 'gw2': 10}}


def with_switch_port(port, switch=0):
    p = params()
    p['switches'][switch]['ports'].append(port)
    return p


@pytest.mark.parametrize('request_params, message', [
    (with_switch_port(vm('vm9', '02:00:00:00:64:zz', '198.18.100.9')), "MAC '02:00:00:00:64:zz' is not a MAC"),
    (with_switch_port(vm('vm9', '02:00:00:00:64:09', '198.18.300.9')), "'198.18.300.9' is not an IP address"),
    (with_switch_port(vm('vm9', '02:00:00:00:64:09', '198.18.101.9')), 'is outside the subnet 198.18.100.0/24'),
    (with_switch_port(vm('vm9', None, '198.18.100.9')), 'vm9 needs a mac'),
    (with_switch_port(vm('vm1', '02:00:00:00:64:09', '198.18.101.9'), switch=1),
     "port 'vm1' is declared on switches 'blue' and 'red'"),
    (with_switch_port(rport('blue-lr1', 'lr1-blue')), "router_port 'lr1-blue', which is not a declared"),
    (with_switch_port(rport('blue-lr0b', 'lr0-blue')), "'lr0-blue' is attached to more than one switch port"),
    (with_switch_port(vm('ln', None, type='localnet')), 'needs network_name'),
    (with_switch_port(vm('ln', None, type='localnet', network_name='p', tag=5000)), 'tag 5000 is outside 1-4095'),
    (with_switch_port(vm('ln', None, type='l2gateway', network_name='p')), 'needs l2gateway_chassis'),
    (with_switch_port(vm('x', '02:00:00:00:64:09', tag=5)), 'tag is only for localnet'),
])
def test_bad_switch_ports_are_refused(request_params, message):
    with pytest.raises(PlanError, match=message):
        validate(request_params)


def test_bad_subnet_is_refused():
    p = params()
    p['switches'][0]['subnet'] = '198.18.100.1/24'
    with pytest.raises(PlanError, match='is not a CIDR network'):
        validate(p)


def test_duplicate_names_are_refused():
    p = params()
    p['switches'].append(copy.deepcopy(p['switches'][0]))
    with pytest.raises(PlanError, match="logical switch 'blue' is declared twice"):
        validate(p)
    p = params()
    p['routers'].append(dict(copy.deepcopy(p['routers'][0]), name='lr1'))
    with pytest.raises(PlanError, match="router port 'lr0-blue' is declared on routers 'lr0' and 'lr1'"):
        validate(p)


@pytest.mark.parametrize('port, message', [
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.100.1/25'), 'overlaps 198.18.100.254/24 of port'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1'), 'needs a prefix length'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/33'), 'is not an address with prefix length'),
    (lrp('lr0-x', 'nope', '198.18.102.1/24'), "MAC 'nope'"),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', ha_chassis_group='missing'),
     "HA chassis group 'missing', which is not declared"),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', ha_chassis_group='edge',
         gateway_chassis=[{'name': 'gw1', 'priority': 1}]), 'not both'),
])
def test_bad_router_ports_are_refused(port, message):
    p = params()
    p['routers'][0]['ports'].append(port)
    with pytest.raises(PlanError, match=message):
        validate(p)


def test_bad_nat_route_and_group_are_refused():
    p = params()
    p['routers'][0]['nat'].append({'type': 'snat', 'external_ip': '198.18.200.1', 'logical_ip': '198.18.100.1/24',
                                   'logical_port': None, 'external_mac': None})
    with pytest.raises(PlanError, match='is not an address or CIDR network'):
        validate(p)
    p = params()
    p['routers'][0]['static_routes'].append({'prefix': '0.0.0.0/0', 'nexthop': 'x', 'output_port': None})
    with pytest.raises(PlanError, match="nexthop 'x' is not an IP address"):
        validate(p)
    p = params()
    p['ha_chassis_groups'][0]['chassis'].append({'name': 'gw1', 'priority': 1})
    with pytest.raises(PlanError, match="chassis 'gw1' is listed twice"):
        validate(p)


# -- planning -----------------------------------------------------------------------

def test_empty_database_gets_everything_marked_and_in_order():
    desired = validate(params())
    changes = plan(desired, empty(), OWNER)
    ops = [c['op'] for c in changes]
    assert ops.index('add_ha_group') < ops.index('add_router_port')
    assert ops.count('add_switch') == 3 and ops.count('add_switch_port') == 6
    assert ops.count('add_acl') == 1 and ops.count('add_nat') == 1 and ops.count('add_route') == 1
    for ch in changes:
        marked = ch.get('set', {}).get('external_ids') or next(
            (ch[k]['external_ids'] for k in ('acl', 'nat', 'route') if k in ch), None)
        assert marked == MARK


def test_converged_state_plans_nothing():
    desired, state = converged()
    assert plan(desired, state, OWNER) == []


def test_prediction_equals_replay_guard():
    desired, state = converged()
    assert unapplied(state, state, desired, OWNER) == []
    other = copy.deepcopy(state)
    other['switches']['blue']['ports']['vm1']['addresses'] = ['x']
    assert unapplied(other, state, desired, OWNER) == ['switches blue']


def test_changed_port_is_a_set_not_a_replace():
    _desired, state = converged()
    p = params()
    p['switches'][0]['ports'][0] = vm('vm1', '02:00:00:00:64:11', '198.18.100.11')
    changes = plan(validate(p), state, OWNER)
    assert [c['op'] for c in changes] == ['set_switch_port']
    assert changes[0]['set']['addresses'] == ['02:00:00:00:64:11 198.18.100.11']


def test_undeclared_owned_objects_are_removed_foreign_ones_kept():
    _desired, state = converged()
    state['switches']['cms-net'] = {'external_ids': {}, 'other_config': {}, 'ports': {}, 'acls': []}
    state['switches']['blue']['ports']['cms-port'] = {'type': '', 'addresses': [], 'port_security': [],
                                                      'options': {}, 'tag_request': None, 'external_ids': {}}
    state['routers']['lr0']['nat'].append({'type': 'snat', 'external_ip': '198.18.200.9', 'logical_ip': '10.0.0.0/8',
                                           'logical_port': None, 'external_mac': None, 'external_ids': {}})
    p = params()
    p['switches'] = [s for s in p['switches'] if s['name'] != 'red']
    p['routers'][0]['ports'] = [x for x in p['routers'][0]['ports'] if x['name'] != 'lr0-red']
    p['routers'][0]['nat'] = []
    changes = plan(validate(p), state, OWNER)
    assert sorted((c['op'], c.get('switch') or c.get('router'), c.get('port')) for c in changes) == [
        ('del_nat', 'lr0', None), ('del_router_port', 'lr0', 'lr0-red'), ('del_switch', 'red', None)]
    after = simulate(state, changes)
    assert 'cms-net' in after['switches'] and 'cms-port' in after['switches']['blue']['ports']
    assert len(after['routers']['lr0']['nat']) == 1


def test_purge_false_keeps_undeclared():
    _desired, state = converged()
    p = params(purge=False, switches=[], routers=[], ha_chassis_groups=[])
    assert plan(validate(p), state, OWNER, purge=False) == []


def test_everything_removed_with_empty_declaration():
    _desired, state = converged()
    changes = plan(validate(params(switches=[], routers=[], ha_chassis_groups=[])), state, OWNER)
    assert simulate(state, changes) == empty()


def test_other_owner_leaves_objects_alone():
    _desired, state = converged()
    p = params(owner='someone-else', switches=[], routers=[], ha_chassis_groups=[])
    assert plan(validate(p), state, 'someone-else') == []


def test_declared_foreign_objects_are_adopted():
    state = empty()
    state['switches']['blue'] = {'external_ids': {'cms': 'x'}, 'other_config': {}, 'ports': {}, 'acls': [
        {'direction': 'to-lport', 'priority': 1000, 'match': 'tcp.dst == 23', 'action': 'drop', 'external_ids': {}}]}
    p = params(routers=[], ha_chassis_groups=[])
    p['switches'] = [dict(p['switches'][1], name='blue', subnet=None, ports=[])]
    changes = plan(validate(p), state, OWNER)
    assert [c['op'] for c in changes] == ['set_switch', 'set_acl']
    assert changes[0]['set']['external_ids'] == {'cms': 'x', OWNER_KEY: OWNER}
    after = simulate(state, changes)
    assert plan(validate(p), after, OWNER) == []


def test_port_living_on_another_switch_is_refused():
    _desired, state = converged()
    p = params()
    p['switches'][1]['ports'].append(vm('vm1', '02:00:00:00:64:01', '198.18.101.1'))
    p['switches'][0]['ports'] = p['switches'][0]['ports'][1:]
    with pytest.raises(PlanError, match="port 'vm1' exists on logical switch 'blue'"):
        plan(validate(p), state, OWNER)


def test_ha_group_priorities_change():
    _desired, state = converged()
    p = params()
    p['ha_chassis_groups'][0]['chassis'][1]['priority'] = 30
    changes = plan(validate(p), state, OWNER)
    assert changes == [{'op': 'set_ha_group', 'group': 'edge', 'set': {'chassis': {'gw1': 20, 'gw2': 30}}}]


def test_view_shows_only_declared_or_owned():
    desired, state = converged()
    state['switches']['cms-net'] = {'external_ids': {}, 'other_config': {}, 'ports': {}, 'acls': []}
    assert sorted(view(state, desired, OWNER)['switches']) == ['blue', 'public', 'red']
