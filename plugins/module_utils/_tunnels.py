# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_tunnels' request: tunnel ports towards a list of remote endpoints."""

from __future__ import annotations

import ipaddress

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import KEY_MAX, TUNNEL_TYPES, port_name
from ansible_collections.netvirt.overlay.plugins.module_utils._input import (
    InputError, integer, ip_address, number_or_word, ovsdb_map, ovsdb_scalar)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    IFNAME_MAX, TUNNEL_GROUP_KEY, PlanError, check_ifname, new_bridge, plan_ports, port_owners, simulate)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch_resource import PortsResource

# Destination port of the encapsulations that have one (vswitchd's defaults); GRE has none.
DEFAULT_DST_PORT = {'vxlan': '4789', 'geneve': '6081', 'stt': '7471'}
# Only the out-of-tree kernel module ever had STT; the userspace (netdev) datapath has not.
KERNEL_ONLY_TYPES = ('stt',)
# BFD sends its intervals as 32-bit microseconds (RFC 5880 4.1); vswitchd does not check them.
BFD_INTERVAL_MAX = (2 ** 32 - 1) // 1000
REMOTE_KEY = 'netvirt-overlay-remote'
PREFIX_MAX = IFNAME_MAX - 9  # '-' and 8 hex digits follow the prefix
REMOTE_FIELDS = ('remote_ip', 'name', 'key', 'options')
# Parameters that are interface options too: each may be given once, here or in options.
OPTION_PARAMS = ('local_ip', 'key', 'dst_port', 'csum', 'ttl', 'tos', 'df_default')
# vswitchd reads these as true only when the value is the string "true" (df_default: "false").
BOOL_OPTIONS = ('csum', 'df_default', 'seq', 'layer3')

# ovs_tunnels's own options (ovs_bridges takes a list of them).
TUNNELS_ARGUMENT_SPEC = dict(
    bridge=dict(type='str', required=True),
    tunnel_type=dict(type='str', default='gre', choices=list(TUNNEL_TYPES), aliases=['type']),
    remotes=dict(type='list', elements='raw', required=True),
    group=dict(type='str', default='default'),
    name_prefix=dict(type='str'),
    purge=dict(type='bool', default=False),
    # Interface options for every tunnel. ttl and tos are raw: a number or 'inherit', seen as
    # given (a str type would turn true into 'True').
    local_ip=dict(type='str'), key=dict(type='str', no_log=False), dst_port=dict(type='int'),
    csum=dict(type='bool'), ttl=dict(type='raw'), tos=dict(type='raw'), df_default=dict(type='bool'),
    options=dict(type='dict'),
    bfd=dict(type='bool', default=False), bfd_min_rx=dict(type='int'), bfd_min_tx=dict(type='int'),
)


def _local_ip(value, field):
    if value == 'flow':
        # vswitchd accepts local_ip=flow only with remote_ip=flow; these tunnels each reach one remote.
        raise InputError("%s: 'flow' needs remote_ip=flow, and every tunnel here has one remote; "
                         "give this host's tunnel endpoint address" % field)
    return ip_address(value, field)


def option_value(name, value, ttype, field):
    """One interface option of a ttype tunnel as the string vswitchd reads; InputError if it is wrong."""
    if name in ('key', 'in_key', 'out_key'):
        try:
            return number_or_word(value, field, 0, KEY_MAX[ttype], ('flow',))
        except InputError as exc:
            raise InputError('%s; %s carries a %d-bit key' % (exc, ttype, KEY_MAX[ttype].bit_length()))
    if name == 'dst_port':
        if ttype not in DEFAULT_DST_PORT:
            raise InputError('%s: %r given, but dst_port does not apply to %s tunnels (only %s have one)'
                             % (field, value, ttype, ', '.join(sorted(DEFAULT_DST_PORT))))
        return number_or_word(value, field, 1, 65535)
    if name == 'ttl':
        return number_or_word(value, field, 1, 255, ('inherit',))
    if name == 'tos':
        tos = number_or_word(value, field, 0, 252, ('inherit',))
        if tos != 'inherit' and int(tos) & 3:
            # vswitchd only logs "invalid TOS" and keeps sending with ToS 0.
            raise InputError("%s: %s sets the two ECN bits, so vswitchd would ignore it (allowed: a DSCP "
                             "value times 4, 0, 4, ... 252, or 'inherit')" % (field, tos))
        return tos
    if name in BOOL_OPTIONS:
        text = ovsdb_scalar(value, field)
        if text not in ('true', 'false'):
            raise InputError("%s: %r is not a boolean (allowed: true or false; OVS reads any other "
                             "word as the default)" % (field, value))
        return text
    if name == 'local_ip':
        return _local_ip(value, field)
    if name == 'remote_ip':
        raise InputError('%s: %r: the remote of each tunnel comes from remotes; remove remote_ip here'
                         % (field, value))
    return ovsdb_scalar(value, field)


