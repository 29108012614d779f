# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The static mesh: tenant networks, tenant MTU and the tunnel bridge's flows.

A hypervisor has an integration bridge (br-int: VM ports, each tagged with the
local VLAN of its tenant network, normal L2 switching) patched to a tunnel bridge
(br-tun: one tunnel port per remote endpoint, key=flow). br-tun's flows map a local
VLAN to the network's VNI and back, and implement split horizon: a frame that came
in from a tunnel only ever leaves towards br-int, so a full mesh cannot loop.

Tables of br-tun:
  0  classify: from br-int -> 1, from a tunnel -> 10, else drop
  1  from br-int: broadcast/multicast -> 21 (flood), unicast -> 20
  10 from a tunnel: known VNI -> tag with its local VLAN, -> 11; unknown VNI -> drop
  11 learn "this MAC is behind that tunnel" into 20, then out to br-int only
  20 learned unicast (written by 11 at run time); a miss -> 21
  21 flood: a network's frame goes to every endpoint that carries that network
  12 from a service node: tag with the local VLAN, out to br-int only, learn nothing
     (the outer source is the service node, not the host behind the MAC)
  22 unknown unicast with service-node replication: straight to the endpoints of the network

With ``bum_replication='service_node'`` table 21 hands broadcast and multicast to a
fast-failover group per network (group id = local VLAN): the first live service-node tunnel
(BFD decides liveness) gets one copy; when none is live the last bucket replicates from the
source. Unknown unicast stays direct (table 22), so the receiver learns the sender's tunnel
and unicast never passes through a service node.

Endpoint kinds: a tunnel may carry ``kind`` = hypervisor (default), gateway or service_node.
Service nodes never get a flood of their own; gateways never flood to each other, so two
gateways bridging the same VLAN cannot form a loop through the overlay.
"""

from __future__ import annotations

import hashlib
import ipaddress

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import (
    FLOW_COOKIES, KEY_MAX, TABLE_CLASSIFY, TABLE_FLOOD, TABLE_FROM_INTEGRATION, TABLE_FROM_SERVICE_NODE,
    TABLE_FROM_TUNNEL, TABLE_LEARN, TABLE_LEARNED, TABLE_UNKNOWN_UNICAST, port_name)
from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, unicast_mac
from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import FilterInputError

# Bytes a frame grows by when encapsulated (outer IPv4, tunnel header and the
# inner Ethernet header that the tenant MTU does not count). GRE always carries a
# key here (key=flow), hence 8 bytes of GRE.
ENCAP_OVERHEAD = {'gre': 14 + 20 + 8, 'vxlan': 14 + 20 + 8 + 8, 'geneve': 14 + 20 + 8 + 8, 'stt': 14 + 20 + 20 + 18}
IPV6_EXTRA = 20

FLOW_PRIORITY = 10
LEARNED_COOKIE = FLOW_COOKIES['learned']
# OpenFlow 1.3 spells a VLAN ID with the "present" bit set. The flows are written the way
# the switch prints them back, so that ovs_flows compares them exactly.
VLAN_PRESENT = 0x1000
PATCH_TO_INT = 'patch-int'
REPLICATION_MODES = ('source', 'service_node')
KINDS = ('hypervisor', 'gateway', 'service_node')
SERVICE_NODE = 'service_node'
GATEWAY = 'gateway'


class MeshError(FilterInputError):
    pass


def whole_number(value, what, low, high):
    """An integer from ``low`` to ``high``; MeshError naming ``what``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MeshError('%s %r is not a number' % (what, value))
    if not low <= number <= high:
        raise MeshError('%s %d is outside %d-%d' % (what, number, low, high))
    return number


def vlan_id(value, what):
    return whole_number(value, what, 1, 4094)


def known_encapsulation(encapsulation):
    if encapsulation not in ENCAP_OVERHEAD:
        raise MeshError("encapsulation '%s' is not one of %s" % (encapsulation, ', '.join(sorted(ENCAP_OVERHEAD))))


