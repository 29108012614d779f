# -*- coding: utf-8 -*-
# The rolling upgrade's logic (plugins/plugin_utils/_upgrade.py): OVN's procedure rules, the order of
# the machines, what apt offers, and the health checks' reading of real outputs.
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.filter.upgrade import FilterModule
from ansible_collections.netvirt.overlay.plugins.plugin_utils import _upgrade
from ansible_collections.netvirt.overlay.plugins.plugin_utils._upgrade import UpgradeError

FILTERS = FilterModule().filters()


@pytest.mark.parametrize('version,upstream,release', [
    ('3.5.0-1+b1', '3.5.0', (3, 5)), ('23.03.1-1~deb12u2', '23.03.1', (23, 3)), ('1:2.2.7-1+b2', '2.2.7', (2, 2)),
    ('25.03.0', '25.03.0', (25, 3)), ('3.1.0-10.el9', '3.1.0', (3, 1))])
def test_upstream_version_and_release(version, upstream, release):
    assert _upgrade.upstream_version(version) == upstream
    assert _upgrade.release_of(version) == release


def test_a_version_without_major_and_minor_is_refused():
    for bad in ('', None, 'latest'):
        with pytest.raises(UpgradeError):
            _upgrade.release_of(bad)


@pytest.mark.parametrize('release,lts,following', [
    ((21, 12), False, (22, 3)), ((22, 3), True, (24, 3)), ((22, 9), False, (24, 3)), ((23, 3), False, (24, 3)),
    ((24, 3), True, (26, 3)), ((24, 9), False, (26, 3)), ((25, 3), False, (26, 3)), ((26, 3), True, (28, 3))])
def test_ovn_lts_releases_come_every_two_years_from_22_03(release, lts, following):
    assert _upgrade.is_ovn_lts(release) is lts
    assert _upgrade.next_ovn_lts(release) == following


@pytest.mark.parametrize('current,target,procedure', [
    # Debian 12 -> 13: 23.03 is not an LTS, 25.03 is past the next LTS (24.03).
    ('23.03.1-1~deb12u2', '25.03.0-1', 'fail-safe'),
    ('23.03.1', '24.03.2', 'rolling'),          # a non-LTS to the next LTS
    ('23.03.1', '23.09.0', 'fail-safe'),        # a non-LTS to another non-LTS: not a supported path
    ('22.03.3', '23.09.1', 'rolling'),          # an LTS to a release before the next LTS
    ('22.03.3', '24.03.0', 'rolling'),          # an LTS to the next LTS
    ('22.03.3', '24.09.0', 'fail-safe'),        # past the next LTS
    ('24.03.1', '25.03.0', 'rolling'),
    ('23.03.0', '23.03.3', 'rolling'),          # a point release
])
def test_ovn_procedure_follows_the_supported_upgrade_paths(current, target, procedure):
    assert _upgrade.ovn_procedure(current, target)[0] == procedure


def test_ovn_downgrade_is_refused():
    with pytest.raises(UpgradeError, match='does not downgrade'):
        _upgrade.ovn_procedure('25.03.0', '23.03.1')


def test_ovsdb_file_format_changes_when_crossing_3_2():
    assert _upgrade.ovsdb_file_format_change('3.1.0-2+deb12u1', '3.5.0-1+b1')
    assert not _upgrade.ovsdb_file_format_change('3.2.1', '3.5.0')
    assert not _upgrade.ovsdb_file_format_change('3.1.0', '3.1.3')


# apt-cache policy (apt 2.6, C locale) on a Debian 12 machine with the lab's repository and a
# Debian 13 one: captured (the repositories' paths then replaced by where a lab machine mounts them).
APT_POLICY = open(__file__.replace('test_upgrade.py', 'apt_policy_upgrade.txt')).read()


