# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: lab_topology
short_description: Turn an inventory's lab variables into the arguments of netvirt.overlay.lab
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Collects, for every host of the inventory that uses the P(netvirt.overlay.namespace#connection)
    connection or has C(lab_machine) true (a booted machine, reached over SSH at its address on
    O(hosts_network)), its C(lab_links) (interfaces and the network or host each plugs into),
    C(lab_tmpfs) and C(lab_binds), and one C(/etc/hosts) line per host from the address of its
    link on the network named by O(hosts_network).
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: Inventory host names to consider (usually C(groups['all'])).
    type: list
    elements: str
    required: true
  hosts_network:
    description: Network whose addresses name the hosts in C(/etc/hosts).
    type: str
    default: mgmt
'''

EXAMPLES = r'''
- name: Create the lab of this inventory
  netvirt.overlay.lab:
    name: "{{ netvirt_lab_name }}"
    hosts: "{{ topology.hosts }}"
    links: "{{ topology.links }}"
    hosts_entries: "{{ topology.hosts_entries }}"
    networks: "{{ lab_networks }}"
  vars:
    topology: "{{ hostvars | netvirt.overlay.lab_topology(groups['all']) }}"
'''

RETURN = r'''
_value:
  description: A dict with C(hosts), C(links) and C(hosts_entries), ready for netvirt.overlay.lab.
  type: dict
'''

from ansible.errors import AnsibleFilterError

LAB_CONNECTION = 'netvirt.overlay.namespace'


def _truthy(value):
    return value is True or str(value).strip().lower() in ('true', 'yes', '1')


def lab_topology(hostvars, hosts, hosts_network='mgmt'):
    out = {'hosts': [], 'links': [], 'hosts_entries': []}
    for name in hosts:
        hv = hostvars[name]
        machine = _truthy(hv.get('lab_machine'))
        if hv.get('ansible_connection') != LAB_CONNECTION and not machine:
            continue
        host = {'name': name, 'tmpfs': list(hv.get('lab_tmpfs') or []), 'binds': list(hv.get('lab_binds') or [])}
        out['hosts'].append(host)
        for link in hv.get('lab_links') or []:
            entry = dict(link)
            entry['host'] = name
            out['links'].append(entry)
            if link.get('network') == hosts_network and link.get('addresses'):
                address = link['addresses'][0].split('/')[0]
                out['hosts_entries'].append('%s %s' % (address, name))
                if machine:
                    host.update(machine=True, ssh_address=address)
        if machine and not host.get('machine'):
            raise AnsibleFilterError('lab machine %s needs an address on network %s (its SSH address)'
                                     % (name, hosts_network))
    return out


class FilterModule(object):
    def filters(self):
        return {'lab_topology': lab_topology}