def tenant_mtu(underlay_mtu, encapsulation, underlay_ipv6=False):
    known_encapsulation(encapsulation)
    mtu = int(underlay_mtu) - ENCAP_OVERHEAD[encapsulation] - (IPV6_EXTRA if underlay_ipv6 else 0)
    if mtu < 576:
        raise MeshError('underlay MTU %s leaves a tenant MTU of %d with %s; raise the underlay MTU'
                        % (underlay_mtu, mtu, encapsulation))
    return mtu


def normalise_networks(networks, encapsulation='gre'):
    """Validate tenant networks and give each a local VLAN (its position, unless set)."""
    known_encapsulation(encapsulation)
    out, names, vnis, vlans = [], set(), set(), set()
    for index, net in enumerate(networks or []):
        name = net.get('name')
        if not name:
            raise MeshError('tenant network #%d has no name' % (index + 1))
        if name in names:
            raise MeshError("tenant network '%s' is listed twice" % name)
        try:
            vni = int(net.get('vni'))
        except (TypeError, ValueError):
            raise MeshError("tenant network '%s' needs a numeric vni" % name)
        if not 1 <= vni <= KEY_MAX[encapsulation]:
            raise MeshError("tenant network '%s': vni %d is outside 1-%d for %s"
                            % (name, vni, KEY_MAX[encapsulation], encapsulation))
        if vni in vnis:
            raise MeshError("tenant network '%s': vni %d is used by another network" % (name, vni))
        vlan = vlan_id(net.get('vlan') or index + 1, "tenant network '%s': local vlan" % name)
        if vlan in vlans:
            raise MeshError("tenant network '%s': local vlan %d is used by another network" % (name, vlan))
        names.add(name)
        vnis.add(vni)
        vlans.add(vlan)
        entry = dict(net)
        entry.update(name=name, vni=vni, vlan=vlan)
        out.append(entry)
    return out


def _kind(tunnel):
    kind = tunnel.get('kind') or 'hypervisor'
    if kind not in KINDS:
        raise MeshError("tunnel %s: kind '%s' is not one of %s" % (tunnel.get('port'), kind, ', '.join(KINDS)))
    return kind


def flood_receivers(net_name, tunnels, local_kind='hypervisor', exclude_port=None):
    """Tunnel ports that get a copy of a flood of this network from this host, sorted.

    Never a service node (they relay, they do not consume), never the sender, and a gateway
    never floods to another gateway.
    """
    out = []
    for tun in tunnels:
        kind = _kind(tun)
        if kind == SERVICE_NODE or tun['port'] == exclude_port:
            continue
        if local_kind == GATEWAY and kind == GATEWAY:
            continue
        if net_name in tun['networks']:
            out.append(tun['port'])
    return sorted(out)


def _service_node_ports(tunnels):
    # Preference order is the order of the inventory, not the port names.
    return [t['port'] for t in tunnels if _kind(t) == SERVICE_NODE]