def test_apt_policy_reads_installed_candidate_and_offered_versions():
    policy = FILTERS['apt_policy'](APT_POLICY)
    assert policy['openvswitch-common'] == {'installed': '3.1.0-2+deb12u1', 'candidate': '3.5.0-1+b1',
                                            'versions': ['3.5.0-1+b1', '3.1.0-2+deb12u1']}
    assert policy['ovn-central']['candidate'] == '25.03.0-1'
    assert policy['keepalived'] == {'installed': '1:2.2.7-1+b2', 'candidate': '1:2.2.7-1+b2', 'versions': ['1:2.2.7-1+b2']}
    assert FILTERS['apt_policy']('openvswitch-common:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n') == {
        'openvswitch-common': {'installed': None, 'candidate': None, 'versions': []}}


def test_upgrade_version_is_the_candidate_or_the_one_offered_version_asked_for():
    policy = _upgrade.apt_policy(APT_POLICY)
    assert FILTERS['upgrade_version'](policy, 'ovn-central') == '25.03.0-1'
    assert FILTERS['upgrade_version'](policy, 'ovn-central', '25.03*') == '25.03.0-1'
    assert FILTERS['upgrade_version'](policy, 'ovn-central', '23.03.1-1~deb12u2') == '23.03.1-1~deb12u2'
    with pytest.raises(AnsibleFilterError, match=r'ovn-central 24\.03\* is not offered .*25\.03\.0-1, 23\.03\.1-1~deb12u2'):
        FILTERS['upgrade_version'](policy, 'ovn-central', '24.03*')
    with pytest.raises(AnsibleFilterError, match='matches several'):
        FILTERS['upgrade_version'](policy, 'ovn-central', '2*')
    with pytest.raises(AnsibleFilterError, match='does not know ovn-ic'):
        FILTERS['upgrade_version'](policy, 'ovn-ic')
    with pytest.raises(AnsibleFilterError, match='is the upgrade source configured'):
        FILTERS['upgrade_version']({'x': {'installed': None, 'candidate': None, 'versions': []}}, 'x')


def test_upgrade_targets_pin_every_installed_package_of_each_line_and_skip_the_others():
    policy = _upgrade.apt_policy(APT_POLICY)
    policy['python3-openvswitch'] = {'installed': '3.1.0-2+deb12u1', 'candidate': '3.5.0-1+b1',
                                     'versions': ['3.5.0-1+b1', '3.1.0-2+deb12u1']}
    policy['ovn-host'] = {'installed': None, 'candidate': '25.03.0-1', 'versions': ['25.03.0-1']}
    lines = {'ovs': ['openvswitch-common', 'python3-openvswitch'], 'ovn': ['ovn-central', 'python3-openvswitch', 'ovn-host']}
    targets = FILTERS['upgrade_targets'](policy, lines, {'ovs': '', 'ovn': '25.03*'})
    # ovn-host is not installed here: not installed by the upgrade either. python3-openvswitch follows OVS.
    assert targets['install'] == ['openvswitch-common=3.5.0-1+b1', 'python3-openvswitch=3.5.0-1+b1', 'ovn-central=25.03.0-1']
    assert targets['ovs'] == {'installed': '3.1.0-2+deb12u1', 'target': '3.5.0-1+b1'}
    assert targets['ovn'] == {'installed': '23.03.1-1~deb12u2', 'target': '25.03.0-1'}
    assert set(targets['packages']) == {'openvswitch-common', 'python3-openvswitch', 'ovn-central'}
    # A host with no OVN (a mesh hypervisor) has no OVN line; one at its target installs nothing.
    mesh = FILTERS['upgrade_targets'](policy, {'ovs': ['openvswitch-common'], 'ovn': []})
    assert mesh['ovn'] is None and mesh['install'] == ['openvswitch-common=3.5.0-1+b1']
    done = FILTERS['upgrade_targets'](policy, {'ovs': ['openvswitch-common']}, {'ovs': '3.1.0-2+deb12u1'})
    assert done['install'] == [] and done['ovs'] == {'installed': '3.1.0-2+deb12u1', 'target': '3.1.0-2+deb12u1'}
    with pytest.raises(AnsibleFilterError, match='openvswitch-common 3.4'):
        FILTERS['upgrade_targets'](policy, lines, {'ovs': '3.4*'})


