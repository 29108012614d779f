# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVN values the roles derive from the inventory: which controllers are members, the OVSDB
remote string of a group of servers and a server's listener, the name and files of a node's
certificate; and what the roles read back from OVN: the servers a Raft cluster lists.

Each is computed here once, so the controller, sb_relay, hypervisor and overlay roles agree.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import MeshError

TRANSPORTS = ('ssl', 'tcp')

# "    1a2b (1a2b at ssl:198.18.0.23:6643) (self) ..." in the "Servers:" part of cluster/status; an
# IPv6 address is in brackets there.
_SERVER = re.compile(r'^\s+([0-9a-f]{4}) \([0-9a-f]{4} at [a-z]+:(\[[^]]+\]|[^ :)]+):\d+\)', re.M)


def _host(hostvars, name):
    try:
        return hostvars[name]
    except KeyError:
        raise MeshError('host %s is not in the inventory' % name)


def ovn_members(hosts, hostvars):
    """The hosts (names, in the order given) whose controller_state is present or not set."""
    out = []
    for name in hosts or []:
        state = _host(hostvars, name).get('controller_state', 'present')
        if state not in ('present', 'absent'):
            raise MeshError('%s: controller_state is %r; it must be present or absent' % (name, state))
        if state == 'present':
            out.append(name)
    return out


def _host_part(address, where):
    """The address as OVSDB's remotes and listeners write it: an IPv6 address in brackets."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        raise MeshError('%s: %r is not an IP address' % (where, address))
    return '[%s]' % ip if ip.version == 6 else str(ip)


def _endpoint(transport, address, port, where):
    # ssl:[2001:db8::1]:6642
    return '%s:%s:%d' % (transport, _host_part(address, where), port)


def _transport_and_port(transport, port):
    if transport not in TRANSPORTS:
        raise MeshError('transport %r: it must be ssl or tcp' % (transport,))
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise MeshError('port %r is not a number' % (port,))
    if not 1 <= port <= 65535:
        raise MeshError('port %d is outside 1-65535' % port)
    return transport, port


def ovn_remote(hosts, hostvars, transport, port, address='controller_address'):
    """'ssl:IP:PORT,ssl:IP:PORT' for the member hosts (see ovn_members) of a group, each at its
    variable ``address``."""
    transport, port = _transport_and_port(transport, port)
    remotes = []
    for name in ovn_members(hosts, hostvars):
        value = _host(hostvars, name).get(address)
        if value is None:
            raise MeshError('%s has no %s, which the OVN remote of its group needs' % (name, address))
        remotes.append(_endpoint(transport, value, port, '%s: %s' % (name, address)))
    return ','.join(remotes)


def ovn_listener(address, transport, port):
    """The passive remote an OVSDB server listens on at one address: 'pssl:PORT:IP' (ptcp for tcp;
    an IPv6 address in brackets, pssl:6642:[2001:db8::1])."""
    transport, port = _transport_and_port(transport, port)
    return 'p%s:%d:%s' % (transport, port, _host_part(address, 'listener address'))


def cluster_servers(status):
    """The servers an OVN Raft cluster lists in ``ovn-appctl cluster/status``: [{sid, address}] with
    the short server ID and the address without brackets."""
    if not isinstance(status, str):
        raise MeshError('cluster_servers: the input is %r, not the output of ovn-appctl cluster/status' % (status,))
    return [{'sid': sid, 'address': address.strip('[]')} for sid, address in _SERVER.findall(status)]


def ovn_certificate(name, pki_dir, control_plane, system_id=None):
    """Where a node's key and certificate live in the PKI, and which CA signs them.

    Control-plane nodes (controllers, southbound relays) get the controller CA's certificates
    under their inventory name; chassis get the switch CA's under their system-id, the name
    ovn-controller registers, which OVN's RBAC compares with the certificate's common name.
    """
    if not isinstance(pki_dir, str) or not pki_dir.startswith('/'):
        raise MeshError('pki_dir %r: it must be an absolute path on the control node' % (pki_dir,))
    kind = 'controllers' if control_plane else 'chassis'
    common_name = name if control_plane or not system_id else system_id
    files = '%s/nodes/%s/%s' % (pki_dir.rstrip('/'), kind, common_name)
    return {
        'kind': kind,
        'name': common_name,
        'ca': 'controller' if control_plane else 'switch',
        'dir': '%s/nodes/%s' % (pki_dir.rstrip('/'), kind),
        'files': files,
        'key': files + '-privkey.pem',
        'cert': files + '-cert.pem',
    }


def ovn_bridge_ports(ports, mtu=None):
    """ovs_bridge ports of an OVN bridge: a NIC name (a gateway's uplink) as a plain port, a VM port
    ({name, logical_port}) with the tenant MTU and the logical port it is bound to (iface-id)."""
    out = []
    for index, port in enumerate(ports or []):
        where = 'ports[%d]' % index
        if isinstance(port, str) and port:
            out.append({'name': port})
            continue
        if not isinstance(port, dict) or not port.get('name') or not port.get('logical_port'):
            raise MeshError('%s: %r must be an interface name, or a VM port with name and logical_port'
                            % (where, port))
        if mtu is None:
            raise MeshError('%s (%s): a VM port needs the tenant mtu' % (where, port['name']))
        out.append({'name': port['name'], 'mtu': int(mtu), 'interface_external_ids': {'iface-id': port['logical_port']}})
    return out
