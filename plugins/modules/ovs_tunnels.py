#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_tunnels
short_description: Manage the set of Open vSwitch tunnel ports towards a list of endpoints
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Declares one tunnel port (GRE, VXLAN, Geneve or STT) on a bridge for every remote tunnel
    endpoint in O(remotes), all with the same settings, in one OVSDB transaction however many
    there are (a 500-endpoint mesh is one commit).
  - Port names are derived from the remote address, so they are the same on every run and every
    host, at most 15 characters; for IPv4 the name spells the address in hex
    (C(gre-c612000b) is 198.18.0.11).
  - Every port it creates is marked with the tunnel O(group) in its external_ids. With O(purge),
    ports of the same group whose remote is no longer listed are removed; ports it did not create
    are never touched.
  - The whole input is checked before the module connects (addresses, ranges, names, option
    values), and what needs the database (the bridge, its datapath type, ports that exist) before
    anything is written; a refusal names the field, the value and what is allowed, and changes
    nothing.
extends_documentation_fragment:
  - netvirt.overlay.attributes
  - netvirt.overlay.ovsdb
  - netvirt.overlay.ovsdb.wait
options:
  bridge:
    description: The bridge that holds the tunnel ports. It must exist.
    type: str
    required: true
  tunnel_type:
    description:
      - Encapsulation. V(stt) needs the out-of-tree kernel datapath; the userspace datapath
        tunnels V(gre), V(vxlan) and V(geneve). V(stt) on a bridge whose datapath_type is not
        V(system) is refused before anything is written.
    type: str
    choices: [gre, vxlan, geneve, stt]
    default: gre
    aliases: [type]
  remotes:
    description:
      - Remote tunnel endpoints. Each item is an IP address, or a dict with C(remote_ip) and
        optionally C(name) (port name, a valid interface name of at most 15 characters), C(key)
        (as O(key)) and C(options) (a dict, as O(options); these override O(options) for that one
        tunnel).
      - Addresses are unicast IPv4 or IPv6 addresses (not names, not multicast, broadcast or
        0.0.0.0/::) of the same IP version as O(local_ip), each listed once.
      - An item that is a plain address equal to O(local_ip) is skipped, so the whole endpoint
        list of a deployment can be passed to every host; a dict item equal to O(local_ip) is
        refused.
      - A tunnel that would have the same type, destination port, remote, local address and key
        as another tunnel port in the database (vswitchd would ignore the second one) is refused.
    type: list
    elements: raw
    required: true
  local_ip:
    description:
      - Source address of the tunnels (this host's tunnel endpoint), a unicast IPv4 or IPv6
        address. V(flow) is refused (vswitchd accepts it only with a remote of V(flow)).
    type: str
  key:
    description:
      - Tunnel key (GRE key, VXLAN/Geneve VNI) as a number, or V(flow) to let OpenFlow set it
        per packet (one tunnel port then carries every tenant network).
      - 0 to 4294967295 (32 bits) for V(gre) and V(stt), 0 to 16777215 (24 bits) for V(vxlan)
        and V(geneve); decimal or 0x hex.
    type: str
  dst_port:
    description: Destination port (VXLAN, Geneve, STT), 1 to 65535. Refused for GRE, which has none.
    type: int
  csum:
    description: Compute checksums on the outer packets.
    type: bool
  ttl:
    description: Outer TTL, 1 to 255, or V(inherit) to copy it from the inner packet.
    type: raw
  tos:
    description:
      - Outer ToS, 0 to 252 with the two ECN bits clear (a DSCP value times 4; vswitchd ignores
        any other number), or V(inherit) to copy it from the inner packet.
    type: raw
  df_default:
    description: Set the Don't Fragment bit on outer packets.
    type: bool
  options:
    description:
      - Further interface options, applied to every tunnel. Values are strings, numbers or
        booleans (stored as V(true)/V(false), the only words vswitchd reads); lists and dicts are
        refused.
      - Options that have a parameter of their own (C(local_ip), C(key), C(dst_port), C(csum),
        C(ttl), C(tos), C(df_default)) are checked as that parameter, and may be given here or
        there, not in both; C(in_key) and C(out_key) as O(key); C(seq) and C(layer3) must be
        booleans. C(remote_ip) is refused (it comes from O(remotes)).
    type: dict
  bfd:
    description: Run BFD on every tunnel (the state shows in M(netvirt.overlay.ovs_info)).
    type: bool
    default: false
  bfd_min_rx:
    description:
      - BFD minimum receive interval in milliseconds, 1 to 4294967 (BFD sends it as 32-bit
        microseconds). Checked, but not applied, when O(bfd) is false.
    type: int
  bfd_min_tx:
    description: BFD minimum transmit interval in milliseconds, as O(bfd_min_rx).
    type: int
  group:
    description:
      - Ownership mark written to every port this task manages; purge stays inside it. Not empty.
    type: str
    default: default
  name_prefix:
    description:
      - Start of the port names (at most 6 characters of letters, digits and C(_.:@+-)).
        Defaults to O(tunnel_type).
    type: str
  purge:
    description: Remove this group's tunnel ports on O(bridge) whose remote is not in O(remotes).
    type: bool
    default: false
seealso:
  - module: netvirt.overlay.ovs_bridge
  - module: netvirt.overlay.ovs_info
'''

EXAMPLES = r'''
- name: GRE tunnels from this hypervisor to every other tunnel endpoint (the classic OVS GRE recipe)
  netvirt.overlay.ovs_tunnels:
    bridge: br-tun
    tunnel_type: gre
    local_ip: 198.18.1.11
    key: flow
    remotes: "{{ groups['hypervisors'] | map('extract', hostvars, 'overlay_tep_ip') | list }}"
    purge: true

- name: VXLAN with BFD towards two service nodes, in their own group
  netvirt.overlay.ovs_tunnels:
    bridge: br-tun
    tunnel_type: vxlan
    local_ip: 198.18.1.11
    key: flow
    bfd: true
    bfd_min_rx: 300
    bfd_min_tx: 300
    group: service-nodes
    remotes:
      - 198.18.1.31
      - remote_ip: 198.18.1.32
        name: sn2
'''

RETURN = r'''
changes:
  description: The changes planned (check mode) or written in one OVSDB transaction.
  returned: always
  type: list
  elements: dict
  sample: [{"op": "add_port", "bridge": "br-tun", "port": "gre-c612010c", "set": {}, "interfaces": {}}]
tunnels:
  description: Tunnel ports of this group on the bridge after the run, by port name, with the remote they reach.
  returned: always
  type: dict
  sample: {"gre-c612010c": {"remote_ip": "198.18.1.12", "type": "gre", "options": {"key": "flow", "remote_ip": "198.18.1.12"}}}
'''

from ansible_collections.netvirt.overlay.plugins.module_utils._converge import run_module
from ansible_collections.netvirt.overlay.plugins.module_utils._tunnels import TUNNELS_ARGUMENT_SPEC, Tunnels


def main():
    run_module(TUNNELS_ARGUMENT_SPEC, Tunnels)


if __name__ == '__main__':
    main()