OVS = {'installed': '3.1.0-2+deb12u1', 'target': '3.5.0-1+b1'}
OVN = {'installed': '23.03.1-1~deb12u2', 'target': '25.03.0-1'}


def ovn_lab(**changes):
    """The OVN lab's machines in inventory order (ctl1 created the clusters; gw1 has the higher priority)."""
    hosts = [{'host': 'ctl1', 'kind': 'controller', 'ovs': dict(OVS), 'ovn': dict(OVN), 'seed': True},
             {'host': 'ctl2', 'kind': 'controller', 'ovs': dict(OVS), 'ovn': dict(OVN), 'seed': False},
             {'host': 'ctl3', 'kind': 'controller', 'ovs': dict(OVS), 'ovn': dict(OVN), 'seed': False},
             {'host': 'hv1', 'kind': 'hypervisor', 'ovs': dict(OVS), 'ovn': dict(OVN)},
             {'host': 'hv2', 'kind': 'hypervisor', 'ovs': dict(OVS), 'ovn': dict(OVN)},
             {'host': 'hv3', 'kind': 'hypervisor', 'ovs': dict(OVS), 'ovn': dict(OVN)},
             {'host': 'gw1', 'kind': 'gateway', 'ovs': dict(OVS), 'ovn': dict(OVN), 'priority': 20},
             {'host': 'gw2', 'kind': 'gateway', 'ovs': dict(OVS), 'ovn': dict(OVN), 'priority': 10}]
    for host in hosts:
        host.update(changes.get(host['host'], {}))
    return hosts


def test_debian_12_to_13_is_a_fail_safe_upgrade_controllers_first_the_seed_last_standby_gateway_first():
    plan = FILTERS['upgrade_plan'](ovn_lab())
    assert plan['procedure'] == 'fail-safe' and plan['match_northd_version']
    assert (plan['ovn_from'], plan['ovn_to'], plan['ovs_from'], plan['ovs_to']) == ('23.03.1', '25.03.0', '3.1.0', '3.5.0')
    assert plan['ovsdb_file_format_change']
    assert plan['chassis_before'] == []
    assert plan['controllers'] == ['ctl2', 'ctl3', 'ctl1']
    assert plan['chassis_after'] == ['gw2', 'gw1', 'hv1', 'hv2', 'hv3']
    assert plan['skipped'] == []


def test_a_supported_span_upgrades_the_chassis_first():
    ovn = {'installed': '23.03.1-1', 'target': '24.03.2-1'}
    plan = _upgrade.upgrade_plan(ovn_lab(**dict((h, {'ovn': dict(ovn)}) for h in
                                                ('ctl1', 'ctl2', 'ctl3', 'hv1', 'hv2', 'hv3', 'gw1', 'gw2'))))
    assert plan['procedure'] == 'rolling' and not plan['match_northd_version']
    assert plan['chassis_before'] == ['gw2', 'gw1', 'hv1', 'hv2', 'hv3'] and plan['chassis_after'] == []
    assert plan['controllers'] == ['ctl2', 'ctl3', 'ctl1']