def tunnel_bridge_flows(networks, local_networks, tunnels, patch_port=PATCH_TO_INT, learn_timeout=300,
                        bum_replication='source', local_kind='hypervisor'):
    """Flows of br-tun for one host.

    ``networks``: all tenant networks (normalised); ``local_networks``: names this host
    carries; ``tunnels``: [{'port': name, 'networks': [names the far end carries],
    'kind': hypervisor|gateway|service_node}]; ``bum_replication``: source or service_node.
    """
    if bum_replication not in REPLICATION_MODES:
        raise MeshError("bum_replication '%s' is not one of %s" % (bum_replication, ', '.join(REPLICATION_MODES)))
    if local_kind not in KINDS or local_kind == SERVICE_NODE:
        raise MeshError("tunnel_bridge_flows is for hypervisors and gateways, not '%s'" % local_kind)
    via_sn = bum_replication == 'service_node'
    if via_sn and not _service_node_ports(tunnels):
        raise MeshError('bum_replication service_node needs at least one service node '
                        '(inventory group service_nodes with a tunnel endpoint)')
    by_name = dict((n['name'], n) for n in networks)
    unknown = sorted(set(local_networks) - set(by_name))
    if unknown:
        raise MeshError('this host carries unknown tenant network(s): %s' % ', '.join(unknown))
    local = [by_name[n] for n in sorted(set(local_networks), key=lambda n: by_name[n]['vni'])]
    flows = ['table=%d,priority=%d,in_port=%s actions=resubmit(,%d)'
             % (TABLE_CLASSIFY, FLOW_PRIORITY, patch_port, TABLE_FROM_INTEGRATION)]
    for tun in sorted(tunnels, key=lambda t: t['port']):
        flows.append('table=%d,priority=%d,in_port=%s actions=resubmit(,%d)'
                     % (TABLE_CLASSIFY, FLOW_PRIORITY, tun['port'],
                        TABLE_FROM_SERVICE_NODE if _kind(tun) == SERVICE_NODE else TABLE_FROM_TUNNEL))
    flows.append('table=%d,priority=0 actions=drop' % TABLE_CLASSIFY)

    flows.append('table=%d,priority=%d,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,%d)'
                 % (TABLE_FROM_INTEGRATION, FLOW_PRIORITY, TABLE_FLOOD))
    flows.append('table=%d,priority=1 actions=resubmit(,%d)' % (TABLE_FROM_INTEGRATION, TABLE_LEARNED))

    learn = ('learn(table=%d,hard_timeout=%d,priority=%d,cookie=0x%x,NXM_OF_VLAN_TCI[0..11],'
             'NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],'
             'load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[])'
             % (TABLE_LEARNED, learn_timeout, FLOW_PRIORITY, LEARNED_COOKIE))
    for net in local:
        flows.append('table=%d,priority=%d,tun_id=0x%x actions=push_vlan:0x8100,set_field:%d->vlan_vid,resubmit(,%d)'
                     % (TABLE_FROM_TUNNEL, FLOW_PRIORITY, net['vni'], VLAN_PRESENT | net['vlan'], TABLE_LEARN))
    flows.append('table=%d,priority=0 actions=drop' % TABLE_FROM_TUNNEL)
    flows.append('table=%d,priority=1 actions=%s,output:%s' % (TABLE_LEARN, learn, patch_port))
    if any(_kind(t) == SERVICE_NODE for t in tunnels):
        for net in local:
            flows.append('table=%d,priority=%d,tun_id=0x%x actions=push_vlan:0x8100,set_field:%d->vlan_vid,output:%s'
                         % (TABLE_FROM_SERVICE_NODE, FLOW_PRIORITY, net['vni'], VLAN_PRESENT | net['vlan'], patch_port))
        flows.append('table=%d,priority=0 actions=drop' % TABLE_FROM_SERVICE_NODE)

    # Unicast that nothing learned: to the network's endpoints directly; with service-node
    # replication that is its own table, since the flood table hands frames to the groups.
    direct = TABLE_UNKNOWN_UNICAST if via_sn else TABLE_FLOOD
    flows.append('table=%d,priority=0 actions=resubmit(,%d)' % (TABLE_LEARNED, direct))
    for net in local:
        ports = flood_receivers(net['name'], tunnels, local_kind)
        if ports:
            outputs = ','.join('output:%s' % p for p in ports)
            flows.append('table=%d,priority=%d,dl_vlan=%d actions=pop_vlan,set_field:0x%x->tun_id,%s'
                         % (direct, FLOW_PRIORITY, net['vlan'], net['vni'], outputs))
        if via_sn:
            flows.append('table=%d,priority=%d,dl_vlan=%d actions=pop_vlan,set_field:0x%x->tun_id,group:%d'
                         % (TABLE_FLOOD, FLOW_PRIORITY, net['vlan'], net['vni'], net['vlan']))
    flows.append('table=%d,priority=0 actions=drop' % TABLE_FLOOD)
    if via_sn:
        flows.append('table=%d,priority=0 actions=drop' % TABLE_UNKNOWN_UNICAST)
    return flows


