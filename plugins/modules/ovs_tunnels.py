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
extends_documentation_fragment:
  - netvirt.overlay.ovsdb
  - netvirt.overlay.attributes
options:
  bridge:
    description: The bridge that holds the tunnel ports. It must exist.
    type: str
    required: true
  tunnel_type:
    description:
      - Encapsulation. V(stt) needs the out-of-tree kernel datapath; the userspace datapath
        tunnels V(gre), V(vxlan) and V(geneve).
    type: str
    choices: [gre, vxlan, geneve, stt]
    default: gre
    aliases: [type]
  remotes:
    description:
      - Remote tunnel endpoints. Each item is an IP address, or a dict with C(remote_ip) and
        optionally C(name) (port name), C(key) and C(options) for that one tunnel.
      - An item equal to O(local_ip) is skipped, so the whole endpoint list of a deployment can
        be passed to every host.
    type: list
    elements: raw
    required: true
  local_ip:
    description: Source address of the tunnels (this host's tunnel endpoint).
    type: str
  key:
    description:
      - Tunnel key (GRE key, VXLAN/Geneve VNI) as a number, or V(flow) to let OpenFlow set it
        per packet (one tunnel port then carries every tenant network).
    type: str
  dst_port:
    description: UDP destination port (VXLAN, Geneve, STT). Not for GRE.
    type: int
  csum:
    description: Compute checksums on the outer packets.
    type: bool
  ttl:
    description: Outer TTL.
    type: int
  tos:
    description: Outer ToS, a number or V(inherit).
    type: str
  df_default:
    description: Set the Don't Fragment bit on outer packets.
    type: bool
  options:
    description: Further interface options, applied to every tunnel (values are strings).
    type: dict
  bfd:
    description: Run BFD on every tunnel (the state shows in M(netvirt.overlay.ovs_info)).
    type: bool
    default: false
  bfd_min_rx:
    description: BFD minimum receive interval in milliseconds.
    type: int
  bfd_min_tx:
    description: BFD minimum transmit interval in milliseconds.
    type: int
  group:
    description: Ownership mark written to every port this task manages; purge stays inside it.
    type: str
    default: default
  name_prefix:
    description: Start of the port names (at most 6 characters). Defaults to O(tunnel_type).
    type: str
  purge:
    description: Remove this group's tunnel ports on O(bridge) whose remote is not in O(remotes).
    type: bool
    default: false
  wait:
    description: Wait until ovs-vswitchd has applied the change (needs ovs-vswitchd running).
    type: bool
    default: true
seealso:
  - module: netvirt.overlay.ovs_bridge
  - module: netvirt.overlay.ovs_info
'''

EXAMPLES = r'''
- name: GRE tunnels from this hypervisor to every other tunnel endpoint (the seed's recipe)
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import CONNECTION_ARGUMENT_SPEC
from ansible_collections.netvirt.overlay.plugins.module_utils._tunnels import (
    REMOTE_KEY, TUNNEL_TYPES, desired_tunnels, plan)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import TUNNEL_GROUP_KEY, PlanError
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch_module import run_and_exit


def group_ports(bridge_state, group):
    if bridge_state is None:
        return {}
    return dict((name, port) for name, port in bridge_state['ports'].items()
                if port['external_ids'].get(TUNNEL_GROUP_KEY) == group)


def summary(ports):
    out = {}
    for name, port in sorted(ports.items()):
        iface = port['interfaces'].get(name) or {}
        out[name] = {'remote_ip': port['external_ids'].get(REMOTE_KEY), 'type': iface.get('type'),
                     'options': iface.get('options'), 'bfd': iface.get('bfd')}
    return out


def main():
    argument_spec = dict(
        bridge=dict(type='str', required=True),
        tunnel_type=dict(type='str', default='gre', choices=list(TUNNEL_TYPES), aliases=['type']),
        remotes=dict(type='list', elements='raw', required=True),
        local_ip=dict(type='str'),
        key=dict(type='str', no_log=False),
        dst_port=dict(type='int'),
        csum=dict(type='bool'),
        ttl=dict(type='int'),
        tos=dict(type='str'),
        df_default=dict(type='bool'),
        options=dict(type='dict'),
        bfd=dict(type='bool', default=False),
        bfd_min_rx=dict(type='int'),
        bfd_min_tx=dict(type='int'),
        group=dict(type='str', default='default'),
        name_prefix=dict(type='str'),
        purge=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    try:
        ports = desired_tunnels(params)
    except PlanError as exc:
        module.fail_json(msg=str(exc))

    bridge, group = params['bridge'], params['group']

    def report(before, after):
        tunnels = summary(group_ports(after.get(bridge), group))
        return dict(tunnels=tunnels), summary(group_ports(before.get(bridge), group)), tunnels

    run_and_exit(module, lambda state: plan(params, ports, state),
                 'netvirt.overlay.ovs_tunnels %s group %s' % (bridge, group), report)


if __name__ == '__main__':
    main()
