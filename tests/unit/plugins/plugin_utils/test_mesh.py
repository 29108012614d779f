# -*- coding: utf-8 -*-
"""Flow computation of the static mesh: who receives which VNI's floods, with and without service nodes."""

from __future__ import annotations

import re

import pytest

from ansible_collections.netvirt.overlay.plugins.plugin_utils._gateway import gateway_plan
from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import (
    MeshError, check_topology, flood_groups, mesh_endpoints, mesh_peers, normalise_networks, replication_plan,
    service_node_flows, tunnel_bridge_flows, tunnel_bridge_plans)

NETS = normalise_networks([{'name': 'blue', 'vni': 1001}, {'name': 'red', 'vni': 1002}])


def tun(port, networks, kind='hypervisor'):
    return {'port': port, 'networks': list(networks), 'kind': kind}


HV_PEERS = [tun('gre-hv2', ['blue', 'red']), tun('gre-hv3', ['red']), tun('gre-gw1', ['blue', 'red'], 'gateway'),
            tun('gre-gw2', ['blue', 'red'], 'gateway'), tun('sn-1', ['blue', 'red'], 'service_node'),
            tun('sn-2', ['blue', 'red'], 'service_node')]


def outputs(flow):
    return re.findall(r'output:([\w-]+)', flow.split('actions=', 1)[1])


def flows_of(flows, table, match=''):
    return [f for f in flows if f.startswith('table=%d,' % table) and match in f]


# --- hypervisor with source replication ---------------------------------------------------

def test_source_replication_is_unchanged_without_kinds():
    peers = [{'port': 'gre-b', 'networks': ['blue']}, {'port': 'gre-a', 'networks': ['blue', 'red']}]
    flows = tunnel_bridge_flows(NETS, ['blue', 'red'], peers)
    assert flows_of(flows, 21, 'dl_vlan=1') == [
        'table=21,priority=10,dl_vlan=1 actions=pop_vlan,set_field:0x3e9->tun_id,output:gre-a,output:gre-b']
    assert outputs(flows_of(flows, 21, 'dl_vlan=2')[0]) == ['gre-a']
    assert 'table=20,priority=0 actions=resubmit(,21)' in flows
    assert not flows_of(flows, 12) and not flows_of(flows, 22)


def test_source_replication_never_floods_to_service_nodes():
    flows = tunnel_bridge_flows(NETS, ['blue', 'red'], HV_PEERS)
    assert outputs(flows_of(flows, 21, 'dl_vlan=1')[0]) == ['gre-gw1', 'gre-gw2', 'gre-hv2']
    assert outputs(flows_of(flows, 21, 'dl_vlan=2')[0]) == ['gre-gw1', 'gre-gw2', 'gre-hv2', 'gre-hv3']
    # frames relayed by a service node are delivered but never learned
    assert 'table=0,priority=10,in_port=sn-1 actions=resubmit(,12)' in flows
    assert 'table=0,priority=10,in_port=gre-hv2 actions=resubmit(,10)' in flows
    assert not any('learn' in f for f in flows_of(flows, 12))
    assert flows_of(flows, 12, 'tun_id=0x3e9')[0].endswith('output:patch-int')
    assert flood_groups(NETS, ['blue'], HV_PEERS) == []


# --- hypervisor with service nodes --------------------------------------------------------

def test_service_node_replication_sends_broadcast_to_the_group_only():
    flows = tunnel_bridge_flows(NETS, ['blue'], HV_PEERS, bum_replication='service_node')
    bum = flows_of(flows, 21, 'dl_vlan=1')
    assert bum == ['table=21,priority=10,dl_vlan=1 actions=pop_vlan,set_field:0x3e9->tun_id,group:1']
    assert outputs(bum[0]) == []
    # unknown unicast goes straight to the endpoints so that they learn the sender's tunnel
    assert 'table=20,priority=0 actions=resubmit(,22)' in flows
    assert outputs(flows_of(flows, 22, 'dl_vlan=1')[0]) == ['gre-gw1', 'gre-gw2', 'gre-hv2']
    assert not flows_of(flows, 21, 'dl_vlan=2')  # red is not local


def test_flood_group_prefers_service_nodes_in_order_then_falls_back_to_source():
    groups = flood_groups(NETS, ['red', 'blue'], HV_PEERS, bum_replication='service_node')
    assert [g['group_id'] for g in groups] == [1, 2]
    assert groups[1]['spec'] == (
        'group_id=2,type=ff,bucket=watch_port:sn-1,actions=output:sn-1,bucket=watch_port:sn-2,actions=output:sn-2,'
        'bucket=watch_port:patch-int,actions=output:gre-gw1,output:gre-gw2,output:gre-hv2,output:gre-hv3')


