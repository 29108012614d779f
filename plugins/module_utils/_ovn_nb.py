# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge the OVN northbound database to a declared logical topology.

The same read -> plan -> apply shape as the Open_vSwitch modules:

* ``validate(params)`` checks the whole request and returns it normalised (raises
  PlanError before anything is read or written);
* ``snapshot(tables)`` turns the IDL's rows into plain, comparable dicts;
* ``plan(desired, state, owner)`` returns the list of changes;
* ``simulate(state, changes)`` predicts the state they produce (check mode, and the
  guard that the commit wrote what was planned);
* ``apply_changes(txn, tables, changes)`` writes them into one transaction.

Every object the module creates carries ``external_ids:netvirt-overlay-owner=<owner>``.
Owned objects that are no longer declared are removed; objects without the mark are
never touched unless they are declared (then they are adopted).

Private (``_`` prefix): modules import it, users do not.
"""

from __future__ import annotations

import copy
import ipaddress
import re

OWNER_KEY = 'netvirt-overlay-owner'
DEFAULT_NB_DB = 'unix:/var/run/ovn/ovnnb_db.sock'
NB_TABLES = ['Logical_Switch', 'Logical_Switch_Port', 'ACL', 'Logical_Router',
             'Logical_Router_Port', 'Logical_Router_Static_Route', 'NAT', 'HA_Chassis_Group',
             'HA_Chassis', 'Gateway_Chassis']

_MAC_RE = re.compile(r'^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$')
_NAME_RE = re.compile(r'^[A-Za-z0-9_.:@+-]+$')
LSP_TYPES = ['', 'router', 'localnet', 'l2gateway', 'localport', 'external', 'virtual']
ACL_ACTIONS = ['allow', 'allow-related', 'allow-stateless', 'drop', 'reject', 'pass']
NAT_TYPES = ['snat', 'dnat', 'dnat_and_snat']


class PlanError(Exception):
    """The request cannot be satisfied; raised before anything is written."""


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
    direction=dict(type='str', required=True, choices=['from-lport', 'to-lport']),
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
)


# -- validation -------------------------------------------------------------------

def _name(value, what):
    if not value or not _NAME_RE.match(value):
        raise PlanError("%s name '%s' must be letters, digits and _.:@+-" % (what, value))


def _mac(value, what):
    if not value or not _MAC_RE.match(value):
        raise PlanError("%s MAC '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)" % (what, value))
    return value.lower()


def _ip(value, what):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise PlanError("%s '%s' is not an IP address" % (what, value))


def _network(value, what):
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise PlanError("%s '%s' is not a CIDR network (address/prefix with no host bits)" % (what, value))


def _interface(value, what):
    if '/' not in str(value):
        raise PlanError("%s '%s' needs a prefix length (address/prefix)" % (what, value))
    try:
        return ipaddress.ip_interface(value)
    except ValueError:
        raise PlanError("%s '%s' is not an address with prefix length" % (what, value))


def _unique(names, what):
    seen = set()
    for name in names:
        if name in seen:
            raise PlanError("%s '%s' is declared twice" % (what, name))
        seen.add(name)


def _prefix(value, what):
    """A route prefix: a network or a host address; returns the canonical text."""
    try:
        if '/' in value:
            return str(ipaddress.ip_network(value, strict=True))
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise PlanError("%s '%s' is not a network or address" % (what, value))


def validate(params):
    """Check the whole request; return the desired topology, normalised.

    {'switches': {name: {...}}, 'routers': {name: {...}}, 'ha_chassis_groups': {name: {...}}}
    """
    owner = params.get('owner') or ''
    if not owner:
        raise PlanError('owner must not be empty')
    switches = params.get('switches') or []
    routers = params.get('routers') or []
    groups = params.get('ha_chassis_groups') or []
    _unique([s['name'] for s in switches], 'logical switch')
    _unique([r['name'] for r in routers], 'logical router')
    _unique([g['name'] for g in groups], 'HA chassis group')

    desired = {'switches': {}, 'routers': {}, 'ha_chassis_groups': {}}
    group_names = set(g['name'] for g in groups)
    for group in groups:
        _name(group['name'], 'HA chassis group')
        chassis = {}
        for member in group['chassis']:
            _name(member['name'], 'chassis of HA chassis group %s' % group['name'])
            if member['name'] in chassis:
                raise PlanError("chassis '%s' is listed twice in HA chassis group '%s'"
                                % (member['name'], group['name']))
            if not 0 <= member['priority'] <= 32767:
                raise PlanError("priority %s of chassis '%s' in HA chassis group '%s' is outside 0-32767"
                                % (member['priority'], member['name'], group['name']))
            chassis[member['name']] = member['priority']
        if not chassis:
            raise PlanError("HA chassis group '%s' needs at least one chassis" % group['name'])
        desired['ha_chassis_groups'][group['name']] = {'chassis': chassis}

    router_port_names = {}
    all_router_networks = []
    for router in routers:
        _name(router['name'], 'logical router')
        ports = {}
        networks_here = []
        for port in router.get('ports') or []:
            _name(port['name'], 'logical router port')
            if port['name'] in router_port_names:
                raise PlanError("logical router port '%s' is declared on routers '%s' and '%s'"
                                % (port['name'], router_port_names[port['name']], router['name']))
            router_port_names[port['name']] = router['name']
            what = 'logical router port %s' % port['name']
            if not port.get('networks'):
                raise PlanError('%s needs at least one network' % what)
            nets = []
            for text in port['networks']:
                iface = _interface(text, '%s network' % what)
                for other_port, other in networks_here:
                    if iface.network.overlaps(other.network):
                        raise PlanError("%s network %s overlaps %s of port '%s' on router '%s'"
                                        % (what, text, other, other_port, router['name']))
                networks_here.append((port['name'], iface))
                nets.append(str(iface))
            if port.get('ha_chassis_group') and port.get('gateway_chassis'):
                raise PlanError('%s: give ha_chassis_group or gateway_chassis, not both' % what)
            if port.get('ha_chassis_group') and port['ha_chassis_group'] not in group_names:
                raise PlanError("%s names HA chassis group '%s', which is not declared in ha_chassis_groups"
                                % (what, port['ha_chassis_group']))
            gateway_chassis = {}
            for member in port.get('gateway_chassis') or []:
                if member['name'] in gateway_chassis:
                    raise PlanError("%s lists gateway chassis '%s' twice" % (what, member['name']))
                gateway_chassis[member['name']] = member['priority']
            ports[port['name']] = {
                'mac': _mac(port['mac'], what),
                'networks': sorted(nets),
                'ha_chassis_group': port.get('ha_chassis_group'),
                'gateway_chassis': gateway_chassis,
                'options': _strings(port.get('options')),
            }
        all_router_networks.extend(networks_here)
        routes = []
        for route in router.get('static_routes') or []:
            what = 'static route of router %s' % router['name']
            item = {'ip_prefix': _prefix(route['prefix'], '%s prefix' % what),
                    'nexthop': str(_ip(route['nexthop'], '%s nexthop' % what)),
                    'output_port': route.get('output_port')}
            if item['output_port'] and item['output_port'] not in ports:
                raise PlanError("%s names output_port '%s', which is not a port of the router"
                                % (what, item['output_port']))
            if item in routes:
                raise PlanError('%s to %s via %s is declared twice' % (what, item['ip_prefix'], item['nexthop']))
            routes.append(item)
        nats = []
        for nat in router.get('nat') or []:
            what = '%s rule of router %s' % (nat['type'], router['name'])
            item = {'type': nat['type'],
                    'external_ip': str(_ip(nat['external_ip'], '%s external_ip' % what)),
                    'logical_ip': _logical_ip(nat, what),
                    'logical_port': nat.get('logical_port'),
                    'external_mac': _mac(nat['external_mac'], what) if nat.get('external_mac') else None}
            if (item['logical_port'] or item['external_mac']) and item['type'] != 'dnat_and_snat':
                raise PlanError('%s: logical_port and external_mac are only for dnat_and_snat' % what)
            if item in nats:
                raise PlanError('%s for %s is declared twice' % (what, item['logical_ip']))
            nats.append(item)
        desired['routers'][router['name']] = {'ports': ports, 'static_routes': routes, 'nat': nats,
                                              'options': _strings(router.get('options'))}

    port_owner = {}
    for switch in switches:
        _name(switch['name'], 'logical switch')
        subnet = _network(switch['subnet'], 'subnet of logical switch %s' % switch['name']) if switch.get('subnet') else None
        ports = {}
        for port in switch.get('ports') or []:
            _name(port['name'], 'logical switch port')
            if port['name'] in port_owner:
                raise PlanError("logical switch port '%s' is declared on switches '%s' and '%s'"
                                % (port['name'], port_owner[port['name']], switch['name']))
            port_owner[port['name']] = switch['name']
            ports[port['name']] = _switch_port(port, switch['name'], subnet, router_port_names)
        acls = []
        for acl in switch.get('acls') or []:
            item = {'direction': acl['direction'], 'priority': acl['priority'],
                    'match': acl['match'], 'action': acl['action']}
            if not 0 <= item['priority'] <= 32767:
                raise PlanError("ACL priority %s on switch '%s' is outside 0-32767" % (item['priority'], switch['name']))
            if not item['match'].strip():
                raise PlanError("an ACL on switch '%s' has an empty match" % switch['name'])
            if item in acls:
                raise PlanError("ACL '%s' (%s, priority %s) is declared twice on switch '%s'"
                                % (item['match'], item['direction'], item['priority'], switch['name']))
            acls.append(item)
        desired['switches'][switch['name']] = {
            'other_config': {'subnet': str(subnet)} if subnet else {},
            'ports': ports, 'acls': acls}
    peers = [p['options'].get('router-port') for s in desired['switches'].values()
             for p in s['ports'].values() if p['type'] == 'router']
    for name in set(n for n in peers if peers.count(n) > 1):
        raise PlanError("logical router port '%s' is attached to more than one switch port" % name)
    for router_name, router in desired['routers'].items():
        for nat in router['nat']:
            if nat['logical_port'] and nat['logical_port'] not in port_owner:
                raise PlanError("NAT rule of router '%s' names logical_port '%s', which is not a declared switch port"
                                % (router_name, nat['logical_port']))
    return desired


def _logical_ip(nat, what):
    text = nat['logical_ip']
    try:
        if '/' in text:
            return str(ipaddress.ip_network(text, strict=True))
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise PlanError("%s logical_ip '%s' is not an address or CIDR network" % (what, text))


def _strings(mapping):
    return dict((str(k), str(v)) for k, v in (mapping or {}).items())


def _switch_port(port, switch, subnet, router_ports):
    what = 'logical switch port %s' % port['name']
    kind = port.get('type') or ''
    options = _strings(port.get('options'))
    tag = port.get('tag')
    if tag is not None and not 1 <= tag <= 4095:
        raise PlanError('%s: tag %s is outside 1-4095' % (what, tag))
    if kind == 'router':
        if not port.get('router_port'):
            raise PlanError('%s: a router port needs router_port' % what)
        if port['router_port'] not in router_ports:
            raise PlanError("%s names router_port '%s', which is not a declared logical router port"
                            % (what, port['router_port']))
        if port.get('mac') or port.get('ips'):
            raise PlanError('%s: a router port takes its addresses from the router port; drop mac and ips' % what)
        options['router-port'] = port['router_port']
        return {'type': 'router', 'addresses': ['router'], 'port_security': [], 'options': options, 'tag_request': None}
    if port.get('router_port'):
        raise PlanError('%s: router_port is only for type router' % what)
    if kind in ('localnet', 'l2gateway'):
        if not port.get('network_name'):
            raise PlanError('%s: a %s port needs network_name (a bridge mapping name)' % (what, kind))
        options['network_name'] = port['network_name']
        if kind == 'l2gateway':
            if not port.get('l2gateway_chassis'):
                raise PlanError('%s: an l2gateway port needs l2gateway_chassis' % what)
            options['l2gateway-chassis'] = port['l2gateway_chassis']
        if port.get('mac') or port.get('ips'):
            raise PlanError('%s: a %s port has no addresses of its own; drop mac and ips' % (what, kind))
        return {'type': kind, 'addresses': ['unknown'], 'port_security': [], 'options': options, 'tag_request': tag}
    if port.get('network_name') or port.get('l2gateway_chassis'):
        raise PlanError('%s: network_name and l2gateway_chassis are only for localnet and l2gateway ports' % what)
    if tag is not None:
        raise PlanError('%s: tag is only for localnet and l2gateway ports' % what)
    if not port.get('mac'):
        raise PlanError('%s needs a mac' % what)
    mac = _mac(port['mac'], what)
    ips = []
    for text in port.get('ips') or []:
        addr = _ip(text.split('/')[0], '%s IP' % what)
        if subnet is not None and addr not in subnet:
            raise PlanError("%s IP %s is outside the subnet %s of switch '%s'" % (what, addr, subnet, switch))
        ips.append(str(addr))
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
        state['switches'][row.name] = {
            'external_ids': dict(row.external_ids),
            'other_config': dict(row.other_config),
            'ports': dict((p.name, {
                'type': p.type, 'addresses': sorted(p.addresses), 'port_security': sorted(p.port_security),
                'options': dict(p.options), 'tag_request': opt(p.tag_request),
                'external_ids': dict(p.external_ids)}) for p in row.ports),
            'acls': sorted((_acl_dict(a) for a in row.acls), key=_sort_key)}
    for row in tables['Logical_Router'].rows.values():
        state['routers'][row.name] = {
            'external_ids': dict(row.external_ids),
            'options': dict(row.options),
            'ports': dict((p.name, {
                'mac': p.mac, 'networks': sorted(p.networks), 'options': dict(p.options),
                'ha_chassis_group': _ref_name(p.ha_chassis_group),
                'gateway_chassis': dict((g.chassis_name, g.priority) for g in p.gateway_chassis),
                'external_ids': dict(p.external_ids)}) for p in row.ports),
            'static_routes': sorted((_route_dict(r) for r in row.static_routes), key=_sort_key),
            'nat': sorted((_nat_dict(n) for n in row.nat), key=_sort_key)}
    return state


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


def plan(desired, state, owner, purge=True):
    """The changes that make ``state`` hold ``desired``, in apply order."""
    mark = {OWNER_KEY: owner}
    changes = []
    _check_against_database(desired, state, owner)

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


def _check_against_database(desired, state, owner):
    """Conflicts with what the database holds: a declared port that lives on another switch or router."""
    for kind, ports_key in (('switches', 'logical switch'), ('routers', 'logical router')):
        where = {}
        for parent, obj in state[kind].items():
            for pname in obj['ports']:
                where[pname] = parent
        for parent, obj in desired[kind].items():
            for pname in obj['ports']:
                if pname in where and where[pname] != parent:
                    raise PlanError("%s port '%s' exists on %s '%s' in the database; it is declared on '%s'. "
                                    "Remove it there first (nothing is moved silently)"
                                    % (ports_key, pname, ports_key, where[pname], parent))


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
            coll = routers if kind == 'router' else switches
            coll.pop(ch[kind]).delete()
        elif op in ('add_router_port', 'set_router_port'):
            if op == 'add_router_port':
                row = txn.insert(tables['Logical_Router_Port'])
                row.name = ch['port']
                lrps[ch['port']] = row
                ref_list(routers[ch['router']], 'ports').append(row)
            row = lrps[ch['port']]
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
            row = lrps.pop(ch['port'])
            ports = ref_list(routers[ch['router']], 'ports')
            ports[:] = [r for r in ports if r.uuid != row.uuid]
            row.delete()
        elif op in ('add_switch_port', 'set_switch_port'):
            if op == 'add_switch_port':
                row = txn.insert(tables['Logical_Switch_Port'])
                row.name = ch['port']
                lsps[ch['port']] = row
                ref_list(switches[ch['switch']], 'ports').append(row)
            row = lsps[ch['port']]
            for column, value in ch['set'].items():
                _set_column(row, column, value, optional=('tag_request',))
        elif op == 'del_switch_port':
            row = lsps.pop(ch['port'])
            ports = ref_list(switches[ch['switch']], 'ports')
            ports[:] = [r for r in ports if r.uuid != row.uuid]
            row.delete()
        else:
            _apply_child(txn, tables, ch, switches, routers, ref_list)
    for row, column, value in refs.values():
        setattr(row, column, value)


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
