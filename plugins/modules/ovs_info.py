#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_info
short_description: Read Open vSwitch bridges, ports and interfaces with their run-time state
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Returns the bridges of the Open_vSwitch database with their ports and interfaces, with type,
    options, OpenFlow port number, link and admin state, MTU, BFD state and the error
    ovs-vswitchd reported, if any. Reads only.
extends_documentation_fragment:
  - netvirt.overlay.ovsdb
options:
  bridges:
    description: Only these bridges (all when not given).
    type: list
    elements: str
attributes:
  check_mode:
    description: The module only reads, in check mode as in a real run.
    support: full
  diff_mode:
    description: Nothing to show; the module changes nothing.
    support: none
seealso:
  - module: netvirt.overlay.ovs_bridge
  - module: netvirt.overlay.ovs_tunnels
'''

EXAMPLES = r'''
- name: Read the switch
  netvirt.overlay.ovs_info:
  register: ovs

- name: Every tunnel on br-tun has BFD up
  ansible.builtin.assert:
    that: item.value.bfd_status.state | default('up') == 'up'
  loop: "{{ ovs.bridges['br-tun'].interfaces | dict2items }}"
'''

RETURN = r'''
ovs_version:
  description: Version of ovs-vswitchd, as it reports it.
  returned: always
  type: str
  sample: 3.1.0
cur_cfg:
  description: Last configuration sequence number ovs-vswitchd applied.
  returned: always
  type: int
next_cfg:
  description: Last configuration sequence number requested by a client.
  returned: always
  type: int
external_ids:
  description: The switch-wide external_ids (the Open_vSwitch row's), such as C(system-id) and OVN's C(ovn-remote).
  returned: always
  type: dict
  sample: {"system-id": "hv1", "ovn-encap-type": "geneve"}
bridges:
  description: Bridges by name.
  returned: always
  type: dict
  contains:
    datapath_type:
      description: system or netdev.
      type: str
    fail_mode:
      description: standalone, secure or null.
      type: str
    protocols:
      description: OpenFlow versions.
      type: list
    controllers:
      description: Controller targets with their connection state.
      type: list
    external_ids:
      description: The bridge's external_ids.
      type: dict
    ports:
      description: Ports by name with VLAN and bond settings, external_ids, other_config and their interface names.
      type: dict
    interfaces:
      description:
        - Interfaces by name with type, options, ofport, ofport_request, link_state, admin_state,
          mtu, mtu_request, mac, mac_in_use, bfd, bfd_status, error, external_ids, other_config and
          statistics.
      type: dict
  sample: {"br-tun": {"datapath_type": "netdev", "ports": {"gre-c612010c": {"interfaces": ["gre-c612010c"]}},
           "interfaces": {"gre-c612010c": {"type": "gre", "ofport": 2, "link_state": "up", "error": null}}}}
'''

from ansible_collections.netvirt.overlay.plugins.module_utils._converge import run_module
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch_resource import Inventory


def main():
    run_module(dict(bridges=dict(type='list', elements='str')), Inventory)


if __name__ == '__main__':
    main()
