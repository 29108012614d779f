#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovn_topology
short_description: Converge the OVN northbound database to a declared logical topology
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - Declares logical switches (subnet, ports with MAC and IPs, router, localnet and l2gateway
    ports, ACLs), logical routers (ports, distributed routing, static routes, NAT) and HA chassis
    groups or gateway chassis for distributed gateway ports, and makes the OVN northbound database
    hold exactly that.
  - Reads the database, plans the changes and writes them as one OVSDB transaction on the leader of
    the Raft cluster (the client moves on to the next remote of O(db) until it reaches the leader).
    The request is validated as a whole first; nothing is written when any part of it is wrong.
  - Every object the module creates is marked with C(external_ids:netvirt-overlay-owner=OWNER)
    (O(owner)). Marked objects that are no longer declared are removed (see O(purge)); objects
    without the mark are left alone, unless they are declared, then they are adopted (marked).
  - Maps (C(options), C(other_config)) are merged; keys not declared are left as they are.
extends_documentation_fragment:
  - netvirt.overlay.ovsdb
options:
  db:
    description:
      - The northbound database, as OVSDB remotes separated by commas, for example every member of
        the cluster (V(ssl:198.18.0.21:6641,ssl:198.18.0.22:6641,ssl:198.18.0.23:6641)).
      - C(unix:PATH) for the local socket of a northbound server.
    type: str
    default: unix:/var/run/ovn/ovnnb_db.sock
  owner:
    description:
      - Marks the objects this task manages. Two tasks with different owners manage disjoint sets of objects.
    type: str
    default: netvirt.overlay
  purge:
    description:
      - Remove objects marked with O(owner) that are not declared (switches, routers, their ports,
        ACLs, static routes, NAT rules, HA chassis groups).
    type: bool
    default: true
  switches:
    description: Logical switches.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the logical switch.
        type: str
        required: true
      subnet:
        description:
          - IPv4 or IPv6 network of the switch (V(198.18.100.0/24)). Port IPs must lie in it.
            Stored in C(other_config:subnet).
        type: str
      ports:
        description: Ports of the switch. A port name is unique in the whole topology.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description:
              - Logical port name. A hypervisor binds a VM interface to it with C(external_ids:iface-id=NAME).
            type: str
            required: true
          mac:
            description: MAC address of the VM interface. Required for ordinary (VM) ports.
            type: str
          ips:
            description: IP addresses of the VM interface.
            type: list
            elements: str
            default: []
          type:
            description:
              - Empty for a VM port; V(router) connects the switch to O(routers[].ports) named by
                O(switches[].ports[].router_port); V(localnet) bridges the switch onto a physical
                network (an L2 gateway on every chassis with the bridge mapping);
                V(l2gateway) bridges it through one chassis.
            type: str
            default: ''
            choices: ['', router, localnet, l2gateway, localport, external, virtual]
          router_port:
            description: For V(router) ports, the logical router port at the other end.
            type: str
          network_name:
            description: For V(localnet) and V(l2gateway) ports, the name of the bridge mapping (physical network).
            type: str
          l2gateway_chassis:
            description: For V(l2gateway) ports, the chassis that bridges.
            type: str
          tag:
            description: For V(localnet) and V(l2gateway) ports, the VLAN (1-4095) on the physical network.
            type: int
          port_security:
            description: Only let the declared MAC and IPs out of a VM port.
            type: bool
            default: true
          options:
            description: More options of the port (merged).
            type: dict
            default: {}
      acls:
        description: ACLs of the switch. Added or removed whole; an ACL is identified by all four fields.
        type: list
        elements: dict
        default: []
        suboptions:
          direction:
            description: V(from-lport) (traffic leaving VMs) or V(to-lport) (traffic to VMs).
            type: str
            required: true
            choices: [from-lport, to-lport]
          priority:
            description: 0 to 32767; higher wins.
            type: int
            required: true
          match:
            description: OVN match expression.
            type: str
            required: true
          action:
            description: What matching packets get.
            type: str
            required: true
            choices: [allow, allow-related, allow-stateless, drop, reject, pass]
  routers:
    description: Logical routers. Routing between their ports is distributed over every chassis.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the logical router.
        type: str
        required: true
      ports:
        description: Router ports. The networks of two ports of one router must not overlap.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Name of the router port (a switch port of type V(router) names it).
            type: str
            required: true
          mac:
            description: MAC address of the router port.
            type: str
            required: true
          networks:
            description: Addresses with prefix length (V(198.18.100.254/24)).
            type: list
            elements: str
            required: true
          ha_chassis_group:
            description:
              - Makes the port a distributed gateway port scheduled on the HA chassis group of this
                name (declared in O(ha_chassis_groups)); OVN runs BFD between the chassis and fails
                over to the next priority.
            type: str
          gateway_chassis:
            description: The older way to schedule a distributed gateway port; chassis name and priority.
            type: list
            elements: dict
            default: []
            suboptions:
              name:
                description: Chassis name (its C(system-id)).
                type: str
                required: true
              priority:
                description: Higher is preferred.
                type: int
                required: true
          options:
            description: More options of the router port (merged).
            type: dict
            default: {}
      static_routes:
        description: Static routes; added or removed whole.
        type: list
        elements: dict
        default: []
        suboptions:
          prefix:
            description: Destination network or address (V(0.0.0.0/0)).
            type: str
            required: true
          nexthop:
            description: Next hop address.
            type: str
            required: true
          output_port:
            description: Router port to send through.
            type: str
      nat:
        description: NAT rules; added or removed whole. They run on the distributed gateway port's chassis.
        type: list
        elements: dict
        default: []
        suboptions:
          type:
            description: V(snat) (tenant network behind one address), V(dnat) or V(dnat_and_snat) (floating IP).
            type: str
            required: true
            choices: [snat, dnat, dnat_and_snat]
          external_ip:
            description: Address on the external network.
            type: str
            required: true
          logical_ip:
            description: Tenant address or network (V(198.18.100.0/24) for SNAT).
            type: str
            required: true
          logical_port:
            description: For a distributed V(dnat_and_snat), the VM's logical port.
            type: str
          external_mac:
            description: For a distributed V(dnat_and_snat), the MAC the external address answers with.
            type: str
      options:
        description: Router options (merged), for example C(chassis) for a gateway router.
        type: dict
        default: {}
  ha_chassis_groups:
    description: HA chassis groups (gateway chassis and their priorities).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Group name.
        type: str
        required: true
      chassis:
        description: Members; the highest priority that is up is active.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Chassis name (its C(system-id)).
            type: str
            required: true
          priority:
            description: 0 to 32767.
            type: int
            required: true
