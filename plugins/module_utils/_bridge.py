# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_bridge's request: validated and turned into the desired bridge and ports."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, unicast_mac
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import check_target
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    TUNNEL_GROUP_KEY, PlanError, check_ifname, device_exists, map_column, plan_bridge, plan_bridge_absent,
    port_owners, set_column)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch_resource import PortsResource

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
    mac=dict(type='str'),
    options=dict(type='dict'),
    external_ids=dict(type='dict'),
    interface_external_ids=dict(type='dict'),
    other_config=dict(type='dict'),
)

# ovs_bridge's own options (ovs_bridges takes a list of them).
BRIDGE_ARGUMENT_SPEC = dict(
    bridge=dict(type='str', required=True, aliases=['name']),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    datapath_type=dict(type='str', choices=['system', 'netdev']),
    fail_mode=dict(type='str', choices=['standalone', 'secure']),
    protocols=dict(type='list', elements='str', choices=list(PROTOCOLS)),
    controllers=dict(type='list', elements='str'),
    external_ids=dict(type='dict'),
    other_config=dict(type='dict'),
    ports=dict(type='list', elements='dict', options=PORT_ARGUMENT_SPEC),
    purge_ports=dict(type='bool', default=False),
)


def _check_vlan(value, what):
    if value is not None and not 0 <= value <= 4095:
        raise PlanError('%s %s is outside 0-4095' % (what, value))


def _check_vlan_mode(spec, field):
    """The combinations vswitchd would take without a word, ignoring half of them."""
    mode, tag, trunks = spec.get('vlan_mode'), spec.get('tag'), spec.get('trunks')
    if mode == 'access' and trunks:
        raise PlanError('%s: an access port carries only the VLAN of its tag; trunks %s would be ignored '
                        '(vlan_mode native-untagged or native-tagged carries both)' % (field('trunks'), trunks))
    if mode == 'trunk' and tag is not None:
        raise PlanError('%s: a port with vlan_mode trunk has no tag, %s would be ignored (vlan_mode '
                        'native-untagged or native-tagged makes it the native VLAN)' % (field('tag'), tag))


