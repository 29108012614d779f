# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge the OVN northbound database to a declared logical topology.

The same read -> plan -> apply shape as the Open_vSwitch modules:

* ``validate(params)`` checks the whole request and returns it normalised (raises
  PlanError before anything is read or written); ``check_schema(desired, tables)`` checks
  it against the server's schema once connected;
* ``snapshot(tables)`` turns the IDL's rows into plain, comparable dicts;
* ``plan(desired, state, owner)`` returns the list of changes;
* ``simulate(state, changes)`` predicts the state they produce (check mode, and the
  guard that the commit wrote what was planned);
* ``apply_changes(txn, tables, changes)`` writes them into one transaction;
* ``Topology`` hands them to the converge engine (``_converge``), for ovn_topology.

Every object the module creates carries ``external_ids:netvirt-overlay-owner=<owner>``.
Owned objects that are no longer declared are removed; objects without the mark are
never touched unless they are declared (then they are adopted). A declared object marked
with another owner is refused unless ``adopt`` is set: ownership never moves implicitly.

Private (``_`` prefix): modules import it, users do not.
"""

from __future__ import annotations

import copy
import ipaddress
import re

from ansible_collections.netvirt.overlay.plugins.module_utils._converge import PlanError, Resource
from ansible_collections.netvirt.overlay.plugins.module_utils._input import (
    InputError, integer, ip_address, ovsdb_map, unicast_mac, unique)

OWNER_KEY = 'netvirt-overlay-owner'
DEFAULT_NB_DB = 'unix:/var/run/ovn/ovnnb_db.sock'
NB_TABLES = ['Logical_Switch', 'Logical_Switch_Port', 'ACL', 'Logical_Router',
             'Logical_Router_Port', 'Logical_Router_Static_Route', 'NAT', 'HA_Chassis_Group',
             'HA_Chassis', 'Gateway_Chassis']

_NAME_RE = re.compile(r'^[A-Za-z0-9_.:@+-]+$')
LSP_TYPES = ['', 'router', 'localnet', 'l2gateway', 'localport', 'external', 'virtual']
ACL_DIRECTIONS = ['from-lport', 'to-lport']
ACL_ACTIONS = ['allow', 'allow-related', 'allow-stateless', 'drop', 'reject', 'pass']
NAT_TYPES = ['snat', 'dnat', 'dnat_and_snat']


# -- argument spec ----------------------------------------------------------------

SWITCH_PORT_SPEC = dict(
    name=dict(type='str', required=True),
    mac=dict(type='str'),
    ips=dict(type='list', elements='str', default=[]),
    type=dict(type='str', default='', choices=LSP_TYPES),
    router_port=dict(type='str'),
    network_name=dict(type='str'),
    l2gateway_chassis=dict(type='str'),
    tag=dict(type='int'),
    port_security=dict(type='bool', default=True),
    options=dict(type='dict', default={}),
)
ACL_SPEC = dict(
    direction=dict(type='str', required=True, choices=ACL_DIRECTIONS),
    priority=dict(type='int', required=True),
    match=dict(type='str', required=True),
    action=dict(type='str', required=True, choices=ACL_ACTIONS),
)
SWITCH_SPEC = dict(
    name=dict(type='str', required=True),
    subnet=dict(type='str'),
    ports=dict(type='list', elements='dict', default=[], options=SWITCH_PORT_SPEC),
    acls=dict(type='list', elements='dict', default=[], options=ACL_SPEC),
)
ROUTER_PORT_SPEC = dict(
    name=dict(type='str', required=True),
    mac=dict(type='str', required=True),
    networks=dict(type='list', elements='str', required=True),
    ha_chassis_group=dict(type='str'),
    gateway_chassis=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        priority=dict(type='int', required=True),
    )),
    options=dict(type='dict', default={}),
)
ROUTE_SPEC = dict(
    prefix=dict(type='str', required=True),
    nexthop=dict(type='str', required=True),
    output_port=dict(type='str'),
)
NAT_SPEC = dict(
    type=dict(type='str', required=True, choices=NAT_TYPES),
    external_ip=dict(type='str', required=True),
    logical_ip=dict(type='str', required=True),
    logical_port=dict(type='str'),
    external_mac=dict(type='str'),
)
ROUTER_SPEC = dict(
    name=dict(type='str', required=True),
    ports=dict(type='list', elements='dict', default=[], options=ROUTER_PORT_SPEC),
    static_routes=dict(type='list', elements='dict', default=[], options=ROUTE_SPEC),
    nat=dict(type='list', elements='dict', default=[], options=NAT_SPEC),
    options=dict(type='dict', default={}),
)
HA_GROUP_SPEC = dict(
    name=dict(type='str', required=True),
    chassis=dict(type='list', elements='dict', required=True, options=dict(
        name=dict(type='str', required=True),
        priority=dict(type='int', required=True),
    )),
)
TOPOLOGY_ARGUMENT_SPEC = dict(
    owner=dict(type='str', default='netvirt.overlay'),
    switches=dict(type='list', elements='dict', default=[], options=SWITCH_SPEC),
    routers=dict(type='list', elements='dict', default=[], options=ROUTER_SPEC),
    ha_chassis_groups=dict(type='list', elements='dict', default=[], options=HA_GROUP_SPEC),
    purge=dict(type='bool', default=True),
    adopt=dict(type='bool', default=False),
)


# -- validation -------------------------------------------------------------------
# Every message names the field as a path into the task's arguments (switches[0].ports[1].ips),
# the value and what is allowed. All of it runs before the module connects.

# Integer columns the module exposes, with their ranges in ovn-nb.ovsschema (ACL, HA_Chassis and
# Gateway_Chassis priority; a localnet port's VLAN). The IDL drops an out-of-range value without
# a word and commits the rest, so they are checked here.
PRIORITY_RANGE = (0, 32767)
TAG_RANGE = (1, 4095)
# ovn-bridge-mappings is "physnet:bridge,...": a network name cannot hold ':' or ','.
_PHYSNET_RE = re.compile(r'^[^\s:,]+$')


def _name(value, field):
    if value is None or value == '':
        raise InputError('%s: missing; a name of letters, digits and _.:@+- is needed' % field)
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InputError('%s: %r is not a usable name (allowed: letters, digits and _.:@+-)' % (field, value))
    return value


def _choice(value, field, choices):
    if value not in choices:
        raise InputError('%s: %r is not one of %s' % (field, value, ', '.join(c or "''" for c in choices)))
    return value


def _once(seen, key, field, where, rule):
    """Record that ``key`` is used at ``where``; refuse a second use."""
    if key in seen:
        raise InputError('%s: %r is already used by %s (%s)' % (field, key, seen[key], rule))
    seen[key] = where


def _ip(value, field):
    """A unicast address (no prefix), as an ipaddress object."""
    return ipaddress.ip_address(ip_address(value, field))


def _same_version(addr, field, other, other_field):
    if addr.version != other.version:
        raise InputError('%s: %s is IPv%d, but %s is IPv%d (%s); both must be of one IP version'
                         % (field, addr, addr.version, other_field, other.version, other))


def _network(value, field):
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        pass
    try:
        hint = '; did you mean %s?' % ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        hint = ''
    raise InputError('%s: %r is not a CIDR network (address/prefix length, no host bits)%s' % (field, value, hint))


def _interface(value, field):
    """A router port address with its prefix length: a unicast address that hosts can use."""
    try:
        iface = ipaddress.ip_interface(str(value)) if '/' in str(value) else None
    except ValueError:
        iface = None
    if iface is None:
        raise InputError('%s: %r is not an address with a prefix length (allowed: e.g. 198.18.100.254/24)'
                         % (field, value))
    ip_address(str(iface.ip), field)
    net = iface.network
    if iface.version == 4 and net.prefixlen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
        raise InputError("%s: %s is the %s address of %s, not an address of a port in it"
                         % (field, value, 'network' if iface.ip == net.network_address else 'broadcast', net))
    return iface


def _prefix(value, field):
    """A route prefix: a network or a host address."""
    if '/' in str(value):
        return _network(value, field)
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise InputError('%s: %r is not a network (address/prefix length) or an address' % (field, value))


def _options(mapping, field):
    """A map column (options): string keys, scalar values stored as OVSDB strings."""
    return ovsdb_map(mapping or {}, field, allow_none=False)


def _set_option(options, key, value, field):
    """Options the module derives from a dedicated field must not say something else."""
    if options.get(key, value) != value:
        raise InputError('%s.%s: %r contradicts %r given by the dedicated field; drop the option'
                         % (field, key, options[key], value))
    options[key] = value


_MATCH_OPEN = {')': '(', '}': '{', ']': '['}
_MATCH_BINARY = ('&&', '||', '==', '!=', '<=', '>=', '<', '>')
_MATCH_OPERAND = re.compile(r'[$@]?[A-Za-z0-9_.:]+(/[A-Za-z0-9_.:]+)?')


def _acl_match(value, field):
    """Refuse an ACL match that is certainly not OVN syntax.

    OVN parses matches only in ovn-controller, long after the write, and then drops the ACL's
    flows. There is no OVN parser in Python, so this is lexical and conservative (after OVN's
    lib/lex.c): characters and operators OVN has not got, unbalanced brackets, quotes and
    comments, and operators with a missing operand. Anything else is left to OVN.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError('%s: %r is empty (allowed: an OVN match, e.g. "ip4 && tcp.dst == 22")' % (field, value))

    def bad(why):
        raise InputError('%s: %r %s' % (field, value, why))

    tokens, opened, i = [], [], 0
    while i < len(value):
        c, two = value[i], value[i:i + 2]
        if c in ' \t\n\r\v\f':
            i += 1
        elif two == '//':
            end = value.find('\n', i)
            i = len(value) if end < 0 else end
        elif two == '/*':
            end = value.find('*/', i + 2)
            if end < 0 or '\n' in value[i:end]:
                bad('has a /* comment with no */ on its line')
            i = end + 2
        elif c == '"':
            i += 1
            while i < len(value) and value[i] != '"':
                i += 2 if value[i] == '\\' else 1
            if i >= len(value):
                bad('has a string with no closing double quote')
            tokens.append('x')
            i += 1
        elif c == "'":
            bad("has a single quote at character %d; OVN strings take double quotes" % (i + 1))
        elif c in '({[':
            opened.append((c, i + 1))
            tokens.append(c)
            i += 1
        elif c in ')}]':
            if not opened or opened[-1][0] != _MATCH_OPEN[c]:
                bad("has a '%s' at character %d with no '%s' before it" % (c, i + 1, _MATCH_OPEN[c]))
            opened.pop()
            tokens.append(c)
            i += 1
        elif value.startswith('<->', i) or two in ('->', '--', '..'):
            tokens.append('p')
            i += 3 if value.startswith('<->', i) else 2
        elif two in _MATCH_BINARY or c in '<>':
            tokens.append(two if two in _MATCH_BINARY else c)
            i += len(tokens[-1])
        elif c in '&|':
            bad("has a single '%s' at character %d; OVN's operators are && and ||" % (c, i + 1))
        elif c == '=':
            bad("has '=' at character %d; OVN compares with ==" % (i + 1))
        elif c == '!':
            tokens.append('!')
            i += 1
        elif c in ',;-':
            tokens.append('p')
            i += 1
        else:
            word = _MATCH_OPERAND.match(value, i)
            if not word or (c in '$@' and not re.match(r'[A-Za-z_.]', value[i + 1:i + 2])):
                bad("has %r at character %d, which OVN's match syntax does not have" % (c, i + 1))
            if word.group(0) in ('and', 'or', 'not', 'AND', 'OR', 'NOT'):
                bad("uses '%s'; OVN's logical operators are &&, || and !" % word.group(0))
            tokens.append('x')
            i = word.end()
    if opened:
        bad("has a '%s' at character %d that is never closed" % opened[-1])
    if not tokens:
        bad('has nothing but comments')
    if tokens[0] in _MATCH_BINARY:
        bad("starts with '%s', which needs an operand before it" % tokens[0])
    if tokens[-1] in _MATCH_BINARY + ('!',):
        bad("ends with '%s', which needs an operand after it" % tokens[-1])
    for left, right in zip(tokens, tokens[1:]):
        if left in _MATCH_BINARY + ('!', '(') and right in _MATCH_BINARY + (')',):
            bad("has '%s' followed by '%s': an operand is missing between them" % (left, right))
    return value


