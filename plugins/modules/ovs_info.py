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
    description: Check mode plans the same changes a real run would make and writes nothing.
    support: full
  diff_mode:
    description: Shows the state before and after (predicted in check mode).
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
      description: Ports by name with VLAN and bond settings and their interface names.
      type: dict
    interfaces:
      description:
        - Interfaces by name with type, options, ofport, link_state, admin_state, mtu,
          mac_in_use, bfd, bfd_status, error, external_ids and statistics.
      type: dict
  sample: {"br-tun": {"datapath_type": "netdev", "ports": {"gre-c612010c": {"interfaces": ["gre-c612010c"]}},
           "interfaces": {"gre-c612010c": {"type": "gre", "ofport": 2, "link_state": "up", "error": null}}}}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    CONNECTION_ARGUMENT_SPEC, OvsdbError, connect_or_fail)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import opt


def interface_info(row):
    return {
        'type': row.type or 'system',
        'options': dict(row.options),
        'ofport': opt(row.ofport),
        'link_state': opt(row.link_state),
        'admin_state': opt(row.admin_state),
        'mtu': opt(row.mtu),
        'mtu_request': opt(row.mtu_request),
        'mac_in_use': opt(row.mac_in_use),
        'bfd': dict(row.bfd),
        'bfd_status': dict(row.bfd_status),
        'error': opt(row.error),
        'external_ids': dict(row.external_ids),
        'statistics': dict(row.statistics),
    }


def bridge_info(br):
    ports, interfaces = {}, {}
    for port in br.ports:
        ports[port.name] = {
            'tag': opt(port.tag),
            'trunks': sorted(port.trunks),
            'vlan_mode': opt(port.vlan_mode),
            'bond_mode': opt(port.bond_mode),
            'lacp': opt(port.lacp),
            'external_ids': dict(port.external_ids),
            'interfaces': sorted(i.name for i in port.interfaces),
        }
        for iface in port.interfaces:
            interfaces[iface.name] = interface_info(iface)
    return {
        'datapath_type': br.datapath_type or 'system',
        'fail_mode': opt(br.fail_mode),
        'protocols': sorted(br.protocols),
        'controllers': [{'target': c.target, 'is_connected': c.is_connected} for c in br.controller],
        'external_ids': dict(br.external_ids),
        'other_config': dict(br.other_config),
        'ports': ports,
        'interfaces': interfaces,
    }


def main():
    argument_spec = dict(bridges=dict(type='list', elements='str'))
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    wanted = module.params['bridges']

    client = connect_or_fail(module)
    try:
        root = client.rows('Open_vSwitch')[0]
        bridges = dict((br.name, bridge_info(br)) for br in client.rows('Bridge')
                       if wanted is None or br.name in wanted)
        result = dict(changed=False, bridges=bridges, ovs_version=opt(root.ovs_version),
                      cur_cfg=root.cur_cfg, next_cfg=root.next_cfg)
    except (OvsdbError, IndexError) as exc:
        module.fail_json(msg='cannot read the Open_vSwitch database: %s' % exc)
    finally:
        client.close()
    missing = sorted(set(wanted or []) - set(bridges))
    if missing:
        module.fail_json(msg='no such bridge: %s' % ', '.join(missing), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
