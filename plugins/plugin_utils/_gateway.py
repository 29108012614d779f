# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateways of the static mesh: validate and complete their settings before anything changes.

An L2 gateway bridges a tenant network onto a VLAN of a physical NIC: the NIC is a trunk of its
own bridge (br-l2), and a patch pair per network joins br-int (access port on the network's local
VLAN) and br-l2 (access port on the physical VLAN), so OVS translates the VLAN (no kernel 802.1Q
needed). br-l2 forwards only while it holds the active gateway's flow (keepalived's notify
script adds and removes it); with no flow it drops everything, so a standby never bridges. An L3 gateway is a router namespace per tenant
network: one leg on br-int, one (a macvlan) on the external network, nftables for SNAT and
1:1 NAT, keepalived (VRRP) for the addresses that move between the two gateways.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import MeshError, vlan_id, whole_number

ROUTER_NAME = re.compile(r'^[a-z0-9][a-z0-9-]{0,9}$')


def _iface(value, what):
    try:
        return ipaddress.ip_interface(str(value))
    except ValueError:
        raise MeshError('%s: %r is not an address with prefix length' % (what, value))


def _addr(value, what):
    try:
        return ipaddress.ip_address(str(value).split('/', maxsplit=1)[0])
    except ValueError:
        raise MeshError('%s: %r is not an IP address' % (what, value))


def _vrrp_id(value, what):
    return whole_number(value, '%s: vrrp_id' % what, 1, 255)


def l2_plan(l2_networks, networks, interface):
    """[{network, vlan, local_vlan, int_port, phy_port}] for the bridged networks, validated."""
    by_name = dict((n['name'], n) for n in networks)
    out, vlans, names = [], set(), set()
    for index, item in enumerate(l2_networks or []):
        name = item.get('network')
        if name not in by_name:
            raise MeshError("L2 gateway #%d: tenant network '%s' is not in overlay_networks" % (index + 1, name))
        if name in names:
            raise MeshError("L2 gateway: tenant network '%s' is bridged twice" % name)
        vlan = vlan_id(item.get('vlan'), "L2 gateway for '%s': vlan" % name)
        if vlan in vlans:
            raise MeshError("L2 gateway for '%s': vlan %d bridges another network already" % (name, vlan))
        vlans.add(vlan)
        names.add(name)
        out.append({'network': name, 'vlan': vlan, 'local_vlan': by_name[name]['vlan'],
                    'int_port': 'l2gw-%d' % vlan, 'phy_port': 'l2phy-%d' % vlan})
    return out


def l2_bridge_ports(l2, interface, int_port_mtu=None):
    """(br-int ports, br-l2 ports) of the L2 gateway: patch pairs that translate the VLANs, the NIC a trunk."""
    int_ports, l2_ports = [], []
    if not l2:
        return int_ports, l2_ports
    l2_ports.append({'name': interface, 'trunks': sorted(i['vlan'] for i in l2)})
    for item in l2:
        int_ports.append({'name': item['int_port'], 'type': 'patch', 'peer': item['phy_port'], 'tag': item['local_vlan']})
        l2_ports.append({'name': item['phy_port'], 'type': 'patch', 'peer': item['int_port'], 'tag': item['vlan']})
    return int_ports, l2_ports


