# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, plan and apply Open_vSwitch database state.

The three steps are kept apart so that check mode, --diff and the real run all
come from one plan:

* ``snapshot(tables)`` turns the IDL's rows into plain dicts (bridges -> ports ->
  interfaces), the *before*.
* ``plan_bridge``/``plan_ports`` compare a desired spec with that snapshot and
  return a list of changes (plain dicts, returned to the user as ``changes``).
* ``simulate(before, changes)`` gives the predicted *after* (the diff and check
  mode use it); ``apply_changes(txn, tables, changes)`` writes the same changes
  into one OVSDB transaction.

``_vswitch_resource`` hands these to the converge engine (``_converge``).
"""

from __future__ import annotations

import copy
import re
import socket

from ansible_collections.netvirt.overlay.plugins.module_utils._input import (
    InputError, ip_address, number_or_word, ovsdb_map, unique)
from ansible_collections.netvirt.overlay.plugins.module_utils._converge import PlanError
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import check_target

# Column kinds decide how "desired" is compared with "current":
#   scalar  - equal or not (None in the spec means: leave as it is)
#   merge   - a map; listed keys must match, keys given as None must be absent,
#             keys not listed are left alone (other tools own them)
#   exact   - a map that must equal the spec (tunnel/patch options)
#   set     - an unordered list
BRIDGE_COLUMNS = {
    'datapath_type': 'scalar',
    'fail_mode': 'scalar',
    'protocols': 'set',
    'external_ids': 'merge',
    'other_config': 'merge',
    'controllers': 'set',
}
PORT_COLUMNS = {
    'tag': 'scalar',
    'trunks': 'set',
    'vlan_mode': 'scalar',
    'bond_mode': 'scalar',
    'lacp': 'scalar',
    'external_ids': 'merge',
    'other_config': 'merge',
}
INTERFACE_COLUMNS = {
    'type': 'scalar',
    'options': 'exact',
    'external_ids': 'merge',
    'other_config': 'merge',
    'mtu_request': 'scalar',
    'ofport_request': 'scalar',
    'mac': 'scalar',
    'bfd': 'exact',
}

# Columns that are optional scalars in the schema (stored as a 0/1-element set).
OPTIONAL_SCALARS = {'fail_mode', 'tag', 'vlan_mode', 'bond_mode', 'lacp', 'mtu_request', 'ofport_request', 'mac'}

IFNAME_MAX = 15
_IFNAME_RE = re.compile(r'^[A-Za-z0-9_.:@+-]+$')

# external_ids key that marks tunnel ports as owned by a netvirt.overlay tunnel group.
TUNNEL_GROUP_KEY = 'netvirt-overlay-tunnel-group'


# -- reading ---------------------------------------------------------------------

def opt(value):
    """An optional scalar column: [] -> None, [x] -> x."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


# What an empty string in these columns means to ovs-vswitchd.
_EMPTY_MEANS = {'type': 'system', 'datapath_type': 'system'}


def _columns(row, kinds):
    """The columns of ``kinds`` of one row, as plain comparable values."""
    out = {}
    for column, kind in kinds.items():
        if column == 'controllers':     # the targets of the referenced Controller rows
            out[column] = sorted(c.target for c in row.controller)
            continue
        value = getattr(row, column)
        if kind == 'set':
            value = sorted(value)
        elif kind != 'scalar':
            value = dict(value)
        elif column in OPTIONAL_SCALARS:
            value = opt(value)
        out[column] = _EMPTY_MEANS.get(column, value) if value == '' else value
    return out


def _iface_dict(row):
    return _columns(row, INTERFACE_COLUMNS)


def _port_dict(row):
    return dict(_columns(row, PORT_COLUMNS), interfaces=dict((i.name, _iface_dict(i)) for i in row.interfaces))


def _bridge_dict(br):
    return dict(_columns(br, BRIDGE_COLUMNS), ports=dict((p.name, _port_dict(p)) for p in br.ports))


def snapshot(tables):
    """The configuration part of the database as plain, comparable dicts."""
    return dict((br.name, _bridge_dict(br)) for br in tables['Bridge'].rows.values())


# Columns that ovs-vswitchd writes (run-time state), shown by ovs_info next to the configuration.
INTERFACE_STATE = ('ofport', 'link_state', 'admin_state', 'mtu', 'mac_in_use', 'error')