def validate(params):
    """Check the whole request; return the desired topology, normalised.

    {'switches': {name: {...}}, 'routers': {name: {...}}, 'ha_chassis_groups': {name: {...}},
     'fields': where each was declared, for messages}
    """
    try:
        return _validate(params)
    except InputError as exc:
        raise PlanError(str(exc))


def _validate(params):
    owner = params.get('owner')
    if not isinstance(owner, str) or not owner.strip() or owner != owner.strip():
        raise InputError('owner: %r must be a non-empty name with no blanks around it' % (owner,))
    switches = params.get('switches') or []
    routers = params.get('routers') or []
    groups = params.get('ha_chassis_groups') or []
    fields = {'switches': {}, 'routers': {}, 'ha_chassis_groups': {}, 'ports': {}}
    desired = {'switches': {}, 'routers': {}, 'ha_chassis_groups': {}, 'fields': fields}

    # Switches and routers share one name space: ovn-nbctl, ovn-trace and the southbound
    # Datapath_Binding name both by it.
    datapaths = {}
    for kind, items in (('switches', switches), ('routers', routers)):
        for index, item in enumerate(items):
            field = '%s[%d]' % (kind, index)
            _once(datapaths, _name(item.get('name'), field + '.name'), field + '.name', field,
                  'names are unique among logical switches and routers')
            fields[kind][item['name']] = field

    for index, group in enumerate(groups):
        field = 'ha_chassis_groups[%d]' % index
        _once(fields['ha_chassis_groups'], _name(group.get('name'), field + '.name'), field + '.name', field,
              'HA chassis group names are unique')
        if not group.get('chassis'):
            raise InputError('%s.chassis: HA chassis group %s needs at least one chassis' % (field, group['name']))
        desired['ha_chassis_groups'][group['name']] = {'chassis': _chassis(group['chassis'], field + '.chassis')}

    # Switch and router ports share one name space too: each is one southbound Port_Binding.
    ports = fields['ports']
    for index, router in enumerate(routers):
        desired['routers'][router['name']] = _router(router, 'routers[%d]' % index, ports,
                                                     fields['ha_chassis_groups'])
    router_ports = dict((name, port) for router in desired['routers'].values()
                        for name, port in router['ports'].items())
    for index, switch in enumerate(switches):
        desired['switches'][switch['name']] = _switch(switch, 'switches[%d]' % index, ports, router_ports)

    peers = {}
    for name, switch in desired['switches'].items():
        for pname, port in switch['ports'].items():
            if port['type'] == 'router':
                _once(peers, port['options']['router-port'], ports[pname] + '.router_port', ports[pname],
                      'a router port is attached to one switch port')
    for name, router in desired['routers'].items():
        for index, nat in enumerate(router['nat']):
            if nat['logical_port'] and nat['logical_port'] not in ports:
                raise InputError("%s.nat[%d].logical_port: %r is not a declared switch port"
                                 % (fields['routers'][name], index, nat['logical_port']))
    return desired