def desired_port(spec, where='port'):
    """One entry of ``ports`` -> {port columns..., 'interfaces': {interface: interface columns}}.

    ``where`` names the entry in messages (ports[2]); every message starts with the field.
    """
    name = spec['name']
    check_ifname(name, '%s.name: port' % where)

    def field(key):
        return "%s.%s: port '%s'" % (where, key, name)

    members = spec.get('interfaces') or []
    is_bond = len(members) > 0
    ptype = spec.get('type') or 'system'
    if is_bond:
        if len(members) < 2:
            raise PlanError('%s: a bond needs at least two interfaces, got %s' % (field('interfaces'), members))
        set_column(members, '%s.interfaces' % where)
        for index, member in enumerate(members):
            check_ifname(member, "%s.interfaces[%d]: port '%s': bond interface" % (where, index, name))
        if ptype != 'system':
            raise PlanError("%s: a bond's members are system interfaces; type must be system" % field('type'))
        # Columns of a single interface: a bond would drop them without a word.
        for key in ('ofport', 'mac', 'options', 'interface_external_ids'):
            if spec.get(key):
                raise PlanError('%s: %s applies to a single-interface port, not to a bond' % (field(key), key))
    elif spec.get('bond_mode') or spec.get('lacp'):
        raise PlanError('%s: bond_mode and lacp apply only to bonds (ports with interfaces)'
                        % field('bond_mode' if spec.get('bond_mode') else 'lacp'))
    peer = spec.get('peer')
    if ptype == 'patch' and not peer:
        raise PlanError('%s: a patch port needs peer (the name of the patch port on the other bridge)' % field('peer'))
    if ptype != 'patch' and peer:
        raise PlanError('%s: peer is only for type patch' % field('peer'))
    if ptype == 'patch':
        check_ifname(peer, '%s: peer' % field('peer'))
        if peer == name:
            raise PlanError("%s: the peer '%s' is the port itself; a patch port's peer is the patch port "
                            "at the other end" % (field('peer'), peer))
        if spec.get('mtu') is not None:
            raise PlanError('%s: a patch port has no MTU' % field('mtu'))
    _check_vlan(spec.get('tag'), '%s: tag' % field('tag'))
    for trunk in spec.get('trunks') or []:
        _check_vlan(trunk, '%s: trunk' % field('trunks'))
    set_column(spec.get('trunks'), '%s.trunks' % where)
    _check_vlan_mode(spec, field)
    mtu = spec.get('mtu')
    if mtu is not None and not 68 <= mtu <= 65535:
        raise PlanError('%s: mtu %s is outside 68-65535' % (field('mtu'), mtu))
    ofport = spec.get('ofport')
    if ofport is not None and not 1 <= ofport <= 65279:
        raise PlanError('%s: ofport %s is outside 1-65279' % (field('ofport'), ofport))
    mac = spec.get('mac')
    if mac is not None:
        # Open vSwitch sets the address of the devices it creates only (bridge.c applies it to internal
        # ports): on any other port the column would be ignored without a word.
        if ptype != 'internal':
            raise PlanError('%s: mac applies to internal ports (Open vSwitch sets it on the device it creates); '
                            'a %s port keeps the address of its device' % (field('mac'), ptype))
        try:
            mac = unicast_mac(mac, field('mac'))
        except InputError as exc:
            raise PlanError(str(exc))
    options = map_column(spec.get('options'), '%s.options' % where, allow_none=False) or {}
    if ptype == 'patch':
        if options.get('peer', peer) != peer:
            raise PlanError("%s: options.peer '%s' and peer '%s' differ; give peer only"
                            % (field('options.peer'), options['peer'], peer))
        options['peer'] = peer

    port = {
        'tag': spec.get('tag'),
        'trunks': spec.get('trunks'),
        'vlan_mode': spec.get('vlan_mode'),
        'bond_mode': spec.get('bond_mode'),
        'lacp': spec.get('lacp'),
        'external_ids': map_column(spec.get('external_ids'), '%s.external_ids' % where),
        'other_config': map_column(spec.get('other_config'), '%s.other_config' % where),
    }
    iface = {
        'type': ptype,
        'options': options,
        'mtu_request': mtu,
        'ofport_request': ofport,
        'mac': mac,
        'external_ids': map_column(spec.get('interface_external_ids'), '%s.interface_external_ids' % where),
    }
    if is_bond:
        port['interfaces'] = dict((m, {'type': 'system', 'options': {}, 'mtu_request': mtu}) for m in members)
    else:
        port['interfaces'] = {name: iface}
    return port


def desired_ports(specs):
    """Validate ``ports`` as a whole: no name used twice, as a port or an interface; no ofport twice."""
    ports = {}
    seen_ifaces = {}
    ofports = {}
    for index, spec in enumerate(specs):
        where = 'ports[%d]' % index
        name = spec['name']
        if name in ports:
            raise PlanError("%s.name: port '%s' is listed twice" % (where, name))
        port = desired_port(spec, where)
        for iface in port['interfaces']:
            if iface in seen_ifaces:
                raise PlanError("%s: interface '%s' is used by both port '%s' and port '%s'"
                                % (where, iface, seen_ifaces[iface], name))
            seen_ifaces[iface] = name
        ofport = spec.get('ofport')
        if ofport is not None:
            if ofport in ofports:
                raise PlanError("%s.ofport: port '%s' asks for ofport %d, which port '%s' asks for too"
                                % (where, name, ofport, ofports[ofport]))
            ofports[ofport] = name
        ports[name] = port
    for index, name in enumerate(ports):
        if name in seen_ifaces and seen_ifaces[name] != name:
            raise PlanError("ports[%d].name: '%s' is both a port and a member of bond '%s'"
                            % (index, name, seen_ifaces[name]))
    return ports


def validate_bridge(params):
    """Checks that need no database: PlanError naming the field, the value and what is allowed."""
    try:
        return _validate_bridge(params)
    except InputError as exc:
        raise PlanError(str(exc))