def test_service_node_replication_needs_a_service_node():
    with pytest.raises(MeshError, match='at least one service node'):
        tunnel_bridge_flows(NETS, ['blue'], HV_PEERS[:4], bum_replication='service_node')
    with pytest.raises(MeshError, match='not one of'):
        tunnel_bridge_flows(NETS, ['blue'], HV_PEERS, bum_replication='multicast')


def test_gateway_never_floods_to_the_other_gateway():
    peers = [tun('gre-hv1', ['blue']), tun('gre-gw2', ['blue'], 'gateway'), tun('sn-1', ['blue'], 'service_node')]
    flows = tunnel_bridge_flows(NETS, ['blue'], peers, local_kind='gateway')
    assert outputs(flows_of(flows, 21, 'dl_vlan=1')[0]) == ['gre-hv1']
    spec = flood_groups(NETS, ['blue'], peers, bum_replication='service_node', local_kind='gateway')[0]['spec']
    assert 'gre-gw2' not in spec


# --- service node -------------------------------------------------------------------------

SN_PEERS = [tun('gre-hv1', ['blue']), tun('gre-hv2', ['blue', 'red']), tun('gre-hv3', ['red']),
            tun('gre-gw1', ['blue', 'red'], 'gateway'), tun('gre-gw2', ['blue', 'red'], 'gateway')]


def test_service_node_replicates_per_vni_to_the_carriers_only():
    plan = replication_plan(NETS, SN_PEERS)
    assert plan['blue'] == {'gre-hv1': ['gre-gw1', 'gre-gw2', 'gre-hv2'], 'gre-hv2': ['gre-gw1', 'gre-gw2', 'gre-hv1'],
                            'gre-gw1': ['gre-hv1', 'gre-hv2'], 'gre-gw2': ['gre-hv1', 'gre-hv2']}
    assert plan['red']['gre-hv3'] == ['gre-gw1', 'gre-gw2', 'gre-hv2']
    assert 'gre-hv1' not in plan['red']


def test_service_node_flows_never_send_back_and_drop_the_rest():
    flows = service_node_flows(NETS, SN_PEERS)
    by_key = {}
    for flow in flows[:-1]:
        port = re.search(r'in_port=([\w-]+)', flow).group(1)
        vni = int(re.search(r'tun_id=(0x[0-9a-f]+)', flow).group(1), 16)
        by_key[(port, vni)] = outputs(flow)
        assert port not in outputs(flow)
    assert by_key[('gre-hv1', 1001)] == ['gre-gw1', 'gre-gw2', 'gre-hv2']
    assert ('gre-hv1', 1002) not in by_key  # hv1 does not carry red: such frames are dropped
    assert by_key[('gre-hv3', 1002)] == ['gre-gw1', 'gre-gw2', 'gre-hv2']
    assert flows[-1] == 'table=0,priority=0 actions=drop'


def test_service_node_flow_with_no_receiver_drops():
    flows = service_node_flows(NETS, [tun('gre-hv1', ['blue']), tun('gre-hv3', ['red'])])
    assert 'table=0,priority=10,in_port=gre-hv1,tun_id=0x3e9 actions=drop' in flows


def test_service_node_refuses_service_node_peers_and_unknown_networks():
    with pytest.raises(MeshError, match='do not peer'):
        service_node_flows(NETS, SN_PEERS + [tun('sn-2', ['blue'], 'service_node')])
    with pytest.raises(MeshError, match='unknown tenant network'):
        service_node_flows(NETS, [tun('gre-hv1', ['green'])])


# --- validation of the inventory ----------------------------------------------------------

def ep(host, kind, networks=None):
    return {'host': host, 'kind': kind, 'networks': networks}


def test_check_topology_accepts_the_lab():
    assert check_topology(NETS, [ep('hv1', 'hypervisor', ['blue']), ep('hv3', 'hypervisor', ['red']),
                                 ep('sn1', 'service_node')])


def test_vni_that_no_host_carries_is_an_error():
    with pytest.raises(MeshError, match="'red' \\(vni 1002\\) is carried by no hypervisor or gateway"):
        check_topology(NETS, [ep('hv1', 'hypervisor', ['blue']), ep('sn1', 'service_node', ['red'])])