def _chassis(members, field):
    """{chassis name: priority} of an HA chassis group or of a port's gateway_chassis."""
    out, seen = {}, {}
    for index, member in enumerate(members):
        here = '%s[%d]' % (field, index)
        _once(seen, _name(member.get('name'), here + '.name'), here + '.name', here, 'a chassis is listed once')
        out[member['name']] = integer(member.get('priority'), here + '.priority', *PRIORITY_RANGE)
    return out


def _router(router, field, port_fields, group_fields):
    ports, networks = {}, []
    for index, port in enumerate(router.get('ports') or []):
        here = '%s.ports[%d]' % (field, index)
        _once(port_fields, _name(port.get('name'), here + '.name'), here + '.name', here,
              'port names are unique among all switch and router ports')
        ports[port['name']] = _router_port(port, here, networks, group_fields)

    routes, nats = [], []
    for index, route in enumerate(router.get('static_routes') or []):
        here = '%s.static_routes[%d]' % (field, index)
        prefix = _prefix(route.get('prefix'), here + '.prefix')
        nexthop = _ip(route.get('nexthop'), here + '.nexthop')
        _same_version(nexthop, here + '.nexthop', prefix, 'the prefix')
        item = {'ip_prefix': str(prefix), 'nexthop': str(nexthop), 'output_port': route.get('output_port') or None}
        if item['output_port'] is not None and item['output_port'] not in ports:
            raise InputError('%s.output_port: %r is not a port of %s (allowed: %s)'
                             % (here, item['output_port'], field, ', '.join(sorted(ports)) or 'none declared'))
        if item in routes:
            raise InputError('%s: the route to %s via %s is already %s.static_routes[%d]'
                             % (here, item['ip_prefix'], item['nexthop'], field, routes.index(item)))
        routes.append(item)
    for index, nat in enumerate(router.get('nat') or []):
        nats.append(_nat(nat, '%s.nat[%d]' % (field, index), field, nats))
    return {'ports': ports, 'static_routes': routes, 'nat': nats,
            'options': _options(router.get('options'), field + '.options')}


def _router_port(port, field, networks, group_fields):
    """``networks``: (field, interface) of the router's ports so far; they must not overlap."""
    if not port.get('networks'):
        raise InputError('%s.networks: a router port needs at least one address with prefix length' % field)
    nets = []
    for index, text in enumerate(port['networks']):
        here = '%s.networks[%d]' % (field, index)
        iface = _interface(text, here)
        for other_field, other in networks:
            if iface.network.overlaps(other.network):
                raise InputError('%s: %s overlaps %s of %s; the networks of one router must not overlap'
                                 % (here, text, other, other_field))
        networks.append(('%s (%s)' % (field, port['name']), iface))
        nets.append(str(iface))
    group = port.get('ha_chassis_group') or None
    if group is not None and group not in group_fields:
        raise InputError('%s.ha_chassis_group: %r is not declared in ha_chassis_groups (declared: %s)'
                         % (field, group, ', '.join(sorted(group_fields)) or 'none'))
    if group is not None and port.get('gateway_chassis'):
        raise InputError('%s: give ha_chassis_group or gateway_chassis, not both' % field)
    return {'mac': unicast_mac(port.get('mac'), field + '.mac'), 'networks': sorted(nets), 'ha_chassis_group': group,
            'gateway_chassis': _chassis(port.get('gateway_chassis') or [], field + '.gateway_chassis'),
            'options': _options(port.get('options'), field + '.options')}


