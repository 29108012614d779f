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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._ovs_flows import FLOWS_ARGUMENT_SPEC, run


def main():
    run(AnsibleModule(argument_spec=FLOWS_ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == '__main__':
    main()
