#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_bridges
short_description: Several Open vSwitch bridges, their ports and their tunnel groups in one transaction, and their flows
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - Does what a list of M(netvirt.overlay.ovs_bridge) tasks and a list of
    M(netvirt.overlay.ovs_tunnels) tasks would do, as one task and one OVSDB transaction (one
    connection, one ovs-vswitchd reconfiguration, one wait for it). A host's whole switch (for
    example an underlay bridge, an integration bridge, a tunnel bridge and its tunnel groups) then
    costs one module run, and a run that changes nothing none once the result is kept (see the notes).
  - Each item of O(bridges) takes the options of M(netvirt.overlay.ovs_bridge), each item of
    O(tunnels) those of M(netvirt.overlay.ovs_tunnels) (not the connection options nor O(wait),
    which are given once here), and means the same.
  - Every item is checked as its own module would check it before the module connects, then
    against the database before anything is written; a refusal names the item (V(bridges[1]),
    V(tunnels[0])) and the field, and changes nothing.
  - The items are planned in order, O(bridges) first, each against what the ones before it would
    leave, so a tunnel group may be on a bridge that O(bridges) creates. If ovs-vswitchd refuses
    an interface of the commit, the whole commit is rolled back.
  - After the commit, each item of O(openflow) does what a M(netvirt.overlay.ovs_flows) task would,
    in order, on the bridges as the commit left them (flows may name the ports and tunnels it
    created), one OpenFlow bundle per item, atomic. The items are checked with everything else,
    before the module connects. If ovs-ofctl fails on an item, the module fails with what the
    commit and the items before it changed (RV(ignore:changed) is true when they changed something).
  - Before the O(openflow) items, each item of O(interfaces) does what a M(netvirt.overlay.interface_address)
    task would (the addresses, MTU and TX checksum offload of an internal port the commit created, for
    example a tunnel endpoint), checked with everything else before the module connects; a failure
    fails the module in the same way.
extends_documentation_fragment:
  - netvirt.overlay.attributes
  - netvirt.overlay.ovsdb
  - netvirt.overlay.ovsdb.wait
options:
  bridges:
    description:
      - Bridges, each a dict of the options of M(netvirt.overlay.ovs_bridge) (C(bridge) required;
        C(state), C(datapath_type), C(fail_mode), C(protocols), C(controllers), C(external_ids),
        C(other_config), C(ports), C(purge_ports)).
      - A bridge is listed once.
    type: list
    elements: dict
    default: []
  tunnels:
    description:
      - Tunnel groups, each a dict of the options of M(netvirt.overlay.ovs_tunnels) (C(bridge) and
        C(remotes) required; C(tunnel_type), C(group), C(name_prefix), C(purge), C(local_ip),
        C(key), C(dst_port), C(csum), C(ttl), C(tos), C(df_default), C(options), C(bfd),
        C(bfd_min_rx), C(bfd_min_tx)).
      - A group (bridge and C(group)) is listed once, and not on a bridge that O(bridges) removes.
    type: list
    elements: dict
    default: []
  openflow:
    description:
      - Flows and groups of bridges, each a dict of the options of M(netvirt.overlay.ovs_flows)
        (C(bridge) required; C(flows), C(groups), C(cookie), C(state), C(protocol)), with their meaning and checks.
      - One item per bridge and cookie; the groups of a bridge in at most one item; not on a bridge that
        O(bridges) removes.
      - Check mode and C(--diff) as M(netvirt.overlay.ovs_flows) (flows that name a port the commit would
        create are predicted as added); the diff shows each bridge's removed and added flows and groups under
        C(openflow).
    type: list
    elements: dict
    default: []
  interfaces:
    description:
      - Linux interfaces, each a dict of the options of M(netvirt.overlay.interface_address)
        (C(interface) required; C(addresses), C(purge), C(mtu), C(link), C(wait_timeout), C(announce),
        C(mac_changed), C(tx_checksum_offload)), with their meaning and checks.
      - An interface is listed once.
      - An interface that is a port whose MAC address the commit changed (its C(mac)) counts as
        C(mac_changed), so that C(announce) tells its neighbours the new one.
      - Check mode and C(--diff) as M(netvirt.overlay.interface_address) (a port the commit would
        create is predicted as a new interface, down and bare); the diff shows each changed interface
        under C(interfaces).
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
  forget_learned:
    description:
      - Bridges that learn flows at run time (a C(learn) action), each with the cookie of those flows. A learned
        flow outputs to a port number; when the commit removes or replaces a tunnel port of one of these bridges
        (any change of its O(tunnels) groups but a port added), the bridge's flows of that cookie are deleted,
        after the O(openflow) items, and the next flood teaches the new ports.
      - Check mode reports the bridges whose learned flows would be deleted (RV(forgot_learned)) and deletes none.
    type: list
    elements: dict
    default: []
    version_added: 0.2.0
    suboptions:
      bridge:
        description: The bridge (listed once).
        type: str
        required: true
      cookie:
        description: The cookie of its learned flows (1 to 2^64-1).
        type: int
        required: true
