#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_bridge
short_description: Manage an Open vSwitch bridge and its ports, in one OVSDB transaction
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Declares one Open vSwitch bridge and, optionally, the ports it holds (system ports,
    internal ports such as C(tep0) or C(mgmt0), bonds, VLAN settings, patch ports).
  - Reads the database, computes the changes, and applies them as one OVSDB transaction, then
    waits until C(ovs-vswitchd) has applied them. Nothing is written when the request is invalid.
  - The whole request is checked before anything is written, and a refusal names the field (for
    example C(ports[1].peer), list items counted from 0), the value and what is allowed. Besides
    the types and ranges below, it checks against the host and the database that a system
    interface (a port without O(ports[].type), or a bond member) names a network device that
    exists, that a new internal port or a new bridge does not take the name of an existing device
    or port, that a patch port's peer is not itself nor a port of another type, and that no two
    interfaces of the bridge ask for one O(ports[].ofport).
  - Should C(ovs-vswitchd) still refuse an interface this task added or changed, the task rolls
    its transaction back (a second transaction) and fails, saying what was refused and undone.
  - Maps (O(external_ids), O(other_config), and the same options of ports) are merged. Keys
    listed are set, keys given a null value are removed, keys not listed are left alone. Values
    are strings, numbers or booleans (stored as C(true)/C(false)); a list or a dict is refused.
  - Tunnel ports are managed with M(netvirt.overlay.ovs_tunnels); O(purge_ports) leaves them alone.
extends_documentation_fragment:
  - netvirt.overlay.ovsdb
  - netvirt.overlay.ovsdb.wait
  - netvirt.overlay.attributes
options:
  bridge:
    description: Name of the bridge (at most 15 characters).
    type: str
    required: true
    aliases: [name]
  state:
    description: Whether the bridge exists. V(absent) removes the bridge with all its ports.
    type: str
    choices: [present, absent]
    default: present
  datapath_type:
    description:
      - V(system) uses the kernel datapath, V(netdev) the userspace datapath (needed where the
        kernel has no openvswitch module). Left as it is when not given.
    type: str
    choices: [system, netdev]
  fail_mode:
    description: What the bridge does when no controller is connected.
    type: str
    choices: [standalone, secure]
  protocols:
    description: OpenFlow versions the bridge accepts, each listed once.
    type: list
    elements: str
    choices: [OpenFlow10, OpenFlow11, OpenFlow12, OpenFlow13, OpenFlow14, OpenFlow15]
  controllers:
    description:
      - OpenFlow controller targets (the whole list, each listed once), for example V(tcp:192.0.2.10:6653).
      - C(tcp:IP:PORT) or C(ssl:IP:PORT) (an IPv6 address in brackets), C(ptcp:[PORT][:IP]),
        C(pssl:[PORT][:IP]), C(unix:PATH) or C(punix:PATH).
    type: list
    elements: str
  external_ids:
    description: Keys to set (or, with a null value, remove) in the bridge's external_ids.
    type: dict
  other_config:
    description: Keys to set (or, with a null value, remove) in the bridge's other_config.
    type: dict
  ports:
    description:
      - The ports the bridge must hold. Ports not listed are left alone unless O(purge_ports) is set.
      - When not given, the bridge's ports are not looked at.
    type: list
    elements: dict
    suboptions:
      name:
        description: Port name (at most 15 characters). For a single-interface port it is also the interface name.
        type: str
        required: true
      type:
        description:
          - Interface type. A bond (O(ports[].interfaces)) is made of system interfaces.
          - V(system) attaches a network device that must exist on the host; V(internal) makes
            OVS create a device of the port's name, which must not exist yet.
        type: str
        choices: [system, internal, patch, tap, dummy]
        default: system
      peer:
        description: For V(patch) ports, the patch port at the other end (not the port itself).
        type: str
      interfaces:
        description:
          - Makes the port a bond of these (at least two, each listed once) system interfaces.
          - O(ports[].ofport), O(ports[].options) and O(ports[].interface_external_ids) do not apply to a bond.
        type: list
        elements: str
      bond_mode:
        description: Bond balancing. Only for bonds.
        type: str
        choices: [active-backup, balance-slb, balance-tcp]
      lacp:
        description: LACP negotiation. Only for bonds.
        type: str
        choices: [active, passive, 'off']
      tag:
        description: Access VLAN (0-4095).
        type: int
      trunks:
        description:
          - VLANs a trunk port carries (0-4095 each, each listed once).
          - Not with O(ports[].vlan_mode=access), nor with O(ports[].tag) unless O(ports[].vlan_mode)
            is V(native-tagged) or V(native-untagged) (the port would ignore them).
        type: list
        elements: int
      vlan_mode:
        description: VLAN mode of the port. V(trunk) takes no O(ports[].tag).
        type: str
        choices: [access, trunk, native-tagged, native-untagged, dot1q-tunnel]
      mtu:
        description: MTU requested for the interface(s) (68-65535). Patch ports have none.
        type: int
      ofport:
        description:
          - OpenFlow port number to request (1-65279), so flows can name it. No other interface of
            the bridge may ask for the same number.
        type: int
      mac:
        description:
          - MAC address of an internal port's device (a unicast V(xx:xx:xx:xx:xx:xx)), which Open vSwitch
            sets whenever it creates the device (every start of ovs-vswitchd, every boot).
          - Without it a new internal port gets a random address at each creation. Set it on a port that
            carries an address other hosts cache, such as a tunnel endpoint, so that a reboot does not
            leave its neighbours with a MAC address that is gone.
          - Only for O(ports[].type=internal). Left as it is when not given.
        type: str
        version_added: 0.2.0
      options:
        description:
          - Interface options, as a whole (for example O(ports[].peer) ends up here). Each key needs a value.
        type: dict
      external_ids:
        description: Keys to set or (null value) remove in the port's external_ids.
        type: dict
      interface_external_ids:
        description: Keys to set or (null value) remove in the interface's external_ids (for example C(iface-id)).
        type: dict
      other_config:
        description: Keys to set or (null value) remove in the port's other_config.
        type: dict
  purge_ports:
    description:
      - Remove ports of this bridge that are not listed in O(ports). The bridge's own local port
        and tunnel ports owned by M(netvirt.overlay.ovs_tunnels) are kept.
    type: bool
    default: false