def _nat(nat, field, router_field, earlier):
    kind = _choice(nat.get('type'), field + '.type', NAT_TYPES)
    external = _ip(nat.get('external_ip'), field + '.external_ip')
    text = str(nat.get('logical_ip'))
    if kind == 'snat' and '/' in text:
        logical = _network(text, field + '.logical_ip')
    elif '/' in text:
        raise InputError('%s.logical_ip: %r is a network; a %s rule translates to one address'
                         % (field, text, kind))
    else:
        logical = _ip(text, field + '.logical_ip')
    _same_version(logical, field + '.logical_ip', external, 'external_ip')
    item = {'type': kind, 'external_ip': str(external), 'logical_ip': str(logical),
            'logical_port': nat.get('logical_port'),
            'external_mac': unicast_mac(nat['external_mac'], field + '.external_mac') if nat.get('external_mac') else None}
    if (item['logical_port'] or item['external_mac']) and kind != 'dnat_and_snat':
        raise InputError('%s: logical_port and external_mac are only for dnat_and_snat, not %s' % (field, kind))
    # A distributed floating IP needs both: OVN answers for it with that MAC on the VM's chassis.
    for given, missing in (('logical_port', 'external_mac'), ('external_mac', 'logical_port')):
        if item[given] and not item[missing]:
            raise InputError('%s.%s: missing; a distributed dnat_and_snat with %s %r needs %s too'
                             % (field, missing, given, item[given], missing))
    for index, other in enumerate(earlier):
        # SNAT is chosen by the logical address, DNAT by the external one: two rules for one
        # of them leave OVN to pick either.
        same = (other == item or
                (kind == 'snat' and other['type'] == 'snat' and other['logical_ip'] == item['logical_ip']) or
                (kind != 'snat' and other['type'] != 'snat' and other['external_ip'] == item['external_ip']))
        if same:
            raise InputError('%s: %s %s -> %s collides with %s.nat[%d] (%s %s -> %s)'
                             % (field, kind, item['logical_ip'], item['external_ip'], router_field, index,
                                other['type'], other['logical_ip'], other['external_ip']))
    return item


def _switch(switch, field, port_fields, router_ports):
    subnet = _network(switch['subnet'], field + '.subnet') if switch.get('subnet') else None
    ports = {}
    # Addresses on this switch: a VM's MAC or IP must not be another port's, the router's included.
    macs, ips = {}, {}
    for index, port in enumerate(switch.get('ports') or []):
        peer = router_ports.get(port.get('router_port')) if port.get('type') == 'router' else None
        if peer is None:
            continue
        where = '%s.ports[%d] (router port %s)' % (field, index, port['router_port'])
        macs.setdefault(peer['mac'], where)
        addresses = [ipaddress.ip_interface(net).ip for net in peer['networks']]
        for addr in addresses:
            ips.setdefault(str(addr), where)
        # The VMs' gateway must be on their subnet (a router port wired to the wrong switch).
        comparable = [a for a in addresses if subnet is not None and a.version == subnet.version]
        if comparable and not any(a in subnet for a in comparable):
            raise InputError('%s.ports[%d].router_port: the networks of %s (%s) are outside the subnet %s of switch %s'
                             % (field, index, port['router_port'], ', '.join(peer['networks']), subnet,
                                switch['name']))
    for index, port in enumerate(switch.get('ports') or []):
        here = '%s.ports[%d]' % (field, index)
        _once(port_fields, _name(port.get('name'), here + '.name'), here + '.name', here,
              'port names are unique among all switch and router ports')
        ports[port['name']] = item = _switch_port(port, here, switch['name'], subnet, router_ports)
        if item['type'] in ('router', 'localnet', 'l2gateway'):
            continue
        mac, *addresses = item['addresses'][0].split()
        where = '%s (%s)' % (here, port['name'])
        _once(macs, mac, here + '.mac', where, 'a MAC belongs to one port of a switch')
        for addr in addresses:
            _once(ips, addr, here + '.ips', where, 'an address belongs to one port of a switch')

    acls, seen = [], {}
    for index, acl in enumerate(switch.get('acls') or []):
        here = '%s.acls[%d]' % (field, index)
        item = {'direction': _choice(acl.get('direction'), here + '.direction', ACL_DIRECTIONS),
                'priority': integer(acl.get('priority'), here + '.priority', *PRIORITY_RANGE),
                'match': _acl_match(acl.get('match'), here + '.match'),
                'action': _choice(acl.get('action'), here + '.action', ACL_ACTIONS)}
        key = (item['direction'], item['priority'], item['match'])
        if key in seen:
            # Two ACLs that differ only in their action leave OVN to pick one.
            raise InputError('%s: %s, priority %s, match %r is already %s (action %s); one ACL per '
                             'direction, priority and match' % ((here,) + key + seen[key]))
        seen[key] = (here, item['action'])
        acls.append(item)
    return {'other_config': {'subnet': str(subnet)} if subnet else {}, 'ports': ports, 'acls': acls}


