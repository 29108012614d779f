# -*- coding: utf-8 -*-
# The OVN filters: member controllers, the OVSDB remote of a group, a node's certificate files.
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.filter.ovn import FilterModule

FILTERS = FilterModule().filters()
HOSTVARS = {
    'ctl1': {'controller_address': '198.18.0.21'},
    'ctl2': {'controller_address': '198.18.0.22', 'controller_state': 'absent'},
    'ctl3': {'controller_address': '198.18.0.23', 'controller_state': 'present'},
    'ctl6': {'controller_address': '2001:db8::23'},
    'relay1': {'sb_relay_address': '198.18.0.31'},
    'bad': {'controller_address': '198.18.0.99', 'controller_state': 'gone'},
    'noaddr': {},
}


def test_members_leave_out_absent_controllers_and_keep_the_order():
    assert FILTERS['ovn_members'](['ctl3', 'ctl2', 'ctl1'], HOSTVARS) == ['ctl3', 'ctl1']
    assert FILTERS['ovn_members']([], HOSTVARS) == []


def test_members_refuse_an_unknown_state():
    with pytest.raises(AnsibleFilterError, match="bad: controller_state is 'gone'"):
        FILTERS['ovn_members'](['ctl1', 'bad'], HOSTVARS)


def test_remote_of_the_present_members():
    remote = FILTERS['ovn_remote'](['ctl1', 'ctl2', 'ctl3'], HOSTVARS, 'ssl', 6642)
    assert remote == 'ssl:198.18.0.21:6642,ssl:198.18.0.23:6642'
    assert FILTERS['ovn_remote'](['ctl1'], HOSTVARS, 'tcp', '6641') == 'tcp:198.18.0.21:6641'


def test_remote_of_relays_and_ipv6():
    assert FILTERS['ovn_remote'](['relay1'], HOSTVARS, 'ssl', 6642, address='sb_relay_address') == 'ssl:198.18.0.31:6642'
    assert FILTERS['ovn_remote'](['ctl6'], HOSTVARS, 'ssl', 6642) == 'ssl:[2001:db8::23]:6642'


def test_remote_of_an_empty_group_is_empty():
    assert FILTERS['ovn_remote']([], HOSTVARS, 'ssl', 6642) == ''
    assert FILTERS['ovn_remote'](['ctl2'], HOSTVARS, 'ssl', 6642) == ''