def bridge_info(br):
    """One bridge with its configuration and run-time state, as ovs_info returns it: ports
    (interface names) and interfaces (columns and state) side by side."""
    info = _bridge_dict(br)
    info['controllers'] = [{'target': c.target, 'is_connected': c.is_connected} for c in br.controller]
    info['interfaces'] = {}
    for port in br.ports:
        for iface in port.interfaces:
            state = dict((column, opt(getattr(iface, column))) for column in INTERFACE_STATE)
            state.update(bfd_status=dict(iface.bfd_status), statistics=dict(iface.statistics))
            info['interfaces'][iface.name] = dict(info['ports'][port.name]['interfaces'][iface.name], **state)
        info['ports'][port.name]['interfaces'] = sorted(i.name for i in port.interfaces)
    return info


def port_owners(state):
    """port name -> bridge, interface name -> (bridge, port)."""
    ports, ifaces = {}, {}
    for br_name, br in state.items():
        for p_name, port in br['ports'].items():
            ports[p_name] = br_name
            for i_name in port['interfaces']:
                ifaces[i_name] = (br_name, p_name)
    return ports, ifaces


# -- validation ------------------------------------------------------------------

def check_ifname(name, what):
    if not name or len(name) > IFNAME_MAX or not _IFNAME_RE.match(name):
        raise PlanError("%s name '%s' is not a valid interface name: 1 to %d characters of "
                        "letters, digits and _.:@+-" % (what, name, IFNAME_MAX))