def _switch_port(port, field, switch, subnet, router_ports):
    kind = _choice(port.get('type') or '', field + '.type', LSP_TYPES)
    options = _options(port.get('options'), field + '.options')
    tag = port.get('tag')
    if tag is not None:
        if kind not in ('localnet', 'l2gateway'):
            raise InputError('%s.tag: only localnet and l2gateway ports have a VLAN tag, not a %s port'
                             % (field, kind or 'VM'))
        integer(tag, field + '.tag', *TAG_RANGE)
    if kind == 'router':
        if not port.get('router_port'):
            raise InputError('%s.router_port: a port of type router needs the router port it connects to' % field)
        if port['router_port'] not in router_ports:
            raise InputError('%s.router_port: %r is not a declared router port (declared: %s)'
                             % (field, port['router_port'], ', '.join(sorted(router_ports)) or 'none'))
        if port.get('mac') or port.get('ips'):
            raise InputError('%s: a router port takes its addresses from the router port; drop mac and ips' % field)
        _set_option(options, 'router-port', port['router_port'], field + '.options')
        return {'type': 'router', 'addresses': ['router'], 'port_security': [], 'options': options, 'tag_request': None}
    if port.get('router_port'):
        raise InputError('%s.router_port: only for ports of type router, not a %s port' % (field, kind or 'VM'))
    if kind in ('localnet', 'l2gateway'):
        network = port.get('network_name')
        if not network or not _PHYSNET_RE.match(network):
            raise InputError('%s.network_name: %r is not a physical network name (the name before the colon in '
                             'ovn-bridge-mappings: no blanks, colons or commas)' % (field, network))
        _set_option(options, 'network_name', network, field + '.options')
        if kind == 'l2gateway':
            _set_option(options, 'l2gateway-chassis',
                        _name(port.get('l2gateway_chassis'), field + '.l2gateway_chassis'), field + '.options')
        elif port.get('l2gateway_chassis'):
            raise InputError('%s.l2gateway_chassis: only for type l2gateway' % field)
        if port.get('mac') or port.get('ips'):
            raise InputError('%s: a %s port has no addresses of its own; drop mac and ips' % (field, kind))
        return {'type': kind, 'addresses': ['unknown'], 'port_security': [], 'options': options, 'tag_request': tag}
    for key in ('network_name', 'l2gateway_chassis'):
        if port.get(key):
            raise InputError('%s.%s: only for localnet and l2gateway ports, not a %s port' % (field, key, kind or 'VM'))
    if not port.get('mac'):
        raise InputError('%s.mac: missing; a %s port needs the MAC of its interface' % (field, kind or 'VM'))
    mac = unicast_mac(port['mac'], field + '.mac')
    ips = []
    for index, text in enumerate(port.get('ips') or []):
        here = '%s.ips[%d]' % (field, index)
        if '/' in str(text):
            # The prefix length is the switch's business (subnet), not the port's.
            try:
                text = str(ipaddress.ip_interface(str(text)).ip)
            except ValueError:
                raise InputError('%s: %r is not an IP address' % (here, text))
        addr = _ip(text, here)
        if subnet is not None and addr.version == subnet.version:
            if addr not in subnet:
                raise InputError('%s: %s is outside the subnet %s of switch %s' % (here, addr, subnet, switch))
            if addr.version == 4 and subnet.prefixlen <= 30 and addr in (subnet.network_address,
                                                                         subnet.broadcast_address):
                raise InputError('%s: %s is the %s address of the subnet %s of switch %s'
                                 % (here, addr, 'network' if addr == subnet.network_address else 'broadcast',
                                    subnet, switch))
        ips.append(str(addr))
    unique(ips, field + '.ips')
    address = ' '.join([mac] + ips)
    return {'type': kind, 'addresses': [address],
            'port_security': [address] if port.get('port_security', True) else [],
            'options': options, 'tag_request': None}


# -- reading -----------------------------------------------------------------------

