# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_bridge's request: validated and turned into the desired bridge and ports."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    TUNNEL_GROUP_KEY, PlanError, check_ifname, plan_bridge, plan_bridge_absent, port_owners)

PORT_TYPES = ('system', 'internal', 'patch', 'tap', 'dummy')
VLAN_MODES = ('access', 'trunk', 'native-tagged', 'native-untagged', 'dot1q-tunnel')
BOND_MODES = ('active-backup', 'balance-slb', 'balance-tcp')
LACP_MODES = ('active', 'passive', 'off')
PROTOCOLS = ('OpenFlow10', 'OpenFlow11', 'OpenFlow12', 'OpenFlow13', 'OpenFlow14', 'OpenFlow15')
CONTROLLER_METHODS = ('tcp', 'ssl', 'unix', 'ptcp', 'pssl', 'punix')

PORT_ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    type=dict(type='str', default='system', choices=list(PORT_TYPES)),
    peer=dict(type='str'),
    interfaces=dict(type='list', elements='str'),
    bond_mode=dict(type='str', choices=list(BOND_MODES)),
    lacp=dict(type='str', choices=list(LACP_MODES)),
    tag=dict(type='int'),
    trunks=dict(type='list', elements='int'),
    vlan_mode=dict(type='str', choices=list(VLAN_MODES)),
    mtu=dict(type='int'),
    ofport=dict(type='int'),
    options=dict(type='dict'),
    external_ids=dict(type='dict'),
    interface_external_ids=dict(type='dict'),
    other_config=dict(type='dict'),
)


def _check_vlan(value, what):
    if value is not None and not 0 <= value <= 4095:
        raise PlanError('%s %s is outside 0-4095' % (what, value))


def desired_port(spec):
    """One entry of ``ports`` -> (port columns, {interface: interface columns})."""
    name = spec['name']
    check_ifname(name, 'port')
    members = spec.get('interfaces') or []
    is_bond = len(members) > 0
    if is_bond and len(members) < 2:
        raise PlanError("port '%s': a bond needs at least two interfaces, got %s" % (name, members))
    if not is_bond and (spec.get('bond_mode') or spec.get('lacp')):
        raise PlanError("port '%s': bond_mode and lacp apply only to bonds (ports with interfaces)" % name)
    if is_bond and spec.get('type', 'system') != 'system':
        raise PlanError("port '%s': a bond's members are system interfaces; type must be system" % name)
    ptype = spec.get('type') or 'system'
    if ptype == 'patch' and not spec.get('peer'):
        raise PlanError("port '%s': a patch port needs peer (the name of the patch port on the other bridge)" % name)
    if ptype != 'patch' and spec.get('peer'):
        raise PlanError("port '%s': peer is only for type patch" % name)
    _check_vlan(spec.get('tag'), "port '%s': tag" % name)
    for trunk in spec.get('trunks') or []:
        _check_vlan(trunk, "port '%s': trunk" % name)
    mtu = spec.get('mtu')
    if mtu is not None and not 68 <= mtu <= 65535:
        raise PlanError("port '%s': mtu %s is outside 68-65535" % (name, mtu))
    ofport = spec.get('ofport')
    if ofport is not None and not 1 <= ofport <= 65279:
        raise PlanError("port '%s': ofport %s is outside 1-65279" % (name, ofport))

    port = {
        'tag': spec.get('tag'),
        'trunks': spec.get('trunks'),
        'vlan_mode': spec.get('vlan_mode'),
        'bond_mode': spec.get('bond_mode'),
        'lacp': spec.get('lacp'),
        'external_ids': spec.get('external_ids'),
        'other_config': spec.get('other_config'),
    }
    options = dict(spec.get('options') or {})
    if ptype == 'patch':
        options['peer'] = spec['peer']
    iface = {
        'type': ptype,
        'options': options,
        'mtu_request': mtu,
        'ofport_request': ofport,
        'external_ids': spec.get('interface_external_ids'),
    }
    if is_bond:
        for member in members:
            check_ifname(member, "port '%s': bond interface" % name)
        port['interfaces'] = dict((m, {'type': 'system', 'options': {}, 'mtu_request': mtu}) for m in members)
    else:
        port['interfaces'] = {name: iface}
    return port


