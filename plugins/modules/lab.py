#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lab
short_description: Create or remove a lab of hosts, each made of Linux namespaces, on one machine
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Builds, on the machine it runs on, a set of lab hosts, each with its own mount, UTS, IPC,
    network and PID namespaces, private C(/run), C(/var/log), C(/etc/openvswitch),
    C(/var/lib/openvswitch), C(/etc/ovn) and C(/var/lib/ovn), its hostname and an C(/etc/hosts).
  - Each underlay network is a switch, a namespace with one Linux bridge; hosts plug into it with
    veth pairs created directly inside the two namespaces. Links between two hosts (a VM and its
    hypervisor) are veth pairs too.
  - The machine's root network namespace is never changed. No lab namespace has a link to it.
  - Ansible reaches lab hosts with the P(netvirt.overlay.namespace#connection) connection plugin.
  - Run it on the machine itself (connection V(local)), as root.
options:
  name:
    description:
      - Lab name; its state lives in C(/run/netvirt-lab/NAME). 1-63 letters, digits, C(-) or C(_)
        (no slash, no dots), so that it can never name a path outside C(/run/netvirt-lab).
    type: str
    default: lab
  state:
    description:
      - V(absent) kills every host of the lab, which removes all their interfaces. Only processes
        that carry the lab's ready marker and live in namespaces other than the machine's own are
        killed; a stale PID file naming any other process is ignored.
    type: str
    choices: [present, absent]
    default: present
  hosts:
    description: The lab hosts.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Host name (inventory name).
        type: str
        required: true
      hostname:
        description: Hostname inside the host. Defaults to O(hosts[].name).
        type: str
      tmpfs:
        description: More directories to give the host privately (empty tmpfs).
        type: list
        elements: path
        default: []
      machine:
        description:
          - Boot a Debian machine in this host's network namespace (systemd as PID 1, journald,
            sshd), with C(systemd-nspawn), from an image built once with C(mmdebstrap) and cached
            under C(/var/cache/netvirt-overlay), and a writable layer of its own under
            C(/var/lib/netvirt-lab/LAB/NAME) that survives reboots. C(systemctl reboot) inside
            reboots it.
          - Ansible reaches it over SSH as user C(ansible) (sudo for become), with the lab's key,
            checking the host key against the C(known_hosts) the lab writes (RV(ssh)).
          - The packages the roles install come from a local Debian repository built with the
            image and mounted read-only at C(/srv/netvirt-lab-repo); the machine has no route out.
        type: bool
        version_added: 0.2.0
        default: false
      ssh_address:
        description: With O(hosts[].machine), the address sshd listens on (the management address).
        type: str
        version_added: 0.2.0
      binds:
        description: Files or directories of the machine to bind-mount into the host.
        type: list
        elements: dict
        default: []
        suboptions:
          src:
            description: Path on the machine.
            type: path
            required: true
          dest:
            description: Path inside the host (must exist).
            type: path
            required: true
  networks:
    description: Underlay networks (switches).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Network name.
        type: str
        required: true
      mtu:
        description: MTU of the switch and of the links plugged into it.
        type: int
        default: 1500
      vlan_filtering:
        description: Make the switch VLAN-aware (ports then use O(links[].vlan)).
        type: bool
        default: false
  links:
    description: Interfaces of hosts, each plugged into a network or into another host.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Host that gets the interface.
        type: str
        required: true
      interface:
        description: Interface name inside the host.
        type: str
        required: true
      network:
        description: Network to plug into. Exclusive with O(links[].peer_host).
        type: str
      peer_host:
        description: Host that gets the other end (for example the hypervisor of a VM).
        type: str
      peer_interface:
        description: Name of the other end. Required with O(links[].peer_host).
        type: str
      addresses:
        description: Addresses with prefix length to put on the interface.
        type: list
        elements: str
        default: []
      routes:
        description: Routes through this interface, as C(ip route) words (V(default via 198.18.64.1)).
        type: list
        elements: str
        default: []
      mac:
        description: MAC address of the interface.
        type: str
      mtu:
        description: MTU of both ends. Defaults to the network's.
        type: int
      vlan:
        description: Access VLAN of the switch port (on a V(vlan_filtering) network).
        type: int
  hosts_entries:
    description: Lines for every host's C(/etc/hosts) (V(198.18.0.11 hv1)).
    type: list
    elements: str
    default: []
  machine_release:
    description: Debian release of the machines' image.
    type: str
    version_added: 0.2.0
    default: bookworm
  machine_mirror:
    description: Debian mirror the image is built from. Defaults to the one of this machine's apt sources.
    type: str
    version_added: 0.2.0
  machine_upgrade_release:
    description:
      - A later Debian release (V(trixie)) whose Open vSwitch and OVN packages every machine can be
        upgraded to, for a rehearsed upgrade (C(playbooks/upgrade.yml)).
      - A second local repository holds them with everything a machine of the image needs to take
        them (built once from O(machine_mirror) and cached); it is mounted read-only at
        C(/srv/netvirt-lab-upgrade-repo) in every machine, and no apt source points at it - the
        upgrade playbook is given one, as a real host is pointed at a mirror.
    type: str
    version_added: 0.2.0
attributes:
  check_mode:
    description: Not supported; the lab is built or removed for real.
    support: none
  diff_mode:
    description: Not supported; the result lists what was created or stopped.
    support: none
notes:
  - Hosts are long-lived processes; they end when the lab is removed or the machine reboots.