def _options(mapping, ttype, field):
    """A dict of extra interface options, each value checked as option_value() does."""
    ovsdb_map(mapping, field, allow_none=False)  # a dict of string keys and scalar values
    return dict((name, option_value(name, value, ttype, '%s.%s' % (field, name)))
                for name, value in (mapping or {}).items())


def _base_options(params, ttype):
    options = {}
    for name in OPTION_PARAMS:
        if params.get(name) is not None:
            options[name] = option_value(name, params[name], ttype, name)
    extra = _options(params.get('options'), ttype, 'options')
    twice = sorted(set(extra) & set(options))
    if twice:
        raise InputError('options.%s: %s is also given as a parameter (%r); give it once'
                         % (twice[0], twice[0], params[twice[0]]))
    options.update(extra)
    return options


def _bfd(params):
    bfd = {'enable': 'true'} if params.get('bfd') else {}
    for name, column in (('bfd_min_rx', 'min_rx'), ('bfd_min_tx', 'min_tx')):
        if params.get(name) is not None:
            value = integer(params[name], name, 1, BFD_INTERVAL_MAX)
            if bfd:
                bfd[column] = str(value)
    return bfd


def _remote(item, field):
    """An item of remotes as a dict with remote_ip (checked later) and only known keys."""
    if isinstance(item, dict):
        unknown = sorted(str(k) for k in item if k not in REMOTE_FIELDS)
        if unknown:
            raise InputError('%s: unknown key %s (allowed: %s)' % (field, ', '.join(unknown), ', '.join(REMOTE_FIELDS)))
        if item.get('remote_ip') is None:
            raise InputError('%s: %r has no remote_ip' % (field, item))
        name = item.get('name')
        if name is not None and not isinstance(name, str):
            raise InputError('%s.name: %r is not a string (a port name)' % (field, name))
        return item
    if isinstance(item, (list, tuple)) or item is None:
        raise InputError('%s: %r is not an IP address or a dict with remote_ip' % (field, item))
    return {'remote_ip': item}


def desired_tunnels(params):
    """Check the whole request and return {port name: desired port}.

    Everything that can be checked without the database is checked here, before the module
    connects; InputError or PlanError names the field, the value and what is allowed.
    """
    ttype = params['tunnel_type']
    if ttype not in TUNNEL_TYPES:
        raise InputError('tunnel_type: %r is not one of %s' % (ttype, ', '.join(TUNNEL_TYPES)))
    check_ifname(params['bridge'], 'bridge')
    group = params.get('group')
    if not isinstance(group, str) or not group.strip():
        raise InputError("group: %r is empty; it is the mark that tells this task's tunnels apart" % (group,))
    prefix = params.get('name_prefix') or ttype
    if len(prefix) > PREFIX_MAX:
        raise InputError("name_prefix: '%s' is longer than %d characters (port names are "
                         "<prefix>-<8 hex digits>, at most %d)" % (prefix, PREFIX_MAX, IFNAME_MAX))
    check_ifname(prefix, 'name_prefix')
    base_options = _base_options(params, ttype)
    bfd = _bfd(params)

    ports = {}
    first = {}  # address -> field where it was first listed
    for index, item in enumerate(params.get('remotes') or []):
        field = 'remotes[%d]' % index
        remote = _remote(item, field)
        addr = ip_address(remote['remote_ip'], field + '.remote_ip' if isinstance(item, dict) else field)
        if addr in first:
            raise InputError('%s: remote %s is listed twice (first as %s)' % (field, addr, first[addr]))
        first[addr] = field
        options = dict(base_options)
        options.update(_options(remote.get('options'), ttype, field + '.options'))
        if remote.get('key') is not None:
            if 'key' in (remote.get('options') or {}):
                raise InputError('%s.options.key: key is also given as %s.key; give it once' % (field, field))
            options['key'] = option_value('key', remote['key'], ttype, field + '.key')
        local = options.get('local_ip')
        if local == addr:
            if isinstance(item, dict):
                raise InputError("%s: %s is local_ip, this host's own endpoint: a tunnel needs another "
                                 "host (a plain address equal to local_ip is skipped)" % (field, addr))
            continue  # the whole endpoint list may be passed, this host included
        versions = [ipaddress.ip_address(a).version for a in (addr, local or addr)]
        if versions[0] != versions[1]:
            raise InputError('%s: %s is IPv%d but local_ip %s is IPv%d; both ends of a tunnel use one IP version'
                             % (field, addr, versions[0], local, versions[1]))
        options['remote_ip'] = addr
        name = remote.get('name') or port_name(prefix, addr)
        check_ifname(name, field)
        if name in ports:
            raise InputError("%s: remotes %s and %s both map to port name '%s'; give one a name"
                             % (field, ports[name]['external_ids'][REMOTE_KEY], addr, name))
        ports[name] = {
            'external_ids': {TUNNEL_GROUP_KEY: group, REMOTE_KEY: addr},
            'interfaces': {name: {'type': ttype, 'options': options, 'bfd': bfd}},
        }
    return ports