def desired_ports(specs):
    """Validate ``ports`` as a whole: no name used twice, as a port or an interface."""
    ports = {}
    seen_ifaces = {}
    for spec in specs:
        name = spec['name']
        if name in ports:
            raise PlanError("port '%s' is listed twice" % name)
        port = desired_port(spec)
        for iface in port['interfaces']:
            if iface in seen_ifaces:
                raise PlanError("interface '%s' is used by both port '%s' and port '%s'"
                                % (iface, seen_ifaces[iface], name))
            seen_ifaces[iface] = name
        ports[name] = port
    for name in ports:
        if name in seen_ifaces and seen_ifaces[name] != name:
            raise PlanError("'%s' is both a port and a member of bond '%s'" % (name, seen_ifaces[name]))
    return ports


def validate_bridge(params):
    """Checks that need no database: raise PlanError with what to fix."""
    check_ifname(params['bridge'], 'bridge')
    for target in params.get('controllers') or []:
        if target.split(':', 1)[0] not in CONTROLLER_METHODS or ':' not in target:
            raise PlanError("controller '%s' must look like tcp:IP:PORT, ssl:IP:PORT, unix:PATH, "
                            "ptcp:PORT, pssl:PORT or punix:PATH" % target)
    if params['state'] == 'absent' and params.get('ports'):
        raise PlanError('ports cannot be given with state=absent (the bridge and all its ports go)')
    if params['state'] == 'present':
        ports = desired_ports(params.get('ports') or [])
        if params['bridge'] in ports:
            raise PlanError("port '%s' has the bridge's own name; the bridge's local port is "
                            "created with it and is not listed in ports" % params['bridge'])
        return ports
    return None


def check_against_database(state, bridge, ports, purge=False):
    """Conflicts with what other bridges hold: a port or interface lives on one bridge only."""
    port_bridge, iface_owner = port_owners(state)
    for name, port in sorted(ports.items()):
        if port_bridge.get(name) not in (None, bridge):
            raise PlanError("port '%s' already exists on bridge '%s'; a port belongs to one bridge. "
                            "Remove it there first (ovs_bridge with that bridge and purge_ports)"
                            % (name, port_bridge[name]))
        for iface in port['interfaces']:
            owner = iface_owner.get(iface)
            if owner and owner[0] != bridge:
                raise PlanError("interface '%s' (port '%s') already belongs to port '%s' on bridge '%s'"
                                % (iface, name, owner[1], owner[0]))
            if owner and owner[1] != name and owner[1] not in ports and not purge:
                raise PlanError("interface '%s' is in port '%s' of this bridge; list that port without "
                                "it, or set purge_ports to remove ports not listed" % (iface, owner[1]))


def not_a_tunnel(_name, port):
    """purge_ports keeps ports that an ovs_tunnels group owns."""
    return TUNNEL_GROUP_KEY not in port['external_ids']


def plan(params, ports, state):
    bridge = params['bridge']
    if params['state'] == 'absent':
        return plan_bridge_absent(state, bridge)
    check_against_database(state, bridge, ports, params.get('purge_ports', False))
    desired = {
        'datapath_type': params.get('datapath_type'),
        'fail_mode': params.get('fail_mode'),
        'protocols': params.get('protocols'),
        'external_ids': params.get('external_ids'),
        'other_config': params.get('other_config'),
        'controllers': params.get('controllers'),
    }
    port_specs = ports if (params.get('ports') is not None or params.get('purge_ports')) else None
    return plan_bridge(state, bridge, desired, port_specs, params.get('purge_ports', False), not_a_tunnel)
