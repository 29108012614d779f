# -*- coding: utf-8 -*-
"""tools/host_guard.py sees every kind of change a lab could make to this machine, and the
benchmarks' verdicts fail without a measurement."""

from __future__ import annotations

import copy
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def load(relpath, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


host_guard = load('tools/host_guard.py', 'host_guard')


@pytest.fixture(scope='module')
def now():
    return host_guard.snapshot()


def test_the_snapshot_reads_every_part(now):
    assert set(now) == {'ip link', 'ip -4 address', 'ip -6 address', 'ip -4 route', 'ip -6 route', 'sysctl',
                        'nft list ruleset', 'iptables-save', 'ip6tables-save', 'kernel modules', 'files under /etc'}
    assert now['ip link'], 'no links read in the root namespace'
    assert set(now['sysctl']) >= {'net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding'}
    assert host_guard.differences(now, host_guard.snapshot()) == []


@pytest.mark.parametrize('change, named', [
    (lambda s: s['sysctl'].update({'net/ipv4/ip_forward': '1'}), 'sysctl net/ipv4/ip_forward: 0 -> 1'),
    (lambda s: s.update({'nft list ruleset': s['nft list ruleset'] + 'table inet lab {}'}), 'nft list ruleset'),
    (lambda s: s.update({'iptables-save': '-A FORWARD -j ACCEPT'}), 'iptables-save'),
    (lambda s: s.update({'kernel modules': ['openvswitch']}), 'kernel modules'),
    (lambda s: s['files under /etc'].update({'/etc/ovn/ovn-privkey.pem': '600 abc'}), '/etc/ovn/ovn-privkey.pem: absent -> 600 abc'),
    (lambda s: s['ip -4 route'].append({'dst': '198.18.0.0/15'}), 'ip -4 route'),
])
def test_each_kind_of_change_is_named(now, change, named):
    after = copy.deepcopy(now)
    after['sysctl']['net/ipv4/ip_forward'] = now['sysctl']['net/ipv4/ip_forward'] = '0'
    before = copy.deepcopy(after)
    change(after)
    assert named in host_guard.differences(before, after)


def test_bum_replication_fails_when_no_frame_was_counted():
    bench = load('bench/bum_replication.py', 'bum_replication')
    hv = bench.HYPERVISORS
    src = {'frames': 100, 'packets': 100 * (hv - 1), 'direct': 100 * (hv - 1)}
    via = {'frames': 100, 'packets': 101, 'direct': 0}
    assert bench.replication_ok(src, via)
    nothing = {'frames': 0, 'packets': 0, 'direct': 0}
    assert not bench.replication_ok(nothing, via)
    assert not bench.replication_ok(src, nothing)