def _validate_bridge(params):
    check_ifname(params['bridge'], 'bridge')
    for index, target in enumerate(params.get('controllers') or []):
        check_target(target, 'controllers[%d]' % index, CONTROLLER_METHODS)
    set_column(params.get('controllers'), 'controllers')
    set_column(params.get('protocols'), 'protocols')
    map_column(params.get('external_ids'), 'external_ids')
    map_column(params.get('other_config'), 'other_config')
    if params['state'] == 'absent' and params.get('ports'):
        raise PlanError('ports cannot be given with state=absent (the bridge and all its ports go)')
    if params['state'] == 'present':
        ports = desired_ports(params.get('ports') or [])
        if params['bridge'] in ports:
            raise PlanError("ports[%d].name: port '%s' has the bridge's own name; the bridge's local port is "
                            "created with it and is not listed in ports"
                            % (list(ports).index(params['bridge']), params['bridge']))
        return ports
    return None


def _where(ports, name):
    return 'ports[%d]' % list(ports).index(name)


def check_against_database(state, bridge, ports, purge=False):
    """Conflicts with what the database holds: a port or interface lives on one bridge only, a
    new bridge's name is not taken by a port, two interfaces of a bridge do not ask for one ofport."""
    port_bridge, iface_owner = port_owners(state)
    if bridge not in state and (bridge in port_bridge or bridge in iface_owner):
        # The new bridge's local port and interface take its name.
        raise PlanError("bridge: '%s' is already a port or interface on bridge '%s'; a new bridge needs a "
                        "name of its own" % (bridge, port_bridge.get(bridge) or iface_owner[bridge][0]))
    for name, port in ports.items():
        where = _where(ports, name)
        if port_bridge.get(name) not in (None, bridge):
            raise PlanError("%s.name: port '%s' already exists on bridge '%s'; a port belongs to one bridge. "
                            "Remove it there first (ovs_bridge with that bridge and purge_ports)"
                            % (where, name, port_bridge[name]))
        for iface in port['interfaces']:
            owner = iface_owner.get(iface)
            if owner and owner[0] != bridge:
                raise PlanError("%s: interface '%s' (port '%s') already belongs to port '%s' on bridge '%s'"
                                % (where, iface, name, owner[1], owner[0]))
            if owner and owner[1] != name and owner[1] not in ports and not purge:
                raise PlanError("%s: interface '%s' is in port '%s' of this bridge; list that port without "
                                "it, or set purge_ports to remove ports not listed" % (where, iface, owner[1]))
    current = (state.get(bridge) or {}).get('ports', {})
    for name, port in ports.items():
        # Without vlan_mode (given, or kept from the database) a port with a tag is an access
        # port, and vswitchd ignores its trunks.
        if port['tag'] is None and not port['trunks']:
            continue
        have = current.get(name) or {}
        mode = port['vlan_mode'] or have.get('vlan_mode')
        tag = port['tag'] if port['tag'] is not None else have.get('tag')
        trunks = port['trunks'] if port['trunks'] is not None else have.get('trunks')
        if mode in (None, 'access') and tag is not None and trunks:
            raise PlanError("%s.%s: port '%s': with tag %s and no vlan_mode the port is an access port, which "
                            "ignores trunks %s; set vlan_mode (native-untagged or native-tagged) to carry both"
                            % (_where(ports, name), 'trunks' if port['trunks'] else 'tag', name, tag, trunks))
    # ofport requests of the interfaces the bridge keeps: vswitchd gives a taken number to one of
    # the two and another number to the other, so flows that name it hit the wrong port.
    wanted = set(i for port in ports.values() for i in port['interfaces'])
    taken = {}
    for pname, port in (state.get(bridge) or {}).get('ports', {}).items():
        if purge and pname not in ports and pname != bridge and not_a_tunnel(pname, port):
            continue
        for iname, iface in port['interfaces'].items():
            if iname not in wanted and iface.get('ofport_request') is not None:
                taken[iface['ofport_request']] = iname
    for name, port in ports.items():
        for iname, iface in port['interfaces'].items():
            if iface.get('ofport_request') in taken:
                raise PlanError("%s.ofport: ofport %d is already asked for by interface '%s' of bridge '%s'"
                                % (_where(ports, name), iface['ofport_request'], taken[iface['ofport_request']],
                                   bridge))