def flood_groups(networks, local_networks, tunnels, patch_port=PATCH_TO_INT, bum_replication='source',
                 local_kind='hypervisor'):
    """OpenFlow 1.3 fast-failover groups of br-tun, one per local network (id = its local VLAN).

    Buckets: each service node in inventory order, watching its own tunnel port (BFD makes a
    port dead), then a last bucket watching the always-live patch port that replicates from the
    source to the network's endpoints, so losing every service node degrades to source
    replication instead of losing BUM traffic. Written the way ``ovs-ofctl dump-groups`` prints
    them (without quotes), so a plain string comparison tells what changed. Empty with source
    replication.
    """
    if bum_replication != 'service_node':
        return []
    by_name = dict((n['name'], n) for n in networks)
    nodes = _service_node_ports(tunnels)
    if not nodes:
        raise MeshError('bum_replication service_node needs at least one service node')
    out = []
    for name in sorted(set(local_networks), key=lambda n: by_name[n]['vlan']):
        net = by_name[name]
        buckets = ['bucket=watch_port:%s,actions=output:%s' % (p, p) for p in nodes]
        direct = flood_receivers(name, tunnels, local_kind)
        if direct:
            buckets.append('bucket=watch_port:%s,actions=%s'
                           % (patch_port, ','.join('output:%s' % p for p in direct)))
        out.append({'group_id': net['vlan'], 'network': name,
                    'spec': 'group_id=%d,type=ff,%s' % (net['vlan'], ','.join(buckets))})
    return out


def tunnel_bridge_plans(endpoints, hosts, networks, bum_replication='source', local_kind='hypervisor'):
    """The tunnel bridge of each of ``hosts``, all in one call: {host: {mesh_remotes, service_node_remotes,
    flows, groups}}. ``endpoints``: the whole mesh (mesh_endpoints); a host's peers are the other
    endpoints and its networks those of its own endpoint. The remotes are in inventory order, the flows
    and groups those of tunnel_bridge_flows and flood_groups (the groups as their specs).

    Once per play rather than once per host: each host's task then reads its own entry, where
    computing its peers, flows and groups from the endpoints cost every host's task the same
    templating again (about 55 ms of the control node's CPU per host at 32 hypervisors, bench/README.md).
    """
    by_host = dict((endpoint['host'], endpoint) for endpoint in endpoints)
    plans = {}
    for host in hosts:
        own = by_host.get(host)
        if own is None:
            raise MeshError('%s is no tunnel endpoint of the mesh: it needs overlay_tep_address and one of the '
                            'groups of overlay_tep_groups' % host)
        peers = [endpoint for endpoint in endpoints if endpoint['host'] != host]
        plans[host] = {
            'mesh_remotes': [p['remote_ip'] for p in peers if _kind(p) != SERVICE_NODE],
            'service_node_remotes': [p['remote_ip'] for p in peers if _kind(p) == SERVICE_NODE],
            'flows': tunnel_bridge_flows(networks, own['networks'], peers, bum_replication=bum_replication,
                                         local_kind=local_kind),
            'groups': [group['spec'] for group in flood_groups(networks, own['networks'], peers,
                                                               bum_replication=bum_replication, local_kind=local_kind)],
        }
    return plans


def service_node_flows(networks, tunnels):
    """Flows of a service node's br-tun: replicate each BUM frame to the other endpoints of its VNI.

    ``tunnels``: the hypervisors and gateways, [{'port', 'networks', 'kind'}]. A frame that came
    in on endpoint E's tunnel with VNI v goes out on the tunnel of every other endpoint that
    carries v: never back to E, never to a service node, and not from one gateway to another.
    Anything else (unknown VNI, a VNI the sender does not carry) is dropped.
    """
    by_name = dict((n['name'], n) for n in networks)
    flows = []
    for tun in sorted(tunnels, key=lambda t: t['port']):
        kind = _kind(tun)
        if kind == SERVICE_NODE:
            raise MeshError('service node tunnel %s: service nodes do not peer with each other' % tun['port'])
        unknown = sorted(set(tun['networks']) - set(by_name))
        if unknown:
            raise MeshError('tunnel %s carries unknown tenant network(s): %s' % (tun['port'], ', '.join(unknown)))
        for name in sorted(set(tun['networks']), key=lambda n: by_name[n]['vni']):
            ports = flood_receivers(name, tunnels, kind, exclude_port=tun['port'])
            actions = ','.join('output:%s' % p for p in ports) if ports else 'drop'
            flows.append('table=%d,priority=%d,in_port=%s,tun_id=0x%x actions=%s'
                         % (TABLE_CLASSIFY, FLOW_PRIORITY, tun['port'], by_name[name]['vni'], actions))
    flows.append('table=%d,priority=0 actions=drop' % TABLE_CLASSIFY)
    return flows


