# -*- coding: utf-8 -*-
from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.filter.lab_topology import lab_topology


def test_only_lab_hosts_and_host_entries_from_the_management_network():
    hostvars = {
        'hv1': {'ansible_connection': 'netvirt.overlay.namespace',
                'lab_links': [{'interface': 'eth0', 'network': 'mgmt', 'addresses': ['198.18.0.11/24']},
                              {'interface': 'eth1', 'network': 'transport'}]},
        'vm1': {'ansible_connection': 'netvirt.overlay.namespace',
                'lab_links': [{'interface': 'eth0', 'peer_host': 'hv1', 'peer_interface': 'vnet-vm1'}]},
        'real': {'ansible_connection': 'ssh', 'lab_links': [{'interface': 'eth0', 'network': 'mgmt'}]},
    }
    topo = lab_topology(hostvars, ['hv1', 'vm1', 'real'])
    assert [h['name'] for h in topo['hosts']] == ['hv1', 'vm1']
    assert [(l['host'], l['interface']) for l in topo['links']] == [('hv1', 'eth0'), ('hv1', 'eth1'), ('vm1', 'eth0')]
    assert topo['hosts_entries'] == ['198.18.0.11 hv1']


def test_machines_boot_at_their_management_address():
    hostvars = {
        'hv1': {'ansible_connection': 'ansible.builtin.ssh', 'lab_machine': True,
                'lab_links': [{'interface': 'eth0', 'network': 'mgmt', 'addresses': ['198.18.0.11/24']}]},
        'vm1': {'ansible_connection': 'netvirt.overlay.namespace', 'lab_machine': False,
                'lab_links': [{'interface': 'eth0', 'peer_host': 'hv1', 'peer_interface': 'vm-vm1'}]},
        'real': {'ansible_connection': 'ssh'},
    }
    topo = lab_topology(hostvars, ['hv1', 'vm1', 'real'])
    assert topo['hosts'][0] == {'name': 'hv1', 'tmpfs': [], 'binds': [], 'machine': True, 'ssh_address': '198.18.0.11'}
    assert 'machine' not in topo['hosts'][1]


def test_a_machine_without_a_management_address_is_refused():
    import pytest
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match='hv1 needs an address on network mgmt'):
        lab_topology({'hv1': {'lab_machine': 'true', 'lab_links': [{'interface': 'eth1', 'network': 'transport'}]}}, ['hv1'])