def _normal(value, parse):
    try:
        return str(parse(value))
    except (TypeError, ValueError):
        return value


def tunnel_identity(iface):
    """What vswitchd tells tunnels apart by (ofproto/tunnel.c): type and destination port, remote,
    local address, receive key and packet type. Of two tunnels alike in all, the second is ignored."""
    opts = iface['options']
    key = opts.get('in_key', opts.get('key', '0'))
    return (iface['type'], _normal(opts.get('dst_port', DEFAULT_DST_PORT.get(iface['type'])), int),
            _normal(opts.get('remote_ip'), ipaddress.ip_address), _normal(opts.get('local_ip'), ipaddress.ip_address),
            key if key == 'flow' else _normal(key, lambda k: int(k, 0)), opts.get('packet_type'))


def _check_distinct(after, ports):
    """Refuse a desired tunnel that vswitchd would ignore because another one is alike."""
    seen = {}
    for br_name, br in sorted(after.items()):
        for port in br['ports'].values():
            for i_name, iface in sorted(port['interfaces'].items()):
                if iface['type'] in TUNNEL_TYPES:
                    seen.setdefault(tunnel_identity(iface), []).append((i_name, br_name, port['external_ids']))
    for name in sorted(ports):
        iface = ports[name]['interfaces'][name]
        for other, br_name, external_ids in seen.get(tunnel_identity(iface), []):
            if other != name:
                raise PlanError("remotes: %s (port '%s') would be the same tunnel as '%s' on %s (group %s): "
                                "vswitchd tells tunnels apart by type, destination port, remote_ip, local_ip "
                                "and key, and ignores the second; remove one or give them different keys"
                                % (iface['options']['remote_ip'], name, other, br_name,
                                   external_ids.get(TUNNEL_GROUP_KEY, 'none')))


def plan(params, ports, state):
    bridge = params['bridge']
    if bridge not in state:
        raise PlanError("bridge '%s' does not exist; create it first (netvirt.overlay.ovs_bridge)" % bridge)
    ttype = params['tunnel_type']
    datapath = state[bridge]['datapath_type']
    # None: a bridge that check mode predicts an earlier task creates, whose datapath it cannot see.
    if ttype in KERNEL_ONLY_TYPES and datapath not in ('system', None):
        usable = ', '.join(t for t in TUNNEL_TYPES if t not in KERNEL_ONLY_TYPES)
        raise PlanError("tunnel_type: %s needs the kernel datapath (datapath_type system), but bridge '%s' "
                        "has datapath_type %s; use %s" % (ttype, bridge, datapath, usable))
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

    changes = plan_ports(bridge, current, ports, purge=params.get('purge', False), purge_filter=in_group)
    _check_distinct(simulate(state, changes), ports)
    return changes


def group_ports(bridge_state, group):
    """The ports of one tunnel group on a bridge (none when the bridge does not exist)."""
    if bridge_state is None:
        return {}
    return dict((name, port) for name, port in bridge_state['ports'].items()
                if port['external_ids'].get(TUNNEL_GROUP_KEY) == group)


def summary(ports):
    """What ovs_tunnels returns of its ports: remote, type, options and BFD settings by port name."""
    out = {}
    for name, port in sorted(ports.items()):
        iface = port['interfaces'].get(name) or {}
        out[name] = {'remote_ip': port['external_ids'].get(REMOTE_KEY), 'type': iface.get('type'),
                     'options': iface.get('options'), 'bfd': iface.get('bfd')}
    return out


class Tunnels(PortsResource):
    """ovs_tunnels: one group of tunnel ports on a bridge."""

    def __init__(self, params, check_mode):
        super(Tunnels, self).__init__(params, check_mode)
        # The whole input is checked before connecting; what needs the database is checked in plan().
        self.ports = desired_tunnels(params)
        self.bridge, self.group = params['bridge'], params['group']

    def comment(self):
        return 'netvirt.overlay.ovs_tunnels %s group %s' % (self.bridge, self.group)

    def plan(self, before):
        if self.check_mode and self.bridge not in before:
            # Check mode: the task that creates the bridge ran in check mode too. Every tunnel is
            # predicted as new on the new bridge (which then shows in the diff's before, empty).
            before[self.bridge] = new_bridge(self.bridge, datapath_type=None)
        return plan(self.params, self.ports, before)

    def report(self, before, changes, after):
        tunnels = summary(group_ports(after.get(self.bridge), self.group))
        return dict(changes=changes, tunnels=tunnels), summary(group_ports(before.get(self.bridge), self.group)), tunnels