@pytest.mark.parametrize('hosts, args, message', [
    (['noaddr'], ('ssl', 6642), 'noaddr has no controller_address'),
    (['relay1'], ('ssl', 6642), 'relay1 has no controller_address'),
    (['ctl1'], ('udp', 6642), "transport 'udp'"),
    (['ctl1'], ('ssl', 70000), 'port 70000 is outside 1-65535'),
    (['ctl1'], ('ssl', 'six'), "port 'six' is not a number"),
    (['ghost'], ('ssl', 6642), 'ghost is not in the inventory'),
])
def test_remote_refuses(hosts, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS['ovn_remote'](hosts, HOSTVARS, *args)


def test_remote_refuses_an_address_that_is_not_one():
    with pytest.raises(AnsibleFilterError, match="x: controller_address: '198.18.0' is not an IP address"):
        FILTERS['ovn_remote'](['x'], {'x': {'controller_address': '198.18.0'}}, 'ssl', 6642)


def test_certificate_of_a_control_plane_node():
    cert = FILTERS['ovn_certificate']('ctl1', '/srv/pki', True, 'ignored')
    assert cert == {'kind': 'controllers', 'name': 'ctl1', 'ca': 'controller', 'dir': '/srv/pki/nodes/controllers',
                    'files': '/srv/pki/nodes/controllers/ctl1', 'key': '/srv/pki/nodes/controllers/ctl1-privkey.pem',
                    'cert': '/srv/pki/nodes/controllers/ctl1-cert.pem'}


def test_certificate_of_a_chassis_is_named_after_its_system_id():
    cert = FILTERS['ovn_certificate']('hv1', '/srv/pki/', False, 'chassis-7')
    assert (cert['kind'], cert['name'], cert['ca']) == ('chassis', 'chassis-7', 'switch')
    assert cert['cert'] == '/srv/pki/nodes/chassis/chassis-7-cert.pem'
    assert FILTERS['ovn_certificate']('hv1', '/srv/pki', False)['name'] == 'hv1'


@pytest.mark.parametrize('pki_dir', ['pki', '', None])
def test_certificate_needs_an_absolute_pki_dir(pki_dir):
    with pytest.raises(AnsibleFilterError, match='must be an absolute path'):
        FILTERS['ovn_certificate']('hv1', pki_dir, False)


def test_bridge_ports_of_vm_ports_and_uplinks():
    vm = [{'name': 'vm1', 'logical_port': 'blue-vm1'}]
    assert FILTERS['ovn_bridge_ports'](vm, '1442') == [
        {'name': 'vm1', 'mtu': 1442, 'interface_external_ids': {'iface-id': 'blue-vm1'}}]
    assert FILTERS['ovn_bridge_ports'](['eth2', 'eth3']) == [{'name': 'eth2'}, {'name': 'eth3'}]
    assert FILTERS['ovn_bridge_ports']([]) == []


@pytest.mark.parametrize('ports, mtu, needle', [
    ([{'name': 'vm1'}], 1442, 'ports[0]'),
    ([''], None, 'ports[0]'),
    ([{'name': 'vm1', 'logical_port': 'p'}], None, 'ports[0] (vm1): a VM port needs the tenant mtu'),
])
def test_bridge_ports_refused(ports, mtu, needle):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS['ovn_bridge_ports'](ports, mtu)
    assert needle in str(exc.value)


TOPOLOGY = {
    'ha_chassis_groups': [{'name': 'edge', 'chassis': [{'name': 'gw1', 'priority': 20}, {'name': 'gw2', 'priority': 10}]},
                          {'name': 'west', 'chassis': [{'name': 'gw3', 'priority': 5}]}],
    'routers': [{'name': 'lr0', 'ports': [{'name': 'lr0-blue'},
                                          {'name': 'lr0-ext', 'gateway_chassis': [{'name': 'gw2', 'priority': 1}]}]},
                {'name': 'gr1', 'options': {'chassis': 'gw4'}}],
    'switches': [{'name': 'dmz', 'ports': [{'name': 'dmz-l2', 'type': 'l2gateway', 'l2gateway_chassis': 'gw3'}]}],
}


@pytest.mark.parametrize('chassis, uses', [
    ('gw2', ['ha_chassis_groups edge', 'routers lr0 port lr0-ext (gateway_chassis)']),
    ('gw3', ['ha_chassis_groups west', 'switches dmz port dmz-l2 (l2gateway_chassis)']),
    ('gw4', ['routers gr1 (options chassis)']),
    ('gw5', []),
])
def test_gateway_uses_name_every_group_and_port_that_lists_the_chassis(chassis, uses):
    assert FILTERS['ovn_gateway_uses'](TOPOLOGY, chassis) == uses


def test_gateway_uses_of_no_topology_and_of_one_without_gateways():
    assert FILTERS['ovn_gateway_uses'](None, 'gw1') == []
    assert FILTERS['ovn_gateway_uses']({'switches': [{'name': 'blue'}]}, 'gw1') == []


def test_gateway_uses_refuse_what_is_not_a_topology():
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS['ovn_gateway_uses'](['edge'], 'gw1')
    assert 'overlay_ovn_topology must be a mapping' in str(exc.value)


def test_listener_of_an_address():
    assert FILTERS['ovn_listener']('198.18.0.21', 'ssl', 6641) == 'pssl:6641:198.18.0.21'
    assert FILTERS['ovn_listener']('198.18.0.31', 'tcp', '6642') == 'ptcp:6642:198.18.0.31'
    # OVSDB wants an IPv6 listener address in brackets, as in its remotes.
    assert FILTERS['ovn_listener']('2001:db8::21', 'ssl', 6642) == 'pssl:6642:[2001:db8::21]'


@pytest.mark.parametrize('args, message', [
    (('ctl1.example', 'ssl', 6642), "'ctl1.example' is not an IP address"),
    (('198.18.0.21', 'udp', 6642), "transport 'udp'"),
    (('198.18.0.21', 'ssl', 0), 'port 0 is outside 1-65535'),
])
def test_listener_refuses(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS['ovn_listener'](*args)


STATUS = '''1a2b
Name: OVN_Northbound
Cluster ID: 6d0f (6d0f8c0e-9a43-4bd0-8a4c-2f43b8f0c6aa)
Server ID: 1a2b (1a2b3c4d-1111-2222-3333-444444444444)
Address: ssl:198.18.0.21:6643
Status: cluster member
Servers:
    1a2b (1a2b at ssl:198.18.0.21:6643) (self) next_index=41 match_index=40
    3c4d (3c4d at tcp:[2001:db8::22]:6643) next_index=41 match_index=40
'''


def test_cluster_servers_with_ipv6_addresses_unbracketed():
    assert FILTERS['cluster_servers'](STATUS) == [{'sid': '1a2b', 'address': '198.18.0.21'},
                                                  {'sid': '3c4d', 'address': '2001:db8::22'}]
    # The server's own Address: line is not a listed server.
    assert FILTERS['cluster_servers'](STATUS.split('Servers:', maxsplit=1)[0]) == []


def test_cluster_servers_refuse_what_is_not_a_status():
    with pytest.raises(AnsibleFilterError, match='not the output of ovn-appctl cluster/status'):
        FILTERS['cluster_servers'](None)


# cluster/status of a follower of a three-server cluster, in the layout ovsdb-server 3.1 prints (written for
# the test; the drill, tests/integration/test_machine_lab_upgrade.py, reads real ones).
CLUSTER_STATUS = """3b1f
Name: OVN_Southbound
Cluster ID: 5f6e (5f6e1c0e-9b6f-4d8c-a0f4-1c2d3e4f5a6b)
Server ID: 3b1f (3b1f0d5e-6a7b-4c8d-9e0f-1a2b3c4d5e6f)
Address: ssl:198.18.0.22:6644
Status: cluster member
Role: follower
Term: 3
Leader: 8c2a
Vote: 8c2a

Last Election started 1234 ms ago, reason: timeout
Election timer: 1000
Log: [2, 40]
Entries not yet committed: 0
Entries not yet applied: 0
Connections: ->0000 ->8c2a <-8c2a <-d4e5
Disconnections: 0
Servers:
    3b1f (3b1f at ssl:198.18.0.22:6644) (self)
    8c2a (8c2a at ssl:198.18.0.21:6644)
    d4e5 (d4e5 at ssl:198.18.0.23:6644)
"""


def test_a_healthy_member_has_no_problems_and_each_fault_is_named():
    assert FILTERS['cluster_problems'](CLUSTER_STATUS, 'OVN_Southbound', 3) == []
    assert FILTERS['cluster_problems'](CLUSTER_STATUS, 'OVN_Southbound', 4) == ['OVN_Southbound: 3 servers in the cluster, 4 expected']
    joining = CLUSTER_STATUS.replace('Status: cluster member', 'Status: joining cluster').replace('Leader: 8c2a', 'Leader: unknown')
    assert FILTERS['cluster_problems'](joining, 'OVN_Southbound', 3) == [
        "OVN_Southbound: status 'joining cluster', not \"cluster member\"", 'OVN_Southbound: no leader known']
    # No answer is a failure, not an empty list.
    assert FILTERS['cluster_problems']('', 'OVN_Northbound', 3) == [
        'OVN_Northbound: no cluster/status answer (the database server does not run)']


# The units' options of a member (controller_systemd_opts): the databases', then ovn-northd's, whose
# northbound remotes name every member.
DATABASE_OPTIONS = ['--db-nb-cluster-local-addr=198.18.0.22', '--db-nb-cluster-remote-addr=198.18.0.21',
                    '--db-sb-cluster-local-addr=198.18.0.22', '--db-sb-cluster-remote-addr=198.18.0.21']
NORTHD_OF_THREE = ['--ovn-northd-nb-db=ssl:198.18.0.21:6641,ssl:198.18.0.22:6641,ssl:198.18.0.23:6641',
                   '--ovn-northd-sb-db=unix:/var/run/ovn/ovnsb_db.sock']


def test_database_options_leave_out_ovn_northd_s():
    assert FILTERS['ovn_database_options'](DATABASE_OPTIONS + NORTHD_OF_THREE) == DATABASE_OPTIONS
    assert FILTERS['ovn_database_options']([]) == []


def test_database_options_of_the_environment_file_are_those_the_role_writes():
    written = '# Ansible managed\n# comment\nOVN_CTL_OPTS="%s"\n' % ' '.join(DATABASE_OPTIONS + NORTHD_OF_THREE)
    assert FILTERS['ovn_database_options'](written, 'OVN_CTL_OPTS') == DATABASE_OPTIONS


def test_a_member_leaving_changes_ovn_northd_s_options_only():
    """ctl3 leaves: the northbound remotes of ovn-northd lose it, the databases' options stay, so the
    role restarts ovn-northd alone (restarting every member's databases at once left the clusters
    without a leader for a moment)."""
    before = '%s="%s"\n' % ('OVN_CTL_OPTS', ' '.join(DATABASE_OPTIONS + NORTHD_OF_THREE))
    after = DATABASE_OPTIONS + ['--ovn-northd-nb-db=ssl:198.18.0.21:6641,ssl:198.18.0.22:6641', NORTHD_OF_THREE[1]]
    assert FILTERS['ovn_database_options'](before, 'OVN_CTL_OPTS') == FILTERS['ovn_database_options'](after)
    moved = ['--db-nb-cluster-remote-addr=198.18.0.23' if option.startswith('--db-nb-cluster-remote') else option for option in after]
    assert FILTERS['ovn_database_options'](before, 'OVN_CTL_OPTS') != FILTERS['ovn_database_options'](moved)


def test_database_options_of_a_missing_file_or_line_are_none():
    assert FILTERS['ovn_database_options']('', 'OVN_CTL_OPTS') == []
    assert FILTERS['ovn_database_options']('OTHER="--x"\n', 'OVN_CTL_OPTS') == []


def test_database_options_refuse_text_without_a_variable_and_other_input():
    with pytest.raises(AnsibleFilterError, match='needs the variable to read'):
        FILTERS['ovn_database_options']('OVN_CTL_OPTS="--x"')
    with pytest.raises(AnsibleFilterError, match='not a list of options'):
        FILTERS['ovn_database_options']({'content': 'x'})
