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
  wait:
    description: Wait until ovs-vswitchd has applied the change (needs ovs-vswitchd running).
    type: bool
    default: true
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    CONNECTION_ARGUMENT_SPEC, OvsdbError, connect_or_fail, server_not_there, validate_connection_params)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    PlanError, diff_columns, validate_settings)

COLUMNS = {'external_ids': 'merge', 'other_config': 'merge'}


def main():
    argument_spec = dict(
        external_ids=dict(type='dict', default={}),
        other_config=dict(type='dict', default={}),
        wait=dict(type='bool', default=True),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        desired = validate_settings(dict((k, module.params[k]) for k in COLUMNS))
    except PlanError as exc:
        module.fail_json(msg=str(exc))

    if module.check_mode and not validate_connection_params(module.params) and server_not_there(module.params):
        # Open vSwitch is not running yet (a fresh host): its first start makes an Open_vSwitch row
        # without these keys, so every key given a value is a change.
        before = dict((k, {}) for k in COLUMNS)
        changes = diff_columns(before, desired, COLUMNS)
        after = dict(before, **changes)
        exit_with(module, before, changes, after)
    client = connect_or_fail(module, tables=['Open_vSwitch'])
    try:
        root = client.rows('Open_vSwitch')[0]
        before = dict((k, dict(getattr(root, k))) for k in COLUMNS)
        changes = diff_columns(before, desired, COLUMNS)
        after = dict(before, **changes)
        if changes and not module.check_mode:
            def build(_txn, tables):
                row = list(tables['Open_vSwitch'].rows.values())[0]
                for column, value in changes.items():
                    row.verify(column)
                    setattr(row, column, value)
            if client.transact(build, comment='netvirt.overlay.ovs_settings',
                               wait_for_vswitchd=module.params['wait']) == 'try again':
                module.fail_json(msg='the Open_vSwitch row changed while this task wrote it; run it again')
            root = client.rows('Open_vSwitch')[0]
            after = dict((k, dict(getattr(root, k))) for k in COLUMNS)
    except (OvsdbError, PlanError, IndexError) as exc:
        module.fail_json(msg='cannot update the Open_vSwitch table: %s' % exc)
    finally:
        client.close()
    exit_with(module, before, changes, after)


def exit_with(module, before, changes, after):
    result = dict(changed=bool(changes), changes=changes, settings=after)
    if module._diff:
        result['diff'] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