def router_plan(routers, networks, host):
    """Complete and validate the L3 routers this gateway host runs (one namespace each)."""
    by_name = dict((n['name'], n) for n in networks)
    out, seen, vrids = [], set(), set()
    for index, rtr in enumerate(routers or []):
        name = rtr.get('name')
        if not name or not ROUTER_NAME.match(str(name)):
            raise MeshError('router #%d: name %r must be 1-10 characters of a-z, 0-9 and -' % (index + 1, name))
        what = "router '%s'" % name
        if name in seen:
            raise MeshError('%s is listed twice' % what)
        seen.add(name)
        if rtr.get('network') not in by_name:
            raise MeshError("%s: tenant network '%s' is not in overlay_networks" % (what, rtr.get('network')))
        inside = _iface(rtr.get('address'), '%s address' % what)
        try:
            external = ipaddress.ip_network(str(rtr.get('external_network')), strict=True)
        except ValueError:
            raise MeshError('%s: external_network %r is not a network (198.18.64.0/24)' % (what, rtr.get('external_network')))
        vip = _addr(rtr.get('external_vip'), '%s external_vip' % what)
        if vip not in external:
            raise MeshError('%s: external_vip %s is outside the external network %s' % (what, vip, external))
        mine = (rtr.get('external_addresses') or {}).get(host)
        if mine is None:
            raise MeshError('%s: external_addresses has no address for gateway %s' % (what, host))
        mine = _addr(mine, '%s external address of %s' % (what, host))
        if mine not in external:
            raise MeshError('%s: address %s of gateway %s is outside the external network %s' % (what, mine, host, external))
        others = [str(_addr(a, what)) for h, a in (rtr.get('external_addresses') or {}).items() if h != host]
        if str(mine) in others or str(vip) in others + [str(mine)]:
            raise MeshError('%s: the external addresses and the external_vip must all differ' % what)
        floating = []
        for fip in rtr.get('floating') or []:
            address = _addr(fip.get('address'), '%s floating address' % what)
            fixed = _addr(fip.get('fixed'), '%s fixed address of floating %s' % (what, address))
            if address not in external:
                raise MeshError('%s: floating address %s is outside the external network %s' % (what, address, external))
            if str(address) in [str(vip), str(mine)] + others or str(address) in [f['address'] for f in floating]:
                raise MeshError('%s: floating address %s is used twice' % (what, address))
            if fixed not in inside.network:
                raise MeshError('%s: floating %s maps to %s, which is outside the tenant subnet %s'
                                % (what, address, fixed, inside.network))
            floating.append({'address': str(address), 'fixed': str(fixed)})
        vrid = _vrrp_id(rtr.get('vrrp_id'), what)
        if vrid in vrids:
            raise MeshError('%s: vrrp_id %d is used by another router' % (what, vrid))
        vrids.add(vrid)
        gateway = rtr.get('external_gateway')
        if gateway is not None and _addr(gateway, what) not in external:
            raise MeshError('%s: external_gateway %s is outside the external network %s' % (what, gateway, external))
        out.append({
            'name': name, 'network': rtr['network'], 'netns': 'nvr-%s' % name,
            'port': 'nvr-%s' % name,  # host end of the veth, on br-int
            'address': str(inside), 'subnet': str(inside.network),
            'external_network': str(external), 'external_prefix': external.prefixlen,
            'external_address': '%s/%d' % (mine, external.prefixlen),
            'external_vip': str(vip), 'external_gateway': gateway,
            'floating': floating, 'vrrp_id': vrid,
            # VRRP goes to the other gateways' external addresses only (keepalived unicast_peer).
            'vrrp_src': str(mine), 'vrrp_peers': sorted(others),
            'external_mac': external_mac(host, name),
        })
    return out


def external_mac(host, router):
    """The MAC of a router's external leg (its macvlan) on a gateway: the same at every boot.

    A macvlan made at boot gets a random MAC. The other gateway's neighbour entry then still points
    at the old one after a quick reboot, its VRRP adverts go nowhere, and the rebooted gateway,
    hearing none, takes the router back (nopreempt or not). Derived from the host and router names:
    locally administered, unicast, different for every gateway and router.
    """
    digest = hashlib.sha256(('%s %s' % (host, router)).encode('utf-8')).hexdigest()
    return ':'.join(['02'] + [digest[i:i + 2] for i in range(0, 10, 2)])


def gateway_plan(networks, host, l2_networks=None, l2_interface='eth2', routers=None, l2_vrrp_id=None):
    """Everything a gateway host needs, validated.

    ``ports``: the routers' br-int ports (name, network) that integration_bridge_ports tags;
    ``l2_int_ports`` and ``l2_bridge_ports``: the L2 gateway's ports on br-int and on br-l2.
    """
    # Messages start with the variable to fix (the roles pass gateway_l2_networks and gateway_routers).
    try:
        l2 = l2_plan(l2_networks, networks, l2_interface)
    except MeshError as exc:
        raise MeshError('gateway_l2_networks: %s' % exc)
    try:
        rtrs = router_plan(routers, networks, host)
    except MeshError as exc:
        raise MeshError('gateway_routers: %s' % exc)
    if l2 and l2_vrrp_id is not None:
        vrid = _vrrp_id(l2_vrrp_id, 'L2 gateway')
        if vrid in [r['vrrp_id'] for r in rtrs]:
            raise MeshError('L2 gateway: vrrp_id %d is used by router too' % vrid)
    int_ports, l2_ports = l2_bridge_ports(l2, l2_interface)
    ports = [{'name': r['port'], 'network': r['network']} for r in rtrs]
    return {'l2': l2, 'routers': rtrs, 'ports': ports, 'l2_int_ports': int_ports, 'l2_bridge_ports': l2_ports}