def opt(value):
    """An optional column read from the IDL: [] -> None, [x] -> x."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _ref_name(value):
    row = opt(value)
    return row.name if row is not None else None


def snapshot(tables):
    """The parts of the northbound database the module manages, as plain dicts."""
    state = {'switches': {}, 'routers': {}, 'ha_chassis_groups': {}}
    for row in tables['HA_Chassis_Group'].rows.values():
        state['ha_chassis_groups'][row.name] = {
            'external_ids': dict(row.external_ids),
            'chassis': dict((c.chassis_name, c.priority) for c in row.ha_chassis)}
    for row in tables['Logical_Switch'].rows.values():
        state['switches'][row.name] = dict(
            _with_ports(row, _switch_port_dict), other_config=dict(row.other_config),
            acls=sorted((_acl_dict(a) for a in row.acls), key=_sort_key))
    for row in tables['Logical_Router'].rows.values():
        state['routers'][row.name] = dict(
            _with_ports(row, _router_port_dict), options=dict(row.options),
            static_routes=sorted((_route_dict(r) for r in row.static_routes), key=_sort_key),
            nat=sorted((_nat_dict(n) for n in row.nat), key=_sort_key))
    return state


def _with_ports(row, port_dict):
    """A switch or router: its external_ids and its ports (read by ``port_dict``) by name."""
    return {'external_ids': dict(row.external_ids), 'ports': dict((p.name, port_dict(p)) for p in row.ports)}


def _switch_port_dict(p):
    return {'type': p.type, 'addresses': sorted(p.addresses), 'port_security': sorted(p.port_security),
            'options': dict(p.options), 'tag_request': opt(p.tag_request), 'external_ids': dict(p.external_ids)}


def _router_port_dict(p):
    return {'mac': p.mac, 'networks': sorted(p.networks), 'options': dict(p.options),
            'ha_chassis_group': _ref_name(p.ha_chassis_group),
            'gateway_chassis': dict((g.chassis_name, g.priority) for g in p.gateway_chassis),
            'external_ids': dict(p.external_ids)}


def _acl_dict(row):
    return {'direction': row.direction, 'priority': row.priority, 'match': row.match,
            'action': row.action, 'external_ids': dict(row.external_ids)}


def _route_dict(row):
    return {'ip_prefix': row.ip_prefix, 'nexthop': row.nexthop, 'output_port': opt(row.output_port),
            'external_ids': dict(row.external_ids)}


def _nat_dict(row):
    return {'type': row.type, 'external_ip': row.external_ip, 'logical_ip': row.logical_ip,
            'logical_port': opt(row.logical_port), 'external_mac': opt(row.external_mac),
            'external_ids': dict(row.external_ids)}


def _sort_key(item):
    return sorted((k, str(v)) for k, v in item.items() if k != 'external_ids')


def _identity(item):
    return dict((k, v) for k, v in item.items() if k != 'external_ids')


def owned(obj, owner):
    return obj.get('external_ids', {}).get(OWNER_KEY) == owner


# -- planning ----------------------------------------------------------------------

def _diff(current, desired, merge_columns=('external_ids', 'options', 'other_config')):
    """Columns to write so ``current`` satisfies ``desired`` ({column: new whole value})."""
    out = {}
    for column, want in desired.items():
        have = current.get(column) if current else None
        if column in merge_columns:
            merged = dict(have or {})
            merged.update(want)
            if merged != (have or {}):
                out[column] = merged
        elif want != have:
            out[column] = want
    return out


def plan(desired, state, owner, purge=True, adopt=False):
    """The changes that make ``state`` hold ``desired``, in apply order.

    Declared objects marked with another owner are refused unless ``adopt``.
    """
    mark = {OWNER_KEY: owner}
    changes = []
    _check_against_database(desired, state, owner, purge, adopt)

    # HA chassis groups first: router ports refer to them.
    for name, group in sorted(desired['ha_chassis_groups'].items()):
        _plan_row(changes, 'ha_group', {'group': name}, state['ha_chassis_groups'].get(name),
                  {'external_ids': dict(mark), 'chassis': group['chassis']})

    for name, router in sorted(desired['routers'].items()):
        have = state['routers'].get(name)
        _plan_row(changes, 'router', {'router': name}, have, {'external_ids': dict(mark), 'options': router['options']})
        have = have or {'ports': {}, 'static_routes': [], 'nat': []}
        _plan_ports(changes, 'router_port', {'router': name}, have['ports'], router['ports'], mark, owner, purge)
        changes.extend(_plan_children('route', 'router', name, have['static_routes'], router['static_routes'],
                                      mark, owner, purge))
        changes.extend(_plan_children('nat', 'router', name, have['nat'], router['nat'], mark, owner, purge))

    for name, switch in sorted(desired['switches'].items()):
        have = state['switches'].get(name)
        _plan_row(changes, 'switch', {'switch': name}, have,
                  {'external_ids': dict(mark), 'other_config': switch['other_config']})
        have = have or {'ports': {}, 'acls': []}
        _plan_ports(changes, 'switch_port', {'switch': name}, have['ports'], switch['ports'], mark, owner, purge)
        changes.extend(_plan_children('acl', 'switch', name, have['acls'], switch['acls'], mark, owner, purge))

    if purge:
        for name, have in sorted(state['switches'].items()):
            if name not in desired['switches'] and owned(have, owner):
                changes.append({'op': 'del_switch', 'switch': name})
        for name, have in sorted(state['routers'].items()):
            if name not in desired['routers'] and owned(have, owner):
                changes.append({'op': 'del_router', 'router': name})
        for name, have in sorted(state['ha_chassis_groups'].items()):
            if name not in desired['ha_chassis_groups'] and owned(have, owner):
                changes.append({'op': 'del_ha_group', 'group': name})
    return changes


def _plan_row(changes, kind, ids, have, want):
    """add_<kind> for a missing row, set_<kind> with the columns that differ from what it holds."""
    if have is None:
        changes.append(dict(ids, op='add_' + kind, set=want))
        return
    cols = _diff(have, want)
    if cols:
        changes.append(dict(ids, op='set_' + kind, set=cols))


def _plan_ports(changes, kind, parent, have, want, mark, owner, purge):
    """The named ports of one switch or router (parent: {'switch': name} or {'router': name})."""
    for pname, port in sorted(want.items()):
        _plan_row(changes, kind, dict(parent, port=pname), have.get(pname), dict(port, external_ids=dict(mark)))
    if purge:
        for pname, phave in sorted(have.items()):
            if pname not in want and owned(phave, owner):
                changes.append(dict(parent, op='del_' + kind, port=pname))


def _plan_children(kind, parent_kind, parent, have, want, mark, owner, purge):
    """ACLs, static routes and NAT rules have no name: they are added or removed whole."""
    out = []
    present = [_identity(item) for item in have]
    for item in want:
        if item not in present:
            out.append({'op': 'add_%s' % kind, parent_kind: parent, kind: dict(item, external_ids=dict(mark))})
        else:
            existing = have[present.index(item)]
            if not owned(existing, owner):
                # Declared but made by someone else: adopt it (mark it ours).
                out.append({'op': 'set_%s' % kind, parent_kind: parent, kind: dict(item),
                            'set': {'external_ids': dict(existing['external_ids'], **mark)}})
    if purge:
        for item in have:
            if owned(item, owner) and _identity(item) not in want:
                out.append({'op': 'del_%s' % kind, parent_kind: parent, kind: _identity(item)})
    return out


def _check_against_database(desired, state, owner, purge, adopt):
    """What the request cannot do to the database as it is; raises PlanError before any write."""
    fields = desired.get('fields') or {}

    def field(kind, name):
        return (fields.get(kind) or {}).get(name, name)

    # A port name lives on one switch or router: nothing is moved silently, and a switch port and
    # a router port of one name would be one southbound Port_Binding.
    where = {}
    for kind, label in (('switches', 'logical switch'), ('routers', 'logical router')):
        for parent, obj in state[kind].items():
            for pname in obj['ports']:
                where[pname] = (kind, label, parent)
    for kind in ('switches', 'routers'):
        for parent, obj in desired[kind].items():
            for pname in obj['ports']:
                other_kind, label, other_parent = where.get(pname, (kind, None, parent))
                if (other_kind, other_parent) != (kind, parent):
                    raise PlanError("%s: port '%s' exists on %s '%s' in the database. Remove it there first "
                                    "(nothing is moved silently)" % (field('ports', pname), pname, label, other_parent))

    if not adopt:
        for kind, label in (('switches', 'logical switch'), ('routers', 'logical router'),
                            ('ha_chassis_groups', 'HA chassis group')):
            for name, obj in desired[kind].items():
                have = state[kind].get(name)
                _refuse_foreign(have, owner, field(kind, name), "%s '%s'" % (label, name))
                if kind == 'ha_chassis_groups' or have is None:
                    continue
                for pname in obj['ports']:
                    _refuse_foreign(have['ports'].get(pname), owner, field('ports', pname), "port '%s'" % pname)
                for key in _CHILD_KEYS[kind]:
                    present = [_identity(item) for item in have[key]]
                    for index, item in enumerate(obj[key]):
                        if item in present:
                            here = '%s.%s[%d]' % (field(kind, name), key, index)
                            _refuse_foreign(have[key][present.index(item)], owner, here, 'this rule')

    # NAT runs on a gateway: a distributed gateway port or a gateway router (options:chassis).
    for name, router in desired['routers'].items():
        if not router['nat']:
            continue
        have = state['routers'].get(name) or {'ports': {}, 'options': {}}
        ports = dict((pname, port) for pname, port in have['ports'].items() if not (purge and owned(port, owner)))
        ports.update(router['ports'])
        options = dict(have.get('options') or {}, **router['options'])
        if not options.get('chassis') and not any(
                p.get('ha_chassis_group') or p.get('gateway_chassis') or (p.get('options') or {}).get('redirect-chassis')
                for p in ports.values()):
            raise PlanError("%s.nat[0]: router '%s' has no gateway for NAT: give one of its ports an "
                            "ha_chassis_group or gateway_chassis, or make it a gateway router (options.chassis)"
                            % (field('routers', name), name))


_CHILD_KEYS = {'switches': ('acls',), 'routers': ('static_routes', 'nat')}


def _refuse_foreign(have, owner, field, what):
    """Ownership is never transferred implicitly: the other owner's purge would no longer see the
    object and this owner's would delete it. Objects with no mark stay adoptable."""
    mark = (have or {}).get('external_ids', {}).get(OWNER_KEY)
    if mark and mark != owner:
        raise PlanError("%s: %s is owned by '%s' (external_ids:%s), not by this task's owner '%s'. "
                        "Declare it with owner: %s, or set adopt: true to take it over"
                        % (field, what, mark, OWNER_KEY, owner, mark))


