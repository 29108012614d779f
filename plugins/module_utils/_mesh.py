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
"""

from __future__ import annotations

# Bytes a frame grows by when encapsulated (outer IPv4, tunnel header and the
# inner Ethernet header that the tenant MTU does not count). GRE always carries a
# key here (key=flow), hence 8 bytes of GRE.
ENCAP_OVERHEAD = {'gre': 14 + 20 + 8, 'vxlan': 14 + 20 + 8 + 8, 'geneve': 14 + 20 + 8 + 8, 'stt': 14 + 20 + 20 + 18}
IPV6_EXTRA = 20
VNI_MAX = {'gre': 2 ** 32 - 1, 'vxlan': 2 ** 24 - 1, 'geneve': 2 ** 24 - 1, 'stt': 2 ** 32 - 1}

FLOW_PRIORITY = 10
LEARNED_COOKIE = 0x4e57
# OpenFlow 1.3 spells a VLAN ID with the "present" bit set. The flows are written the way
# the switch prints them back, so that ovs_flows compares them exactly.
VLAN_PRESENT = 0x1000
PATCH_TO_INT = 'patch-int'


class MeshError(Exception):
    pass


def tenant_mtu(underlay_mtu, encapsulation, underlay_ipv6=False):
    if encapsulation not in ENCAP_OVERHEAD:
        raise MeshError("encapsulation '%s' is not one of %s" % (encapsulation, ', '.join(sorted(ENCAP_OVERHEAD))))
    mtu = int(underlay_mtu) - ENCAP_OVERHEAD[encapsulation] - (IPV6_EXTRA if underlay_ipv6 else 0)
    if mtu < 576:
        raise MeshError('underlay MTU %s leaves a tenant MTU of %d with %s; raise the underlay MTU'
                        % (underlay_mtu, mtu, encapsulation))
    return mtu


def normalise_networks(networks, encapsulation='gre'):
    """Validate tenant networks and give each a local VLAN (its position, unless set)."""
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
        if not 1 <= vni <= VNI_MAX.get(encapsulation, 2 ** 24 - 1):
            raise MeshError("tenant network '%s': vni %d is outside 1-%d for %s"
                            % (name, vni, VNI_MAX.get(encapsulation), encapsulation))
        if vni in vnis:
            raise MeshError("tenant network '%s': vni %d is used by another network" % (name, vni))
        vlan = int(net.get('vlan') or index + 1)
        if not 1 <= vlan <= 4094:
            raise MeshError("tenant network '%s': local vlan %d is outside 1-4094" % (name, vlan))
        if vlan in vlans:
            raise MeshError("tenant network '%s': local vlan %d is used by another network" % (name, vlan))
        names.add(name)
        vnis.add(vni)
        vlans.add(vlan)
        entry = dict(net)
        entry.update(name=name, vni=vni, vlan=vlan)
        out.append(entry)
    return out


def tunnel_bridge_flows(networks, local_networks, tunnels, patch_port=PATCH_TO_INT, learn_timeout=300):
    """Flows of br-tun for one host.

    ``networks``: all tenant networks (normalised); ``local_networks``: names this host
    carries; ``tunnels``: [{'port': name, 'networks': [names the far end carries]}].
    """
    by_name = dict((n['name'], n) for n in networks)
    unknown = sorted(set(local_networks) - set(by_name))
    if unknown:
        raise MeshError('this host carries unknown tenant network(s): %s' % ', '.join(unknown))
    local = [by_name[n] for n in sorted(set(local_networks), key=lambda n: by_name[n]['vni'])]
    flows = ['table=0,priority=%d,in_port=%s actions=resubmit(,1)' % (FLOW_PRIORITY, patch_port)]
    for tun in sorted(tunnels, key=lambda t: t['port']):
        flows.append('table=0,priority=%d,in_port=%s actions=resubmit(,10)' % (FLOW_PRIORITY, tun['port']))
    flows.append('table=0,priority=0 actions=drop')

    flows.append('table=1,priority=%d,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)'
                 % FLOW_PRIORITY)
    flows.append('table=1,priority=1 actions=resubmit(,20)')

    learn = ('learn(table=20,hard_timeout=%d,priority=%d,cookie=0x%x,NXM_OF_VLAN_TCI[0..11],'
             'NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],'
             'load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[])'
             % (learn_timeout, FLOW_PRIORITY, LEARNED_COOKIE))
    for net in local:
        flows.append('table=10,priority=%d,tun_id=0x%x actions=push_vlan:0x8100,set_field:%d->vlan_vid,resubmit(,11)'
                     % (FLOW_PRIORITY, net['vni'], VLAN_PRESENT | net['vlan']))
    flows.append('table=10,priority=0 actions=drop')
    flows.append('table=11,priority=1 actions=%s,output:%s' % (learn, patch_port))
    flows.append('table=20,priority=0 actions=resubmit(,21)')

    for net in local:
        ports = sorted(t['port'] for t in tunnels if net['name'] in t['networks'])
        if ports:
            outputs = ','.join('output:%s' % p for p in ports)
            flows.append('table=21,priority=%d,dl_vlan=%d actions=pop_vlan,set_field:0x%x->tun_id,%s'
                         % (FLOW_PRIORITY, net['vlan'], net['vni'], outputs))
    flows.append('table=21,priority=0 actions=drop')
    return flows


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
