# -*- coding: utf-8 -*-
"""Testinfra checks of BUM replication through the service nodes, run by ``molecule verify``.

Service nodes: br-tun has one tunnel to every hypervisor and gateway and none to another service
node, each with BFD up; their flows send a flood that came in from an endpoint with a network's
VNI to every other endpoint that carries that network (overlay_host_networks), never back to the
sender (and never from one gateway to another: two gateways bridging one VLAN would loop).
Hypervisors and gateways (overlay_bum_replication: service_node): BFD on their tunnels to the
service nodes, and per network they carry an OpenFlow 1.3 fast-failover group whose buckets
watch the service nodes' tunnels in inventory order, then fall back to sending the flood
themselves to the network's endpoints; floods reach the service nodes only through that group.

Expected values come from the inventory (groups, overlay_tep_address, overlay_host_networks,
overlay_networks); tunnel ports are told apart by their remote_ip, not by the role's names.
"""

from __future__ import annotations

import os
import re

import pytest

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

# The parametrized hosts and what they are asked (one command per host, shared with the other checks).
from conftest import carried, networks, tep, tunnels  # noqa: E402

# The groups whose hosts the service nodes serve (the service_node role's default).
CLIENT_GROUPS = ['hypervisors', 'gateways']
OUTPUT = re.compile(r'output:"?([^",]+)"?')


def _clients(host):
    """The hypervisors and gateways, in inventory order."""
    out = []
    for group in host.vars.get('service_node_client_groups', CLIENT_GROUPS):
        out += [name for name in host.groups.get(group, []) if name not in out]
    return out


def _receivers(host, sender, network):
    """Who gets a copy of a flood of a network that came from sender: every other hypervisor and
    gateway that carries the network, but no gateway when the sender is a gateway."""
    gateways = host.groups.get('gateways', [])
    return [name for name in _clients(host) if name != sender and network in carried(host, name)
            and not (sender in gateways and name in gateways)]


def _port_hosts(host, state):
    """{tunnel port name: inventory host at its far end} (by remote_ip and overlay_tep_address)."""
    by_ip = dict((tep(host, name), name) for group in ('hypervisors', 'gateways', 'service_nodes')
                 for name in host.groups.get(group, []))
    return dict((t['name'], by_ip.get(t['options'].get('remote_ip'), t['name'])) for t in tunnels(state))


def _flow(line):
    """A dump-flows line: ({match field: value, incl. table and priority}, actions)."""
    head, actions = line.split(' actions=', 1)
    fields = dict((f.split('=', 1) + [''])[:2] for f in head.replace(', ', ',').split(','))
    return dict((k, v.strip('"')) for k, v in fields.items()), actions


def _groups(lines):
    """dump-groups lines: {group id: {'type': type, 'buckets': [(watch_port, [output ports])]}}."""
    out = {}
    for line in lines:
        head, *buckets = line.split(',bucket=')
        fields = dict(f.split('=', 1) for f in head.split(','))
        out[int(fields['group_id'])] = {
            'type': fields.get('type'),
            'buckets': [((re.findall(r'watch_port:([^,]+)', b) or [None])[0], OUTPUT.findall(b.split('actions=', 1)[-1]))
                        for b in buckets]}
    return out


def test_service_node_is_in_this_scenarios_lab(service_node, lab_state):
    assert lab_state(service_node.name)['netns'] == service_node.lab_netns()


def test_service_node_tunnels_to_every_hypervisor_and_gateway(service_node, lab_state):
    """One tunnel to each hypervisor and gateway, none to another service node."""
    state = lab_state(service_node.name)
    bridge = state['bridges']['br-tun']['row']
    assert (bridge['datapath_type'], bridge['fail_mode']) == ('netdev', 'secure')
    tunnel_ifaces = tunnels(state)
    remote_ips = sorted(t['options'].get('remote_ip') for t in tunnel_ifaces)
    others = [tep(service_node, n) for n in service_node.groups['service_nodes'] if n != service_node.name]
    assert not set(remote_ips) & set(others), '%s has a tunnel to another service node' % service_node.name
    assert remote_ips == sorted(tep(service_node, n) for n in _clients(service_node))
    local_ip = tep(service_node, service_node.name)
    for iface in tunnel_ifaces:
        assert iface['type'] == service_node.vars['overlay_encapsulation'], iface['name']
        assert iface['options'].get('local_ip') == local_ip, iface['name']
        assert iface['options'].get('key') == 'flow', iface['name']


def _bfd_up(iface):
    return (iface['bfd'].get('enable') == 'true' and iface['bfd_status'].get('state') == 'up'
            and iface['bfd_status'].get('forwarding') == 'true')


