# -*- coding: utf-8 -*-
"""ovn_topology's validation and planning: bad requests are refused before anything is
written, plans are minimal, and the simulated result is what a re-plan finds converged."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.netvirt.overlay.plugins.module_utils._ovn_nb import (
    ACL_ACTIONS, ACL_DIRECTIONS, NAT_TYPES, OWNER_KEY, PRIORITY_RANGE, TAG_RANGE, TOPOLOGY_ARGUMENT_SPEC, PlanError,
    apply_changes, check_schema, plan, simulate, unapplied, validate, view)

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
    (with_switch_port(vm('vm9', '02:00:00:00:64:zz', '198.18.100.9')),
     "switches[0].ports[2].mac: '02:00:00:00:64:zz' is not a MAC address (allowed: xx:xx:xx:xx:xx:xx"),
    (with_switch_port(vm('vm9', '02:00:00:00:64:09', '198.18.300.9')),
     "switches[0].ports[2].ips[0]: '198.18.300.9' is not an IP address"),
    (with_switch_port(vm('vm9', '02:00:00:00:64:09', '198.18.101.9')),
     'switches[0].ports[2].ips[0]: 198.18.101.9 is outside the subnet 198.18.100.0/24 of switch blue'),
    (with_switch_port(vm('vm9', None, '198.18.100.9')), 'switches[0].ports[2].mac: missing'),
    (with_switch_port(vm('vm1', '02:00:00:00:64:09', '198.18.101.9'), switch=1),
     "switches[1].ports[2].name: 'vm1' is already used by switches[0].ports[0]"),
    (with_switch_port(rport('blue-lr1', 'lr1-blue')),
     "switches[0].ports[2].router_port: 'lr1-blue' is not a declared router port (declared: lr0-blue, "),
    (with_switch_port(rport('blue-lr0b', 'lr0-blue')),
     "switches[0].ports[2].router_port: 'lr0-blue' is already used by switches[0].ports[1]"),
    (with_switch_port(vm('ln', None, type='localnet')), 'switches[0].ports[2].network_name: None is not a physical'),
    (with_switch_port(vm('ln', None, type='localnet', network_name='physnet:br-ex')),
     "switches[0].ports[2].network_name: 'physnet:br-ex' is not a physical network name"),
    (with_switch_port(vm('ln', None, type='localnet', network_name='p', tag=5000)),
     'switches[0].ports[2].tag: 5000 is outside 1-4095'),
    (with_switch_port(vm('ln', None, type='localnet', network_name='p', tag=0)),
     'switches[0].ports[2].tag: 0 is outside 1-4095'),
    (with_switch_port(vm('ln', None, type='l2gateway', network_name='p')),
     'switches[0].ports[2].l2gateway_chassis: missing'),
    (with_switch_port(vm('x', '02:00:00:00:64:09', tag=5)),
     'switches[0].ports[2].tag: only localnet and l2gateway ports have a VLAN tag, not a VM port'),
    (with_switch_port(vm('x', '01:00:5e:00:00:01')), 'switches[0].ports[2].mac: 01:00:5e:00:00:01 is a multicast MAC'),
    (with_switch_port(vm('x', 'ff:ff:ff:ff:ff:ff')), 'switches[0].ports[2].mac: ff:ff:ff:ff:ff:ff is a multicast MAC'),
    (with_switch_port(vm('x', '00:00:00:00:00:00')), 'switches[0].ports[2].mac: 00:00:00:00:00:00 is not a usable MAC'),
    (with_switch_port(vm('x', '02-00-00-00-64-09')), "switches[0].ports[2].mac: '02-00-00-00-64-09' is not a MAC"),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '198.18.100.9', '198.18.100.9')),
     "switches[0].ports[2].ips: '198.18.100.9' is listed twice"),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '198.18.100.1')),
     "switches[0].ports[2].ips: '198.18.100.1' is already used by switches[0].ports[0] (vm1)"),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '198.18.100.254')),
     "switches[0].ports[2].ips: '198.18.100.254' is already used by switches[0].ports[1] (router port lr0-blue)"),
    (with_switch_port(vm('x', '02:00:00:00:64:01', '198.18.100.9')),
     "switches[0].ports[2].mac: '02:00:00:00:64:01' is already used by switches[0].ports[0] (vm1)"),
    (with_switch_port(vm('x', '02:00:00:00:01:01', '198.18.100.9')),
     "switches[0].ports[2].mac: '02:00:00:00:01:01' is already used by switches[0].ports[1] (router port lr0-blue)"),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '198.18.100.255')),
     'switches[0].ports[2].ips[0]: 198.18.100.255 is the broadcast address of the subnet 198.18.100.0/24'),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '198.18.100.0')),
     'switches[0].ports[2].ips[0]: 198.18.100.0 is the network address of the subnet'),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '224.0.0.5')), 'switches[0].ports[2].ips[0]: 224.0.0.5 is not a unicast'),
    (with_switch_port(vm('x', '02:00:00:00:64:09', '198.18.100.9/99')),
     "switches[0].ports[2].ips[0]: '198.18.100.9/99' is not an IP address"),
    (with_switch_port(vm('x', '02:00:00:00:64:09', options={'requested-chassis': ['hv1', 'hv2']})),
     'switches[0].ports[2].options.requested-chassis: ['),
    (with_switch_port(vm('x', '02:00:00:00:64:09', options={'requested-chassis': None})),
     'switches[0].ports[2].options: requested-chassis has no value'),
    (with_switch_port(dict(rport('public-lr0b', 'lr0-red'), options={'router-port': 'lr0-blue'}), switch=2),
     "switches[2].ports[2].options.router-port: 'lr0-blue' contradicts 'lr0-red'"),
    (with_switch_port(vm('x y', '02:00:00:00:64:09')), "switches[0].ports[2].name: 'x y' is not a usable name"),
    (with_switch_port(vm('x', '02:00:00:00:64:09', type='vxlan')), "switches[0].ports[2].type: 'vxlan' is not one of"),
])
def test_bad_switch_ports_are_refused(request_params, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        validate(request_params)


def test_good_switch_port_variants_are_accepted():
    p = params()
    p['switches'][0]['ports'] += [
        vm('vm9', '02:00:00:00:64:0A', '198.18.100.9/24', '2001:db8:64::9'),
        vm('vm10', '02:00:00:00:64:0b', port_security=False, options={'requested-chassis': 'hv1', 'x': 1, 'y': True}),
        vm('ln', None, type='localnet', network_name='physnet', tag=4095)]
    # One MAC on two switches is two L2 domains: fine.
    p['switches'][1]['ports'].append(vm('vm11', '02:00:00:00:64:0a', '198.18.101.11'))
    blue = validate(p)['switches']['blue']['ports']
    assert blue['vm9']['addresses'] == ['02:00:00:00:64:0a 198.18.100.9 2001:db8:64::9']
    assert blue['vm10']['port_security'] == [] and blue['vm10']['options'] == {
        'requested-chassis': 'hv1', 'x': '1', 'y': 'true'}
    assert blue['ln']['tag_request'] == 4095 and blue['ln']['options'] == {'network_name': 'physnet'}


def test_bad_subnet_is_refused():
    p = params()
    p['switches'][0]['subnet'] = '198.18.100.1/24'
    with pytest.raises(PlanError, match=re.escape(
            "switches[0].subnet: '198.18.100.1/24' is not a CIDR network (address/prefix length, no host bits); "
            'did you mean 198.18.100.0/24?')):
        validate(p)


def test_router_port_outside_the_switch_subnet_is_refused():
    p = params()
    p['switches'][0]['ports'][1] = rport('blue-lr0', 'lr0-red')
    p['switches'][1]['ports'][1] = rport('red-lr0', 'lr0-blue')
    with pytest.raises(PlanError, match=re.escape(
            'switches[0].ports[1].router_port: the networks of lr0-red (198.18.101.254/24) are outside the subnet '
            '198.18.100.0/24 of switch blue')):
        validate(p)


@pytest.mark.parametrize('change, message', [
    (lambda p: p['switches'].append(copy.deepcopy(p['switches'][0])),
     "switches[3].name: 'blue' is already used by switches[0]"),
    (lambda p: p['routers'].append({'name': 'blue', 'ports': [], 'static_routes': [], 'nat': [], 'options': {}}),
     "routers[1].name: 'blue' is already used by switches[0] (names are unique among logical switches and routers)"),
    (lambda p: p['routers'].append(dict(copy.deepcopy(p['routers'][0]), name='lr1')),
     "routers[1].ports[0].name: 'lr0-blue' is already used by routers[0].ports[0]"),
    (lambda p: p['switches'][0]['ports'].append(vm('lr0-red', '02:00:00:00:64:09')),
     "switches[0].ports[2].name: 'lr0-red' is already used by routers[0].ports[1] (port names are unique among all "
     "switch and router ports)"),
    (lambda p: p['ha_chassis_groups'].append(copy.deepcopy(p['ha_chassis_groups'][0])),
     "ha_chassis_groups[1].name: 'edge' is already used by ha_chassis_groups[0]"),
    (lambda p: p['ha_chassis_groups'][0]['chassis'].append({'name': 'gw1', 'priority': 1}),
     "ha_chassis_groups[0].chassis[2].name: 'gw1' is already used by ha_chassis_groups[0].chassis[0]"),
    (lambda p: p['ha_chassis_groups'][0].update(chassis=[]),
     'ha_chassis_groups[0].chassis: HA chassis group edge needs at least one chassis'),
    (lambda p: p.update(owner=''), "owner: '' must be a non-empty name"),
    (lambda p: p.update(owner=' deployment'), "owner: ' deployment' must be a non-empty name with no blanks"),
])
def test_duplicate_and_missing_names_are_refused(change, message):
    p = params()
    change(p)
    with pytest.raises(PlanError, match=re.escape(message)):
        validate(p)


@pytest.mark.parametrize('port, message', [
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.100.1/25'),
     'routers[0].ports[3].networks[0]: 198.18.100.1/25 overlaps 198.18.100.254/24 of routers[0].ports[0] (lr0-blue)'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', '198.18.102.2/24'),
     'routers[0].ports[3].networks[1]: 198.18.102.2/24 overlaps 198.18.102.1/24 of routers[0].ports[3] (lr0-x)'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1'),
     "routers[0].ports[3].networks[0]: '198.18.102.1' is not an address with a prefix length"),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/33'),
     "routers[0].ports[3].networks[0]: '198.18.102.1/33' is not an address with a prefix length"),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.0/24'),
     'routers[0].ports[3].networks[0]: 198.18.102.0/24 is the network address of 198.18.102.0/24'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.255/24'),
     'routers[0].ports[3].networks[0]: 198.18.102.255/24 is the broadcast address of 198.18.102.0/24'),
    (lrp('lr0-x', '02:00:00:00:01:09', '224.0.0.1/24'), 'routers[0].ports[3].networks[0]: 224.0.0.1 is not a unicast'),
    (lrp('lr0-x', '02:00:00:00:01:09'), 'routers[0].ports[3].networks: a router port needs at least one address'),
    (lrp('lr0-x', 'nope', '198.18.102.1/24'), "routers[0].ports[3].mac: 'nope' is not a MAC address"),
    (lrp('lr0-x', '03:00:00:00:01:09', '198.18.102.1/24'), 'routers[0].ports[3].mac: 03:00:00:00:01:09 is a multicast'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', ha_chassis_group='missing'),
     "routers[0].ports[3].ha_chassis_group: 'missing' is not declared in ha_chassis_groups (declared: edge)"),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', ha_chassis_group='edge',
         gateway_chassis=[{'name': 'gw1', 'priority': 1}]), 'routers[0].ports[3]: give ha_chassis_group or gateway_chassis, not both'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', gateway_chassis=[{'name': 'gw1', 'priority': 40000}]),
     'routers[0].ports[3].gateway_chassis[0].priority: 40000 is outside 0-32767'),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24',
         gateway_chassis=[{'name': 'gw1', 'priority': 1}, {'name': 'gw1', 'priority': 2}]),
     "routers[0].ports[3].gateway_chassis[1].name: 'gw1' is already used by routers[0].ports[3].gateway_chassis[0]"),
    (lrp('lr0-x', '02:00:00:00:01:09', '198.18.102.1/24', options={'gateway_mtu': {'v': 1}}),
     'routers[0].ports[3].options.gateway_mtu: '),
])
def test_bad_router_ports_are_refused(port, message):
    p = params()
    p['routers'][0]['ports'].append(port)
    with pytest.raises(PlanError, match=re.escape(message)):
        validate(p)


def route(prefix, nexthop, output_port=None):
    return {'prefix': prefix, 'nexthop': nexthop, 'output_port': output_port}


def nat(kind, external_ip, logical_ip, logical_port=None, external_mac=None):
    return {'type': kind, 'external_ip': external_ip, 'logical_ip': logical_ip, 'logical_port': logical_port,
            'external_mac': external_mac}


@pytest.mark.parametrize('key, item, message', [
    ('static_routes', route('0.0.0.0/0', 'x'), "routers[0].static_routes[1].nexthop: 'x' is not an IP address"),
    ('static_routes', route('0.0.0.0/0', '2001:db8::1'),
     'routers[0].static_routes[1].nexthop: 2001:db8::1 is IPv6, but the prefix is IPv4 (0.0.0.0/0)'),
    ('static_routes', route('::/0', '198.18.200.254'),
     'routers[0].static_routes[1].nexthop: 198.18.200.254 is IPv4, but the prefix is IPv6 (::/0)'),
    ('static_routes', route('198.18.130.1/24', '198.18.200.254'),
     "routers[0].static_routes[1].prefix: '198.18.130.1/24' is not a CIDR network (address/prefix length, no host "
     "bits); did you mean 198.18.130.0/24?"),
    ('static_routes', route('198.18.130.0/33', '198.18.200.254'),
     "routers[0].static_routes[1].prefix: '198.18.130.0/33' is not a CIDR network"),
    ('static_routes', route('default', '198.18.200.254'),
     "routers[0].static_routes[1].prefix: 'default' is not a network (address/prefix length) or an address"),
    ('static_routes', route('0.0.0.0/0', '198.18.200.254'),
     'routers[0].static_routes[1]: the route to 0.0.0.0/0 via 198.18.200.254 is already routers[0].static_routes[0]'),
    ('static_routes', route('0.0.0.0/0', '198.18.200.253', 'lr0-nope'),
     "routers[0].static_routes[1].output_port: 'lr0-nope' is not a port of routers[0] (allowed: lr0-blue, "),
    ('static_routes', route('0.0.0.0/0', '0.0.0.0'), 'routers[0].static_routes[1].nexthop: 0.0.0.0 is not a unicast'),
    ('nat', nat('snat', '198.18.200.1', '198.18.100.1/24'),
     "routers[0].nat[1].logical_ip: '198.18.100.1/24' is not a CIDR network"),
    ('nat', nat('snat', '198.18.200.0/24', '198.18.101.0/24'),
     "routers[0].nat[1].external_ip: '198.18.200.0/24' is not an IP address"),
    ('nat', nat('dnat_and_snat', '198.18.200.9', '198.18.100.0/24'),
     "routers[0].nat[1].logical_ip: '198.18.100.0/24' is a network; a dnat_and_snat rule translates to one address"),
    ('nat', nat('snat', '198.18.200.1', '2001:db8::/64'),
     'routers[0].nat[1].logical_ip: 2001:db8::/64 is IPv6, but external_ip is IPv4 (198.18.200.1)'),
    ('nat', nat('dnat_and_snat', '198.18.200.9', '198.18.100.1', logical_port='vm1'),
     "routers[0].nat[1].external_mac: missing; a distributed dnat_and_snat with logical_port 'vm1' needs external_mac"),
    ('nat', nat('dnat_and_snat', '198.18.200.9', '198.18.100.1', external_mac='02:00:00:00:c8:09'),
     'routers[0].nat[1].logical_port: missing'),
    ('nat', nat('dnat_and_snat', '198.18.200.9', '198.18.100.1', 'vm1', '01:00:00:00:c8:09'),
     'routers[0].nat[1].external_mac: 01:00:00:00:c8:09 is a multicast MAC'),
    ('nat', nat('snat', '198.18.200.9', '198.18.100.1', 'vm1', '02:00:00:00:c8:09'),
     'routers[0].nat[1]: logical_port and external_mac are only for dnat_and_snat, not snat'),
    ('nat', nat('dnat_and_snat', '198.18.200.9', '198.18.100.1', 'vm99', '02:00:00:00:c8:09'),
     "routers[0].nat[1].logical_port: 'vm99' is not a declared switch port"),
    ('nat', nat('snat', '198.18.200.2', '198.18.100.0/23'),
     'routers[0].nat[1]: snat 198.18.100.0/23 -> 198.18.200.2 collides with routers[0].nat[0] (snat 198.18.100.0/23 '
     '-> 198.18.200.1)'),
    ('nat', nat('snat', '198.18.200.1', '198.18.100.0/23'), 'routers[0].nat[1]: snat 198.18.100.0/23 -> 198.18.200.1 collides'),
    ('nat', nat('dnat', '198.18.200.1', '198.18.100.1'), None),
    ('nat', nat('bnat', '198.18.200.1', '198.18.100.1'), "routers[0].nat[1].type: 'bnat' is not one of snat, dnat"),
])
def test_bad_routes_and_nat_are_refused(key, item, message):
    p = params()
    p['routers'][0][key].append(item)
    if message is None:
        validate(p)
        p['routers'][0][key].append(nat('dnat_and_snat', '198.18.200.1', '198.18.100.2'))
        message = 'routers[0].nat[2]: dnat_and_snat 198.18.100.2 -> 198.18.200.1 collides with routers[0].nat[1] (dnat'
    with pytest.raises(PlanError, match=re.escape(message)):
        validate(p)


def test_good_routes_and_nat_are_accepted():
    p = params()
    p['routers'][0]['static_routes'] += [route('::/0', '2001:db8::1', 'lr0-public'), route('198.18.160.7', '198.18.200.9')]
    p['routers'][0]['nat'] += [nat('dnat_and_snat', '198.18.200.9', '198.18.100.1', 'vm1', '02:00:00:00:C8:09'),
                               nat('snat', '198.18.200.1', '198.18.102.7')]
    router = validate(p)['routers']['lr0']
    assert router['static_routes'][1:] == [
        {'ip_prefix': '::/0', 'nexthop': '2001:db8::1', 'output_port': 'lr0-public'},
        {'ip_prefix': '198.18.160.7', 'nexthop': '198.18.200.9', 'output_port': None}]
    assert router['nat'][1]['external_mac'] == '02:00:00:00:c8:09'


@pytest.mark.parametrize('change, message', [
    (lambda p: p['ha_chassis_groups'][0]['chassis'][0].update(priority=32768),
     'ha_chassis_groups[0].chassis[0].priority: 32768 is outside 0-32767'),
    (lambda p: p['ha_chassis_groups'][0]['chassis'][0].update(priority=-1),
     'ha_chassis_groups[0].chassis[0].priority: -1 is outside 0-32767'),
    (lambda p: p['ha_chassis_groups'][0]['chassis'][0].update(priority=True),
     'ha_chassis_groups[0].chassis[0].priority: True is not a whole number (allowed: 0-32767)'),
    (lambda p: p['switches'][1]['acls'][0].update(priority=40000), 'switches[1].acls[0].priority: 40000 is outside 0-32767'),
    (lambda p: p['switches'][1]['acls'][0].update(direction='ingress'),
     "switches[1].acls[0].direction: 'ingress' is not one of from-lport, to-lport"),
    (lambda p: p['switches'][1]['acls'][0].update(action='accept'), "switches[1].acls[0].action: 'accept' is not one of"),
    (lambda p: p['switches'][1]['acls'].append(dict(p['switches'][1]['acls'][0], action='allow')),
     "switches[1].acls[1]: to-lport, priority 1000, match 'tcp.dst == 23' is already switches[1].acls[0] (action drop)"),
    (lambda p: p['switches'][1]['acls'].append(dict(p['switches'][1]['acls'][0])),
     'switches[1].acls[1]: to-lport, priority 1000, match'),
    (lambda p: p['routers'][0].update(options={'chassis': ['gw1']}), 'routers[0].options.chassis: '),
])
def test_ranges_choices_and_duplicates_are_refused(change, message):
    p = params()
    change(p)
    with pytest.raises(PlanError, match=re.escape(message)):
        validate(p)


SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'


def nb_schema():
    if not os.path.exists(SCHEMA):
        pytest.skip('no OVN northbound schema at %s' % SCHEMA)
    schema = pytest.importorskip('ovs.db.schema')
    with open(SCHEMA) as handle:
        return schema.DbSchema.from_json(json.load(handle))


def test_ranges_and_choices_are_those_of_the_northbound_schema():
    tables = nb_schema().tables

    def key(table, column):
        return tables[table].columns[column].type.key

    for table in ('ACL', 'HA_Chassis', 'Gateway_Chassis'):
        assert (key(table, 'priority').min, key(table, 'priority').max) == PRIORITY_RANGE, table
    assert (key('Logical_Switch_Port', 'tag').min, key('Logical_Switch_Port', 'tag').max) == TAG_RANGE
    assert sorted(key('ACL', 'direction').enum.as_list()) == ACL_DIRECTIONS
    assert sorted(key('NAT', 'type').enum.as_list()) == sorted(NAT_TYPES)
    # The module offers what newer schemas have; check_schema refuses the rest on an older server.
    assert set(key('ACL', 'action').enum.as_list()) <= set(ACL_ACTIONS)


def test_check_schema_refuses_what_this_server_does_not_know():
    tables = nb_schema().tables
    desired = validate(params())
    check_schema(desired, tables)
    if 'pass' in tables['ACL'].columns['action'].type.key.enum.as_list():
        pytest.skip('this schema has ACL action pass')
    p = params()
    p['switches'][1]['acls'][0]['action'] = 'pass'
    with pytest.raises(PlanError, match=re.escape(
            "switches[1].acls[0].action: 'pass' is not a value this OVN northbound database knows (its schema allows: "
            "allow, allow-related, allow-stateless, drop, reject)")):
        check_schema(validate(p), tables)


GOOD_MATCHES = [
    'ip4 && tcp.dst == 23',
    'ip4 && tcp.dst == {22, 23} // no remote shells',
    'inport == "vm1" && (ip4.dst == 198.18.0.0/15 || ip6)',
    '1024 <= udp.dst <= 2048 && !ct.est && eth.src == 0a:00:00:00:20:01',
    'ip4.src == $tenant_addresses && outport == @tenant_ports /* sets */',
    'ip6.src == fe80::/10 && icmp6.type == 135 && ip6.dst == ::1',
    'outport == "vm\\"1" && reg0[0..3] == 0x5 && ct_label[0] == 1',
    'ip4.dst == 198.18.100.0/255.255.255.0 && eth.type != 0x86dd',
    'arp.op == 1\n  && arp.tpa == 198.18.100.1',
    'ip',
]


@pytest.mark.parametrize('match', GOOD_MATCHES)
def test_acl_matches_that_ovn_accepts_are_accepted(match):
    p = params()
    p['switches'][1]['acls'][0]['match'] = match
    assert validate(p)['switches']['red']['acls'][0]['match'] == match


@pytest.mark.parametrize('match, message', [
    ('', "'' is empty"),
    ('   ', "'   ' is empty"),
    ('ip4 && (tcp.dst == 22 || tcp.dst == 23', "has a '(' at character 8 that is never closed"),
    ('ip4 && tcp.dst == 22)', "has a ')' at character 21 with no '(' before it"),
    ('ip4 && tcp.dst == {22, 23)', "has a ')' at character 26 with no '(' before it"),
    ('inport == "vm1 && ip4', 'has a string with no closing double quote'),
    ("inport == 'vm1'", 'has a single quote at character 11; OVN strings take double quotes'),
    ('ip4 && tcp.dst = 23', "has '=' at character 16; OVN compares with =="),
    ('ip4 & tcp', "has a single '&' at character 5; OVN's operators are && and ||"),
    ('ip4 | ip6', "has a single '|' at character 5"),
    ('ip4 and tcp.dst == 23', "uses 'and'; OVN's logical operators are &&, || and !"),
    ('ip4 or ip6', "uses 'or'"),
    ('ip4 && tcp.dst == 23 &&', "ends with '&&', which needs an operand after it"),
    ('&& ip4', "starts with '&&', which needs an operand before it"),
    ('ip4 && && tcp', "has '&&' followed by '&&': an operand is missing between them"),
    ('ip4 && (|| tcp)', "has '(' followed by '||'"),
    ('ip4 && ()', "has '(' followed by ')'"),
    ('ip4 && !', "ends with '!'"),
    ('tcp.dst == 23 # telnet', "has '#' at character 15, which OVN's match syntax does not have"),
    ('ip4.src == 10.0.0.0 / 8', "has '/' at character 21"),
    ('ip4.src == $ && ip4', "has '$' at character 12"),
    ('ip4\u00a0&& tcp', "has '\\xa0' at character 4"),
    ('ip4 /* comment', 'has a /* comment with no */ on its line'),
    ('// only a comment', 'has nothing but comments'),
])
def test_acl_matches_that_are_certainly_wrong_are_refused(match, message):
    p = params()
    p['switches'][1]['acls'][0]['match'] = match
    with pytest.raises(PlanError) as err:
        validate(p)
    assert str(err.value).startswith('switches[1].acls[0].match: %r ' % match)
    assert message in str(err.value)


@pytest.mark.parametrize('change', [
    lambda p: p['switches'][0]['ports'][0].update(mac=5),
    lambda p: p['switches'][0]['ports'][0].update(ips=[None]),
    lambda p: p['switches'][0]['ports'][0].update(name=None),
    lambda p: p['switches'][1]['acls'][0].update(match=None),
    lambda p: p['switches'][1]['acls'][0].update(priority='high'),
    lambda p: p['routers'][0]['ports'][0].update(networks=[None]),
    lambda p: p['routers'][0]['static_routes'][0].update(prefix=None),
    lambda p: p['routers'][0]['nat'][0].update(logical_ip=None),
    lambda p: p['ha_chassis_groups'][0]['chassis'][0].update(name=3),
    lambda p: p['switches'][0].update(subnet=7),
])
def test_wrong_types_are_refused_with_a_message_not_an_exception(change):
    p = params()
    change(p)
    with pytest.raises(PlanError):
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
    with pytest.raises(PlanError, match=re.escape(
            "switches[1].ports[2]: port 'vm1' exists on logical switch 'blue' in the database")):
        plan(validate(p), state, OWNER)


def test_switch_port_named_like_a_router_port_in_the_database_is_refused():
    _desired, state = converged()
    p = params()
    p['routers'][0]['ports'] = p['routers'][0]['ports'][1:]
    p['switches'][0]['ports'] = [vm('vm1', '02:00:00:00:64:01', '198.18.100.1'), vm('lr0-blue', '02:00:00:00:64:09')]
    with pytest.raises(PlanError, match=re.escape(
            "switches[0].ports[1]: port 'lr0-blue' exists on logical router 'lr0' in the database")):
        plan(validate(p), state, OWNER)


def deployment_state():
    """The database after another owner ("deployment") declared the whole topology."""
    desired = validate(params(owner='deployment'))
    return simulate(empty(), plan(desired, empty(), 'deployment'))


@pytest.mark.parametrize('change, message', [
    (lambda p: p, "switches[0]: logical switch 'blue' is owned by 'deployment'"),
    (lambda p: p.update(ha_chassis_groups=[], routers=[], switches=[dict(p['switches'][0], ports=p['switches'][0][
        'ports'][:1])]),
     "switches[0]: logical switch 'blue' is owned by 'deployment' (external_ids:netvirt-overlay-owner), not by this "
     "task's owner 'netvirt.overlay'. Declare it with owner: deployment, or set adopt: true to take it over"),
    (lambda p: p.update(switches=[]), "routers[0]: logical router 'lr0' is owned by 'deployment'"),
    (lambda p: p.update(switches=[], routers=[]), "ha_chassis_groups[0]: HA chassis group 'edge' is owned by 'deployment'"),
])
def test_objects_of_another_owner_are_refused_unless_adopted(change, message):
    state = deployment_state()
    p = params()
    change(p)
    desired = validate(p)
    with pytest.raises(PlanError, match=re.escape(message)):
        plan(desired, state, OWNER)
    changes = plan(desired, state, OWNER, adopt=True)
    assert changes and all(c['op'].startswith('set_') for c in changes)
    after = simulate(state, changes)
    assert plan(desired, after, OWNER) == []
    # Adopted: the other owner's purge no longer removes them.
    purged = plan(validate(params(owner='deployment', switches=[], routers=[], ha_chassis_groups=[])),
                  after, 'deployment')
    for kind, op, key in (('switches', 'del_switch', 'switch'), ('routers', 'del_router', 'router'),
                          ('ha_chassis_groups', 'del_ha_group', 'group')):
        for name in desired[kind]:
            assert {'op': op, key: name} not in purged


@pytest.mark.parametrize('mark_of, message', [
    (lambda s: s['switches']['blue']['ports']['vm1'], "switches[0].ports[0]: port 'vm1' is owned by 'deployment'"),
    (lambda s: s['switches']['red']['acls'][0], "switches[1].acls[0]: this rule is owned by 'deployment'"),
    (lambda s: s['routers']['lr0']['nat'][0], "routers[0].nat[0]: this rule is owned by 'deployment'"),
    (lambda s: s['routers']['lr0']['static_routes'][0], "routers[0].static_routes[0]: this rule is owned by"),
])
def test_parts_of_another_owner_in_unmarked_objects_are_refused(mark_of, message):
    _desired, state = converged()
    for kind in ('switches', 'routers', 'ha_chassis_groups'):
        for obj in state[kind].values():
            obj['external_ids'] = {}
    mark_of(state)['external_ids'] = {OWNER_KEY: 'deployment'}
    with pytest.raises(PlanError, match=re.escape(message)):
        plan(validate(params()), state, OWNER)
    assert plan(validate(params()), state, OWNER, adopt=True)


def test_nat_needs_a_gateway():
    p = params()
    p['routers'][0]['ports'][2]['ha_chassis_group'] = None
    desired = validate(p)
    with pytest.raises(PlanError, match=re.escape(
            "routers[0].nat[0]: router 'lr0' has no gateway for NAT: give one of its ports an ha_chassis_group or "
            "gateway_chassis, or make it a gateway router (options.chassis)")):
        plan(desired, empty(), OWNER)
    p['routers'][0]['options'] = {'chassis': 'gw1'}
    assert plan(validate(p), empty(), OWNER)
    # A gateway port made by someone else, which this run keeps, serves as well; one this run
    # purges does not.
    _desired, state = converged()
    p = params(switches=params()['switches'][:2])
    p['routers'][0]['ports'] = p['routers'][0]['ports'][:2]
    without_gateway = validate(p)
    state['routers']['lr0']['ports']['lr0-public']['external_ids'] = {}
    assert plan(without_gateway, state, OWNER)
    state['routers']['lr0']['ports']['lr0-public']['external_ids'] = MARK
    with pytest.raises(PlanError, match='has no gateway for NAT'):
        plan(without_gateway, state, OWNER)
    assert plan(without_gateway, state, OWNER, purge=False) == []


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


# -- applying -----------------------------------------------------------------------

class FakeRow(object):
    """An IDL row: columns are attributes; delete() only marks it."""

    def __init__(self, uuid, **columns):
        self.__dict__.update(uuid=uuid, deleted=False, **columns)

    def verify(self, column):
        pass

    def delete(self):
        self.deleted = True


class FakeTable(object):
    def __init__(self, *rows):
        self.rows = dict((row.uuid, row) for row in rows)


def gateway_tables():
    member = FakeRow('m1', chassis_name='gw1', priority=20)
    group = FakeRow('g1', name='edge', ha_chassis=[member], external_ids={})
    public = FakeRow('p1', name='lr0-public', ha_chassis_group=[group], gateway_chassis=[])
    blue = FakeRow('p2', name='lr0-blue', ha_chassis_group=[], gateway_chassis=[])
    router = FakeRow('r1', name='lr0', ports=[public, blue], static_routes=[], nat=[])
    tables = {'HA_Chassis_Group': FakeTable(group), 'Logical_Switch': FakeTable(), 'Logical_Switch_Port': FakeTable(),
              'Logical_Router': FakeTable(router), 'Logical_Router_Port': FakeTable(public, blue)}
    return tables, group, router, public, blue


@pytest.mark.parametrize('departing', [{'op': 'del_router_port', 'router': 'lr0', 'port': 'lr0-public'},
                                       {'op': 'del_router', 'router': 'lr0'}])
def test_a_gateway_port_leaving_with_its_group_drops_the_reference(departing):
    """ovsdb-server counts the reference of a port it has not collected yet: deleting the group in
    the same transaction failed with 'referential integrity violation' until the port let go."""
    tables, group, router, public, blue = gateway_tables()
    apply_changes(None, tables, [departing, {'op': 'del_ha_group', 'group': 'edge'}])
    assert public.ha_chassis_group == [] and not public.deleted
    assert group.deleted
    if departing['op'] == 'del_router':
        assert router.deleted
    else:
        assert router.ports == [blue] and not router.deleted


# -- the inventories that use the module ----------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def molecule_inventory():
    with open(os.path.join(ROOT, 'molecule', 'ovn', 'molecule.yml')) as handle:
        links = yaml.safe_load(handle)['provisioner']['inventory']['links']
    scenario = os.path.join(ROOT, 'molecule', 'ovn')
    hosts = os.path.normpath(os.path.join(scenario, links['hosts']))
    # ansible reads the group_vars next to the hosts file: the ones Molecule links.
    group_vars = os.path.join(os.path.dirname(hosts), 'group_vars')
    assert os.path.normpath(os.path.join(scenario, links['group_vars'])) == group_vars
    return [hosts, os.path.normpath(os.path.join(scenario, links['molecule_lab.yml']))]


def rendered_topology(sources):
    """overlay_ovn_topology as the play of playbooks/site.yml sees it (templated by Ansible)."""
    ansible = shutil.which('ansible')
    if ansible is None:
        pytest.skip('ansible is not on PATH')
    command = [ansible, 'controllers[0]', '-m', 'ansible.builtin.debug', '-a', 'var=overlay_ovn_topology']
    for source in sources:
        command += ['-i', source]
    env = dict(os.environ, ANSIBLE_CALLBACK_RESULT_FORMAT='json', ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    out = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return json.loads(out.split('=>', 1)[1])['overlay_ovn_topology']


def module_params(params):
    """The parameters as AnsibleModule hands them to the module (defaults, type conversion)."""
    checked = ArgumentSpecValidator(TOPOLOGY_ARGUMENT_SPEC).validate(params)
    assert not checked.error_messages
    return checked.validated_parameters


def test_the_module_examples_pass_the_validation():
    from ansible_collections.netvirt.overlay.plugins.modules.ovn_topology import EXAMPLES
    for task in yaml.safe_load(EXAMPLES):
        args = dict(task['netvirt.overlay.ovn_topology'])
        for key in ('db', 'ssl_private_key', 'ssl_certificate', 'ssl_ca_cert'):
            args.pop(key, None)
        params = module_params(args)
        plan(validate(params), empty(), params['owner'])


@pytest.mark.parametrize('sources', [[os.path.join(ROOT, 'inventories', 'lab_ovn', 'hosts.yml')], 'molecule'],
                         ids=['inventories/lab_ovn', 'molecule/ovn'])
def test_the_lab_topologies_pass_the_validation(sources):
    topology = rendered_topology(molecule_inventory() if sources == 'molecule' else sources)
    # What playbooks/site.yml passes, through the module's argument spec as AnsibleModule does.
    desired = validate(module_params(dict(switches=topology.get('switches', []), routers=topology.get('routers', []),
                                          ha_chassis_groups=topology.get('ha_chassis_groups', []))))
    assert plan(desired, empty(), 'netvirt.overlay')
    if os.path.exists(SCHEMA):
        check_schema(desired, nb_schema().tables)
    assert desired['switches'] and desired['routers']
