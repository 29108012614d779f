# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVN values the roles derive from the inventory: which controllers are members, the OVSDB
remote string of a group of servers and a server's listener, the name and files of a node's
certificate; and what the roles read back from OVN: the servers a Raft cluster lists, its health,
and which of its servers to kick.

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


def ovn_database_options(options, variable=None):
    """The options of ovn-ctl that the database servers run with, ovn-northd's left out (those
    starting with --ovn-northd-): a change of those alone needs ovn-northd restarted, not the
    databases. ``options`` is a list of options, or the text of the units' environment file, whose
    ``variable="..."`` line holds them (none when the file has no such line)."""
    if isinstance(options, str):
        if not variable:
            raise MeshError('ovn_database_options: the text of an environment file needs the variable to read')
        line = re.search(r'^%s="([^"]*)"' % re.escape(variable), options, re.M)
        options = line.group(1).split() if line else []
    if not isinstance(options, (list, tuple)) or not all(isinstance(option, str) for option in options):
        raise MeshError('ovn_database_options: the input is %r, not a list of options or an environment file' % (options,))
    return [option for option in options if not option.startswith('--ovn-northd-')]


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


def _lists(members, chassis):
    return chassis in [member.get('name') for member in members or []]


def ovn_gateway_uses(topology, chassis):
    """Where the logical topology (overlay_ovn_topology) still binds gateway work to a chassis: the
    HA chassis groups and router ports (gateway_chassis) that list it, a gateway router pinned to it
    (options chassis) and an l2gateway switch port on it, each named. A gateway chassis leaves the
    fleet only when this is empty: OVN would otherwise keep that work on a chassis that is gone."""
    if topology is None:
        return []
    if not isinstance(topology, dict):
        raise MeshError('overlay_ovn_topology must be a mapping, not %r' % (topology,))
    uses = []
    for group in topology.get('ha_chassis_groups') or []:
        if _lists(group.get('chassis'), chassis):
            uses.append('ha_chassis_groups %s' % group.get('name'))
    for router in topology.get('routers') or []:
        if (router.get('options') or {}).get('chassis') == chassis:
            uses.append('routers %s (options chassis)' % router.get('name'))
        for port in router.get('ports') or []:
            if _lists(port.get('gateway_chassis'), chassis):
                uses.append('routers %s port %s (gateway_chassis)' % (router.get('name'), port.get('name')))
    for switch in topology.get('switches') or []:
        for port in switch.get('ports') or []:
            if port.get('l2gateway_chassis') == chassis:
                uses.append('switches %s port %s (l2gateway_chassis)' % (switch.get('name'), port.get('name')))
    return uses


# ---------------------------------------------------------------------------------------------
# What a Raft cluster's cluster/status shows: its health, and which servers to kick.


def cluster_problems(status, database, expected_servers):
    """What is wrong with one server's ``cluster/status DB`` output: not a member, no leader known,
    another number of servers than expected. Empty when healthy; fails when there is no output."""
    if not status or not status.strip():
        return ['%s: no cluster/status answer (the database server does not run)' % database]
    problems = []
    role = re.search(r'^Role: (\S+)', status, re.M)
    member = re.search(r'^Status: (.+)$', status, re.M)
    leader = re.search(r'^Leader: (\S+)', status, re.M)
    servers = re.search(r'^Servers:\n((?:[ \t]+\S.*\n?)*)', status, re.M)
    if not member or member.group(1).strip() != 'cluster member':
        problems.append('%s: status %r, not "cluster member"' % (database, member.group(1).strip() if member else None))
    if not role or role.group(1) not in ('leader', 'follower'):
        problems.append('%s: role %r' % (database, role.group(1) if role else None))
    if not leader or leader.group(1) == 'unknown':
        problems.append('%s: no leader known' % database)
    count = len([line for line in servers.group(1).splitlines() if line.strip()]) if servers else 0
    if count != int(expected_servers):
        problems.append('%s: %d servers in the cluster, %d expected' % (database, count, int(expected_servers)))
    return problems


_CLUSTER_ID = re.compile(r'^Cluster ID: \S+ \(([0-9a-f-]+)\)', re.M)
_SERVER_ID = re.compile(r'^Server ID: ([0-9a-f]{4}) ', re.M)
_NAME = re.compile(r'^Name: (\S+)', re.M)


def listed_servers(status):
    """[(short server ID, address)] of the servers a cluster/status lists."""
    return [(server['sid'], server['address']) for server in cluster_servers(status or '')]


def own_answer(controller, database):
    """What a controller answered about its own server of ``database`` ('' when nothing)."""
    registered = controller.get('controller_member_status') or {}
    for result in registered.get('results') or []:
        answer = result.get('stdout') or ''
        found = _NAME.search(answer)
        if found and found.group(1) == database:
            return answer
    return ''


def raft_kick_plan(status, controllers):
    """Which servers of the cluster a cluster/status shows to kick, and whether it is safe (the filter
    raft_kick_plan documents the rules and the result)."""
    if not isinstance(status, str) or not _CLUSTER_ID.search(status) or not _NAME.search(status):
        raise MeshError('raft_kick_plan: the input is not the output of ovn-appctl cluster/status')
    if not isinstance(controllers, list) or not all(hasattr(c, 'get') and c.get('controller_address') for c in controllers):
        raise MeshError('raft_kick_plan: controllers must be the variables of each controller, '
                        'each with controller_address')
    cluster_id = _CLUSTER_ID.search(status).group(1)
    database = _NAME.search(status).group(1)
    listed = listed_servers(status)
    known = set(str(c.get('controller_address')) for c in controllers)
    # The server ID of each controller that answers as a member of this very cluster.
    own = {}
    for controller in controllers:
        answer = own_answer(controller, database)
        found = _SERVER_ID.search(answer)
        if found and 'Status: cluster member' in answer and cluster_id in answer:
            own[str(controller.get('controller_address'))] = found.group(1)
    kick = []
    for sid, address in listed:
        if address not in known:
            kick.append({'sid': sid, 'address': address, 'reason': 'not in the inventory'})
        elif address in own and own[address] != sid:
            kick.append({'sid': sid, 'address': address,
                         'reason': 'replaced by server %s at the same address' % own[address]})
    return {'cluster_id': cluster_id, 'listed': len(listed), 'agreeing': len(own),
            'safe': len(own) > len(listed) // 2, 'kick': kick,
            'unknown': [address for _sid, address in listed if address not in known]}
