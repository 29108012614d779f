#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovn_topology
short_description: Converge the OVN northbound database to a declared logical topology
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Declares logical switches (subnet, ports with MAC and IPs, router, localnet and l2gateway
    ports, ACLs), logical routers (ports, distributed routing, static routes, NAT) and HA chassis
    groups or gateway chassis for distributed gateway ports, and makes the OVN northbound database
    hold exactly that.
  - Reads the database, plans the changes and writes them as one OVSDB transaction on the leader of
    the Raft cluster (the client moves on to the next remote of O(db) until it reaches the leader).
    The request is validated as a whole first, before the module connects (names, MACs, addresses,
    networks, ranges of integer columns as in the OVN northbound schema, references between the
    declared objects, the syntax of ACL matches). The failure message names the field
    (for example C(switches[0].ports[1].ips)), the value and what is allowed. Once connected, the
    request is checked against the server's schema and the objects in the database (ownership,
    ports on other switches or routers, a gateway for NAT). Nothing is written when any part of it
    is wrong.
  - Every object the module creates is marked with C(external_ids:netvirt-overlay-owner=OWNER)
    (O(owner)). Marked objects that are no longer declared are removed (see O(purge)); objects
    without the mark are left alone, unless they are declared, then they are adopted (marked).
  - A declared object that carries the mark of another owner is refused, since ownership is never
    transferred implicitly (that owner's purge would no longer remove it, this owner's would).
    Set O(adopt) to take such objects over.
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
      - Not empty, no blanks around it.
    type: str
    default: netvirt.overlay
  adopt:
    description:
      - Take over the declared objects that carry another owner's mark (they are marked with O(owner)).
        Without it such objects are refused. Objects with no mark are adopted either way.
    type: bool
    default: false
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
        description:
          - Name of the logical switch; unique among the switches and routers (OVN tools and the
            southbound database name both kinds by it).
        type: str
        required: true
      subnet:
        description:
          - IPv4 or IPv6 network of the switch (V(198.18.100.0/24)), with no host bits. Port IPs of
            its IP version must lie in it and not be its network or broadcast address; a router port
            attached to the switch must have an address in it. Stored in C(other_config:subnet).
        type: str
      ports:
        description:
          - Ports of the switch. A port name is unique among all switch and router ports (each is
            one southbound port binding).
          - A MAC or an IP belongs to one port of a switch (the router port attached to it included).
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
            description:
              - MAC address of the VM interface (V(02:00:00:00:64:01)), unicast. Required for ordinary
                (VM) ports.
            type: str
          ips:
            description:
              - Unicast IP addresses of the VM interface, each listed once. A prefix length given
                with one is ignored (the switch's O(switches[].subnet) is the network).
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
            description:
              - For V(localnet) and V(l2gateway) ports, the name of the physical network in the chassis'
                C(ovn-bridge-mappings) (the part before the colon, with no blanks, colons or commas).
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
            description:
              - More options of the port (merged). Values are strings, numbers or booleans.
              - Must not contradict O(switches[].ports[].router_port), O(switches[].ports[].network_name)
                or O(switches[].ports[].l2gateway_chassis), which set C(router-port), C(network_name)
                and C(l2gateway-chassis).
            type: dict
            default: {}
      acls:
        description:
          - ACLs of the switch. Added or removed whole; an ACL is identified by all four fields.
          - Two ACLs of one switch with the same direction, priority and match are refused (OVN would
            pick one of them).
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
            description:
              - OVN match expression (V(ip4 && tcp.dst == 23)). OVN parses it only on the chassis, so
                what is certainly wrong is refused here (an empty match, unbalanced parentheses, braces,
                brackets, quotes or comments, single quotes, V(=), V(&), V(|), V(and) or V(or) for
                V(==), V(&&) and V(||), characters OVN has not got, and operators with a missing operand).
            type: str
            required: true
          action:
            description:
              - What matching packets get. V(pass) only where the server's schema has it (OVN 23.03's
                has not); the choice is checked against the server's schema before anything is written.
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
        description: Name of the logical router; unique among the switches and routers.
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
            description: MAC address of the router port, unicast.
            type: str
            required: true
          networks:
            description:
              - Unicast addresses with prefix length (V(198.18.100.254/24)), at least one; an IPv4 address
                is not the network or broadcast address of its network (up to /30).
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
                description: 0 to 32767; higher is preferred.
                type: int
                required: true
          options:
            description: More options of the router port (merged). Values are strings, numbers or booleans.
            type: dict
            default: {}
      static_routes:
        description: Static routes; added or removed whole.
        type: list
        elements: dict
        default: []
        suboptions:
          prefix:
            description: Destination network with no host bits (V(0.0.0.0/0)) or address.
            type: str
            required: true
          nexthop:
            description: Next hop address, unicast, of the IP version of O(routers[].static_routes[].prefix).
            type: str
            required: true
          output_port:
            description: Router port to send through; one of O(routers[].ports).
            type: str
      nat:
        description:
          - NAT rules; added or removed whole. They run on the distributed gateway port's chassis, so the
            router needs one (a port with O(routers[].ports[].ha_chassis_group) or
            O(routers[].ports[].gateway_chassis)) or must be a gateway router (O(routers[].options) C(chassis)).
          - Two SNAT rules for one logical_ip, or two DNAT rules for one external_ip, are refused.
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
            description:
              - Unicast address on the external network, of the IP version of O(routers[].nat[].logical_ip).
            type: str
            required: true
          logical_ip:
            description:
              - Tenant address, or for V(snat) also a network (V(198.18.100.0/24)).
            type: str
            required: true
          logical_port:
            description:
              - For a distributed V(dnat_and_snat), the VM's logical port (a declared switch port); needs
                O(routers[].nat[].external_mac).
            type: str
          external_mac:
            description:
              - For a distributed V(dnat_and_snat), the unicast MAC the external address answers with; needs
                O(routers[].nat[].logical_port).
            type: str
      options:
        description:
          - Router options (merged), for example C(chassis) for a gateway router. Values are strings,
            numbers or booleans.
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
    DEFAULT_NB_DB, NB_TABLES, TOPOLOGY_ARGUMENT_SPEC, PlanError, apply_changes, check_schema, plan,
    simulate, snapshot, unapplied, validate, view)
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    CONNECTION_ARGUMENT_SPEC, OvsdbError, connect_or_fail)

ATTEMPTS = 3


def converge(client, desired, owner, purge, adopt, check_mode):
    check_schema(desired, client.tables)
    for _attempt in range(ATTEMPTS):
        before = snapshot(client.tables)
        changes = plan(desired, before, owner, purge, adopt)
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
        before, changes, after = converge(client, desired, params['owner'], params['purge'], params['adopt'],
                                          module.check_mode)
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
