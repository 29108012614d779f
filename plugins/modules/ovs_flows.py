#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_flows
short_description: Keep a set of OpenFlow flows on an Open vSwitch bridge
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Makes the flows of a bridge that carry O(cookie) exactly the flows listed in O(flows). Flows
    with other cookies (for example flows learned at run time, or written by a controller) are
    left alone.
  - Flows live in ovs-vswitchd, not in OVSDB, so this module speaks OpenFlow through C(ovs-ofctl).
    It asks the switch for the difference (C(ovs-ofctl diff-flows), which compares flows after the
    switch has normalised them, so the same flow written differently is no change), then applies
    the deletions and additions as one OpenFlow bundle, atomically.
  - Port names may be used in flows (C(in_port=patch-int), C(output:gre-c612010c)).
options:
  bridge:
    description: The bridge.
    type: str
    required: true
  flows:
    description:
      - Flows in C(ovs-ofctl) syntax, without a cookie (the module adds O(cookie)).
      - Write actions in OpenFlow 1.3 form (C(pop_vlan), C(set_field:0x3e9->tun_id)) rather than their
        OpenFlow 1.0 aliases (C(strip_vlan), C(set_tunnel:1001)); the switch compares the two spellings as
        different flows, so an alias would be rewritten on every run.
    type: list
    elements: str
    required: true
  cookie:
    description: The cookie that marks the flows this task owns.
    type: int
    default: 20054
  protocol:
    description: OpenFlow version to speak; bundles need V(OpenFlow14) or later, enabled on the bridge.
    type: str
    choices: [OpenFlow14, OpenFlow15]
    default: OpenFlow14
attributes:
  check_mode:
    description: Check mode asks the switch for the difference and changes nothing.
    support: full
  diff_mode:
    description: Shows the flows removed and added.
    support: full
requirements:
  - C(ovs-ofctl) on the managed host.
seealso:
  - module: netvirt.overlay.ovs_bridge
'''

EXAMPLES = r'''
- name: Split horizon on the tunnel bridge (traffic from a tunnel never goes back into one)
  netvirt.overlay.ovs_flows:
    bridge: br-tun
    flows:
      - table=0,priority=10,in_port=patch-int actions=resubmit(,1)
      - table=0,priority=10,in_port=gre-c612010c actions=resubmit(,10)
      - table=0,priority=0 actions=drop
'''

RETURN = r'''
removed:
  description: Flows of this cookie that were (or would be) deleted, as the switch prints them.
  returned: always
  type: list
  elements: str
added:
  description: Flows that were (or would be) added, as the switch prints them.
  returned: always
  type: list
  elements: str
'''

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule


def cookie_text(cookie):
    return 'cookie=0x%x' % cookie


def with_cookie(flow, cookie):
    if re.search(r'(^|[\s,])cookie=', flow.split('actions=', 1)[0]):
        raise ValueError("flow '%s' sets a cookie; the module adds its own (option cookie)" % flow)
    return '%s,%s' % (cookie_text(cookie), flow.strip())


def parse_diff(output, cookie):
    """diff-flows lines -> (removed, added), keeping only flows with our cookie."""
    mark = cookie_text(cookie)
    removed, added = [], []
    for line in output.splitlines():
        if len(line) < 2 or line[0] not in '+-':
            continue
        flow = line[1:].strip()
        if re.search(r'(^|\s)%s(\s|$)' % re.escape(mark), flow) is None:
            continue
        (added if line[0] == '+' else removed).append(flow)
    return removed, added


def delete_strict(flow):
    """A printed flow -> the match of a strict delete (no cookie, no actions)."""
    match = flow.split(' actions=', 1)[0]
    words = [w for w in re.split(r'[\s]+', match) if w and not w.startswith('cookie=')]
    return 'delete_strict ' + ','.join(words)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bridge=dict(type='str', required=True),
            flows=dict(type='list', elements='str', required=True),
            cookie=dict(type='int', default=0x4e56),
            protocol=dict(type='str', default='OpenFlow14', choices=['OpenFlow14', 'OpenFlow15']),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not 1 <= p['cookie'] < 2 ** 64:
        module.fail_json(msg='cookie must be between 1 and 2^64-1 (0 is what unowned flows carry)')
    ofctl = module.get_bin_path('ovs-ofctl', required=True)
    try:
        flows = [with_cookie(f, p['cookie']) for f in p['flows'] if f.strip()]
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    fd, path = tempfile.mkstemp(prefix='ovs_flows-', suffix='.txt')
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write('\n'.join(flows) + '\n')
        # diff-flows exits 2 when there are differences, 1 on errors.
        rc, out, err = module.run_command([ofctl, '-O', p['protocol'], '--names', 'diff-flows', p['bridge'], path])
        if rc not in (0, 2):
            module.fail_json(msg='ovs-ofctl diff-flows on %s failed: %s' % (p['bridge'], err.strip() or out.strip()))
        removed, added = parse_diff(out, p['cookie'])
        if (removed or added) and not module.check_mode:
            bundle = [delete_strict(f) for f in removed] + ['add ' + f for f in added]
            with open(path, 'w') as handle:
                handle.write('\n'.join(bundle) + '\n')
            rc, out, err = module.run_command([ofctl, '-O', p['protocol'], '--bundle', 'add-flows', p['bridge'], path])
            if rc != 0:
                module.fail_json(msg='ovs-ofctl could not apply the flows to %s (nothing was changed, the bundle '
                                 'is atomic): %s' % (p['bridge'], err.strip()), removed=removed, added=added)
    finally:
        os.unlink(path)
    result = dict(changed=bool(removed or added), removed=removed, added=added)
    if module._diff:
        result['diff'] = dict(before=''.join('%s\n' % f for f in removed), after=''.join('%s\n' % f for f in added))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
