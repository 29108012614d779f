# -*- coding: utf-8 -*-
"""ovs_bridges against a real ovsdb-server (test_converge's fixture: a temporary directory, a unix
socket, no ovs-vswitchd, so wait is off): one transaction for several bridges and tunnel groups,
the same result as the single-purpose modules, check mode and diff that match the real run, and
bad input refused before anything is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils import _ovsdb
from ansible_collections.netvirt.overlay.plugins.module_utils._bridges import Bridges
from ansible_collections.netvirt.overlay.plugins.modules import ovs_bridge, ovs_bridges, ovs_tunnels
from ansible_collections.netvirt.overlay.tests.unit.plugins.module_utils.test_converge import (  # noqa: F401 pylint: disable=unused-import
    converge_then_refuse, pytestmark, run_module, server, vsctl)
from ansible_collections.netvirt.overlay.tests.unit.plugins.modules.test_ovs_flows_groups import (  # noqa: F401 pylint: disable=unused-import
    switch)

# Names no host has: internal ports create devices, and the module checks the names are free.
BRIDGES = [
    dict(bridge='nvt-phy', datapath_type='netdev', ports=[dict(name='nvt-tep0', type='internal', mtu=1600)]),
    dict(bridge='nvt-int', datapath_type='netdev', fail_mode='standalone',
         ports=[dict(name='nvt-ptun', type='patch', peer='nvt-pint')]),
    dict(bridge='nvt-tun', datapath_type='netdev', fail_mode='secure', protocols=['OpenFlow10', 'OpenFlow13'],
         ports=[dict(name='nvt-pint', type='patch', peer='nvt-ptun')]),
]
TUNNELS = [
    dict(bridge='nvt-tun', tunnel_type='gre', local_ip='198.18.0.1', key='flow', group='mesh',
         remotes=['198.18.0.1', '198.18.0.2', '198.18.0.3'], purge=True),
    dict(bridge='nvt-tun', tunnel_type='gre', local_ip='198.18.0.1', key='flow', group='service-nodes',
         name_prefix='sn', bfd=True, bfd_min_rx=500, remotes=['198.18.0.9'], purge=True),
]


def bridges(remote, capsys, check=False, diff=False, **args):
    args = dict(dict(db=remote, wait=False, bridges=BRIDGES, tunnels=TUNNELS), **args)
    args.update(_ansible_check_mode=check, _ansible_diff=diff)
    return run_module(ovs_bridges, args, capsys)


@pytest.fixture
def transactions(monkeypatch):
    """How many transactions the module sends (the client's transact, counted, not replaced)."""
    sent = []
    real = _ovsdb.OvsdbClient.transact

    def counted(self, build, *args, **kwargs):
        status = real(self, build, *args, **kwargs)
        if status is not None:
            sent.append(status)
        return status

    monkeypatch.setattr(_ovsdb.OvsdbClient, 'transact', counted)
    return sent


def test_three_bridges_and_two_tunnel_groups_are_one_transaction_then_nothing_to_do(server, capsys, transactions):
    result = bridges(server, capsys)
    assert result['changed'] is True and 'failed' not in result, result
    assert transactions == ['success']
    assert sorted(vsctl(server, 'list-br')) == ['nvt-int', 'nvt-phy', 'nvt-tun']
    assert sorted(vsctl(server, 'list-ports', 'nvt-tun')) == ['gre-c6120002', 'gre-c6120003', 'nvt-pint', 'sn-c6120009']
    assert vsctl(server, 'get', 'Interface', 'sn-c6120009', 'bfd:min_rx') == ['"500"']
    assert [sorted(t['tunnels']) for t in result['tunnels']] == [['gre-c6120002', 'gre-c6120003'], ['sn-c6120009']]
    assert [b['bridge']['datapath_type'] for b in result['bridges']] == ['netdev'] * 3
    # Every change is in the result, and in the group's or the bridge's own list.
    parts = [c for item in result['bridges'] + result['tunnels'] for c in item['changes']]
    assert parts == result['changes']

    again = bridges(server, capsys)
    assert again['changed'] is False and again['changes'] == [], again
    assert transactions == ['success']


def test_the_result_is_what_the_single_purpose_modules_make(server, capsys):
    """ovs_bridge and ovs_tunnels, one task per item, leave what ovs_bridges asks for: it has nothing to do."""
    for item in BRIDGES:
        assert run_module(ovs_bridge, dict(item, db=server, wait=False), capsys)['changed'] is True
    for item in TUNNELS:
        assert run_module(ovs_tunnels, dict(item, db=server, wait=False), capsys)['changed'] is True
    result = bridges(server, capsys, check=True)
    assert result['changed'] is False and result['changes'] == [], result


def test_check_mode_and_diff_predict_the_real_run(server, capsys):
    vsctl(server, 'add-br', 'nvt-tun', '--', 'set', 'Bridge', 'nvt-tun', 'datapath_type=netdev')
    vsctl(server, 'add-port', 'nvt-tun', 'gre-c6120004', '--', 'set', 'Interface', 'gre-c6120004', 'type=gre',
          'options:remote_ip=198.18.0.4', 'options:local_ip=198.18.0.1', 'options:key=flow',
          '--', 'set', 'Port', 'gre-c6120004', 'external_ids:netvirt-overlay-tunnel-group=mesh',
          'external_ids:netvirt-overlay-remote=198.18.0.4')
    predicted = bridges(server, capsys, check=True, diff=True)
    assert vsctl(server, 'list-br') == ['nvt-tun'], 'check mode wrote'
    real = bridges(server, capsys, diff=True)
    assert predicted['changed'] is real['changed'] is True
    assert predicted['changes'] == real['changes']
    assert predicted['diff'] == real['diff']
    assert predicted['bridges'] == real['bridges'] and predicted['tunnels'] == real['tunnels']
    assert sorted(real['diff']['before']) == ['nvt-tun'] and sorted(real['diff']['after']) == ['nvt-int', 'nvt-phy', 'nvt-tun']
    # The stale tunnel of the group is removed, and reported as the group's change.
    assert {'op': 'del_port', 'bridge': 'nvt-tun', 'port': 'gre-c6120004'} in real['tunnels'][0]['changes']
    assert real['tunnels'][1]['changes'] and all(c['op'] == 'add_port' for c in real['tunnels'][1]['changes'])


@pytest.mark.parametrize('args, message', [
    (dict(tunnels=TUNNELS + [dict(TUNNELS[0], group='more', remotes=['198.18.0.300'])]), 'tunnels[2]: remotes[0]'),
    (dict(bridges=BRIDGES + [dict(bridge='nvt-x', portz=[])]), 'bridges[3]: unsupported option(s) portz'),
    (dict(bridges=[dict(BRIDGES[0], state='gone')]), 'bridges[0]: value of state must be one of'),
    (dict(bridges=BRIDGES + [BRIDGES[1]]), "bridges[3].bridge: 'nvt-int' is listed twice (first as bridges[1])"),
    (dict(tunnels=TUNNELS + [TUNNELS[1]]), "tunnels[2].group: group 'service-nodes' on bridge 'nvt-tun' is listed twice"),
    (dict(bridges=[dict(bridge='nvt-tun', state='absent')]), "tunnels[0].bridge: bridge 'nvt-tun' is removed by bridges[0]"),
    (dict(bridges=[], tunnels=[]), 'both are empty'),
    (dict(bridges=['nvt-int']), "bridges"),  # AnsibleModule's own check of elements: dict
    (dict(openflow=[dict(bridge='nvt-tun', flows=[])]), 'openflow[0]: flows: the list is empty'),
    (dict(openflow=[dict(bridge='nvt-tun', flows=['table=255,priority=1 actions=drop'])]), 'openflow[0]: flows[0]'),
    (dict(openflow=[dict(bridge='nvt-tun', flowz=['priority=1 actions=drop'])]), 'openflow[0]: unsupported option(s) flowz'),
    (dict(openflow=[dict(bridge='nvt-tun', flows=['priority=1 actions=drop']),
                    dict(bridge='nvt-tun', flows=['priority=2 actions=drop'])]),
     "openflow[1]: the flows of cookie 20054 on bridge 'nvt-tun' are listed twice (first as openflow[0])"),
    (dict(openflow=[dict(bridge='nvt-tun', flows=['priority=1 actions=drop'], groups=[]),
                    dict(bridge='nvt-tun', cookie=7, flows=['priority=2 actions=drop'], groups=[])]),
     "openflow[1].groups: the groups of bridge 'nvt-tun' are given twice (first in openflow[0])"),
    (dict(bridges=[dict(bridge='nvt-tun', state='absent')], tunnels=[],
          openflow=[dict(bridge='nvt-tun', flows=['priority=1 actions=drop'])]),
     "openflow[0].bridge: bridge 'nvt-tun' is removed by bridges[0]"),
    (dict(interfaces=[dict(interface='nvt-tep0', addresses=['198.18.1.11'])]), 'interfaces[0]: addresses[0]'),
    (dict(interfaces=[dict(interface='nvt-tep0', addresses=['198.18.1.11/24'], mtu=9)]), 'interfaces[0]: mtu'),
    (dict(interfaces=[dict(address=['198.18.1.11/24'])]), 'interfaces[0]: '),
    (dict(interfaces=[dict(interface='nvt-tep0'), dict(interface='nvt-tep0', mtu=1500)]),
     "interfaces[1].interface: 'nvt-tep0' is listed twice (first as interfaces[0])"),
    (dict(forget_learned=[dict(bridge='nvt-tun', cookie=0)]), 'forget_learned[0]: cookie: 0 is outside'),
    (dict(forget_learned=[dict(bridge='nvt-tun', cookie=7), dict(bridge='nvt-tun', cookie=8)]),
     "forget_learned[1].bridge: 'nvt-tun' is listed twice (first as forget_learned[0])"),
    (dict(forget_learned=[dict(bridge='nvt-tun')]), 'forget_learned'),  # AnsibleModule's own check: cookie required
])
def test_bad_input_is_refused_before_anything_is_read(server, capsys, args, message):
    result = bridges(server, capsys, **args)
    assert result['failed'] is True and result.get('changed', False) is False
    assert message in result['msg'], result['msg']
    assert vsctl(server, 'list-br') == []


def test_a_later_item_refused_by_the_database_leaves_it_alone(server, capsys):
    """The last tunnel group takes a port name a bridge of the first item holds: all items are planned
    before the one commit, so nothing is written, and the refusal names the item."""
    clash = dict(TUNNELS[1], group='other', remotes=[dict(remote_ip='198.18.0.7', name='nvt-tep0')])
    result = bridges(server, capsys, tunnels=TUNNELS + [clash])
    assert result['failed'] is True and result['changed'] is False
    assert result['msg'].startswith("tunnels[2]: port 'nvt-tep0' already exists on bridge 'nvt-phy'"), result['msg']
    assert vsctl(server, 'list-br') == []


def test_a_tunnel_group_on_a_bridge_it_does_not_list_needs_that_bridge(server, capsys):
    result = bridges(server, capsys, bridges=[])
    assert result['failed'] is True and result['changed'] is False
    assert "tunnels[0]: bridge 'nvt-tun' does not exist" in result['msg']


def test_an_interface_refused_after_the_commit_takes_every_item_back(server):
    """ovs-vswitchd refuses one tunnel of the last group (the error written the way it writes it): the
    whole commit is rolled back, the bridges of the other items with it."""
    resource = Bridges(dict(bridges=BRIDGES, tunnels=TUNNELS, wait=False), check_mode=False)
    refused = converge_then_refuse(server, resource, 'sn-c6120009')
    assert refused.changed is False
    assert vsctl(server, 'list-br') == []


def test_flows_and_groups_in_the_same_run_name_a_port_the_commit_creates(switch, capsys, monkeypatch):
    """openflow: after the commit, on a real ovs-vswitchd. Check mode predicts the flows that name a
    port the commit would create as added and changes nothing; the real run makes the port and the
    flows and groups in one module run; a second run has nothing to do."""
    monkeypatch.setenv('OVS_RUNDIR', switch['OVS_RUNDIR'])
    db = 'unix:%s/db.sock' % switch['OVS_RUNDIR']
    group = 'group_id=7,type=all,bucket=actions=output:nvt-p2'
    args = dict(db=db, bridges=[dict(bridge='br0', ports=[dict(name='nvt-p2', type='internal')])],
                openflow=[dict(bridge='br0', cookie=0x77, groups=[group],
                               flows=['table=0,priority=7,in_port=p1 actions=group:7',
                                      'table=0,priority=6,in_port=nvt-p2 actions=output:p1'])])

    def flows_of():
        out = subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13', '--names', 'dump-flows', 'br0', 'cookie=0x77/-1'],
                             env=switch, check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
        return sorted(line.split(' actions=')[1] for line in out.splitlines() if 'actions=' in line)

    check = run_module(ovs_bridges, dict(args, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert check['changed'] is True and 'failed' not in check, check
    [flows] = check['openflow']
    assert flows['ports_to_come'] == ['nvt-p2'] and len(flows['added']) == 2 and flows['added_groups'] == [group]
    assert 'nvt-p2' in check['diff']['after']['openflow']['br0'] and group in check['diff']['after']['openflow']['br0']
    assert 'nvt-p2' not in vsctl(db, 'list-ports', 'br0') and flows_of() == []

    done = run_module(ovs_bridges, dict(args, _ansible_diff=True), capsys)
    assert done['changed'] is True and 'failed' not in done, done
    # (The switch quotes a port name with a dash; check mode's stand-in was put back without quotes.)
    assert sorted(f.replace('"', '') for f in done['openflow'][0]['added']) == sorted(flows['added']), (done, flows)
    assert 'nvt-p2' in vsctl(db, 'list-ports', 'br0')
    assert flows_of() == ['group:7', 'output:p1']

    again = run_module(ovs_bridges, args, capsys)
    assert again['changed'] is False and again['openflow'][0]['changed'] is False, again


def test_flows_refused_by_the_switch_fail_with_what_the_commit_changed(switch, capsys, monkeypatch):
    """The commit is done when ovs-ofctl refuses an item: the module fails, says changed, applies no flow."""
    monkeypatch.setenv('OVS_RUNDIR', switch['OVS_RUNDIR'])
    db = 'unix:%s/db.sock' % switch['OVS_RUNDIR']
    result = run_module(ovs_bridges, dict(db=db, bridges=[dict(bridge='br0', ports=[dict(name='nvt-p3', type='internal')])],
                                          openflow=[dict(bridge='br0', cookie=0x78,
                                                         flows=['table=0,priority=8 actions=output:nosuchport'])]), capsys)
    assert result['failed'] is True and result['changed'] is True, result
    assert result['msg'].startswith('openflow[0]: ') and 'nosuchport' in result['msg'], result['msg']
    assert 'nvt-p3' in vsctl(db, 'list-ports', 'br0')


def test_a_bridge_forgets_what_it_learned_when_a_tunnel_is_replaced(switch, capsys, monkeypatch):
    """forget_learned: a learned flow (cookie 0x4e57, as br-tun's learn() writes them) stays while tunnels are
    only added; when the commit replaces a tunnel (another remote), check mode says the bridge would forget
    and deletes nothing, the real run deletes the bridge's learned flows and no other flow."""
    monkeypatch.setenv('OVS_RUNDIR', switch['OVS_RUNDIR'])
    db = 'unix:%s/db.sock' % switch['OVS_RUNDIR']

    def ofctl(*args):
        return subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13'] + list(args), env=switch, check=True,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout

    def cookies():  # of this test's flows (the switch is the module's: other tests' flows are there)
        return sorted(set(line.split('cookie=')[1].split(',')[0] for line in ofctl('dump-flows', 'br0').splitlines()
                          if 'cookie=' in line) & {'0x4e57', '0x79'})

    def run(remotes, check=False):
        tunnels = [dict(bridge='br0', tunnel_type='gre', local_ip='198.18.0.1', key='flow', remotes=remotes, purge=True)]
        return run_module(ovs_bridges, dict(db=db, tunnels=tunnels, forget_learned=[dict(bridge='br0', cookie=0x4e57)],
                                            _ansible_check_mode=check), capsys)

    ofctl('add-flow', 'br0', 'cookie=0x4e57,table=0,priority=3,dl_dst=02:00:00:00:00:01 actions=drop')
    ofctl('add-flow', 'br0', 'cookie=0x79,table=0,priority=2 actions=drop')
    added = run(['198.18.0.2'])
    assert added['changed'] is True and added['forgot_learned'] == [], added
    assert cookies() == ['0x4e57', '0x79']
    replaced = run(['198.18.0.3'], check=True)
    assert replaced['changed'] is True and replaced['forgot_learned'] == ['br0'], replaced
    assert cookies() == ['0x4e57', '0x79']
    replaced = run(['198.18.0.3'])
    assert replaced['changed'] is True and replaced['forgot_learned'] == ['br0'], replaced
    assert cookies() == ['0x79']
    ofctl('add-flow', 'br0', 'cookie=0x4e57,table=0,priority=3,dl_dst=02:00:00:00:00:01 actions=drop')
    again = run(['198.18.0.3'])
    assert again['changed'] is False and again['forgot_learned'] == [], again
    assert cookies() == ['0x4e57', '0x79']


# Runs ovs_bridges in the switch's network namespace (where ovs-vswitchd makes the internal port's
# device), three times with the arguments of argv[2] (JSON): check mode with --diff, the real run,
# the same again; prints each result, then the device's addresses.
IN_SWITCH_NETNS = r'''
import json, subprocess, sys
sys.path[:0] = sys.argv[3:]
from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args
from ansible_collections.netvirt.overlay.plugins.modules import ovs_bridges
args = json.loads(sys.argv[2])
for extra in ({'_ansible_check_mode': True, '_ansible_diff': True}, {'_ansible_diff': True}, {}):
    with patch_module_args(dict(args, **extra)):
        try:
            ovs_bridges.main()
        except SystemExit:
            pass
    print()
print(subprocess.run(['ip', '-j', 'address', 'show', 'dev', sys.argv[1]], capture_output=True, text=True, check=True).stdout)
'''


def in_switch_netns(switch, device, args):
    """[check mode's result, the real run's, the one after it], and the device's `ip -j address`."""
    with open(os.path.join(switch['OVS_RUNDIR'], 'ovs-vswitchd.pid')) as handle:
        pid = handle.read().strip()
    done = subprocess.run(['nsenter', '--target', pid, '--net', sys.executable, '-c', IN_SWITCH_NETNS, device,
                           json.dumps(args)] + [p for p in sys.path if p],
                          env=switch, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(('{', '['))]
    return [json.loads(line) for line in lines[:3]], json.loads(lines[3])


def test_an_internal_port_and_its_address_in_one_run(switch):
    """interfaces: the tunnel endpoint's address on the internal port the commit creates, in the
    same module run, in a network namespace of the test's own (the switch's). Check mode predicts it
    on a new interface and changes nothing; the real run makes the port, adds the address and
    announces it; the next run has nothing to do. Then a new MAC address on the port (the commit's
    change) announces the address again."""
    db = 'unix:%s/db.sock' % switch['OVS_RUNDIR']
    port = dict(name='nvt-tep1', type='internal', mac='02:4e:c6:12:01:0b')
    args = dict(db=db, bridges=[dict(bridge='br0', ports=[dict(name='p1', type='internal'), dict(name='sn-a', type='internal'), port])],
                interfaces=[dict(interface='nvt-tep1', addresses=['198.18.1.11/24'], mtu=1500, announce=True)])
    (check, done, again), shown = in_switch_netns(switch, 'nvt-tep1', args)
    assert check['changed'] is True and 'failed' not in check, check
    assert check['interfaces'][0]['commands'] == ['ip link set dev nvt-tep1 mtu 1500', 'ip address add 198.18.1.11/24 dev nvt-tep1',
                                                  'ip link set dev nvt-tep1 up']
    assert check['diff']['after']['interfaces']['nvt-tep1']['addresses'] == ['198.18.1.11/24']
    assert done['changed'] is True and 'failed' not in done, done
    # (Check mode cannot know the MTU of a device still to come: it predicts setting it.)
    assert done['interfaces'][0]['commands'] == check['interfaces'][0]['commands'][1:]
    assert done['interfaces'][0]['announced'] == ['198.18.1.11/24']
    assert again['changed'] is False and again['interfaces'][0] == dict(
        changed=False, commands=[], announced=[], interface=dict(addresses=['198.18.1.11/24'], mtu=1500, up=True)), again
    assert [a['local'] for a in shown[0]['addr_info'] if a['family'] == 'inet'] == ['198.18.1.11']

    ports = [dict(name='p1', type='internal'), dict(name='sn-a', type='internal'), dict(port, mac='02:4e:c6:12:01:0c')]
    moved = dict(args, bridges=[dict(bridge='br0', ports=ports)])
    (check, done, again), shown = in_switch_netns(switch, 'nvt-tep1', moved)
    assert check['changed'] is True and check['interfaces'][0]['announced'] == ['198.18.1.11/24'], check
    assert done['changed'] is True and done['interfaces'][0] == dict(
        changed=True, commands=[], announced=['198.18.1.11/24'], interface=dict(addresses=['198.18.1.11/24'], mtu=1500, up=True)), done
    assert again['changed'] is False and again['interfaces'][0]['announced'] == [], again
    assert shown[0]['address'] == '02:4e:c6:12:01:0c'
