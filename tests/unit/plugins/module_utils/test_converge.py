# -*- coding: utf-8 -*-
"""The converge engine and the client's transaction against a real ovsdb-server.

The server runs from a database file in a temporary directory and listens only on a unix socket
there (no network, no ovs-vswitchd): what the engine does before a write, after a commit, and when
the database moves under a commit is checked against the real thing, not a double.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._converge import PlanError, converge
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import CommittedError, OvsdbClient, OvsdbError
from ansible_collections.netvirt.overlay.plugins.module_utils._tunnels import Tunnels
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import snapshot
from ansible_collections.netvirt.overlay.plugins.modules import ovs_bridge
from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args

SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
TOOLS = ('ovsdb-server', 'ovsdb-tool', 'ovs-vsctl')

pytestmark = pytest.mark.skipif(not os.path.exists(SCHEMA) or not all(shutil.which(t) for t in TOOLS),
                                reason='Open vSwitch (openvswitch-switch, tools/packages-debian.txt) is not installed')


@pytest.fixture
def server(tmp_path):
    """An ovsdb-server with an initialised Open_vSwitch database; yields its unix: remote."""
    db, sock = str(tmp_path / 'conf.db'), str(tmp_path / 'db.sock')
    pidfile = str(tmp_path / 'ovsdb-server.pid')
    subprocess.run(['ovsdb-tool', 'create', db, SCHEMA], check=True)
    # --detach returns once the server listens: the socket file alone appears before it accepts
    # (a loaded machine once refused the first connection).
    subprocess.run(['ovsdb-server', db, '--remote=punix:' + sock, '--unixctl=' + str(tmp_path / 'ctl'),
                    '--no-chdir', '--log-file=' + str(tmp_path / 'ovsdb-server.log'), '--pidfile=' + pidfile,
                    '--detach'], check=True, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(pidfile) as handle:
        pid = int(handle.read())
    try:
        subprocess.run(['ovs-vsctl', '--db=unix:' + sock, '--no-wait', 'init'], check=True, timeout=10)
        yield 'unix:' + sock
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.02)


def running(pid):
    """Whether the process runs (a detached daemon that exited may stay a zombie until init reaps it)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def vsctl(remote, *args):
    return subprocess.run(['ovs-vsctl', '--db=' + remote, '--no-wait'] + list(args), check=True, timeout=10,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.split()


def run_module(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def tunnels(remote, remotes, **params):
    params = dict(dict(bridge='br-t', tunnel_type='gre', remotes=remotes, local_ip=None, key=None, dst_port=None,
                       csum=None, ttl=None, tos=None, df_default=None, options=None, bfd=False, bfd_min_rx=None,
                       bfd_min_tx=None, group='default', name_prefix=None, purge=False, wait=False), **params)
    return Tunnels(params, check_mode=False)


def test_an_error_before_the_write_leaves_the_database_alone_and_changes_nothing(server, capsys):
    """A plan refused once the database is read (a port of another bridge) fails with changed false."""
    vsctl(server, 'add-br', 'br-other', '--', 'set', 'Bridge', 'br-other', 'datapath_type=netdev')
    vsctl(server, 'add-port', 'br-other', 'eth9', '--', 'set', 'Interface', 'eth9', 'type=internal')
    result = run_module(ovs_bridge, dict(bridge='br-new', db=server, wait=False,
                                         ports=[dict(name='eth9', type='internal')]), capsys)
    assert result['failed'] is True and result['changed'] is False
    assert "'eth9' already exists on bridge 'br-other'" in result['msg']
    assert vsctl(server, 'list-br') == ['br-other']


def test_an_error_after_the_commit_says_the_database_changed(server, capsys):
    """No ovs-vswitchd applies the commit: waiting for it times out after the commit went
    through, so the task fails and says changed, and the bridge is in the database."""
    result = run_module(ovs_bridge, dict(bridge='br-new', db=server, wait=True, timeout=2), capsys)
    assert result['failed'] is True and result['changed'] is True
    assert result['msg'].startswith('the transaction was committed, then: timed out after 2s waiting for '
                                    'ovs-vswitchd to apply the change')
    assert [c['op'] for c in result['changes']] == ['add_bridge']
    assert vsctl(server, 'list-br') == ['br-new']


def test_the_engine_raises_plan_error_before_a_write(server):
    client = OvsdbClient(server, timeout=5).connect()
    try:
        with pytest.raises(PlanError, match="bridge 'br-t' does not exist"):
            converge(client, tunnels(server, ['198.18.0.1']), check_mode=False)
    finally:
        client.close()
    assert vsctl(server, 'list-br') == []


def test_a_commit_the_database_moved_under_is_planned_and_sent_again(server):
    """Another client adds a tunnel while the first transaction is being built: the commit comes back
    TRY_AGAIN, the plan is made again from what the database now holds, and the second commit wins."""
    vsctl(server, 'add-br', 'br-t')
    client = OvsdbClient(server, timeout=10).connect()
    resource = tunnels(server, ['198.18.0.1', '198.18.0.2'])
    plans = []
    original_plan = resource.plan

    def plan_and_interfere(before):
        changes = original_plan(before)
        plans.append([c['port'] for c in changes])
        if len(plans) == 1:
            # Behind the first attempt's back, the same bridge's port list changes.
            vsctl(server, 'add-port', 'br-t', 'gre-c6120001', '--', 'set', 'Interface', 'gre-c6120001', 'type=gre',
                  'options:remote_ip=198.18.0.1', '--', 'set', 'Port', 'gre-c6120001',
                  'external_ids:netvirt-overlay-tunnel-group=default', 'external_ids:netvirt-overlay-remote=198.18.0.1')
        return changes

    resource.plan = plan_and_interfere
    try:
        _before, changes, after = converge(client, resource, check_mode=False)
    finally:
        client.close()
    assert plans == [['gre-c6120001', 'gre-c6120002'], ['gre-c6120002']]
    assert [c['port'] for c in changes] == ['gre-c6120002']
    assert sorted(after['br-t']['ports']) == ['br-t', 'gre-c6120001', 'gre-c6120002']
    assert sorted(vsctl(server, 'list-ports', 'br-t')) == ['gre-c6120001', 'gre-c6120002']


def test_transact_raises_when_the_server_refuses(server):
    """A commit the server rejects (a second Open_vSwitch root row breaks the table's maxRows) raises
    OvsdbError, and nothing is written."""
    client = OvsdbClient(server, timeout=5).connect()

    def build(txn, tables):
        txn.insert(tables['Open_vSwitch'])
        return True

    try:
        with pytest.raises(OvsdbError, match='OVSDB transaction on .* failed'):
            client.transact(build)
        assert len(client.rows('Open_vSwitch')) == 1
    finally:
        client.close()


def test_transact_sends_nothing_when_there_is_nothing_to_write(server):
    client = OvsdbClient(server, timeout=5).connect()
    try:
        assert client.transact(lambda txn, tables: False) is None
        assert snapshot(client.tables) == {}
    finally:
        client.close()


def test_committed_error_carries_changed():
    assert CommittedError('x').changed is True
    assert CommittedError('x', changed=False).changed is False


def test_a_refused_interface_is_rolled_back_and_the_task_says_unchanged(server):
    """ovs-vswitchd refuses an interface this commit added (here the error is written into the database
    the way ovs-vswitchd writes it): a second transaction takes the change back, and CommittedError says
    changed=false since nothing of it remains."""
    vsctl(server, 'add-br', 'br-t')
    refused = converge_then_refuse(server, tunnels(server, ['198.18.0.1']), 'gre-c6120001')
    assert refused.changed is False
    assert vsctl(server, 'list-ports', 'br-t') == []


def converge_then_refuse(server, resource, interface):
    """Commit the resource's plan, then write the error ovs-vswitchd writes for an interface it cannot
    set up: the CommittedError of the check after the commit, which rolled the commit back."""
    client = OvsdbClient(server, timeout=5).connect()
    try:
        before, changes, _after = converge(client, resource, check_mode=False)
        vsctl(server, 'set', 'Interface', interface, 'error="could not add network device %s"' % interface)
        client.wait_until(lambda: any(r.error for r in client.rows('Interface')), 'the error to show')
        with pytest.raises(CommittedError, match='rolled back, nothing of it remains') as refused:
            resource.committed(client, before, changes)
    finally:
        client.close()
    return refused.value
