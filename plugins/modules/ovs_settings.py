#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_settings
short_description: Switch-wide Open vSwitch settings (the Open_vSwitch table's external_ids and other_config)
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Sets keys of the single row of the Open_vSwitch table, such as C(external_ids:system-id) or
    OVN's C(ovn-remote), C(ovn-encap-type) and C(ovn-encap-ip), in one OVSDB transaction.
  - Keys listed are set, keys given a null value are removed, other keys are left alone.
  - The request is checked before the module connects; a refusal names the key (for example
    C(external_ids.ovn-encap-ip)), the value and what is allowed. Keys are non-empty strings,
    values strings, numbers or booleans (stored as C(true)/C(false)); a list or a dict is refused.
  - Keys that ovs-vswitchd or ovn-controller would misread or ignore are checked too -
    C(external_ids) C(system-id) and C(hostname) (not empty), C(ovn-remote) (C(tcp:HOST:PORT),
    C(ssl:HOST:PORT) or C(unix:PATH), comma-separated), C(ovn-encap-type) (V(geneve), V(vxlan),
    V(stt)), C(ovn-encap-ip) (IP addresses), C(ovn-bridge), C(ovn-bridge-datapath-type)
    (V(system), V(netdev)), C(ovn-bridge-mappings) (C(NETWORK:BRIDGE),...),
    C(ovn-remote-probe-interval) (0 or at least 1000 ms), C(ovn-openflow-probe-interval);
    C(other_config) C(n-handler-threads), C(n-revalidator-threads) (at least 1), C(max-idle) (at
    least 500), C(flow-limit), C(vlan-limit), C(stats-update-interval) (at least 5000),
    C(hw-offload) (V(true), V(false)) and C(dpdk-init) (V(true), V(false), V(try)).
extends_documentation_fragment:
  - netvirt.overlay.ovsdb
  - netvirt.overlay.ovsdb.wait
  - netvirt.overlay.attributes
options:
  external_ids:
    description: Keys of external_ids to set (or, with a null value, remove).
    type: dict
    default: {}
  other_config:
    description: Keys of other_config to set (or, with a null value, remove).
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Make this host an OVN chassis
  netvirt.overlay.ovs_settings:
    external_ids:
      system-id: hv1
      ovn-remote: ssl:198.18.0.21:6642,ssl:198.18.0.22:6642,ssl:198.18.0.23:6642
      ovn-encap-type: geneve
      ovn-encap-ip: 198.18.1.11
      ovn-bridge-datapath-type: netdev
'''

RETURN = r'''
changes:
  description: Columns written, with their new whole value (empty when nothing changed).
  returned: always
  type: dict
  sample: {"external_ids": {"system-id": "hv1"}}
settings:
  description: external_ids and other_config after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {"external_ids": {"system-id": "hv1"}, "other_config": {}}
'''

from ansible_collections.netvirt.overlay.plugins.module_utils._converge import run_module
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch_resource import Settings

ARGUMENT_SPEC = dict(
    external_ids=dict(type='dict', default={}),
    other_config=dict(type='dict', default={}),
)


def main():
    run_module(ARGUMENT_SPEC, Settings)


if __name__ == '__main__':
    main()