notes:
  - A port or an interface belongs to one bridge. Naming a port that is on another bridge is an error; nothing is moved silently.
  - The device checks look at the network namespace the module runs in, which is the one ovs-vswitchd
    uses on a normal host.
seealso:
  - module: netvirt.overlay.ovs_tunnels
  - module: netvirt.overlay.ovs_info
  - module: netvirt.overlay.interface_address
'''

EXAMPLES = r'''
- name: Underlay bridge with the NIC and a tunnel endpoint port (userspace datapath)
  netvirt.overlay.ovs_bridge:
    bridge: br-phy
    datapath_type: netdev
    ports:
      - name: eth1
      - name: tep0
        type: internal
        mtu: 1500

- name: Management bridge on an LACP bond, with an internal management port in VLAN 10
  netvirt.overlay.ovs_bridge:
    bridge: br0
    ports:
      - name: bond0
        interfaces: [eth0, eth1]
        bond_mode: balance-tcp
        lacp: active
      - name: mgmt0
        type: internal
        tag: 10

- name: Isolated integration bridge, patched to a tunnel bridge, nothing else on it
  netvirt.overlay.ovs_bridge:
    bridge: br-int
    datapath_type: netdev
    fail_mode: secure
    protocols: [OpenFlow13]
    ports:
      - name: patch-tun
        type: patch
        peer: patch-int
    purge_ports: true

- name: Remove a bridge
  netvirt.overlay.ovs_bridge:
    bridge: br-old
    state: absent
'''

RETURN = r'''
changes:
  description:
    - The changes planned (check mode) or written in one OVSDB transaction, in order.
      Each has C(op) (add_bridge, set_bridge, del_bridge, add_port, set_port, del_port,
      add_interface, set_interface, del_interface), the names involved and the columns C(set).
  returned: always
  type: list
  elements: dict
  sample: [{"op": "add_port", "bridge": "br-phy", "port": "tep0", "set": {}, "interfaces": {"tep0": {"type": "internal"}}}]
bridge:
  description: The bridge after the run (predicted in check mode); null when absent.
  returned: always
  type: dict
  sample: {"datapath_type": "netdev", "fail_mode": null, "protocols": [], "controllers": [], "ports": {}}
'''

from ansible_collections.netvirt.overlay.plugins.module_utils._bridge import BRIDGE_ARGUMENT_SPEC, Bridge
from ansible_collections.netvirt.overlay.plugins.module_utils._converge import run_module


def main():
    run_module(BRIDGE_ARGUMENT_SPEC, Bridge)


if __name__ == '__main__':
    main()