def test_hosts_at_their_target_are_skipped_and_a_finished_upgrade_has_nothing_to_do():
    done = {'ovs': {'installed': OVS['target'], 'target': OVS['target']},
            'ovn': {'installed': OVN['target'], 'target': OVN['target']}}
    plan = _upgrade.upgrade_plan(ovn_lab(ctl2=done, gw2=done))
    assert plan['skipped'] == ['ctl2', 'gw2']
    assert plan['controllers'] == ['ctl3', 'ctl1'] and plan['chassis_after'] == ['gw1', 'hv1', 'hv2', 'hv3']
    # The oldest installed version decides the procedure.
    assert plan['procedure'] == 'fail-safe' and plan['ovn_from'] == '23.03.1'
    everything = dict((h, done) for h in ('ctl1', 'ctl2', 'ctl3', 'hv1', 'hv2', 'hv3', 'gw1', 'gw2'))
    finished = _upgrade.upgrade_plan(ovn_lab(**everything))
    assert finished['procedure'] == 'none' and finished['controllers'] == finished['chassis_after'] == []


def test_different_targets_a_downgrade_and_a_rolling_procedure_where_ovn_forbids_it_are_refused():
    with pytest.raises(AnsibleFilterError, match=r'different OVN versions \(24\.03\.0 on hv3, 25\.03\.0 on ctl1, ctl2'):
        FILTERS['upgrade_plan'](ovn_lab(hv3={'ovn': {'installed': '23.03.1', 'target': '24.03.0'}}))
    with pytest.raises(AnsibleFilterError, match='host ctl1: OVS 3.0.0 is older than the installed 3.1.0-2'):
        FILTERS['upgrade_plan'](ovn_lab(**dict((h, {'ovs': {'installed': OVS['installed'], 'target': '3.0.0'}})
                                               for h in ('ctl1', 'ctl2', 'ctl3', 'hv1', 'hv2', 'hv3', 'gw1', 'gw2'))))
    with pytest.raises(AnsibleFilterError, match='rolling procedure was asked for'):
        FILTERS['upgrade_plan'](ovn_lab(), 'rolling')
    with pytest.raises(AnsibleFilterError, match='procedure must be one of'):
        FILTERS['upgrade_plan'](ovn_lab(), 'fast')
    with pytest.raises(AnsibleFilterError, match='kind must be one of'):
        FILTERS['upgrade_plan']([{'host': 'x', 'kind': 'relay'}])


def test_fail_safe_can_be_asked_for_on_a_supported_span():
    ovn = {'installed': '24.03.1', 'target': '24.03.2'}
    plan = _upgrade.upgrade_plan(ovn_lab(**dict((h, {'ovn': dict(ovn)}) for h in
                                                ('ctl1', 'ctl2', 'ctl3', 'hv1', 'hv2', 'hv3', 'gw1', 'gw2'))), 'fail-safe')
    assert plan['procedure'] == 'fail-safe' and plan['chassis_before'] == [] and plan['chassis_after']


def test_the_static_mesh_upgrades_open_vswitch_service_nodes_then_gateways_then_hypervisors():
    hosts = [{'host': 'hv1', 'kind': 'hypervisor', 'ovs': dict(OVS), 'ovn': None},
             {'host': 'sn1', 'kind': 'service_node', 'ovs': dict(OVS), 'ovn': None},
             {'host': 'gw1', 'kind': 'gateway', 'ovs': dict(OVS), 'ovn': None}]
    plan = _upgrade.upgrade_plan(hosts)
    assert plan['procedure'] == 'rolling' and plan['ovn_from'] is None
    assert plan['chassis_before'] == ['sn1', 'gw1', 'hv1'] and plan['controllers'] == []