def check_schema(desired, tables):
    """Values the server's schema does not allow (OVN versions differ: ACL action pass is not in
    OVN 23.03's). The IDL would drop such a value silently and commit the rest of the row."""
    fields = desired.get('fields') or {}
    checks = []
    for name, switch in desired['switches'].items():
        for index, acl in enumerate(switch['acls']):
            here = '%s.acls[%d]' % (fields.get('switches', {}).get(name, name), index)
            checks += [(here + '.action', acl['action'], 'ACL', 'action'),
                       (here + '.direction', acl['direction'], 'ACL', 'direction')]
    for name, router in desired['routers'].items():
        for index, nat in enumerate(router['nat']):
            here = '%s.nat[%d]' % (fields.get('routers', {}).get(name, name), index)
            checks.append((here + '.type', nat['type'], 'NAT', 'type'))
    for here, value, table, column in checks:
        enum = tables[table].columns[column].type.key.enum
        allowed = enum.as_list() if enum is not None else None
        if allowed is not None and value not in allowed:
            raise PlanError('%s: %r is not a value this OVN northbound database knows (its schema allows: %s)'
                            % (here, value, ', '.join(sorted(allowed))))


# -- simulating --------------------------------------------------------------------

_CHILD_LISTS = {'acl': ('switches', 'switch', 'acls'), 'route': ('routers', 'router', 'static_routes'),
                'nat': ('routers', 'router', 'nat')}


def simulate(state, changes):
    """The state the changes would produce (pure; ``state`` is not modified)."""
    after = copy.deepcopy(state)
    for ch in changes:
        op = ch['op']
        verb, _sep, kind = op.partition('_')
        if kind == 'ha_group':
            if verb == 'add':
                after['ha_chassis_groups'][ch['group']] = {'external_ids': {}, 'chassis': {}}
            if verb == 'del':
                del after['ha_chassis_groups'][ch['group']]
            else:
                after['ha_chassis_groups'][ch['group']].update(copy.deepcopy(ch['set']))
        elif kind in ('switch', 'router'):
            coll = after[kind + 'es' if kind == 'switch' else kind + 's']
            if verb == 'add':
                coll[ch[kind]] = ({'external_ids': {}, 'other_config': {}, 'ports': {}, 'acls': []} if kind == 'switch'
                                  else {'external_ids': {}, 'options': {}, 'ports': {}, 'static_routes': [], 'nat': []})
            if verb == 'del':
                del coll[ch[kind]]
            else:
                coll[ch[kind]].update(copy.deepcopy(ch['set']))
        elif kind in ('switch_port', 'router_port'):
            parent = kind.split('_')[0]
            coll = after['switches' if parent == 'switch' else 'routers'][ch[parent]]['ports']
            if verb == 'add':
                coll[ch['port']] = {}
            if verb == 'del':
                del coll[ch['port']]
            else:
                coll[ch['port']].update(copy.deepcopy(ch['set']))
        elif kind in _CHILD_LISTS:
            coll_name, parent, key = _CHILD_LISTS[kind]
            items = after[coll_name][ch[parent]][key]
            ident = _identity(ch[kind])
            if verb == 'add':
                items.append(copy.deepcopy(ch[kind]))
            else:
                index = [_identity(i) for i in items].index(ident)
                if verb == 'del':
                    items.pop(index)
                else:
                    items[index] = dict(items[index], **copy.deepcopy(ch['set']))
            items.sort(key=_sort_key)
    return after


def view(state, desired, owner):
    """What --diff shows: the objects this owner declares or owns."""
    out = {}
    for kind in ('switches', 'routers', 'ha_chassis_groups'):
        out[kind] = dict((name, obj) for name, obj in state[kind].items()
                         if name in desired[kind] or owned(obj, owner))
    return out


def unapplied(actual, predicted, desired, owner):
    """Differences between the committed state and the prediction, for what this owner manages."""
    have, want = view(actual, desired, owner), view(predicted, desired, owner)
    missing = []
    for kind in want:
        for name in sorted(set(have[kind]) | set(want[kind])):
            if have[kind].get(name) != want[kind].get(name):
                missing.append('%s %s' % (kind, name))
    return missing


# -- applying ----------------------------------------------------------------------

def _rows(tables, table, key='name'):
    return dict((getattr(r, key), r) for r in tables[table].rows.values())


def _set_column(row, column, value, optional=()):
    if column in optional:
        value = [] if value is None else [value]
    setattr(row, column, value)


