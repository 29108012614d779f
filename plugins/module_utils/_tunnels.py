# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_tunnels' request: tunnel ports towards a list of remote endpoints."""

from __future__ import annotations

import hashlib
import ipaddress

from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    IFNAME_MAX, TUNNEL_GROUP_KEY, PlanError, check_ifname, plan_ports, port_owners)

TUNNEL_TYPES = ('gre', 'vxlan', 'geneve', 'stt')
# Largest key each encapsulation carries: GRE has a 32-bit key, the others a 24-bit VNI
# (STT's 64-bit context is used as a 32-bit key by OVS's flow-based tunnels).
KEY_MAX = {'gre': 2 ** 32 - 1, 'vxlan': 2 ** 24 - 1, 'geneve': 2 ** 24 - 1, 'stt': 2 ** 32 - 1}
REMOTE_KEY = 'netvirt-overlay-remote'
PREFIX_MAX = IFNAME_MAX - 9  # '-' and 8 hex digits follow the prefix


def port_name(prefix, remote_ip):
    """Deterministic, at most 15 characters: prefix-<8 hex>.

    For IPv4 the hex digits are the address itself (gre-c6120a0b is 198.18.10.11),
    so an operator can read it back; IPv6 addresses are hashed.
    """
    addr = ipaddress.ip_address(remote_ip)
    if addr.version == 4:
        digits = '%08x' % int(addr)
    else:
        digits = hashlib.sha256(addr.packed).hexdigest()[:8]
    return '%s-%s' % (prefix, digits)


def _key(value, tunnel_type, what):
    if value is None:
        return None
    value = str(value)
    if value == 'flow':
        return value
    try:
        number = int(value, 0)
    except ValueError:
        raise PlanError("%s '%s' must be 'flow' or a number" % (what, value))
    if not 0 <= number <= KEY_MAX[tunnel_type]:
        raise PlanError('%s %s is outside 0-%d for %s' % (what, value, KEY_MAX[tunnel_type], tunnel_type))
    return str(number)


def _normalise_remote(item):
    if isinstance(item, str):
        return {'remote_ip': item}
    if isinstance(item, dict) and 'remote_ip' in item:
        unknown = set(item) - set(['remote_ip', 'name', 'key', 'options'])
        if unknown:
            raise PlanError('remote %s has unknown keys: %s' % (item['remote_ip'], ', '.join(sorted(unknown))))
        return item
    raise PlanError('each remote must be an IP address or a dict with remote_ip, got %r' % (item,))


def _address(value, what):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise PlanError("%s '%s' is not an IP address" % (what, value))


def desired_tunnels(params):
    """Validate the request and return {port name: desired port} (checks that need no database)."""
    ttype = params['tunnel_type']
    if ttype not in TUNNEL_TYPES:
        raise PlanError("tunnel_type '%s' is not one of %s" % (ttype, ', '.join(TUNNEL_TYPES)))
    check_ifname(params['bridge'], 'bridge')
    prefix = params.get('name_prefix') or ttype
    if len(prefix) > PREFIX_MAX:
        raise PlanError("name_prefix '%s' is longer than %d characters (port names are at most %d)"
                        % (prefix, PREFIX_MAX, IFNAME_MAX))
    local = params.get('local_ip')
    local_addr = _address(local, 'local_ip') if local not in (None, 'flow') else None
    if params.get('dst_port') is not None:
        if ttype == 'gre':
            raise PlanError('dst_port does not apply to gre tunnels')
        if not 1 <= params['dst_port'] <= 65535:
            raise PlanError('dst_port %s is outside 1-65535' % params['dst_port'])
    default_key = _key(params.get('key'), ttype, 'key')
    for name in ('bfd_min_rx', 'bfd_min_tx'):
        if params.get(name) is not None and params[name] < 1:
            raise PlanError('%s must be at least 1 ms' % name)

    base_options = {}
    if local is not None:
        base_options['local_ip'] = local
    if params.get('dst_port') is not None:
        base_options['dst_port'] = str(params['dst_port'])
    if params.get('csum') is not None:
        base_options['csum'] = 'true' if params['csum'] else 'false'
    if params.get('ttl') is not None:
        base_options['ttl'] = str(params['ttl'])
    if params.get('tos') is not None:
        base_options['tos'] = str(params['tos'])
    if params.get('df_default') is not None:
        base_options['df_default'] = 'true' if params['df_default'] else 'false'
    for k, v in (params.get('options') or {}).items():
        base_options[k] = str(v)

    bfd = {}
    if params.get('bfd'):
        bfd['enable'] = 'true'
        if params.get('bfd_min_rx') is not None:
            bfd['min_rx'] = str(params['bfd_min_rx'])
        if params.get('bfd_min_tx') is not None:
            bfd['min_tx'] = str(params['bfd_min_tx'])

    ports = {}
    seen = {}
    for item in params.get('remotes') or []:
        remote = _normalise_remote(item)
        addr = _address(remote['remote_ip'], 'remote_ip')
        if local_addr is not None and addr == local_addr:
            continue  # the whole endpoint list may be passed, this host included
        if local_addr is not None and addr.version != local_addr.version:
            raise PlanError('remote %s and local_ip %s are not the same IP version' % (addr, local_addr))
        if str(addr) in seen:
            raise PlanError('remote %s is listed twice' % addr)
        name = remote.get('name') or port_name(prefix, str(addr))
        check_ifname(name, 'tunnel port')
        if name in ports:
            raise PlanError("remotes %s and %s both map to port name '%s'; give one a name"
                            % (seen_by_name(seen, name), addr, name))
        seen[str(addr)] = name
        options = dict(base_options)
        options['remote_ip'] = str(addr)
        key = _key(remote.get('key'), ttype, 'key of remote %s' % addr) or default_key
        if key is not None:
            options['key'] = key
        for k, v in (remote.get('options') or {}).items():
            options[k] = str(v)
        ports[name] = {
            'external_ids': {TUNNEL_GROUP_KEY: params['group'], REMOTE_KEY: str(addr)},
            'interfaces': {name: {'type': ttype, 'options': options, 'bfd': bfd}},
        }
    return ports


def seen_by_name(seen, name):
    for addr, port in seen.items():
        if port == name:
            return addr
    return '?'


def plan(params, ports, state):
    bridge = params['bridge']
    if bridge not in state:
        raise PlanError("bridge '%s' does not exist; create it first (netvirt.overlay.ovs_bridge)" % bridge)
    current = state[bridge]['ports']
    port_bridge, _ifaces = port_owners(state)
    group = params['group']
    for name in sorted(ports):
        owner = port_bridge.get(name)
        if owner is not None and owner != bridge:
            raise PlanError("port '%s' already exists on bridge '%s'" % (name, owner))
        if owner == bridge and current[name]['external_ids'].get(TUNNEL_GROUP_KEY) != group:
            raise PlanError("port '%s' exists on %s but is not a tunnel of group '%s'; it was made by "
                            "something else, so it is not taken over (rename it or remove it)"
                            % (name, bridge, group))

    def in_group(_name, port):
        return port['external_ids'].get(TUNNEL_GROUP_KEY) == group

    return plan_ports(bridge, current, ports, purge=params.get('purge', False), purge_filter=in_group)