attributes:
  check_mode:
    description: Check mode plans the same changes a real run would make and writes nothing.
    support: full
  diff_mode:
    description: Shows the managed part of the topology before and after (predicted in check mode).
    support: full
notes:
  - The database is only written through the leader of a clustered database; give every member in O(db).
  - Chassis named in HA chassis groups need not exist yet; OVN uses them once they register.
seealso:
  - module: netvirt.overlay.ovs_settings
'''

EXAMPLES = r'''
- name: Two tenant networks, a distributed router and an HA gateway with SNAT
  netvirt.overlay.ovn_topology:
    db: ssl:198.18.0.21:6641,ssl:198.18.0.22:6641,ssl:198.18.0.23:6641
    ssl_private_key: /etc/ovn/ovn-privkey.pem
    ssl_certificate: /etc/ovn/ovn-cert.pem
    ssl_ca_cert: /etc/ovn/cacert.pem
    ha_chassis_groups:
      - name: edge
        chassis:
          - {name: gw1, priority: 20}
          - {name: gw2, priority: 10}
    routers:
      - name: lr0
        ports:
          - {name: lr0-blue, mac: "02:00:00:00:01:01", networks: [198.18.100.254/24]}
          - {name: lr0-red, mac: "02:00:00:00:01:02", networks: [198.18.101.254/24]}
          - {name: lr0-public, mac: "02:00:00:00:01:03", networks: [198.18.200.1/24], ha_chassis_group: edge}
        static_routes:
          - {prefix: 0.0.0.0/0, nexthop: 198.18.200.254}
        nat:
          - {type: snat, external_ip: 198.18.200.1, logical_ip: 198.18.100.0/23}
    switches:
      - name: blue
        subnet: 198.18.100.0/24
        ports:
          - {name: vm1, mac: "02:00:00:00:64:01", ips: [198.18.100.1]}
          - {name: blue-lr0, type: router, router_port: lr0-blue}
        acls:
          - {direction: to-lport, priority: 1000, match: "ip4 && tcp.dst == 23", action: drop}
      - name: red
        subnet: 198.18.101.0/24
        ports:
          - {name: vm3, mac: "02:00:00:00:64:03", ips: [198.18.101.3]}
          - {name: red-lr0, type: router, router_port: lr0-red}
      - name: public
        ports:
          - {name: public-lr0, type: router, router_port: lr0-public}
          - {name: public-physnet, type: localnet, network_name: physnet}