def test_service_node_listed_as_hypervisor_is_an_error():
    with pytest.raises(MeshError, match='host sn1 is a service node and a hypervisor too'):
        check_topology(NETS, [ep('sn1', 'hypervisor'), ep('sn1', 'service_node')])


def test_unknown_network_on_a_host_is_an_error():
    with pytest.raises(MeshError, match='unknown tenant network'):
        check_topology(NETS, [ep('hv1', 'hypervisor', ['blue', 'green'])])


# --- gateways -----------------------------------------------------------------------------

ROUTER = {'name': 'red', 'network': 'red', 'address': '198.18.100.254/24', 'external_network': '198.18.64.0/24',
          'external_vip': '198.18.64.1', 'external_addresses': {'gw1': '198.18.64.2', 'gw2': '198.18.64.3'},
          'floating': [{'address': '198.18.64.10', 'fixed': '198.18.100.4'}], 'vrrp_id': 52}


def test_gateway_plan():
    plan = gateway_plan(NETS, 'gw2', l2_networks=[{'network': 'blue', 'vlan': 100}], routers=[ROUTER], l2_vrrp_id=51)
    assert plan['l2'] == [{'network': 'blue', 'vlan': 100, 'local_vlan': 1, 'int_port': 'l2gw-100', 'phy_port': 'l2phy-100'}]
    # br-int side on the network's local VLAN, br-l2 side on the physical VLAN: OVS translates
    assert plan['l2_int_ports'] == [{'name': 'l2gw-100', 'type': 'patch', 'peer': 'l2phy-100', 'tag': 1}]
    assert plan['l2_bridge_ports'] == [{'name': 'eth2', 'trunks': [100]},
                                       {'name': 'l2phy-100', 'type': 'patch', 'peer': 'l2gw-100', 'tag': 100}]
    assert plan['routers'][0]['external_address'] == '198.18.64.3/24'
    # VRRP by unicast between the gateways' own external addresses
    assert (plan['routers'][0]['vrrp_src'], plan['routers'][0]['vrrp_peers']) == ('198.18.64.3', ['198.18.64.2'])
    assert plan['routers'][0]['netns'] == 'nvr-red'
    assert plan['ports'] == [{'name': 'nvr-red', 'network': 'red'}]


def test_router_external_mac_is_fixed_unicast_and_differs_per_gateway_and_router():
    macs = [gateway_plan(NETS, gw, routers=[dict(ROUTER, name=name, vrrp_id=vrid)])['routers'][0]['external_mac']
            for gw in ('gw1', 'gw2') for name, vrid in (('red', 52), ('green', 53))]
    # the same inputs give the same MAC (it must survive a reboot), every gateway and router its own
    assert macs[0] == gateway_plan(NETS, 'gw1', routers=[ROUTER])['routers'][0]['external_mac']
    assert len(set(macs)) == 4
    for mac in macs:
        assert re.match(r'^([0-9a-f]{2}:){5}[0-9a-f]{2}$', mac), mac
        # locally administered (bit 1 set), unicast (bit 0 clear)
        assert int(mac[:2], 16) & 3 == 2, mac


@pytest.mark.parametrize('vlan', [0, 4095, 'x'])
def test_gateway_vlan_outside_range_is_an_error(vlan):
    with pytest.raises(MeshError, match='vlan'):
        gateway_plan(NETS, 'gw1', l2_networks=[{'network': 'blue', 'vlan': vlan}])


def test_floating_address_outside_the_external_network_is_an_error():
    bad = dict(ROUTER, floating=[{'address': '198.18.65.10', 'fixed': '198.18.100.4'}])
    with pytest.raises(MeshError, match='floating address 198.18.65.10 is outside the external network 198.18.64.0/24'):
        gateway_plan(NETS, 'gw1', routers=[bad])


def test_router_errors():
    with pytest.raises(MeshError, match='no address for gateway gw3'):
        gateway_plan(NETS, 'gw3', routers=[ROUTER])
    with pytest.raises(MeshError, match='outside the tenant subnet'):
        gateway_plan(NETS, 'gw1', routers=[dict(ROUTER, floating=[{'address': '198.18.64.10', 'fixed': '10.0.0.1'}])])
    with pytest.raises(MeshError, match='used by router too'):
        gateway_plan(NETS, 'gw1', l2_networks=[{'network': 'blue', 'vlan': 100}], routers=[ROUTER], l2_vrrp_id=52)


