# -*- coding: utf-8 -*-
# ovs_flows' groups option: the checks and the plan as data, then the module against a real
# ovs-vswitchd. The daemons run in a network namespace of their own (the bridge's tap device must
# not appear in the machine's); ovs-ofctl reaches them through their unix sockets.
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError
from ansible_collections.netvirt.overlay.plugins.module_utils._openflow import (
    check_groups, group_text, parse_group_dump, plan_groups)
from ansible_collections.netvirt.overlay.plugins.module_utils import _ovs_flows
from ansible_collections.netvirt.overlay.plugins.modules import ovs_flows

G1 = 'group_id=1,type=ff,bucket=watch_port:sn-a,actions=output:sn-a,bucket=watch_port:patch-int,actions=output:p1'
G2 = 'group_id=2,type=ff,bucket=watch_port:sn-a,actions=output:sn-a'


def test_groups_checked_and_keyed_by_id():
    assert check_groups([' %s ' % G1, G2.replace('sn-a', '"sn-a"')]) == {1: G1, 2: G2}


@pytest.mark.parametrize('groups, needle', [
    ([''], 'groups[0]: the entry is empty'),
    (['group_id=1,type=ff,bucket=actions=drop # blue'], "groups[0] 'group_id=1"),
    (['type=ff,bucket=actions=drop'], 'group_id=N once (it names it 0 times)'),
    (['group_id=1,group_id=2,type=ff'], 'it names it 2 times'),
    (['group_id=010,type=ff'], 'leading zero'),
    (['group_id=4294967041,type=ff'], 'outside 0-4294967040'),
    (['group_id=1,bucket=actions=drop'], 'no type='),
    ([G1, G1.replace('sn-a', 'sn-b')], "groups[1] 'group_id=1,type=ff,bucket=watch_port:sn-b"),
])
def test_groups_refused_with_the_entry_named(groups, needle):
    with pytest.raises(InputError) as exc:
        check_groups(groups)
    assert needle in str(exc.value)


def test_group_dump_parsed_as_the_specs_are_written():
    dump = ('OFPST_GROUP_DESC reply (OF1.5) (xid=0x2):\n'
            ' group_id=1,type=ff,bucket=bucket_id:0,watch_port:"sn-a",actions=output:"sn-a",'
            'bucket=bucket_id:1,watch_port:"patch-int",actions=output:p1\n'
            ' group_id=7,type=all,bucket=bucket_id:0,actions=drop\n')
    assert parse_group_dump(dump) == {1: G1, 7: 'group_id=7,type=all,bucket=actions=drop'}
    assert group_text(' "x" ') == 'x'


def test_plan_adds_changes_and_removes_by_id():
    have = {1: G1, 7: 'group_id=7,type=all,bucket=actions=drop', 2: G2.replace('sn-a', 'sn-b')}
    removed, added, (first, last) = plan_groups({1: G1, 2: G2, 3: G2.replace('=2', '=3')}, have)
    assert removed == [have[2], have[7]]
    assert added == [G2, G2.replace('=2', '=3')]
    assert first == ['group add_or_mod ' + G2, 'group add_or_mod ' + G2.replace('=2', '=3')]
    assert last == ['group delete group_id=7']
    assert plan_groups({1: G1}, {1: G1}) == ([], [], ([], []))


def test_groups_are_not_allowed_with_state_absent():
    with pytest.raises(InputError, match='give no groups'):
        _ovs_flows.check_group_request(dict(groups=[], state='absent', cookie=0x4e56))
    assert _ovs_flows.check_group_request(dict(groups=None, state='absent', cookie=0x4e56)) is None
    assert _ovs_flows.check_group_request(dict(groups=[], state='present', cookie=0x4e56)) == {}


@pytest.fixture(scope='module')
def switch(tmp_path_factory):
    """ovs-vswitchd with bridge br0 (ports p1, sn-a), in a network namespace of its own."""
    needed = ['unshare', 'ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl']
    if os.geteuid() != 0 or not all(shutil.which(n) for n in needed):
        pytest.skip('needs root and Open vSwitch (%s)' % ', '.join(needed))
    run = str(tmp_path_factory.mktemp('ovs'))
    env = dict(os.environ, OVS_RUNDIR=run, OVS_DBDIR=run, OVS_LOGDIR=run)
    db = 'unix:%s/db.sock' % run
    schema = '/usr/share/openvswitch/vswitch.ovsschema'
    subprocess.run(['ovsdb-tool', 'create', run + '/conf.db', schema], check=True, env=env)
    # One shell in the new namespace starts both daemons; they stay there after it exits.
    subprocess.run(['unshare', '--net', 'sh', '-ec',
                    'ovsdb-server "$1/conf.db" --remote=p"$2" --pidfile="$1/ovsdb-server.pid" --detach '
                    '--log-file="$1/ovsdb-server.log"; ovs-vsctl --db="$2" --no-wait init; '
                    'ovs-vswitchd "$2" --pidfile="$1/ovs-vswitchd.pid" --detach --disable-system '
                    '--log-file="$1/ovs-vswitchd.log"', 'start', run, db], check=True, env=env)
    try:
        subprocess.run(['ovs-vsctl', '--db=' + db, '--timeout=10', 'add-br', 'br0', '--', 'set', 'bridge', 'br0',
                        'datapath_type=netdev', 'protocols=OpenFlow13,OpenFlow14,OpenFlow15',
                        '--', 'add-port', 'br0', 'p1', '--', 'set', 'interface', 'p1', 'type=internal',
                        '--', 'add-port', 'br0', 'sn-a', '--', 'set', 'interface', 'sn-a', 'type=internal'],
                       check=True, env=env)
        yield env
    finally:
        for daemon in ('ovs-vswitchd', 'ovsdb-server'):
            with open('%s/%s.pid' % (run, daemon)) as handle:
                pid = int(handle.read())
            os.kill(pid, 15)
            for _attempt in range(50):
                if not os.path.exists('/proc/%d' % pid):
                    break
                time.sleep(0.1)