- name: L2 gateway, VLAN 20 of the physical network bridged into a logical switch
  netvirt.overlay.ovn_topology:
    owner: dmz
    switches:
      - name: dmz
        ports:
          - {name: dmz-vlan20, type: localnet, network_name: physnet, tag: 20}

- name: Remove everything that owner dmz created
  netvirt.overlay.ovn_topology:
    owner: dmz
'''

RETURN = r'''
changes:
  description:
    - The changes planned (check mode) or written in one OVSDB transaction, in order. Each has
      C(op) (add_/set_/del_ followed by switch, switch_port, acl, router, router_port, route, nat
      or ha_group), the names involved and the columns set.
  returned: always
  type: list
  elements: dict
  sample: [{"op": "add_switch", "switch": "blue", "set": {"external_ids": {"netvirt-overlay-owner": "netvirt.overlay"}}}]
topology:
  description:
    - The switches, routers and HA chassis groups this task declares or owns, after the run
      (predicted in check mode).
  returned: always
  type: dict
  sample: {"switches": {"blue": {"ports": {}, "acls": []}}, "routers": {}, "ha_chassis_groups": {}}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._ovn_nb import (
    DEFAULT_NB_DB, NB_TABLES, TOPOLOGY_ARGUMENT_SPEC, PlanError, apply_changes, plan, simulate,
    snapshot, unapplied, validate, view)
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    CONNECTION_ARGUMENT_SPEC, OvsdbError, connect_or_fail)

ATTEMPTS = 3


def converge(client, desired, owner, purge, check_mode):
    for _attempt in range(ATTEMPTS):
        before = snapshot(client.tables)
        changes = plan(desired, before, owner, purge)
        predicted = simulate(before, changes)
        if not changes or check_mode:
            return before, changes, predicted
        status = client.transact(lambda txn, tables: apply_changes(txn, tables, changes),
                                 comment='netvirt.overlay.ovn_topology owner=%s' % owner)
        if status != 'try again':
            client.refresh()
            after = snapshot(client.tables)
            missing = unapplied(after, predicted, desired, owner)
            if missing:
                raise PlanError('the transaction was committed but the database differs from the plan in: %s'
                                % ', '.join(missing))
            return before, changes, after
    raise PlanError('the northbound database changed under every one of %d attempts to commit; '
                    'is another tool rewriting the same objects?' % ATTEMPTS)


def main():
    argument_spec = dict(CONNECTION_ARGUMENT_SPEC)
    argument_spec['db'] = dict(type='str', default=DEFAULT_NB_DB)
    argument_spec.update(TOPOLOGY_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    try:
        desired = validate(params)
    except PlanError as exc:
        module.fail_json(msg=str(exc))

    client = connect_or_fail(module, database='OVN_Northbound', tables=NB_TABLES, leader_only=True)
    try:
        before, changes, after = converge(client, desired, params['owner'], params['purge'], module.check_mode)
    except (PlanError, OvsdbError) as exc:
        module.fail_json(msg=str(exc))
    finally:
        client.close()

    result = dict(changed=bool(changes), changes=changes, topology=view(after, desired, params['owner']))
    if module._diff:
        result['diff'] = dict(before=view(before, desired, params['owner']), after=result['topology'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