def test_hypervisor_role_forgets_flows_by_the_cookie_that_learn_gives_them():
    # The role deletes learned flows by cookie (roles/hypervisor/vars/main.yml): it must be the
    # cookie the learn() action of the tunnel bridge's flows writes.
    import os
    import yaml
    from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import LEARNED_COOKIE, flow_cookie
    root = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')
    with open(os.path.join(root, 'roles', 'hypervisor', 'vars', 'main.yml')) as handle:
        role_vars = yaml.safe_load(handle)
    assert role_vars['hypervisor_learned_cookie'] == "{{ 'learned' | netvirt.overlay.flow_cookie }}"
    assert int(flow_cookie('learned'), 16) == LEARNED_COOKIE
    learns = [f for f in tunnel_bridge_flows(NETS, ['blue'], HV_PEERS[:1]) if 'learn(' in f]
    assert learns and all('cookie=%#x' % LEARNED_COOKIE in f for f in learns)


def test_flow_cookie_names_each_owner_and_refuses_others():
    from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import flow_cookie
    assert [flow_cookie(o) for o in ('overlay', 'learned', 'gateway_l2')] == ['0x4e56', '0x4e57', '0x4e58']
    with pytest.raises(MeshError, match="'vxlan' is not one of gateway_l2, learned, overlay"):
        flow_cookie('vxlan')


@pytest.mark.parametrize('encapsulation, highest', [('gre', 2 ** 32 - 1), ('vxlan', 2 ** 24 - 1), ('geneve', 2 ** 24 - 1)])
def test_vni_limit_is_the_encapsulations_key_size(encapsulation, highest):
    assert normalise_networks([{'name': 'blue', 'vni': highest}], encapsulation)[0]['vni'] == highest
    with pytest.raises(MeshError, match='vni %d is outside 1-%d for %s' % (highest + 1, highest, encapsulation)):
        normalise_networks([{'name': 'blue', 'vni': highest + 1}], encapsulation)


def test_unknown_encapsulation_is_refused_by_name():
    with pytest.raises(MeshError, match="encapsulation 'ipip' is not one of geneve, gre, stt, vxlan"):
        normalise_networks([{'name': 'blue', 'vni': 1001}], 'ipip')