def module(capsys, monkeypatch, env, **args):
    """The module's result, with the warnings it gave under 'warned' (where they end up otherwise
    depends on whether the test process has loaded Ansible's controller side)."""
    monkeypatch.setenv('OVS_RUNDIR', env['OVS_RUNDIR'])
    warned = []
    monkeypatch.setattr(AnsibleModule, 'warn', lambda self, msg, *a, **kw: warned.append(msg))
    args = dict(dict(bridge='br0', flows=['table=0,priority=5,in_port=p1 actions=group:1',
                                          'table=0,priority=0 actions=drop']), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            ovs_flows.main()
    return dict(json.loads(capsys.readouterr().out), warned=warned)


def groups_of(env):
    out = subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13', '--names', 'dump-groups', 'br0'], env=env, check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    return parse_group_dump(out)


def test_module_keeps_exactly_the_groups_given_in_one_bundle(switch, capsys, monkeypatch):
    g1 = 'group_id=1,type=ff,bucket=watch_port:sn-a,actions=output:sn-a,bucket=watch_port:p1,actions=output:p1'
    g9 = 'group_id=9,type=all,bucket=actions=drop'
    subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13', 'add-group', 'br0', g9], env=switch, check=True)

    check = module(capsys, monkeypatch, switch, groups=[g1], _ansible_check_mode=True, _ansible_diff=True)
    assert check['changed'] and check['added_groups'] == [g1] and check['removed_groups'] == [g9]
    assert g1 in check['diff']['after'] and g9 in check['diff']['before']
    assert groups_of(switch) == {9: g9}, 'check mode changed the switch'

    done = module(capsys, monkeypatch, switch, groups=[g1])
    assert done['changed'] and (done['added_groups'], done['removed_groups']) == (check['added_groups'], check['removed_groups'])
    assert groups_of(switch) == {1: g1}
    assert not done['warned']

    again = module(capsys, monkeypatch, switch, groups=[g1])
    assert not again['changed'] and again['added_groups'] == again['removed_groups'] == []

    # A changed bucket list is modified in place; no groups at all removes them, flows stay.
    g1b = 'group_id=1,type=ff,bucket=watch_port:p1,actions=output:p1'
    assert module(capsys, monkeypatch, switch, groups=[g1b])['removed_groups'] == [g1]
    assert groups_of(switch) == {1: g1b}
    flows = ['table=0,priority=0 actions=drop']
    gone = module(capsys, monkeypatch, switch, flows=flows, groups=[])
    assert gone['changed'] and gone['removed_groups'] == [g1b] and groups_of(switch) == {}
    untouched = module(capsys, monkeypatch, switch, flows=flows)
    assert not untouched['changed'] and untouched['removed_groups'] == []


def test_module_applies_nothing_when_the_switch_refuses_a_group(switch, capsys, monkeypatch):
    before = groups_of(switch)
    out = module(capsys, monkeypatch, switch, flows=['table=0,priority=0 actions=drop', 'table=0,priority=3 actions=output:p1'],
                 groups=['group_id=5,type=ff,bucket=watch_port:nosuchport,actions=output:p1'])
    assert out['failed'] and 'nothing was changed' in out['msg'] and 'nosuchport' in out['msg']
    assert groups_of(switch) == before
    flows = subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', 'br0'], env=switch, check=True,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout
    assert 'priority=3' not in flows


def test_module_warns_about_a_group_the_switch_prints_otherwise(switch, capsys, monkeypatch):
    out = module(capsys, monkeypatch, switch, flows=['table=0,priority=0 actions=drop'],
                 groups=['group_id=3,type=fast_failover,bucket=watch_port:p1,actions=output:p1'])
    assert out['changed'] and any('group 3 is printed by the switch as' in w for w in out['warned'])