def apply_changes(txn, tables, changes):
    """Write ``changes`` into ``txn``. Rows are looked up by name at commit time."""
    groups = _rows(tables, 'HA_Chassis_Group')
    switches = _rows(tables, 'Logical_Switch')
    routers = _rows(tables, 'Logical_Router')
    lsps = _rows(tables, 'Logical_Switch_Port')
    lrps = _rows(tables, 'Logical_Router_Port')
    # Reference sets are read once, verified and written whole.
    refs = {}

    def ref_list(row, column):
        key = (row.uuid, column)
        if key not in refs:
            row.verify(column)
            refs[key] = (row, column, list(getattr(row, column)))
        return refs[key][2]

    def port_row(ch, table, ports, parent):
        """The router or switch port a change is about; an add_ inserts it into ``parent``'s ports."""
        if ch['op'].startswith('add_'):
            row = txn.insert(tables[table])
            row.name = ch['port']
            ports[ch['port']] = row
            ref_list(parent, 'ports').append(row)
        return ports[ch['port']]

    def unlink_port(ch, ports, parent):
        """Take a departing port out of ``parent``'s ports; the row, to delete or release."""
        row = ports.pop(ch['port'])
        listed = ref_list(parent, 'ports')
        listed[:] = [r for r in listed if r.uuid != row.uuid]
        return row

    for ch in changes:
        op = ch['op']
        if op in ('add_ha_group', 'set_ha_group'):
            row = groups.get(ch['group']) if op == 'set_ha_group' else None
            if row is None:
                row = txn.insert(tables['HA_Chassis_Group'])
                row.name = ch['group']
                groups[ch['group']] = row
            for column, value in ch['set'].items():
                if column == 'chassis':
                    members = []
                    for chassis, priority in sorted(value.items()):
                        member = txn.insert(tables['HA_Chassis'])
                        member.chassis_name = chassis
                        member.priority = priority
                        members.append(member)
                    for old in row.ha_chassis if op == 'set_ha_group' else []:
                        old.delete()
                    row.ha_chassis = members
                else:
                    setattr(row, column, value)
        elif op == 'del_ha_group':
            for old in groups[ch['group']].ha_chassis:
                old.delete()
            groups.pop(ch['group']).delete()
        elif op in ('add_router', 'set_router', 'add_switch', 'set_switch'):
            kind = op.split('_')[1]
            coll, table = (routers, 'Logical_Router') if kind == 'router' else (switches, 'Logical_Switch')
            if op.startswith('add_'):
                row = txn.insert(tables[table])
                row.name = ch[kind]
                coll[ch[kind]] = row
                # A new row has nothing to read back: its reference sets start empty.
                for column in ('ports', 'static_routes', 'nat') if kind == 'router' else ('ports', 'acls'):
                    refs[(row.uuid, column)] = (row, column, [])
            row = coll[ch[kind]]
            for column, value in ch['set'].items():
                setattr(row, column, value)
        elif op in ('del_router', 'del_switch'):
            kind = op.split('_')[1]
            row = (routers if kind == 'router' else switches).pop(ch[kind])
            for port in row.ports if kind == 'router' else []:
                _release_group(port)
            row.delete()
        elif op in ('add_router_port', 'set_router_port'):
            row = port_row(ch, 'Logical_Router_Port', lrps, routers[ch['router']])
            for column, value in ch['set'].items():
                if column == 'ha_chassis_group':
                    row.ha_chassis_group = [groups[value]] if value else []
                elif column == 'gateway_chassis':
                    if op == 'set_router_port':
                        for old in row.gateway_chassis:
                            old.delete()
                    members = []
                    for chassis, priority in sorted(value.items()):
                        member = txn.insert(tables['Gateway_Chassis'])
                        member.name = '%s-%s' % (ch['port'], chassis)
                        member.chassis_name = chassis
                        member.priority = priority
                        members.append(member)
                    row.gateway_chassis = members
                else:
                    setattr(row, column, value)
        elif op == 'del_router_port':
            row = unlink_port(ch, lrps, routers[ch['router']])
            if not _release_group(row):
                row.delete()
        elif op in ('add_switch_port', 'set_switch_port'):
            row = port_row(ch, 'Logical_Switch_Port', lsps, switches[ch['switch']])
            for column, value in ch['set'].items():
                _set_column(row, column, value, optional=('tag_request',))
        elif op == 'del_switch_port':
            unlink_port(ch, lsps, switches[ch['switch']]).delete()
        else:
            _apply_child(txn, tables, ch, switches, routers, ref_list)
    for row, column, value in refs.values():
        setattr(row, column, value)


def _release_group(port):
    """Drop a departing router port's HA chassis group reference; True when it had one.

    ovsdb-server checks references before it collects unreferenced rows, so a group deleted in
    the same transaction would still count the port's reference. The unreferenced port is then
    collected by the server (the IDL never deletes rows of non-root tables itself), so it is
    updated rather than deleted: a delete would discard the update.
    """
    if opt(port.ha_chassis_group) is None:
        return False
    port.ha_chassis_group = []
    return True


_CHILD_TABLES = {'acl': ('ACL', 'switch', 'acls'), 'route': ('Logical_Router_Static_Route', 'router', 'static_routes'),
                 'nat': ('NAT', 'router', 'nat')}
_CHILD_OPTIONAL = ('output_port', 'logical_port', 'external_mac')


def _child_identity(row, kind):
    read = {'acl': _acl_dict, 'route': _route_dict, 'nat': _nat_dict}[kind]
    return _identity(read(row))


def _apply_child(txn, tables, ch, switches, routers, ref_list):
    verb, _sep, kind = ch['op'].partition('_')
    table, parent_kind, column = _CHILD_TABLES[kind]
    parent = (switches if parent_kind == 'switch' else routers)[ch[parent_kind]]
    items = ref_list(parent, column)
    if verb == 'add':
        row = txn.insert(tables[table])
        for key, value in ch[kind].items():
            _set_column(row, key, value, optional=_CHILD_OPTIONAL)
        items.append(row)
        return
    ident = _identity(ch[kind])
    matches = [r for r in items if _child_identity(r, kind) == ident]
    if not matches:
        return
    if verb == 'set':
        for key, value in ch['set'].items():
            setattr(matches[0], key, value)
    else:
        items[:] = [r for r in items if r.uuid != matches[0].uuid]
        matches[0].delete()


class NorthboundSettle(object):
    """Commit hooks of the northbound database: nothing to add, a short wait for the updates after."""

    def prepare(self, _txn, _tables):
        pass

    def settle(self, client, _txn, _status):
        client.refresh()


class Topology(Resource):
    """ovn_topology: the logical switches, routers and HA chassis groups one owner declares."""

    database = 'OVN_Northbound'
    argument_spec = dict(db=dict(type='str', default=DEFAULT_NB_DB))
    tables = NB_TABLES
    leader_only = True
    hooks = NorthboundSettle()

    def __init__(self, params, check_mode):
        super(Topology, self).__init__(params, check_mode)
        self.desired = validate(params)
        self.owner = params['owner']

    def comment(self):
        return 'netvirt.overlay.ovn_topology owner=%s' % self.owner

    def check_schema(self, tables):
        check_schema(self.desired, tables)

    def snapshot(self, tables):
        return snapshot(tables)

    def plan(self, before):
        return plan(self.desired, before, self.owner, self.params['purge'], self.params['adopt'])

    def simulate(self, before, changes):
        return simulate(before, changes)

    def apply(self, txn, tables, changes):
        apply_changes(txn, tables, changes)

    def unapplied(self, after, before, changes):
        return unapplied(after, simulate(before, changes), self.desired, self.owner)

    def report(self, before, changes, after):
        topology = view(after, self.desired, self.owner)
        return dict(changes=changes, topology=topology), view(before, self.desired, self.owner), topology
