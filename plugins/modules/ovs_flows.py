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
  - With O(groups), the bridge's OpenFlow groups are made exactly those, in the same bundle as the flows.
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
      - Every flow is checked before the switch is asked anything, because C(ovs-ofctl) installs some
        mistakes as another flow without a word. Refused, with the entry named (V(flows[3])), are an
        empty entry; a flow without C(actions=) or with an empty one; a line break, a C(#) or a trailing
        backslash (C(ovs-ofctl) reads them as line syntax); a cookie; a table outside 0-254 (V(255) means
        all tables and would land in table 0); a priority outside 0-65535; a number with a leading zero
        (read as octal); a value outside its field (C(dl_vlan) 0-4095, C(dl_vlan_pcp) 0-7, ports 0-65535
        with an optional mask, ...), an invalid IPv4/IPv6 address, prefix or MAC; a field given twice or
        two protocol keywords that contradict each other (C(ipv6,tcp) is IPv4 TCP, write C(tcp6)); a field
        without its prerequisite (C(tp_dst) needs C(tcp), C(udp) or C(sctp); C(nw_src)/C(nw_dst) need
        C(ip) or C(arp); C(ipv6_*) need C(ipv6); C(arp_*) need C(arp)), which the switch would drop so the
        flow matched more; two flows with the same table, priority and match (the switch keeps one).
      - Fields and actions the check does not know are left to C(ovs-ofctl), whose errors are reported
        against the entry.
      - Required with O(state=present), and must not be empty then (an empty list would remove every
        flow of the cookie; use O(state=absent) for that). Not allowed with O(state=absent).
    type: list
    elements: str
  groups:
    description:
      - OpenFlow groups in C(ovs-ofctl) syntax (V(group_id=1001,type=ff,bucket=watch_port:sn-1,actions=output:sn-1)).
        When given, the bridge's groups become exactly these - a group of another id is deleted, one whose
        text differs is modified (C(add_or_mod)). Not given, the groups are left alone.
      - Groups carry no cookie, so the task owns every group of the bridge; give it to one task per bridge.
      - They are applied in the same bundle as the flows, atomically, groups that come before the flows
        (so that a new flow can point at one) and groups that go after them.
      - A group is compared with the text C(ovs-ofctl dump-groups) prints for it (without quotes, without
        OpenFlow 1.5 bucket ids); write it that way (C(type=ff), not C(type=fast_failover)), or every run
        modifies it again - the module warns when the switch prints a group it wrote otherwise.
      - Refused, with the entry named - an empty entry, a line break, a C(#) or a trailing backslash,
        an entry without exactly one C(group_id) or without C(type), an id outside 0-4294967040, two
        entries with the same id. Bucket syntax is left to C(ovs-ofctl).
      - Not allowed with O(state=absent).
    type: list
    elements: str
    version_added: 0.2.0
  cookie:
    description: The cookie that marks the flows this task owns, 1 to 2^64-1.
    type: int
    default: 20054
  state:
    description:
      - V(present) makes the flows of O(cookie) exactly O(flows).
      - V(absent) removes every flow of O(cookie) from the bridge.
    type: str
    choices: [present, absent]
    default: present
  protocol:
    description: OpenFlow version to speak; bundles need V(OpenFlow14) or later, enabled on the bridge.
    type: str
    choices: [OpenFlow14, OpenFlow15]
    default: OpenFlow14
attributes:
  check_mode:
    description:
      - Check mode asks the switch for the difference and changes nothing.
      - It predicts what the tasks before it would have created. When the bridge does not exist yet
        (or Open vSwitch is not installed or running), every flow is predicted as added. When a flow
        names a port that does not exist yet (a tunnel port that an earlier task would create), the
        switch is asked with a port number that no port of the bridge has in its place, so the flows
        that name it are predicted as added and the ones they replace as removed.
    support: full
  diff_mode:
    description: Shows the flows (and with O(groups), the groups) removed and added.
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

- name: Flows that flood through a fast-failover group, and the bridge's only group
  netvirt.overlay.ovs_flows:
    bridge: br-tun
    flows:
      - table=0,priority=10,in_port=patch-int actions=group:1001
      - table=0,priority=0 actions=drop
    groups:
      - group_id=1001,type=ff,bucket=watch_port:sn-c6120015,actions=output:sn-c6120015

- name: Remove every flow this task's cookie owns
  netvirt.overlay.ovs_flows:
    bridge: br-tun
    cookie: 0x4e58
    state: absent
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
removed_groups:
  description: Groups that were (or would be) deleted or changed, as the switch printed them; empty without O(groups).
  returned: always
  type: list
  elements: str
  version_added: 0.2.0
added_groups:
  description: Groups that were (or would be) added or changed, as given; empty without O(groups).
  returned: always
  type: list
  elements: str
  version_added: 0.2.0
ports_to_come:
  description:
    - Check mode only - ports the flows name that the bridge does not have yet (an earlier task would create
      them); a real run fails on a flow that names a port that does not exist.
  returned: always
  type: list
  elements: str
  version_added: 0.2.0
'''

import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import FLOW_COOKIES
from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, checked_or_fail, integer
from ansible_collections.netvirt.overlay.plugins.module_utils._openflow import (
    check_flows, check_groups, parse_group_dump, plan_groups)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError, check_ifname


def cookie_text(cookie):
    return 'cookie=0x%x' % cookie


def with_cookie(flow, cookie):
    return '%s,%s' % (cookie_text(cookie), flow.strip())


def check_request(p):
    """The flows to write, every input checked; InputError/PlanError before the switch is asked anything."""
    try:
        integer(p['cookie'], 'cookie', 1, 2 ** 64 - 1)
    except InputError as exc:
        raise InputError('%s (0 is the cookie of flows that nobody owns)' % exc)
    check_ifname(p['bridge'], 'bridge')
    flows = p['flows']
    if p['state'] == 'absent':
        if flows:
            raise InputError('flows: state absent removes every flow of cookie 0x%x from %s; give no flows with it'
                             % (p['cookie'], p['bridge']))
        return []
    if not flows:
        # An empty desired set is "remove them all": that must be said, not fall out of a template.
        raise InputError('flows: the list is %s, which would remove every flow of cookie 0x%x from %s; to remove '
                         'them on purpose write state: absent (without flows)'
                         % ('missing' if flows is None else 'empty', p['cookie'], p['bridge']))
    check_flows(flows, 'flows')
    return [f.strip() for f in flows]


def check_group_request(p):
    """{group_id: text} the bridge is to have, or None when the task leaves the groups alone."""
    if p['groups'] is None:
        return None
    if p['state'] == 'absent':
        raise InputError('groups: state absent removes the flows of cookie 0x%x only; give no groups with it'
                         % p['cookie'])
    return check_groups(p['groups'])


def ofctl_error(err, path, flows):
    """ovs-ofctl's complaint about line N of the flow file, told against the entry it is about."""
    found = re.search(re.escape(path) + r':(\d+): (.*)', err)
    if found and 1 <= int(found.group(1)) <= len(flows):
        index = int(found.group(1)) - 1
        return "flows[%d] '%s': ovs-ofctl: %s" % (index, flows[index], found.group(2).strip())
    return None


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


# ovs-ofctl's words for a port name it cannot resolve ("NAME: invalid or unknown port for in_port",
# "NAME: output to unknown port").
UNKNOWN_PORT_RE = re.compile(r':\d+: ([^\s:]+): [^\n]*unknown port')
NOT_A_BRIDGE_RE = re.compile(r'is not a bridge or a socket|failed to connect to|Connection refused|No such file or directory')
# OpenFlow port numbers go up to 0xfeff; stand-ins for ports that do not exist yet count down from there.
HIGHEST_PORT = 0xfeff


def port_pattern(name):
    """A port name or number as a whole word of a flow (after =, :, ( or a comma)."""
    return re.compile(r'(?<=[=:(,])%s(?=[,)\s]|$)' % re.escape(name))


def ports_in_use(module, ofctl, p):
    """Port numbers the bridge has now (stand-ins must not be one of them)."""
    rc, out, _err = module.run_command([ofctl, '-O', p['protocol'], 'dump-ports-desc', p['bridge']])
    return set(int(n) for n in re.findall(r'^\s*(\d+)\(', out, re.M)) if rc == 0 else set()


def ask_for_diff(module, ofctl, p, flows, desired):
    """(removed, added) from diff-flows; in check mode, ports that do not exist yet get stand-ins.

    Returns (None, []) in check mode when there is no bridge (nor switch) to ask: everything is new;
    otherwise ((removed, added), names of the ports that got stand-ins).
    """
    stand_ins = {}
    while True:
        fd, path = tempfile.mkstemp(prefix='ovs_flows-', suffix='.txt')
        try:
            with os.fdopen(fd, 'w') as handle:
                handle.write(''.join('%s\n' % f for f in flows))
            # diff-flows exits 2 when there are differences, 1 on errors.
            rc, out, err = module.run_command([ofctl, '-O', p['protocol'], '--names', 'diff-flows', p['bridge'], path])
        finally:
            os.unlink(path)
        if rc in (0, 2):
            break
        unknown = UNKNOWN_PORT_RE.search(err)
        if module.check_mode and unknown and unknown.group(1) not in stand_ins:
            used = ports_in_use(module, ofctl, p) | set(stand_ins.values())
            number = max(n for n in range(1, HIGHEST_PORT + 1) if n not in used)
            stand_ins[unknown.group(1)] = number
            pattern = port_pattern(unknown.group(1))
            flows = [pattern.sub(str(number), f) for f in flows]
            continue
        if module.check_mode and not stand_ins and NOT_A_BRIDGE_RE.search(err):
            return None, []
        module.fail_json(msg=ofctl_error(err, path, desired) or 'bridge %s: ovs-ofctl diff-flows failed: %s'
                         % (p['bridge'], err.strip() or out.strip()))
    removed, added = parse_diff(out, p['cookie'])
    for name, number in stand_ins.items():
        pattern = port_pattern(str(number))
        added = [pattern.sub(name, f) for f in added]
    return (removed, added), sorted(stand_ins)


def groups_on_switch(module, ofctl, p):
    """{group_id: text} of the bridge; {} in check mode when there is no bridge (nor switch) yet."""
    rc, out, err = module.run_command([ofctl, '-O', p['protocol'], '--names', 'dump-groups', p['bridge']])
    if rc == 0:
        return parse_group_dump(out)
    if module.check_mode and NOT_A_BRIDGE_RE.search(err):
        return {}
    module.fail_json(msg='bridge %s: ovs-ofctl dump-groups failed: %s' % (p['bridge'], err.strip() or out.strip()))
    return None  # not reached


def apply_bundle(module, ofctl, p, lines, removed, added):
    """All the flow and group mods as one OpenFlow bundle: all of them or none."""
    fd, path = tempfile.mkstemp(prefix='ovs_flows-', suffix='.txt')
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        rc, out, err = module.run_command([ofctl, '-O', p['protocol'], 'bundle', p['bridge'], path])
        if rc != 0:
            module.fail_json(msg='ovs-ofctl could not apply the flows and groups to %s (nothing was changed, the '
                             'bundle is atomic): %s' % (p['bridge'], err.strip()), removed=removed, added=added)
        if 'normalization changed' in err:
            # A field the check does not know lost its prerequisite: the switch holds less than written.
            module.warn('ovs-ofctl dropped match fields that lack a prerequisite: %s' % err.strip())
    finally:
        os.unlink(path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bridge=dict(type='str', required=True),
            flows=dict(type='list', elements='str'),
            groups=dict(type='list', elements='str'),
            cookie=dict(type='int', default=FLOW_COOKIES['overlay']),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            protocol=dict(type='str', default='OpenFlow14', choices=['OpenFlow14', 'OpenFlow15']),
        ),
        supports_check_mode=True,
    )
    p = module.params
    desired = checked_or_fail(module, check_request, (PlanError,))
    want_groups = checked_or_fail(module, check_group_request)
    flows = [with_cookie(f, p['cookie']) for f in desired]
    # A fresh host in check mode: Open vSwitch is to be installed by an earlier task.
    ofctl = module.get_bin_path('ovs-ofctl', required=not module.check_mode)
    diff, ports_to_come = ask_for_diff(module, ofctl, p, flows, desired) if ofctl else (None, [])
    if diff is None:
        removed, added = [], flows
    else:
        removed, added = diff
    groups_removed, groups_added, (groups_first, groups_last) = [], [], ([], [])
    if want_groups is not None:
        have_groups = groups_on_switch(module, ofctl, p) if diff is not None else {}
        groups_removed, groups_added, (groups_first, groups_last) = plan_groups(want_groups, have_groups)
    changed = bool(removed or added or groups_removed or groups_added)
    if changed and not module.check_mode:
        lines = (groups_first + ['flow ' + delete_strict(f) for f in removed] + ['flow add ' + f for f in added]
                 + groups_last)
        apply_bundle(module, ofctl, p, lines, removed, added)
        if groups_added:
            printed = groups_on_switch(module, ofctl, p)
            for group_id, text in sorted(want_groups.items()):
                if printed.get(group_id) != text:
                    module.warn('group %d is printed by the switch as %r, not as given (%r): write it that way, or '
                                'every run changes it again' % (group_id, printed.get(group_id), text))
    result = dict(changed=changed, removed=removed, added=added, removed_groups=groups_removed,
                  added_groups=groups_added, ports_to_come=ports_to_come)
    if module._diff:
        result['diff'] = dict(before=''.join('%s\n' % f for f in removed + groups_removed),
                              after=''.join('%s\n' % f for f in added + groups_added))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