notes:
  - At least one of O(bridges) and O(tunnels) is not empty.
  - An action plugin runs the module, and keeps the result of a run that changed nothing (outside
    check mode) on the host, with the request and what the module read to plan it, in the directory
    of the OVSDB socket (mode 0600; a reboot forgets it). After a run that changed the switch, the
    module reads the state it left and runs the request again in check mode on it, in the same module
    run; when that changes nothing, its result is kept (if the state read after the module is the
    same). When the same request, with the same module code, finds the host's switch as that run saw
    it, the task returns the kept result without running the module (RV(recorded) is true; check
    mode too); one shell command on the host reads it all (C(ovs-vswitchd --version);
    C(ovsdb-client dump) of the Bridge, Port, Interface and Controller columns the module compares,
    and the port numbers; for each item of O(openflow), C(ovs-ofctl) of the flows of its cookie and
    C(dump-groups); for each item of O(interfaces), C(ip -j) of its link and global addresses,
    C(ethtool -k) and C(arp_ignore) when asked). Any difference, a read that fails, no record, or
    O(db) other than a local C(unix:) socket runs the module. The record is written with C(base64)
    and C(gzip) (GNU coreutils or BusyBox, and gzip).
seealso:
  - module: netvirt.overlay.ovs_bridge
  - module: netvirt.overlay.ovs_tunnels
  - module: netvirt.overlay.ovs_flows
  - module: netvirt.overlay.interface_address
'''

EXAMPLES = r'''
- name: A hypervisor's underlay, integration and tunnel bridges and its tunnels, in one transaction
  netvirt.overlay.ovs_bridges:
    bridges:
      - bridge: br-phy
        datapath_type: netdev
        ports:
          - name: eth1
          - name: tep0
            type: internal
      - bridge: br-int
        datapath_type: netdev
        fail_mode: standalone
        ports:
          - name: patch-tun
            type: patch
            peer: patch-int
      - bridge: br-tun
        datapath_type: netdev
        fail_mode: secure
        ports:
          - name: patch-int
            type: patch
            peer: patch-tun
    tunnels:
      - bridge: br-tun
        tunnel_type: gre
        local_ip: 198.18.10.11
        key: flow
        group: mesh
        remotes: [198.18.10.12, 198.18.10.13]
        purge: true
    interfaces:
      - interface: tep0
        addresses: [198.18.10.11/24]
        mtu: 1500
        announce: true
  register: switch

- name: The tunnel changes of that run
  ansible.builtin.debug:
    msg: "{{ switch.tunnels | map(attribute='changes') | flatten }}"
'''

RETURN = r'''
recorded:
  description:
    - Whether the task returned the result the last run of the same request kept on the host, without
      running the module (nothing it reads had changed since). V(false) when the module ran.
  returned: always
  type: bool
changes:
  description: All changes planned (check mode) or written in the one OVSDB transaction, in the order of the items.
  returned: always
  type: list
  elements: dict
  sample: [{"op": "add_port", "bridge": "br-tun", "port": "gre-c612010c", "set": {}, "interfaces": {}}]
bridges:
  description:
    - One entry per item of O(bridges), in order, with what M(netvirt.overlay.ovs_bridge) returns
      for it (RV(ignore:changes) of that bridge, RV(ignore:bridge) after the run).
  returned: always
  type: list
  elements: dict
  sample: [{"changes": [], "bridge": {"datapath_type": "netdev", "fail_mode": null, "ports": {}}}]
openflow:
  description:
    - What M(netvirt.overlay.ovs_flows) returns for each item of O(openflow), in order
      (RV(ignore:removed), RV(ignore:added), RV(ignore:removed_groups), RV(ignore:added_groups), RV(ignore:ports_to_come), RV(ignore:changed)).
  returned: always
  type: list
  elements: dict
  sample: [{"changed": false, "removed": [], "added": [], "removed_groups": [], "added_groups": [], "ports_to_come": []}]
interfaces:
  description:
    - What M(netvirt.overlay.interface_address) returns for each item of O(interfaces), in order
      (RV(ignore:commands), RV(ignore:interface), RV(ignore:announced), RV(ignore:changed)).
  returned: always
  type: list
  elements: dict
  sample: [{"changed": false, "commands": [], "interface": {"addresses": ["198.18.1.11/24"], "mtu": 1500, "up": true},
            "announced": []}]
  version_added: 0.2.0
forgot_learned:
  description: The bridges of O(forget_learned) whose learned flows were deleted (check mode - would be).
  returned: always
  type: list
  elements: str
  sample: ["br-tun"]
  version_added: 0.2.0
tunnels:
  description: >-
    What M(netvirt.overlay.ovs_tunnels) returns for each item of O(tunnels), in order: the group's
    own RV(ignore:changes), and its RV(ignore:tunnels) after the run.
  type: list
  elements: dict
  returned: always
  sample: [{"changes": [], "tunnels": {"gre-c612010c": {"remote_ip": "198.18.1.12", "type": "gre"}}}]
'''

from ansible_collections.netvirt.overlay.plugins.module_utils._bridges import FORGET_ARGUMENT_SPEC, Bridges
from ansible_collections.netvirt.overlay.plugins.module_utils._converge import run_module

ARGUMENT_SPEC = dict(
    bridges=dict(type='list', elements='dict', default=[]),
    tunnels=dict(type='list', elements='dict', default=[]),
    openflow=dict(type='list', elements='dict', default=[]),
    interfaces=dict(type='list', elements='dict', default=[]),
    forget_learned=dict(type='list', elements='dict', default=[], options=FORGET_ARGUMENT_SPEC),
)


def main():
    run_module(ARGUMENT_SPEC, Bridges)


if __name__ == '__main__':
    main()