def test_tunnel_problems_count_tunnels_and_read_bfd_only_where_it_is_enabled():
    bridges = {'br-int': {'interfaces': {
        'ovn-hv2-0': {'type': 'geneve', 'link_state': 'up', 'error': None, 'bfd': {}, 'bfd_status': {}},
        'ovn-gw1-0': {'type': 'geneve', 'link_state': 'up', 'error': None, 'bfd': {'enable': 'true'},
                      'bfd_status': {'state': 'up', 'forwarding': 'true'}},
        'vm1': {'type': '', 'link_state': 'down'}}},
        'br-phy': {'interfaces': {'eth1': {'type': '', 'link_state': 'up'}}}}
    assert FILTERS['tunnel_problems'](bridges, 2) == []
    assert FILTERS['tunnel_problems'](bridges, 3) == ['2 tunnels, at least 3 expected']
    bridges['br-int']['interfaces']['ovn-gw1-0']['bfd_status'] = {'state': 'down'}
    bridges['br-int']['interfaces']['ovn-hv2-0']['error'] = 'could not add network device'
    assert FILTERS['tunnel_problems'](bridges, 2) == ['ovn-gw1-0: BFD down', 'ovn-hv2-0: could not add network device']
    bridges['br-int']['interfaces']['ovn-gw1-0']['bfd_status'] = {}
    assert 'ovn-gw1-0: BFD not reported' in FILTERS['tunnel_problems'](bridges, 0)
    assert FILTERS['tunnel_problems']({}, 1) == ['0 tunnels, at least 1 expected']


HA_CHASSIS = 'gw1,20\ngw2,10\ngw1,5\ngw10,30\ngw3,high\n'


@pytest.mark.parametrize('chassis, priority', [
    ('gw1', 20),   # the highest of its groups
    ('gw2', 10),
    ('gw10', 30),  # gw1 is not a prefix match of gw10
    ('gw3', 0),    # a priority that is not a number counts as 0
    ('hv1', 0),    # in no group
])
def test_ha_priority_is_the_highest_of_the_chassis(chassis, priority):
    assert FILTERS['ha_priority'](HA_CHASSIS, chassis) == priority


def test_ha_priority_without_ovn_is_0_and_needs_text():
    assert FILTERS['ha_priority']('', 'gw1') == 0
    with pytest.raises(AnsibleFilterError, match='not the CSV of ovn-nbctl list HA_Chassis'):
        FILTERS['ha_priority'](None, 'gw1')


@pytest.mark.parametrize('stdout, version', [
    ('ovs-vswitchd (Open vSwitch) 3.5.0\nDPDK 24.11.1\n', '3.5.0'),
    ('ovn-controller 25.03.0\nOpen vSwitch Library 3.5.0\nOpenFlow versions 0x6:0x6\n', '25.03.0'),
    ('', ''),
    ('\nsecond line 1.0\n', ''),
    (None, ''),
])
def test_version_answer_is_the_last_word_of_the_first_line(stdout, version):
    assert FILTERS['version_answer'](stdout) == version


def test_daemon_versions_of_a_loop_over_daemons_or_binaries():
    daemons = {'results': [
        {'item': {'name': 'ovs-vswitchd', 'ctl': 'ovs-vswitchd'}, 'rc': 0, 'stdout': 'ovs-vswitchd (Open vSwitch) 3.5.0'},
        # A daemon that does not run: the question fails, the version is empty.
        {'item': {'name': 'ovn-controller', 'ctl': 'ovn-controller'}, 'rc': 1, 'stdout': '', 'failed': False}]}
    assert FILTERS['daemon_versions'](daemons) == {'ovs-vswitchd': '3.5.0', 'ovn-controller': ''}
    binaries = {'results': [{'item': 'ovsdb-server', 'rc': 0, 'stdout': 'ovsdb-server (Open vSwitch) 3.1.0\n'},
                            {'item': 'ovn-northd', 'rc': 2, 'msg': '[Errno 2] No such file or directory'}]}
    assert FILTERS['daemon_versions'](binaries) == {'ovsdb-server': '3.1.0', 'ovn-northd': ''}
    assert FILTERS['daemon_versions']({'results': []}) == {}


@pytest.mark.parametrize('registered, message', [
    ({'stdout': 'x'}, 'not the result of a loop'),
    ({'results': [{'item': {'ctl': 'x'}, 'stdout': ''}]}, 'neither a name nor has one'),
])
def test_daemon_versions_refuses(registered, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS['daemon_versions'](registered)