def test_tep_mac_is_the_same_for_the_same_address_and_unique_per_address():
    from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import tep_mac
    assert tep_mac('198.18.1.11/24') == tep_mac('198.18.1.11') == '02:4e:c6:12:01:0b'
    assert tep_mac('198.18.1.12/24') == '02:4e:c6:12:01:0c'
    v6 = tep_mac('2001:db8:1::b/64')
    assert v6 == tep_mac('2001:DB8:1:0::B') and v6 != tep_mac('2001:db8:2::b/64')
    for mac in ('02:4e:c6:12:01:0b', v6):
        first = int(mac[:2], 16)
        assert re.match(r'^([0-9a-f]{2}:){5}[0-9a-f]{2}$', mac) and first & 2 and not first & 1, mac  # local, unicast
    # Every address of a /16 gets its own.
    assert len(set(tep_mac('198.18.%d.%d' % (i // 256, i % 256)) for i in range(65536))) == 65536
    with pytest.raises(MeshError, match="tep_mac: 'tep0' is not an IP address"):
        tep_mac('tep0')


@pytest.mark.parametrize('given, message', [
    ('02:00:00:00:00', "hypervisor_tep_mac: '02:00:00:00:00' is not a MAC address"),
    ('03:00:00:00:00:01', 'hypervisor_tep_mac: 03:00:00:00:00:01 is a multicast MAC'),
    ('00:00:00:00:00:00', 'hypervisor_tep_mac: 00:00:00:00:00:00 is not a usable MAC'),
    (1234, "hypervisor_tep_mac: 1234 is not a MAC address"),
])
def test_tep_mac_checks_a_given_one_as_ovs_bridge_does(given, message):
    from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import tep_mac
    assert tep_mac('198.18.1.11/24', given='02:AA:BB:CC:DD:EE') == '02:aa:bb:cc:dd:ee'
    with pytest.raises(MeshError, match=re.escape(message)) as exc:
        tep_mac('198.18.1.11/24', given=given)
    assert 'Leave it unset to derive one from overlay_tep_address' in str(exc.value)


# --- the mesh's endpoints, once for the whole inventory -------------------------------------

MESH_GROUPS = {'hypervisors': ['hv1', 'hv2', 'hv3'], 'gateways': ['gw1'], 'service_nodes': ['sn1'], 'vms': ['vm1']}
MESH_HOSTVARS = {
    'hv1': {'overlay_tep_address': '198.18.1.11/24'},
    'hv2': {'overlay_tep_address': '198.18.1.12/24', 'overlay_host_networks': ['blue']},
    'hv3': {},  # no tunnel endpoint: not in the mesh
    'gw1': {'overlay_tep_address': '198.18.1.21'},
    'sn1': {'overlay_tep_address': '198.18.1.31/24'},
    'vm1': {'overlay_tep_address': '198.18.9.9/24'},  # not in a tunnel endpoint group
}


def test_mesh_endpoints_lists_every_endpoint_once_with_its_kind_port_and_networks():
    found = mesh_endpoints(MESH_HOSTVARS, MESH_GROUPS, NETS, 'gre')
    assert [(e['host'], e['remote_ip'], e['kind'], e['networks']) for e in found] == [
        ('hv1', '198.18.1.11', 'hypervisor', ['blue', 'red']), ('hv2', '198.18.1.12', 'hypervisor', ['blue']),
        ('gw1', '198.18.1.21', 'gateway', ['blue', 'red']), ('sn1', '198.18.1.31', 'service_node', ['blue', 'red'])]
    assert found[0]['port'].startswith('gre-') and found[3]['port'].startswith('sn-')


def test_a_hosts_peers_from_the_endpoints_are_what_mesh_peers_gives_it():
    found = mesh_endpoints(MESH_HOSTVARS, MESH_GROUPS, NETS, 'gre')
    for me in ('hv1', 'hv2', 'gw1', 'sn1'):
        assert [e for e in found if e['host'] != me] == mesh_peers(
            MESH_HOSTVARS, ['hv1', 'hv2', 'hv3', 'gw1', 'sn1'], me, 'gre', NETS, service_nodes=['sn1'], gateways=['gw1'])


def test_each_hosts_tunnel_bridge_is_what_its_peers_and_networks_give():
    found = mesh_endpoints(MESH_HOSTVARS, MESH_GROUPS, NETS, 'gre')
    for replication in ('source', 'service_node'):
        plans = tunnel_bridge_plans(found, ['hv1', 'hv2'], NETS, bum_replication=replication)
        assert sorted(plans) == ['hv1', 'hv2']
        for me, carried in (('hv1', ['blue', 'red']), ('hv2', ['blue'])):
            peers = [e for e in found if e['host'] != me]
            assert plans[me]['flows'] == tunnel_bridge_flows(NETS, carried, peers, bum_replication=replication)
            assert plans[me]['groups'] == [g['spec'] for g in flood_groups(NETS, carried, peers, bum_replication=replication)]
        # Remotes in inventory order, the service node's apart.
        assert plans['hv1']['mesh_remotes'] == ['198.18.1.12', '198.18.1.21']
        assert plans['hv1']['service_node_remotes'] == ['198.18.1.31']
    assert tunnel_bridge_plans(found, ['hv1'], NETS)['hv1']['groups'] == []
    # A gateway never floods to another gateway; the kind is the play's.
    gw = tunnel_bridge_plans(found, ['gw1'], NETS, local_kind='gateway')['gw1']
    assert gw['flows'] == tunnel_bridge_flows(NETS, ['blue', 'red'], [e for e in found if e['host'] != 'gw1'], local_kind='gateway')


def test_a_host_of_the_play_that_is_no_endpoint_is_named():
    found = mesh_endpoints(MESH_HOSTVARS, MESH_GROUPS, NETS, 'gre')
    with pytest.raises(MeshError, match='hv3 is no tunnel endpoint of the mesh: it needs overlay_tep_address'):
        tunnel_bridge_plans(found, ['hv1', 'hv3'], NETS)


def test_mesh_endpoints_checks_the_inventory_first():
    bad = dict(MESH_HOSTVARS, hv2={'overlay_tep_address': '198.18.1.12/24', 'overlay_host_networks': ['green']})
    with pytest.raises(MeshError, match=r'host hv2 carries unknown tenant network\(s\): green'):
        mesh_endpoints(bad, MESH_GROUPS, NETS, 'gre')
    twice = dict(MESH_HOSTVARS, gw1={'overlay_tep_address': '198.18.1.11/24'})
    with pytest.raises(MeshError, match='hosts hv1 and gw1 have the same tunnel endpoint 198.18.1.11'):
        mesh_endpoints(twice, MESH_GROUPS, NETS, 'gre')
