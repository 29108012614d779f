# -*- coding: utf-8 -*-
"""interface_address: the whole input is checked before the host is read or changed, and a failure
half-way reports what was already done. The module's ip commands are replaced by a fake host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, ip_interface
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError
from ansible_collections.netvirt.overlay.plugins.module_utils import _interface_address as ia
from ansible_collections.netvirt.overlay.plugins.modules import interface_address


# --- ip_interface (module_utils/_input.py) --------------------------------------------------------

@pytest.mark.parametrize('value, want', [
    ('198.18.1.11/24', '198.18.1.11/24'),
    (' 198.18.1.11/255.255.255.0 ', '198.18.1.11/24'),
    ('198.18.6.0/31', '198.18.6.0/31'),        # RFC 3021: both addresses of a /31 are hosts
    ('198.18.6.1/31', '198.18.6.1/31'),
    ('198.18.7.0/32', '198.18.7.0/32'),
    ('198.18.7.255/32', '198.18.7.255/32'),
    ('2001:DB8:5:0:0::1/64', '2001:db8:5::1/64'),
    ('2001:db8:6::/127', '2001:db8:6::/127'),  # RFC 6164
    ('2001:db8:6::/128', '2001:db8:6::/128'),
    ('fe80::5/64', 'fe80::5/64'),
    ('169.254.0.5/16', '169.254.0.5/16'),
])
def test_ip_interface_good(value, want):
    assert ip_interface(value, 'addresses[0]') == want


@pytest.mark.parametrize('value, needles', [
    ('198.18.8.1', ['no prefix length']),
    ('198.18.8.1/33', ['198.18.8.1/33', 'not an address']),
    ('198.18.8.300/24', ['198.18.8.300/24']),
    ('eth2', ['eth2', 'not an address']),
    ('198.18.8.1/24 198.18.8.2/24', ['not an address']),
    ('fe80::5%eth2/64', ['fe80::5%eth2', 'zone']),
    ('224.0.0.5/24', ['224.0.0.5', 'unicast']),
    ('ff02::5/64', ['ff02::5', 'unicast']),
    ('0.0.0.0/0', ['0.0.0.0', 'unicast']),
    ('::/0', ['::', 'unicast']),
    ('255.255.255.255/32', ['255.255.255.255']),
    ('127.0.0.2/8', ['127.0.0.2/8', 'loopback']),
    ('::1/128', ['::1/128', 'loopback']),
    ('198.18.8.0/24', ['198.18.8.0/24', 'network address']),
    ('198.18.8.255/24', ['198.18.8.255/24', 'broadcast']),
    ('198.18.8.4/30', ['network address']),
    ('2001:db8:8::/64', ['2001:db8:8::/64', 'network (subnet-router anycast) address']),
])
def test_ip_interface_bad(value, needles):
    with pytest.raises(InputError) as exc:
        ip_interface(value, 'addresses[3]')
    msg = str(exc.value)
    assert msg.startswith('addresses[3]: ')
    for needle in needles:
        assert needle in msg, msg


def test_loopback_allowed_on_lo():
    assert ip_interface('127.0.0.2/8', 'addresses[0]', loopback=True) == '127.0.0.2/8'


# --- the request ---------------------------------------------------------------------------------

def params(**kw):
    base = dict(interface='eth2', addresses=[], purge=False, mtu=None, link='up', wait_timeout=10)
    base.update(kw)
    return base


@pytest.mark.parametrize('kw, error, needles', [
    (dict(addresses=['198.18.5.7/24', '198.18.5.7/24']), InputError, ['addresses', '198.18.5.7', 'twice']),
    (dict(addresses=['198.18.5.7/24', '198.18.5.7/25']), InputError, ['addresses', '198.18.5.7', 'twice']),
    (dict(addresses=['2001:db8::7/64', '2001:DB8:0::7/64']), InputError, ['2001:db8::7', 'twice']),
    (dict(addresses=['198.18.5.9/24', 'ff02::5/64']), InputError, ['addresses[1]', 'ff02::5']),
    (dict(addresses=['198.18.5.9/24', '127.0.0.2/8']), InputError, ['addresses[1]', 'loopback']),
    (dict(mtu=70000), InputError, ['mtu', '70000', '68-65535']),
    (dict(mtu=67), InputError, ['mtu', '67']),
    (dict(wait_timeout=-1), InputError, ['wait_timeout', '-1']),
    (dict(interface='eth2-is-too-long'), PlanError, ['interface', 'eth2-is-too-long', '15']),
    (dict(interface='eth2/0'), PlanError, ['interface', 'eth2/0']),
    (dict(interface='eth 2'), PlanError, ['interface']),
    (dict(interface=''), PlanError, ['interface']),
])
def test_request_refused(kw, error, needles):
    with pytest.raises(error) as exc:
        ia.check_request(params(**kw))
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)


def test_request_normalised():
    assert ia.check_request(params(addresses=['198.18.5.1/255.255.255.0', '2001:DB8::1/64'])) == [
        '198.18.5.1/24', '2001:db8::1/64']
    assert ia.check_request(params(interface='lo', addresses=['127.0.0.2/8'])) == ['127.0.0.2/8']


def current(addresses=(), mtu=1500, up=True, mtu_range=(68, 65535)):
    return {'addresses': sorted(addresses), 'mtu': mtu, 'up': up, 'mtu_range': mtu_range}


@pytest.mark.parametrize('cur, addresses, purge, mtu, needles', [
    (current(mtu_range=(68, 9000)), [], False, 9001, ['mtu', '9001', '68-9000', 'eth2']),
    (current(mtu_range=(576, 0)), [], False, 500, ['mtu', '500', '576-65535']),
    (current(), ['2001:db8::1/64'], False, 1200, ['mtu', '1200', '1280', '2001:db8::1/64']),
    (current(['2001:db8::1/64']), [], False, 1200, ['mtu', '1200', '2001:db8::1/64']),
    (current(mtu=1200), ['198.18.6.0/31', '2001:db8::1/64'], False, None, ['addresses', '2001:db8::1/64', '1280']),
])
def test_checked_against_the_interface(cur, addresses, purge, mtu, needles):
    with pytest.raises(InputError) as exc:
        ia.check_against('eth2', cur, addresses, purge, mtu)
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)


@pytest.mark.parametrize('cur, addresses, purge, mtu', [
    (current(mtu_range=(0, 0)), [], False, 65535),                 # no driver limits
    (current(['2001:db8::1/64']), [], True, 1200),                 # purged before the MTU drops
    (current(mtu=1200), ['198.18.6.0/31'], False, None),
    (current(mtu=1200), ['2001:db8::1/64'], False, 1500),
])
def test_accepted_against_the_interface(cur, addresses, purge, mtu):
    ia.check_against('eth2', cur, addresses, purge, mtu)


def test_plan_replaces_a_prefix_length_and_purges():
    cur = current(['198.18.5.1/24', '198.18.9.9/24'])
    commands, after = ia.plan('eth2', cur, ['198.18.5.1/25'], False, None, 'up')
    assert [' '.join(c) for c in commands] == ['ip address del 198.18.5.1/24 dev eth2',
                                               'ip address add 198.18.5.1/25 dev eth2']
    assert after['addresses'] == ['198.18.5.1/25', '198.18.9.9/24']
    commands, after = ia.plan('eth2', cur, ['198.18.5.1/25'], True, 1400, 'up')
    assert [' '.join(c) for c in commands] == ['ip link set dev eth2 mtu 1400', 'ip address del 198.18.5.1/24 dev eth2',
                                               'ip address add 198.18.5.1/25 dev eth2',
                                               'ip address del 198.18.9.9/24 dev eth2']
    assert after['addresses'] == ['198.18.5.1/25']


def test_plan_unchanged():
    assert ia.plan('eth2', current(['198.18.5.1/24']), ['198.18.5.1/24'], True, 1500, 'up')[0] == []


# --- the module, on a fake host ----------------------------------------------------------------------

class FakeHost(object):
    """Answers `ip -d -j address show` and records every other ip command; fail_on makes one fail."""

    def __init__(self, addresses=(), mtu=1500, fail_on=None):
        self.addresses = list(addresses)
        self.mtu = mtu
        self.fail_on = fail_on
        self.changes = []

    def run_command(self, cmd):
        cmd = list(cmd)
        if cmd[:4] == ['ip', '-d', '-j', 'address']:
            info = [{'family': 'inet6' if ':' in a else 'inet', 'local': a.split('/')[0],
                     'prefixlen': int(a.split('/')[1]), 'scope': 'global'} for a in self.addresses]
            return 0, json.dumps([{'ifname': cmd[-1], 'mtu': self.mtu, 'flags': ['UP'], 'min_mtu': 68,
                                   'max_mtu': 65535, 'addr_info': info}]), ''
        if self.fail_on and self.fail_on in ' '.join(cmd):
            return 2, '', 'Error: ipv6: refused by the fake kernel.'
        self.changes.append(' '.join(cmd))
        if cmd[:3] == ['ip', 'address', 'add']:
            self.addresses.append(cmd[3])
        return 0, '', ''


def run_module(monkeypatch, capsys, host, args):
    monkeypatch.setattr(AnsibleModule, 'run_command', lambda self, cmd, **kw: host.run_command(cmd))
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None: '/sbin/' + name)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            interface_address.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('args, field', [
    (dict(interface='eth2', addresses=['198.18.5.9/24', 'ff02::5/64']), 'addresses[1]'),
    (dict(interface='eth2', addresses=['198.18.5.9/24', '::1/128']), 'addresses[1]'),
    (dict(interface='eth2', addresses=['198.18.5.9/24', '198.18.5.9/25']), 'addresses'),
    (dict(interface='eth2', addresses=['0.0.0.0/0']), 'addresses[0]'),
    (dict(interface='eth2', addresses=['198.18.5.9/24'], mtu=70000), 'mtu'),
    (dict(interface='eth2/0', addresses=['198.18.5.9/24']), 'interface'),
])
def test_bad_input_runs_no_command(monkeypatch, capsys, args, field):
    host = FakeHost()
    rc, out = run_module(monkeypatch, capsys, host, args)
    assert rc == 1 and out['failed'] and not out.get('changed')
    assert field in out['msg']
    assert host.changes == []


def test_ipv6_below_the_mtu_is_refused_before_the_ipv4_address_is_added(monkeypatch, capsys):
    host = FakeHost(mtu=1200)
    rc, out = run_module(monkeypatch, capsys, host, dict(interface='eth3', addresses=['198.18.6.0/31', '2001:db8::1/64']))
    assert rc == 1 and not out.get('changed') and '1280' in out['msg']
    assert host.changes == []


def test_a_failure_half_way_reports_what_was_done(monkeypatch, capsys):
    host = FakeHost(fail_on='2001:db8::1/64')
    rc, out = run_module(monkeypatch, capsys, host, dict(interface='eth2', addresses=['198.18.5.1/24', '2001:db8::1/64']))
    assert rc == 1 and out['failed']
    assert out['changed'] is True
    assert out['commands'] == ['ip address add 198.18.5.1/24 dev eth2']
    assert 'done before it: ip address add 198.18.5.1/24 dev eth2' in out['msg']
    assert out['interface']['addresses'] == ['198.18.5.1/24']


def test_a_failure_first_reports_no_change(monkeypatch, capsys):
    host = FakeHost(fail_on='198.18.5.1/24')
    rc, out = run_module(monkeypatch, capsys, host, dict(interface='eth2', addresses=['198.18.5.1/24']))
    assert rc == 1 and out['changed'] is False and out['commands'] == []


def test_good_run_and_rerun(monkeypatch, capsys):
    host = FakeHost()
    args = dict(interface='eth2', addresses=['198.18.5.1/24', '2001:db8::1/64'], mtu=1400)
    rc, out = run_module(monkeypatch, capsys, host, args)
    assert rc == 0 and out['changed']
    assert out['commands'] == ['ip link set dev eth2 mtu 1400', 'ip address add 198.18.5.1/24 dev eth2',
                               'ip address add 2001:db8::1/64 dev eth2']
    assert 'mtu_range' not in out['interface']
    host.mtu = 1400
    rc, out = run_module(monkeypatch, capsys, host, args)
    assert rc == 0 and not out['changed'] and out['commands'] == []


def test_ipv6_kept_and_wanted_is_named_once():
    with pytest.raises(InputError) as exc:
        ia.check_against('eth2', current(['2001:db8::1/64']), ['2001:db8::1/64'], False, 1200)
    assert str(exc.value).count('2001:db8::1/64') == 1


# --- ARP announcements (announce) ------------------------------------------------------------------

def test_arp_announcement_frame():
    frame = ia.arp_announcement('02:00:00:00:01:0b', '198.18.1.11')
    assert frame[:6] == b'\xff' * 6 and frame[6:12] == bytes.fromhex('02000000010b') and frame[12:14] == b'\x08\x06'
    arp = frame[14:]
    assert arp[:8] == bytes.fromhex('0001080006040001')  # Ethernet, IPv4, request
    assert arp[8:14] == bytes.fromhex('02000000010b')
    assert arp[14:18] == arp[24:28] == bytes([198, 18, 1, 11])  # sender address = target address
    assert arp[18:24] == bytes(6)


def test_announced_once_when_added_ipv4_only_and_never_in_check_mode(monkeypatch, capsys):
    sent = []
    monkeypatch.setattr(ia, 'announce', lambda name, mac, addresses: sent.append((name, list(addresses))))
    args = dict(interface='tep0', addresses=['198.18.1.11/24', '2001:db8::b/64'], announce=True)
    host = FakeHost()
    rc, out = run_module(monkeypatch, capsys, host, dict(args, _ansible_check_mode=True))
    assert rc == 0 and out['changed'] and out['announced'] == ['198.18.1.11/24'] and sent == []
    rc, out = run_module(monkeypatch, capsys, host, args)
    assert rc == 0 and out['announced'] == ['198.18.1.11/24'] and sent == [('tep0', ['198.18.1.11/24'])]
    rc, out = run_module(monkeypatch, capsys, host, args)  # already there: nothing to tell
    assert rc == 0 and not out['changed'] and out['announced'] == [] and len(sent) == 1
    rc, out = run_module(monkeypatch, capsys, FakeHost(), dict(args, announce=False))
    assert out['announced'] == [] and len(sent) == 1


def test_a_changed_mac_address_is_announced_for_the_addresses_already_there(monkeypatch, capsys):
    sent = []
    monkeypatch.setattr(ia, 'announce', lambda name, mac, addresses: sent.append((name, list(addresses))))
    host = FakeHost()
    args = dict(interface='tep0', addresses=['198.18.1.11/24', '2001:db8::b/64'], announce=True)
    run_module(monkeypatch, capsys, host, args)
    assert len(sent) == 1
    # The address is there; its MAC address has just changed (the bridge task set the port's mac).
    rc, out = run_module(monkeypatch, capsys, host, dict(args, mac_changed=True, _ansible_check_mode=True))
    assert rc == 0 and out['changed'] and out['commands'] == [] and out['announced'] == ['198.18.1.11/24'] and len(sent) == 1
    rc, out = run_module(monkeypatch, capsys, host, dict(args, mac_changed=True))
    assert rc == 0 and out['changed'] and out['commands'] == [] and out['announced'] == ['198.18.1.11/24']
    assert sent[1:] == [('tep0', ['198.18.1.11/24'])]
    # Not asked to announce: nothing sent, nothing changed.
    rc, out = run_module(monkeypatch, capsys, host, dict(args, mac_changed=True, announce=False))
    assert rc == 0 and not out['changed'] and out['announced'] == [] and len(sent) == 2


def test_an_announcement_that_cannot_be_sent_is_a_warning(monkeypatch, capsys):
    def refuse(name, mac, addresses):
        raise OSError(1, 'Operation not permitted')
    monkeypatch.setattr(ia, 'announce', refuse)
    # Where a warning ends up depends on whether the test process loaded Ansible's controller side.
    warned = []
    monkeypatch.setattr(AnsibleModule, 'warn', lambda self, msg, *a, **kw: warned.append(msg))
    rc, out = run_module(monkeypatch, capsys, FakeHost(), dict(interface='tep0', addresses=['198.18.1.11/24'], announce=True))
    assert rc == 0 and out['changed'] and out['announced'] == []
    assert len(warned) == 1 and '198.18.1.11/24' in warned[0] and 'not sent' in warned[0], warned


CAPTURE = r'''
import socket, subprocess, sys, time
sys.path[:0] = sys.argv[1:]
from ansible_collections.netvirt.overlay.plugins.module_utils._interface_address import announce
subprocess.run(['ip', 'link', 'add', 'a0', 'address', '02:00:00:00:01:0b', 'type', 'veth', 'peer', 'name', 'b0'], check=True)
for dev in ('a0', 'b0'):
    subprocess.run(['ip', 'link', 'set', dev, 'up'], check=True)
cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
cap.bind(('b0', 0))
cap.settimeout(2)
started = time.monotonic()
announce('a0', '02:00:00:00:01:0b', ['198.18.1.11/24', '2001:db8::b/64'], count=3, interval=0.1)
took = time.monotonic() - started
frames = [cap.recv(100)[:42].hex() for _ in range(3)]
print(took, ' '.join(frames))
'''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare'), reason='needs root and unshare (a network namespace of its own)')
def test_announce_sends_the_announcements_on_the_wire():
    """A veth pair in a network namespace of the test's own (the machine's interfaces are not
    touched): three announcements of the IPv4 address reach the other end, 0.1 s apart."""
    paths = [p for p in sys.path if p]
    done = subprocess.run(['unshare', '--net', sys.executable, '-c', CAPTURE] + paths, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    took, *frames = done.stdout.split()
    assert 0.2 <= float(took) < 2
    assert frames == [ia.arp_announcement('02:00:00:00:01:0b', '198.18.1.11').hex()] * 3


class OffloadHost(FakeHost):
    """FakeHost with ethtool: -k prints the TX checksumming state, -K sets it (recorded as a change)."""

    def __init__(self, offload, exists=True, **kw):
        FakeHost.__init__(self, **kw)
        self.offload = offload
        self.exists = exists

    def run_command(self, cmd):
        cmd = list(cmd)
        if cmd[:2] == ['/sbin/ethtool', '-k']:
            if not self.exists:
                return 1, '', 'netlink error: no device matches name (offset 24)\nnetlink error: No such device'
            return 0, 'Features for %s:\nrx-checksumming: on\ntx-checksumming: %s\n\ttx-checksum-ipv4: off [fixed]\n' % (
                cmd[2], 'on' if self.offload else 'off'), ''
        if not self.exists and cmd[:4] == ['ip', '-d', '-j', 'address']:
            return 1, '', 'Device "%s" does not exist.' % cmd[-1]
        if cmd[:2] == ['/sbin/ethtool', '-K']:
            self.changes.append(' '.join(cmd))
            self.offload = cmd[4] == 'on'
            return 0, '', ''
        return FakeHost.run_command(self, cmd)


@pytest.mark.parametrize('check_mode', [False, True])
def test_tx_checksum_offload_is_set_when_it_differs_then_left(monkeypatch, capsys, check_mode):
    host = OffloadHost(offload=True, addresses=['198.18.1.11/24'])
    args = dict(interface='tep0', addresses=['198.18.1.11/24'], tx_checksum_offload=False, _ansible_check_mode=check_mode)
    rc, out = run_module(monkeypatch, capsys, host, args)
    assert rc == 0 and out['changed'] and out['commands'] == ['/sbin/ethtool -K tep0 tx off']
    assert out['interface']['tx_checksum_offload'] is False
    assert host.changes == ([] if check_mode else ['/sbin/ethtool -K tep0 tx off'])
    if not check_mode:
        rc, out = run_module(monkeypatch, capsys, host, args)
        assert rc == 0 and not out['changed'] and out['commands'] == [] and out['interface']['tx_checksum_offload'] is False


def test_tx_checksum_offload_unset_is_left_alone_and_not_read(monkeypatch, capsys):
    host = OffloadHost(offload=True, addresses=['198.18.1.11/24'])
    rc, out = run_module(monkeypatch, capsys, host, dict(interface='tep0', addresses=['198.18.1.11/24']))
    assert rc == 0 and not out['changed'] and 'tx_checksum_offload' not in out['interface']


def test_check_mode_predicts_the_offload_of_an_interface_still_to_come(monkeypatch, capsys):
    host = OffloadHost(offload=False, exists=False)
    args = dict(interface='tep0', addresses=['198.18.1.11/24'], tx_checksum_offload=False, _ansible_check_mode=True)
    rc, out = run_module(monkeypatch, capsys, host, args)
    assert rc == 0 and out['changed'] and out['commands'][-1] == '/sbin/ethtool -K tep0 tx off' and host.changes == []


SET_OFFLOAD = r'''
import json, subprocess, sys
sys.path[:0] = sys.argv[1:]
subprocess.run(['ip', 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0'], check=True)
from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args
from ansible_collections.netvirt.overlay.plugins.modules import interface_address
for _round in (1, 2):
    with patch_module_args({'interface': 'a0', 'addresses': ['198.18.1.11/24'], 'tx_checksum_offload': False}):
        try:
            interface_address.main()
        except SystemExit:
            pass
print(subprocess.run(['ethtool', '-k', 'a0'], capture_output=True, text=True, check=True).stdout)
'''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare') or not shutil.which('ethtool'),
                    reason='needs root, unshare (a network namespace of its own) and ethtool')
def test_tx_checksum_offload_off_on_a_real_veth():
    """A veth (TX checksumming on when made) in a network namespace of the test's own: the first run
    turns it off, the second changes nothing."""
    paths = [p for p in sys.path if p]
    done = subprocess.run(['unshare', '--net', sys.executable, '-c', SET_OFFLOAD] + paths, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{')]
    assert [r['changed'] for r in results] == [True, False], results
    assert results[0]['commands'][-1].endswith('-K a0 tx off') and results[1]['commands'] == []
    assert 'tx-checksumming: off' in done.stdout


@pytest.mark.parametrize('check_mode', [False, True])
def test_arp_ignore_is_written_when_it_differs_then_left(monkeypatch, capsys, tmp_path, check_mode):
    """arp_ignore, read from and written to the interface's file under /proc/sys (here a directory of the test's)."""
    monkeypatch.setattr(ia, 'IPV4_CONF', str(tmp_path))
    (tmp_path / 'eth1').mkdir()
    setting = tmp_path / 'eth1' / 'arp_ignore'
    setting.write_text('0\n')
    args = dict(interface='eth1', link='unchanged', arp_ignore=1, _ansible_check_mode=check_mode)
    rc, out = run_module(monkeypatch, capsys, FakeHost(), args)
    assert rc == 0 and out['changed'] and out['commands'] == ['echo 1 > %s/eth1/arp_ignore' % tmp_path], out
    assert out['interface']['arp_ignore'] == 1
    assert setting.read_text() == ('0\n' if check_mode else '1\n')
    if not check_mode:
        rc, out = run_module(monkeypatch, capsys, FakeHost(), args)
        assert rc == 0 and not out['changed'] and out['commands'] == [] and out['interface']['arp_ignore'] == 1


def test_arp_ignore_unset_is_left_alone_and_not_read(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(ia, 'IPV4_CONF', str(tmp_path / 'nowhere'))
    rc, out = run_module(monkeypatch, capsys, FakeHost(), dict(interface='eth1', link='unchanged'))
    assert rc == 0 and not out['changed'] and 'arp_ignore' not in out['interface']