def device_exists(name):
    """Whether this host (its network namespace) has a network device of that name."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def map_column(mapping, field, allow_none=True):
    """A map column's desired value (external_ids, other_config, options), values as OVSDB strings.

    PlanError naming field.key for a list or dict value (str() would store its Python text), an
    empty key, or, unless ``allow_none``, a key without a value (None means: remove the key).
    """
    try:
        return ovsdb_map(mapping, field, allow_none)
    except InputError as exc:
        raise PlanError(str(exc))


def set_column(values, field):
    """A set column's desired value (trunks, protocols, controllers): PlanError for an element
    listed twice, since the database keeps it once and would never match the list."""
    try:
        return unique(values or [], field)
    except InputError as exc:
        raise PlanError(str(exc))


# -- switch-wide settings ----------------------------------------------------------
# Keys of the Open_vSwitch row that ovs-vswitchd or ovn-controller parse: each ignores a value it
# cannot read (or falls back to a default), silently, so such a value is refused up front.

def _words(*words):
    def check(value, field):
        if value not in words:
            raise InputError("%s: '%s' is not one of %s" % (field, value, ', '.join(words)))
        return value
    return check


def _number(low, high=2 ** 31 - 1):
    return lambda value, field: number_or_word(value, field, low, high)


def _not_empty(value, field):
    if not value.strip():
        raise InputError('%s: %r is empty' % (field, value))
    return value


def _each(check):
    """A comma-separated list whose elements each pass check (stored as given)."""
    def check_all(value, field):
        for item in value.split(','):
            if not item.strip():
                raise InputError("%s: '%s' has an empty element" % (field, value))
            check(item, field)
        return value
    return check_all


def _probe_interval(value, field):
    number = number_or_word(value, field, 0, 2 ** 31 - 1)
    if 0 < int(number) < 1000:
        # ovn-controller raises a shorter interval to 1000 ms without saying so.
        raise InputError('%s: %s ms is too short (allowed: 0 to turn probes off, or 1000 and more)'
                         % (field, number))
    return number


def _bridge_mapping(item, field):
    network, _sep, bridge = item.partition(':')
    if not network.strip() or not bridge.strip():
        raise InputError("%s: '%s' must be PHYSICAL_NETWORK:BRIDGE" % (field, item))
    check_ifname(bridge, '%s: bridge' % field)


SETTING_CHECKS = {
    ('external_ids', 'system-id'): _not_empty,
    ('external_ids', 'hostname'): _not_empty,
    ('external_ids', 'ovn-remote'): _each(lambda item, field: check_target(item, field, hostnames=True)),
    ('external_ids', 'ovn-encap-type'): _each(_words('geneve', 'vxlan', 'stt')),
    ('external_ids', 'ovn-encap-ip'): _each(ip_address),
    ('external_ids', 'ovn-bridge'): lambda value, field: check_ifname(value, '%s: bridge' % field),
    ('external_ids', 'ovn-bridge-datapath-type'): _words('system', 'netdev'),
    ('external_ids', 'ovn-bridge-mappings'): _each(_bridge_mapping),
    ('external_ids', 'ovn-remote-probe-interval'): _probe_interval,
    ('external_ids', 'ovn-openflow-probe-interval'): _number(0),
    ('other_config', 'n-handler-threads'): _number(1),
    ('other_config', 'n-revalidator-threads'): _number(1),
    ('other_config', 'max-idle'): _number(500),
    ('other_config', 'flow-limit'): _number(0),
    ('other_config', 'vlan-limit'): _number(0),
    ('other_config', 'stats-update-interval'): _number(5000),
    ('other_config', 'hw-offload'): _words('true', 'false'),
    ('other_config', 'dpdk-init'): _words('true', 'false', 'try'),
}


def validate_settings(columns):
    """ovs_settings' request, {column: {key: value}}, checked: values as OVSDB strings, None to
    remove a key. PlanError names column.key, the value and what is allowed."""
    out = {}
    try:
        for column, mapping in sorted(columns.items()):
            checked = ovsdb_map(mapping, column) or {}
            for key, value in sorted(checked.items()):
                check = SETTING_CHECKS.get((column, key))
                if check is not None and value is not None:
                    checked[key] = check(value, '%s.%s' % (column, key)) or value
            out[column] = checked
    except InputError as exc:
        raise PlanError(str(exc))
    return out


# -- planning --------------------------------------------------------------------

def diff_columns(current, desired, kinds):
    """Columns to write so that ``current`` satisfies ``desired``: {column: new value}."""
    changes = {}
    for column, kind in kinds.items():
        want = desired.get(column)
        if want is None:
            continue
        have = current.get(column) if current else None
        if kind == 'scalar':
            if want != have:
                changes[column] = want
        elif kind == 'set':
            set_column(want, column)
            if sorted(want) != sorted(have or []):
                changes[column] = sorted(want)
        elif kind == 'exact':
            want = map_column(want, column, allow_none=False)
            if want != (have or {}):
                changes[column] = want
        elif kind == 'merge':
            merged = dict(have or {})
            for key, value in map_column(want, column).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if merged != (have or {}):
                changes[column] = merged
    return changes


def plan_ports(bridge, current_ports, desired_ports, purge=False, purge_filter=None):
    """Changes that make ``current_ports`` (of ``bridge``) satisfy ``desired_ports``.

    ``desired_ports`` maps port name -> {port columns..., 'interfaces': {name: {columns}}}.
    With ``purge``, ports not desired are deleted, except the bridge's own local
    port and ports for which ``purge_filter(name, port)`` returns False.
    """
    changes = []
    for name in sorted(desired_ports):
        want = desired_ports[name]
        have = current_ports.get(name)
        want_ifaces = want.get('interfaces') or {name: {}}
        if have is None:
            changes.append({
                'op': 'add_port', 'bridge': bridge, 'port': name,
                'set': diff_columns({}, want, PORT_COLUMNS),
                'interfaces': dict((i, diff_columns({}, cols, INTERFACE_COLUMNS))
                                   for i, cols in sorted(want_ifaces.items())),
            })
            continue
        cols = diff_columns(have, want, PORT_COLUMNS)
        if cols:
            changes.append({'op': 'set_port', 'bridge': bridge, 'port': name, 'set': cols})
        for iface in sorted(want_ifaces):
            icur = have['interfaces'].get(iface)
            icols = diff_columns(icur or {}, want_ifaces[iface], INTERFACE_COLUMNS)
            if icur is None:
                changes.append({'op': 'add_interface', 'bridge': bridge, 'port': name,
                                'interface': iface, 'set': icols})
            elif icols:
                changes.append({'op': 'set_interface', 'bridge': bridge, 'port': name,
                                'interface': iface, 'set': icols})
        for iface in sorted(set(have['interfaces']) - set(want_ifaces)):
            changes.append({'op': 'del_interface', 'bridge': bridge, 'port': name, 'interface': iface})
    if purge:
        for name in sorted(set(current_ports) - set(desired_ports)):
            if name == bridge:
                continue
            if purge_filter is not None and not purge_filter(name, current_ports[name]):
                continue
            changes.append({'op': 'del_port', 'bridge': bridge, 'port': name})
    return changes


def plan_bridge(state, name, desired, ports=None, purge_ports=False, purge_filter=None):
    """Changes for one bridge: create or update it, then its ports (when ``ports`` is given)."""
    current = state.get(name)
    changes = []
    if current is None:
        changes.append({'op': 'add_bridge', 'bridge': name,
                        'set': diff_columns({}, desired, BRIDGE_COLUMNS)})
        current_ports = {}
    else:
        cols = diff_columns(current, desired, BRIDGE_COLUMNS)
        if cols:
            changes.append({'op': 'set_bridge', 'bridge': name, 'set': cols})
        current_ports = current['ports']
    if ports is not None:
        changes.extend(plan_ports(name, current_ports, ports, purge_ports, purge_filter))
    return changes


def plan_bridge_absent(state, name):
    return [{'op': 'del_bridge', 'bridge': name}] if name in state else []


# -- predicting ------------------------------------------------------------------

def _empty_iface():
    return {'type': 'system', 'options': {}, 'external_ids': {}, 'other_config': {},
            'mtu_request': None, 'ofport_request': None, 'mac': None, 'bfd': {}}


def _empty_port():
    return {'tag': None, 'trunks': [], 'vlan_mode': None, 'bond_mode': None, 'lacp': None,
            'external_ids': {}, 'other_config': {}, 'interfaces': {}}


def new_bridge(name, datapath_type='system'):
    """A bridge as OVS creates it: only its local port."""
    br = {'datapath_type': datapath_type, 'fail_mode': None, 'protocols': [], 'external_ids': {},
          'other_config': {}, 'controllers': [], 'ports': {}}
    local = _empty_port()
    local['interfaces'][name] = dict(_empty_iface(), type='internal')
    br['ports'][name] = local
    return br


def simulate(state, changes):
    """The state the changes would produce (pure; ``state`` is not modified)."""
    after = copy.deepcopy(state)
    for ch in changes:
        op = ch['op']
        if op == 'add_bridge':
            br = new_bridge(ch['bridge'])
            br.update(copy.deepcopy(ch['set']))
            after[ch['bridge']] = br
        elif op == 'set_bridge':
            after[ch['bridge']].update(copy.deepcopy(ch['set']))
        elif op == 'del_bridge':
            del after[ch['bridge']]
        elif op == 'add_port':
            port = _empty_port()
            port.update(copy.deepcopy(ch['set']))
            for iname, icols in ch['interfaces'].items():
                port['interfaces'][iname] = dict(_empty_iface(), **copy.deepcopy(icols))
            after[ch['bridge']]['ports'][ch['port']] = port
        elif op == 'set_port':
            after[ch['bridge']]['ports'][ch['port']].update(copy.deepcopy(ch['set']))
        elif op == 'del_port':
            del after[ch['bridge']]['ports'][ch['port']]
        elif op == 'add_interface':
            after[ch['bridge']]['ports'][ch['port']]['interfaces'][ch['interface']] = dict(
                _empty_iface(), **copy.deepcopy(ch['set']))
        elif op == 'set_interface':
            after[ch['bridge']]['ports'][ch['port']]['interfaces'][ch['interface']].update(
                copy.deepcopy(ch['set']))
        elif op == 'del_interface':
            del after[ch['bridge']]['ports'][ch['port']]['interfaces'][ch['interface']]
    return after


# -- applying --------------------------------------------------------------------

def _write(row, column, value):
    if column in OPTIONAL_SCALARS:
        value = [] if value is None else [value]
    if column == 'type' and value == 'system':
        value = ''
    setattr(row, column, value)


def _new_interface(txn, tables, name, cols):
    row = txn.insert(tables['Interface'])
    row.name = name
    for column, value in cols.items():
        _write(row, column, value)
    return row


def _new_port(txn, tables, name, cols, interfaces):
    port = txn.insert(tables['Port'])
    port.name = name
    for column, value in cols.items():
        _write(port, column, value)
    port.interfaces = [_new_interface(txn, tables, i, c) for i, c in sorted(interfaces.items())]
    return port


def apply_changes(txn, tables, changes):
    """Write ``changes`` into ``txn``. Rows are found by name at commit time."""
    root = list(tables['Open_vSwitch'].rows.values())[0]
    bridges = dict((r.name, r) for r in tables['Bridge'].rows.values())
    ports = dict((r.name, r) for r in tables['Port'].rows.values())
    ifaces = dict((r.name, r) for r in tables['Interface'].rows.values())
    # Ref columns are written whole (read, verify, write), as ovs-vsctl does: a
    # concurrent change makes the commit return "try again" instead of losing it.
    br_ports = {}
    port_ifaces = {}

    def ports_of(br):
        if br.name not in br_ports:
            br.verify('ports')
            br_ports[br.name] = list(br.ports)
        return br_ports[br.name]

    def ifaces_of(port):
        if port.name not in port_ifaces:
            port.verify('interfaces')
            port_ifaces[port.name] = list(port.interfaces)
        return port_ifaces[port.name]

    root.verify('bridges')
    root_bridges = list(root.bridges)
    root_changed = False
    touched_bridges = set()
    touched_ports = set()

    for ch in changes:
        op = ch['op']
        if op == 'add_bridge':
            br = txn.insert(tables['Bridge'])
            br.name = ch['bridge']
            for column, value in ch['set'].items():
                if column == 'controllers':
                    br.controller = _controllers(txn, tables, [], value)
                else:
                    _write(br, column, value)
            local = _new_port(txn, tables, ch['bridge'], {}, {ch['bridge']: {'type': 'internal'}})
            br_ports[br.name] = [local]
            touched_bridges.add(br.name)
            bridges[br.name] = br
            root_bridges.append(br)
            root_changed = True
        elif op == 'set_bridge':
            br = bridges[ch['bridge']]
            for column, value in ch['set'].items():
                if column == 'controllers':
                    br.verify('controller')
                    br.controller = _controllers(txn, tables, list(br.controller), value)
                else:
                    _write(br, column, value)
        elif op == 'del_bridge':
            br = bridges[ch['bridge']]
            root_bridges = [b for b in root_bridges if b.uuid != br.uuid]
            root_changed = True
            br.delete()
        elif op == 'add_port':
            br = bridges[ch['bridge']]
            port = _new_port(txn, tables, ch['port'], ch['set'], ch['interfaces'])
            ports_of(br).append(port)
            ports[port.name] = port
            touched_bridges.add(br.name)
        elif op in ('set_port', 'set_interface'):
            row = ports[ch['port']] if op == 'set_port' else ifaces[ch['interface']]
            for column, value in ch['set'].items():
                _write(row, column, value)
        elif op in ('del_port', 'del_interface'):
            # Out of its parent's reference list (written whole at the end), then deleted.
            if op == 'del_port':
                parent, row = bridges[ch['bridge']], ports[ch['port']]
                members, lists, touched = ports_of(parent), br_ports, touched_bridges
            else:
                parent, row = ports[ch['port']], ifaces[ch['interface']]
                members, lists, touched = ifaces_of(parent), port_ifaces, touched_ports
            lists[parent.name] = [m for m in members if m.uuid != row.uuid]
            touched.add(parent.name)
            row.delete()
        elif op == 'add_interface':
            port = ports[ch['port']]
            ifaces_of(port).append(_new_interface(txn, tables, ch['interface'], ch['set']))
            touched_ports.add(port.name)
        else:  # pragma: no cover - the planner only emits the ops above
            raise PlanError('unknown change %r' % op)

    if root_changed:
        root.bridges = root_bridges
    for name in touched_bridges:
        bridges[name].ports = br_ports[name]
    for name in touched_ports:
        ports[name].interfaces = port_ifaces[name]


def _controllers(txn, tables, current_rows, targets):
    keep = [c for c in current_rows if c.target in targets]
    have = set(c.target for c in keep)
    for c in current_rows:
        if c.target not in targets:
            c.delete()
    for target in sorted(set(targets) - have):
        row = txn.insert(tables['Controller'])
        row.target = target
        keep.append(row)
    return keep


def change_label(change):
    return ' '.join('%s=%s' % (k, change[k]) for k in ('bridge', 'port', 'interface') if k in change)


def _present(columns, kinds):
    """The columns of a row that hold something, as a change that recreates the row sets them."""
    return dict((c, copy.deepcopy(columns[c])) for c in kinds if columns.get(c) not in (None, [], {}))


def undo_changes(before, changes):
    """The changes that take the database back from what ``changes`` made of ``before``.

    None when one of them removed a bridge (its rows are gone). Changes inside a bridge that
    ``changes`` created are not undone one by one: removing the bridge removes them.
    """
    added = set(ch['bridge'] for ch in changes if ch['op'] == 'add_bridge')
    undo = []
    for ch in reversed(changes):
        op, br = ch['op'], ch['bridge']
        if op == 'del_bridge':
            return None
        if op == 'add_bridge':
            undo.append({'op': 'del_bridge', 'bridge': br})
        elif br in added:
            continue
        elif op == 'set_bridge':
            undo.append({'op': op, 'bridge': br, 'set': dict((c, copy.deepcopy(before[br][c])) for c in ch['set'])})
        elif op == 'add_port':
            undo.append({'op': 'del_port', 'bridge': br, 'port': ch['port']})
        elif op == 'set_port':
            old = before[br]['ports'][ch['port']]
            undo.append({'op': op, 'bridge': br, 'port': ch['port'],
                         'set': dict((c, copy.deepcopy(old[c])) for c in ch['set'])})
        elif op == 'del_port':
            old = before[br]['ports'][ch['port']]
            undo.append({'op': 'add_port', 'bridge': br, 'port': ch['port'], 'set': _present(old, PORT_COLUMNS),
                         'interfaces': dict((i, _present(cols, INTERFACE_COLUMNS))
                                            for i, cols in old['interfaces'].items())})
        elif op == 'add_interface':
            undo.append({'op': 'del_interface', 'bridge': br, 'port': ch['port'], 'interface': ch['interface']})
        elif op == 'set_interface':
            old = before[br]['ports'][ch['port']]['interfaces'][ch['interface']]
            undo.append({'op': op, 'bridge': br, 'port': ch['port'], 'interface': ch['interface'],
                         'set': dict((c, copy.deepcopy(old[c])) for c in ch['set'])})
        elif op == 'del_interface':
            old = before[br]['ports'][ch['port']]['interfaces'][ch['interface']]
            undo.append({'op': 'add_interface', 'bridge': br, 'port': ch['port'], 'interface': ch['interface'],
                         'set': _present(old, INTERFACE_COLUMNS)})
    return undo


def unapplied(state, changes):
    """Changes that ``state`` does not reflect (a guard against writing less than planned)."""
    missing = []
    for ch in changes:
        br = state.get(ch['bridge'])
        port = br['ports'].get(ch.get('port')) if br else None
        op = ch['op']
        if op == 'del_bridge':
            target, present = None, br is not None
        elif op in ('add_bridge', 'set_bridge'):
            target, present = br, br is not None
        elif op == 'del_port':
            target, present = None, port is not None
        elif op in ('add_port', 'set_port'):
            target, present = port, port is not None
        else:
            iface = port['interfaces'].get(ch['interface']) if port else None
            target, present = iface, iface is not None
            if op == 'del_interface':
                target = None
        label = change_label(ch)
        if op.startswith('del_'):
            if present:
                missing.append('%s still there (%s)' % (label, op))
            continue
        if not present:
            missing.append('%s absent (%s)' % (label, op))
            continue
        for column, value in ch['set'].items():
            if target.get(column) != value:
                missing.append('%s %s is %r, not %r' % (label, column, target.get(column), value))
    return missing


# -- reporting -------------------------------------------------------------------

def interface_errors(tables, names):
    """Errors ovs-vswitchd reported for the named interfaces: ({name: error}, [warnings]).

    A patch port whose peer does not exist yet is a normal step when two bridges are
    patched together by two tasks; it is a warning, not a failure.
    """
    errors, warnings = {}, []
    existing = set(row.name for row in tables['Interface'].rows.values())
    for row in tables['Interface'].rows.values():
        if row.name not in names or not opt(row.error):
            continue
        peer = row.options.get('peer')
        if row.type == 'patch' and peer and peer not in existing:
            warnings.append("patch port %s waits for its peer %s, which does not exist yet" % (row.name, peer))
        else:
            errors[row.name] = opt(row.error)
    return errors, warnings


def touched_interfaces(changes):
    names = set()
    for ch in changes:
        if ch['op'] == 'add_port':
            names.update(ch['interfaces'])
        elif ch['op'] in ('add_interface', 'set_interface'):
            names.add(ch['interface'])
    return names


def bridge_view(state, name):
    """What --diff shows for one bridge (None when it does not exist)."""
    return copy.deepcopy(state.get(name))