def test_service_node_runs_bfd_on_every_tunnel(service_node, lab_state):
    # The lab's premise: two service nodes, and floods go through them (BFD picks a live one).
    assert service_node.vars['overlay_bum_replication'] == 'service_node'
    assert len(service_node.groups['service_nodes']) >= 2
    not_up = [(t['name'], t['bfd'], t['bfd_status']) for t in tunnels(lab_state(service_node.name)) if not _bfd_up(t)]
    assert not not_up, 'BFD not enabled or not up: %s' % not_up


def test_service_node_replicates_per_vni_to_the_endpoints_of_the_network(service_node, lab_state):
    """Per sender and network it carries: out to the network's other endpoints, never back in."""
    state = lab_state(service_node.name)
    port_hosts = _port_hosts(service_node, state)
    by_vni = dict((net['vni'], name) for name, net in networks(service_node.vars).items())
    have, others = {}, []
    for line in state['flows']:
        fields, actions = _flow(line)
        if 'in_port' not in fields:
            others.append((fields.get('priority'), actions))
            continue
        outputs = OUTPUT.findall(actions)
        assert fields['in_port'] not in outputs and 'in_port' not in actions.lower(), 'floods back to its sender: ' + line
        sender = port_hosts.get(fields['in_port'], fields['in_port'])
        network = by_vni.get(int(fields.get('tun_id', '-1'), 0), fields.get('tun_id'))
        assert (sender, network) not in have, 'two flows for floods of %s from %s' % (network, sender)
        have[(sender, network)] = sorted(port_hosts.get(p, p) for p in outputs)
        if not outputs:
            assert actions == 'drop', line
    want = dict(((sender, network), sorted(_receivers(service_node, sender, network)))
                for sender in _clients(service_node) for network in carried(service_node, sender))
    assert have == want
    # Anything else (a VNI its sender does not carry, an unknown VNI or port) is dropped.
    assert others == [('0', 'drop')]


def test_bfd_on_the_tunnels_to_the_service_nodes(sn_client, lab_state):
    by_ip = dict((t['options'].get('remote_ip'), t) for t in tunnels(lab_state(sn_client.name)))
    for node in sn_client.groups['service_nodes']:
        iface = by_ip.get(tep(sn_client, node))
        assert iface is not None, '%s has no tunnel to service node %s' % (sn_client.name, node)
        assert _bfd_up(iface), '%s -> %s: BFD %s, %s' % (sn_client.name, node, iface['bfd'], iface['bfd_status'])


def test_floods_go_to_a_fast_failover_group_of_the_service_nodes(sn_client, lab_state):
    """Per network the host carries: a fast-failover group (id: the network's local VLAN) whose
    buckets watch each service node's tunnel in inventory order, then the patch port to br-int
    with a copy to each endpoint of the network (source replication once no service node is live).
    The host's floods of that network go to the group; no flow sends to a service node directly."""
    assert sn_client.vars['overlay_bum_replication'] == 'service_node'
    state = lab_state(sn_client.name)
    port_of = dict((host, port) for port, host in _port_hosts(sn_client, state).items())
    node_ports = [port_of[node] for node in sn_client.groups['service_nodes']]
    patch = [i['name'] for _p, ifaces in state['bridges']['br-tun']['ports'].values() for i in ifaces if i['type'] == 'patch']
    assert len(patch) == 1, patch
    nets = networks(sn_client.vars)
    want = {}
    for name in carried(sn_client, sn_client.name):
        buckets = [(port, [port]) for port in node_ports]
        direct = sorted(port_of[host] for host in _receivers(sn_client, sn_client.name, name))
        if direct:
            buckets.append((patch[0], direct))
        want[nets[name]['vlan']] = {'type': 'ff', 'buckets': buckets}
    have = _groups(state['groups'])
    for group in have.values():
        group['buckets'] = [(watch, sorted(ports)) for watch, ports in group['buckets']]
    assert have == want

    flows = [_flow(line) for line in state['flows']]
    for name in carried(sn_client, sn_client.name):
        net = nets[name]
        to_group = [actions for fields, actions in flows
                    if fields.get('dl_vlan') == str(net['vlan']) and actions.endswith(',group:%d' % net['vlan'])]
        assert len(to_group) == 1, '%s: no flood of %s to group %d' % (sn_client.name, name, net['vlan'])
        assert 'set_field:0x%x->tun_id' % net['vni'] in to_group[0]
    direct_to_nodes = [actions for _fields, actions in flows if set(OUTPUT.findall(actions)) & set(node_ports)]
    assert not direct_to_nodes, 'flows that bypass the fast-failover group: %s' % direct_to_nodes