def replication_plan(networks, tunnels):
    """{network name: {sender port: [receiver ports]}} of a service node (for reports and tests)."""
    by_name = dict((n['name'], n) for n in networks)
    plan = dict((n['name'], {}) for n in networks)
    for tun in tunnels:
        for name in tun['networks']:
            if name in by_name:
                plan[name][tun['port']] = flood_receivers(name, tunnels, _kind(tun), exclude_port=tun['port'])
    return plan


def check_topology(networks, endpoints):
    """Validate who carries what before anything changes.

    ``endpoints``: [{'host', 'kind', 'networks' (None = all)}] of every tunnel endpoint.
    Errors: a host that is a service node and a hypervisor or gateway too, a tenant network
    that no hypervisor or gateway carries, a host that carries an unknown network.
    """
    names = [n['name'] for n in networks]
    kinds = {}
    for ep in endpoints:
        kinds.setdefault(ep['host'], set()).add(ep['kind'])
    for host in sorted(kinds):
        if SERVICE_NODE in kinds[host] and len(kinds[host]) > 1:
            raise MeshError("host %s is a service node and a %s too; a service node only relays"
                            % (host, ' and a '.join(sorted(kinds[host] - {SERVICE_NODE}))))
    carried = set()
    for ep in endpoints:
        if ep['kind'] == SERVICE_NODE:
            continue
        nets = names if ep.get('networks') is None else list(ep['networks'])
        unknown = sorted(set(nets) - set(names))
        if unknown:
            raise MeshError('host %s carries unknown tenant network(s): %s (overlay_networks has %s)'
                            % (ep['host'], ', '.join(unknown), ', '.join(names)))
        carried.update(nets)
    for net in networks:
        if net['name'] not in carried:
            raise MeshError("tenant network '%s' (vni %d) is carried by no hypervisor or gateway; "
                            "add it to some host's overlay_host_networks or remove it" % (net['name'], net['vni']))
    return True


def integration_bridge_ports(vm_ports, networks, local_networks, mtu, patch_port='patch-tun', peer='patch-int'):
    """br-int's ports: the patch to br-tun (a trunk) and each VM port on its network's local VLAN."""
    by_name = dict((n['name'], n) for n in networks)
    ports = [{'name': patch_port, 'type': 'patch', 'peer': peer}]
    for vm in vm_ports:
        net = vm.get('network')
        if net not in by_name:
            raise MeshError("VM port %s is on tenant network '%s', which is not in overlay_networks"
                            % (vm.get('name'), net))
        if net not in local_networks:
            raise MeshError("VM port %s is on tenant network '%s', which this host does not carry "
                            "(overlay_host_networks: %s)" % (vm.get('name'), net, ', '.join(local_networks)))
        ports.append({'name': vm['name'], 'mtu': int(mtu), 'tag': by_name[net]['vlan']})
    return ports


def flow_cookie(owner):
    """The cookie of one owner's flows (module_utils/_constants.FLOW_COOKIES), in hex as ovs-ofctl takes it."""
    if owner not in FLOW_COOKIES:
        raise MeshError("flow_cookie: '%s' is not one of %s" % (owner, ', '.join(sorted(FLOW_COOKIES))))
    return '0x%x' % FLOW_COOKIES[owner]