'''

EXAMPLES = r'''
- name: Two hosts on a transport network
  netvirt.overlay.lab:
    name: demo
    hosts:
      - name: hv1
      - name: hv2
    networks:
      - name: transport
    links:
      - {host: hv1, interface: eth1, network: transport}
      - {host: hv2, interface: eth1, network: transport}

- name: Remove it
  netvirt.overlay.lab:
    name: demo
    state: absent
'''

RETURN = r'''
created:
  description: Hosts, switches and links that were created or changed.
  returned: always
  type: list
  elements: str
  sample: ["sw-transport", "hv1", "hv1:eth1"]
stopped:
  description: Hosts and switches that were killed (state V(absent)).
  returned: when state is absent
  type: list
  elements: str
  sample: ["hv1", "sw-transport"]
pids:
  description: PID (on the machine) of every lab host's init process, by name.
  returned: when state is present
  type: dict
  sample: {"hv1": 4242}
machines:
  description: The booted machines and the address sshd listens on.
  returned: when state is present
  type: dict
  sample: {"hv1": "198.18.0.11"}
image:
  description: The machines' image, whether this run built it and how long that took.
  returned: when state is present and there are machines
  type: dict
  sample: {"path": "/var/cache/netvirt-overlay/machine-18f41cee81f564d9", "built": false, "seconds": 0.0}
upgrade_repo:
  description: With O(machine_upgrade_release), the upgrade repository, where machines see it, whether this run built it.
  returned: when state is present, there are machines and O(machine_upgrade_release) is set
  type: dict
  sample: {"path": "/var/cache/netvirt-overlay/upgrade-0123456789abcdef/repo", "release": "trixie",
           "mount": "/srv/netvirt-lab-upgrade-repo", "built": false, "seconds": 0.0}
ssh:
  description: The SSH client configuration and C(known_hosts) the lab wrote for its machines.
  returned: when state is present and there are machines
  type: dict
  sample: {"config": "/run/netvirt-lab/lab/ssh/config", "known_hosts": "/run/netvirt-lab/lab/ssh/known_hosts"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._lab import (
    LabError, check_name, ensure_lab, ensure_machines, pid_of, state_dir, stop_lab, switch_name)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', default='lab'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            hosts=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                hostname=dict(type='str'),
                tmpfs=dict(type='list', elements='path', default=[]),
                machine=dict(type='bool', default=False),
                ssh_address=dict(type='str'),
                binds=dict(type='list', elements='dict', default=[], options=dict(
                    src=dict(type='path', required=True),
                    dest=dict(type='path', required=True),
                )),
            )),
            networks=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                mtu=dict(type='int', default=1500),
                vlan_filtering=dict(type='bool', default=False),
            )),
            links=dict(type='list', elements='dict', default=[], options=dict(
                host=dict(type='str', required=True),
                interface=dict(type='str', required=True),
                network=dict(type='str'),
                peer_host=dict(type='str'),
                peer_interface=dict(type='str'),
                addresses=dict(type='list', elements='str', default=[]),
                routes=dict(type='list', elements='str', default=[]),
                mac=dict(type='str'),
                mtu=dict(type='int'),
                vlan=dict(type='int'),
            ), mutually_exclusive=[('network', 'peer_host')],
                required_one_of=[('network', 'peer_host')],
                required_together=[('peer_host', 'peer_interface')]),
            hosts_entries=dict(type='list', elements='str', default=[]),
            machine_release=dict(type='str', default='bookworm'),
            machine_mirror=dict(type='str'),
            machine_upgrade_release=dict(type='str'),
        ),
        supports_check_mode=False,
    )
    p = module.params
    try:
        state_dir(p['name'])
        for host in p['hosts']:
            check_name(host['name'], 'host name')
        for net in p['networks']:
            check_name(net['name'], 'network name')
    except LabError as exc:
        module.fail_json(msg=str(exc))
    if p['state'] == 'absent':
        stopped = stop_lab(p['name'])
        module.exit_json(changed=bool(stopped), created=[], stopped=stopped)

    names = [h['name'] for h in p['hosts']]
    if len(set(names)) != len(names):
        module.fail_json(msg='a host is listed twice: %s' % ', '.join(sorted(n for n in names if names.count(n) > 1)))
    for net in p['networks']:
        if switch_name(net['name']) in names:
            module.fail_json(msg="host name '%s' is reserved for the switch of network '%s'"
                             % (switch_name(net['name']), net['name']))
    for host in p['hosts']:
        if host['machine'] and not host['ssh_address']:
            module.fail_json(msg="hosts[%s]: a machine needs ssh_address (the management address sshd listens on)"
                             % host['name'])
    for link in p['links']:
        if len(link['interface']) > 15:
            module.fail_json(msg="interface name '%s' of host %s is longer than 15 characters"
                             % (link['interface'], link['host']))
    try:
        created = ensure_lab(p['name'], p['hosts'], p['networks'], p['links'], p['hosts_entries'])
        booted = ensure_machines(p['name'], p['hosts'], p['hosts_entries'], release=p['machine_release'],
                                 mirror=p['machine_mirror'], upgrade_release=p['machine_upgrade_release'])
    except LabError as exc:
        module.fail_json(msg=str(exc))
    for note in booted.get('notes') or []:
        module.warn(note)
    created += ['machine %s' % name for name in booted['started']]
    pids = dict((h['name'], pid_of(p['name'], h['name'])) for h in p['hosts'])
    module.exit_json(changed=bool(created), created=created, pids=pids, machines=booted['machines'],
                     image=booted['image'], upgrade_repo=booted['upgrade_repo'], ssh=booted['ssh'])


if __name__ == '__main__':
    main()
