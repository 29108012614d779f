# -*- coding: utf-8 -*-
"""ovs_bridges' record: the state command run by /bin/sh here against a real ovsdb-server (test_converge's
fixture), its output read as the action plugin reads it; the record written by its command and read back;
when a kept result is returned and when not. The action against real ovs-vswitchd, with every kind of
drift: tests/integration/test_ovs_bridges_record.py."""

from __future__ import annotations

import os
import stat
import subprocess

from ansible_collections.netvirt.overlay.plugins.module_utils._switch_state import state_digest, state_script
from ansible_collections.netvirt.overlay.plugins.plugin_utils import _switch_record
from ansible_collections.netvirt.overlay.plugins.plugin_utils._switch_record import (
    RECORD_VERSION, code_digest, kept_result, read_state, record_path, request_digest, state_command, write_command)
from ansible_collections.netvirt.overlay.tests.unit.plugins.module_utils.test_converge import (  # noqa: F401 pylint: disable=unused-import
    server)

REQUEST = {'bridges': [{'bridge': 'br-int'}, {'bridge': 'br-tun'}],
           'tunnels': [{'bridge': 'br-tun', 'tunnel_type': 'gre', 'local_ip': '198.18.1.1', 'remotes': ['198.18.1.2']}]}


def state(args):
    """(digest, record, complete) of the command's output, run by /bin/sh on this machine."""
    done = subprocess.run(['/bin/sh', '-c', state_command(args)], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    return read_state(done.stdout)


def vsctl(db, *args):
    subprocess.run(['ovs-vsctl', '--db=' + db, '--no-wait'] + list(args), check=True)


def test_no_record_without_a_local_socket():
    for args in (dict(REQUEST, db='tcp:127.0.0.1:6640'), dict(REQUEST, db='unix:run/db.sock'),
                 dict(REQUEST, ssl_ca_cert='/etc/ca.pem')):
        assert record_path(args) is None and state_command(args) is None, args
    assert record_path(REQUEST).startswith('/var/run/openvswitch/netvirt-overlay-ovs_bridges-')


def test_one_record_per_set_of_bridges(tmp_path):
    db = 'unix:%s/db.sock' % tmp_path
    same = dict(REQUEST, db=db, bridges=[{'bridge': 'br-tun'}, {'bridge': 'br-int'}])
    other = dict(REQUEST, db=db, bridges=[{'bridge': 'br-phy'}])
    assert record_path(dict(REQUEST, db=db)) == record_path(same) != record_path(other)
    assert os.path.dirname(record_path(other)) == str(tmp_path)


def test_the_request_the_code_and_ansible_make_the_request_digest(tmp_path, monkeypatch):
    digest = request_digest(REQUEST, 'code')
    assert digest == request_digest(dict(reversed(list(REQUEST.items()))), 'code')
    assert digest != request_digest(REQUEST, 'other code')
    assert digest != request_digest(dict(REQUEST, bridges=[{'bridge': 'br-int'}]), 'code')
    monkeypatch.setattr(_switch_record, 'ANSIBLE_VERSION', '0.0.1')
    assert digest != request_digest(REQUEST, 'code')
    plugins = tmp_path / 'plugins'
    (plugins / 'modules').mkdir(parents=True)
    (plugins / 'module_utils').mkdir()
    (plugins / 'modules' / 'ovs_bridges.py').write_text('module')
    (plugins / 'module_utils' / '_vswitch.py').write_text('one')
    before = code_digest(str(plugins))
    (plugins / 'module_utils' / '_vswitch.py').write_text('two')
    assert code_digest(str(plugins)) != before
    assert len(code_digest()) == 64  # the collection's own


def test_the_state_of_a_real_ovsdb(server):
    args = dict(REQUEST, db=server)
    first, record, complete = state(args)
    assert complete and record is None
    assert state(args)[0] == first
    # What the module does not read leaves it: the Open_vSwitch row (the system-id, ovn-controller's keys).
    vsctl(server, 'set', 'Open_vSwitch', '.', 'external_ids:system-id=hv1')
    assert state(args)[0] == first
    vsctl(server, 'add-br', 'br-int')
    with_bridge = state(args)[0]
    assert with_bridge != first
    vsctl(server, 'add-port', 'br-int', 'vm1', '--', 'set', 'Interface', 'vm1', 'type=internal')
    with_port = state(args)[0]
    vsctl(server, 'set', 'Interface', 'vm1', 'mtu_request=1400')
    assert len({first, with_bridge, with_port, state(args)[0]}) == 4


def test_the_module_reads_the_state_the_action_reads(server):
    # After a change the module runs the reads alone (Bridges.settle) and the action compares its
    # digest with the one of its own command, which adds the record's line: the same for one state.
    args = dict(REQUEST, db=server)
    vsctl(server, 'add-br', 'br-int')
    done = subprocess.run(['/bin/sh', '-c', state_script(args)], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert state_digest(done.stdout) == (state(args)[0], True)
    vsctl(server, 'add-br', 'br-tun')
    assert state_digest(done.stdout)[0] != state(args)[0]


def test_a_read_that_fails_is_no_state_to_trust(server):
    # No ovs-vswitchd runs here: the flows of a bridge cannot be read.
    args = dict(REQUEST, db=server, openflow=[{'bridge': 'br-tun', 'flows': []}])
    assert state(args)[2] is False
    assert read_state('no record line at all') == (None, None, False)


def test_the_record_written_and_read_back(tmp_path):
    # No ovsdb-server: the reads fail, the record's line is read all the same.
    args = dict(REQUEST, db='unix:%s/db.sock' % tmp_path)
    module_result = {'changed': False, 'changes': [], 'tunnels': [{'tunnels': {'gre-c6120102': {}}}],
                     'invocation': {'module_args': {}}, 'diff': {}, 'failed': False, '_ansible_no_log': False}
    subprocess.run(['/bin/sh', '-c', write_command(args, 'request', 'state', module_result)], check=True)
    path = record_path(args)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]  # no temporary file left
    _digest, record, complete = state(args)
    assert complete is False
    assert record == {'version': RECORD_VERSION, 'request': 'request', 'state': 'state',
                      'result': {'changes': [], 'tunnels': [{'tunnels': {'gre-c6120102': {}}}]}}
    assert kept_result(record, 'request', 'state') == record['result']
    for request, digest, version in (('other', 'state', RECORD_VERSION), ('request', 'other', RECORD_VERSION),
                                     ('request', 'state', RECORD_VERSION + 1)):
        assert kept_result(dict(record, version=version), request, digest) is None
    assert kept_result(None, 'request', 'state') is None