def tep_mac(address, given=None):
    """The MAC address of a tunnel endpoint's port, from the endpoint's address (a prefix length is
    allowed): 02:4e and the four bytes of an IPv4 address, or 06 and five bytes of a hash of an
    IPv6 one (locally administered, unicast). Peers cache the MAC address of each remote endpoint;
    one that stays the same across reboots, and for a host replaced behind the same address,
    leaves no cache stale. ``given`` (hypervisor_tep_mac from the inventory) is checked with the
    modules' own check and returned instead."""
    if given is not None:
        try:
            return unicast_mac(given, 'hypervisor_tep_mac')
        except InputError as exc:
            raise MeshError('%s. Leave it unset to derive one from overlay_tep_address.' % exc)
    try:
        addr = ipaddress.ip_interface(str(address)).ip
    except ValueError:
        raise MeshError('tep_mac: %r is not an IP address (with or without a prefix length)' % (address,))
    if addr.version == 4:
        data = b'\x02\x4e' + addr.packed
    else:
        data = b'\x06' + hashlib.sha256(addr.packed).digest()[:5]
    return ':'.join('%02x' % byte for byte in bytearray(data))


# Name prefix of the tunnels to service nodes (group service-nodes, BFD on them).
SERVICE_NODE_PORT_PREFIX = 'sn'


def mesh_peers(hostvars, hosts, me, encapsulation, all_networks, tep_var='overlay_tep_address',
               networks_var='overlay_host_networks', service_nodes=None, gateways=None):
    """The other tunnel endpoints: [{host, remote_ip, port, networks, kind}] (hosts without a TEP are skipped).

    ``kind`` is service_node for hosts in ``service_nodes``, gateway for hosts in ``gateways``,
    hypervisor otherwise. Tunnels to service nodes are named sn-<hex> (their own tunnel group).
    """
    service_nodes = list(service_nodes or [])
    gateways = list(gateways or [])
    peers, seen = [], {}
    names = [n['name'] for n in all_networks]
    for host in hosts:
        if host == me or host in seen:
            continue
        tep = hostvars[host].get(tep_var)
        if not tep:
            continue
        ip = str(tep).split('/', maxsplit=1)[0]
        if ip in seen.values():
            raise MeshError('hosts %s and %s have the same tunnel endpoint %s'
                            % ([h for h, i in seen.items() if i == ip][0], host, ip))
        seen[host] = ip
        carried = hostvars[host].get(networks_var)
        kind = SERVICE_NODE if host in service_nodes else (GATEWAY if host in gateways else 'hypervisor')
        peers.append({'host': host, 'remote_ip': ip, 'kind': kind,
                      'port': port_name(SERVICE_NODE_PORT_PREFIX if kind == SERVICE_NODE else encapsulation, ip),
                      'networks': list(names if carried is None else carried)})
    return peers


KIND_OF_GROUP = (('service_nodes', SERVICE_NODE), ('gateways', GATEWAY), ('hypervisors', 'hypervisor'))


def mesh_check(hostvars, groups, all_networks, tep_var='overlay_tep_address', networks_var='overlay_host_networks'):
    """Validate the whole inventory's endpoints (see check_topology); True or MeshError."""
    endpoints = []
    for group, kind in KIND_OF_GROUP:
        for host in groups.get(group) or []:
            hv = hostvars[host]
            if not hv.get(tep_var):
                continue
            endpoints.append({'host': host, 'kind': kind, 'networks': hv.get(networks_var)})
    return check_topology(all_networks, endpoints)


TEP_GROUPS = ('hypervisors', 'gateways', 'service_nodes')


def mesh_endpoints(hostvars, groups, all_networks, encapsulation, tep_groups=TEP_GROUPS, tep_var='overlay_tep_address',
                   networks_var='overlay_host_networks'):
    """Every tunnel endpoint of the inventory, checked (mesh_check, and one address per endpoint):
    [{host, remote_ip, port, networks, kind}] of the hosts of ``tep_groups`` that have an address, as
    mesh_peers gives them. A host's peers are the others: computed once for the whole mesh, this
    reads every host's variables once, where mesh_peers on each host reads them once per host."""
    mesh_check(hostvars, groups, all_networks, tep_var=tep_var, networks_var=networks_var)
    hosts = []
    for group in tep_groups:
        hosts.extend(host for host in groups.get(group) or [] if host not in hosts)
    return mesh_peers(hostvars, hosts, None, encapsulation, all_networks, tep_var=tep_var, networks_var=networks_var,
                      service_nodes=groups.get('service_nodes'), gateways=groups.get('gateways'))