def check_against_host(state, bridge, ports, exists=device_exists, devices_to_come=None):
    """What vswitchd would refuse only after the commit: a system interface names a network device
    that must exist; a new internal port or bridge creates one, whose name must be free; a patch
    port's peer must be a patch port.

    ``devices_to_come`` (a list; check mode) collects the missing devices of system ports instead of
    refusing them: a task before this one, which check mode did not run, may create them."""
    _port_bridge, iface_owner = port_owners(state)
    if bridge not in state and exists(bridge):
        raise PlanError("bridge: a new bridge creates a network device named '%s', and this host already "
                        "has one; choose another name" % bridge)
    for name, port in ports.items():
        where = _where(ports, name)
        is_bond = list(port['interfaces']) != [name]
        for index, (iname, iface) in enumerate(port['interfaces'].items()):
            field = '%s.interfaces[%d]' % (where, index) if is_bond else '%s.name' % where
            # Interfaces already in the database are set up, or already reported by vswitchd.
            if iname in iface_owner:
                continue
            if iface['type'] == 'system' and not exists(iname) and devices_to_come is not None:
                devices_to_come.append(iname)
            elif iface['type'] == 'system' and not exists(iname):
                raise PlanError("%s: port '%s': network device '%s' does not exist on this host (a system "
                                "port attaches an existing device; type internal makes OVS create one)"
                                % (field, name, iname))
            if iface['type'] == 'internal' and exists(iname):
                raise PlanError("%s: port '%s': an internal port creates its own network device, and this "
                                "host already has a device '%s'" % (field, name, iname))
        peer = port['interfaces'][name]['options'].get('peer') if not is_bond else None
        if peer is None or port['interfaces'][name]['type'] != 'patch':
            continue
        if peer in ports:
            peer_type = ports[peer]['interfaces'].get(peer, {}).get('type') or 'bond'
        elif peer in iface_owner:
            owner_bridge, owner_port = iface_owner[peer]
            peer_type = state[owner_bridge]['ports'][owner_port]['interfaces'][peer]['type']
        else:
            continue
        if peer_type != 'patch':
            raise PlanError("%s.peer: port '%s': the peer '%s' is a %s port, not a patch port"
                            % (where, name, peer, peer_type))


def not_a_tunnel(_name, port):
    """purge_ports keeps ports that an ovs_tunnels group owns."""
    return TUNNEL_GROUP_KEY not in port['external_ids']


def plan(params, ports, state, devices_to_come=None):
    bridge = params['bridge']
    if params['state'] == 'absent':
        return plan_bridge_absent(state, bridge)
    check_against_database(state, bridge, ports, params.get('purge_ports', False))
    check_against_host(state, bridge, ports, devices_to_come=devices_to_come)
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


class Bridge(PortsResource):
    """ovs_bridge: one bridge and (when listed) its ports."""

    def __init__(self, params, check_mode):
        super(Bridge, self).__init__(params, check_mode)
        self.name = params['bridge']
        self.ports = validate_bridge(params)
        # Check mode: a system port's device may come from an earlier task that check mode did not run.
        self.devices_to_come = [] if check_mode else None

    def comment(self):
        return 'netvirt.overlay.ovs_bridge %s' % self.name

    def plan(self, before):
        if self.devices_to_come:
            del self.devices_to_come[:]  # planned again when the database moved under the commit
        return plan(self.params, self.ports, before, devices_to_come=self.devices_to_come)

    def report(self, before, changes, after):
        if self.devices_to_come:
            self.warnings.append('network device(s) %s do not exist yet: check mode assumes that an earlier task '
                                 'creates them (a real run fails if none does)' % ', '.join(sorted(set(self.devices_to_come))))
        name = self.name
        return (dict(changes=changes, bridge=after.get(name)), {name: before[name]} if name in before else {},
                {name: after[name]} if name in after else {})
