# -*- coding: utf-8 -*-
"""A lab machine's reboot clears what a real host's reboot clears (the power cycle of
_machine.boot_script), in a network namespace of its own: no image, no machine, a second.

A machine boots in a lab namespace that outlives it. Without the power cycle, OVS's tap devices and
the addresses keepalived and ifupdown set were still there when it booted again, so its
networking.service failed ("address already assigned") where a real host's does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils import _machine

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('unshare'), reason='needs root and unshare')


@pytest.fixture
def namespace():
    """A network namespace held by a sleep: what a lab host is to its machine."""
    holder = subprocess.Popen(['unshare', '--net', 'sleep', '120'])
    try:
        root = os.readlink('/proc/self/ns/net')
        deadline = time.monotonic() + 5
        while os.readlink('/proc/%d/ns/net' % holder.pid) == root:
            assert time.monotonic() < deadline, 'unshare made no network namespace'
            time.sleep(0.01)
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def in_namespace(pid, *argv):
    return subprocess.run(['nsenter', '--net=/proc/%d/ns/net' % pid] + list(argv), check=True,
                          stdout=subprocess.PIPE, universal_newlines=True).stdout


def power_cycle_script(tmp_path, pid, name='hv1'):
    """The boot script up to its loop, then one power cycle, as after a reboot."""
    text = _machine.boot_script(name, '/img/rootfs', '/layers/' + name, '/img/repo', pid)
    script = tmp_path / ('%s.boot' % name)
    script.write_text(text[:text.index('while :')] + 'power_cycle\necho "power cycle done"\n')
    return str(script)


def test_a_reboot_clears_the_machines_links_addresses_and_rules_and_keeps_the_wiring(tmp_path, namespace):
    ns = namespace
    in_namespace(ns, 'ip', 'link', 'set', 'lo', 'up')
    # The lab's wiring: a veth pair with the management address on eth0.
    in_namespace(ns, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'vm-vm1')
    in_namespace(ns, 'ip', 'link', 'set', 'eth0', 'up')
    in_namespace(ns, 'ip', 'address', 'add', '198.18.0.11/24', 'dev', 'eth0')
    # What the machine made: a persistent tap with an address (OVS's tep0 on the userspace datapath),
    # a bridge, keepalived's address on eth0 and the L2 marker on lo, an nftables table.
    in_namespace(ns, 'ip', 'tuntap', 'add', 'dev', 'tep0', 'mode', 'tap')
    in_namespace(ns, 'ip', 'address', 'add', '198.18.1.11/24', 'dev', 'tep0')
    in_namespace(ns, 'ip', 'link', 'add', 'br-phy', 'type', 'bridge')
    in_namespace(ns, 'ip', 'address', 'add', '198.18.0.99/24', 'dev', 'eth0')
    in_namespace(ns, 'ip', 'address', 'add', '169.254.100.1/32', 'dev', 'lo')
    nft = shutil.which('nft')
    if nft:
        in_namespace(ns, 'nft', 'add', 'table', 'inet', 'machine')
    script = power_cycle_script(tmp_path, ns)
    with open(script + '.wired', 'w') as handle:
        handle.write(_machine.wired_addresses([{'interface': 'eth0', 'addresses': ['198.18.0.11/24']}]))

    out = subprocess.run(['sh', script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         check=False)
    assert out.returncode == 0 and 'power cycle done' in out.stdout, out.stdout

    links = sorted(line.split(':')[1].strip().split('@')[0] for line in in_namespace(ns, 'ip', '-o', 'link').splitlines())
    assert links == ['eth0', 'lo', 'vm-vm1']
    for link in ('eth0', 'vm-vm1'):  # down for a second, as a rebooting host's NICs, and up again
        assert ',UP' in in_namespace(ns, 'ip', '-o', 'link', 'show', 'dev', link).split('>')[0], link
    addresses = sorted(' '.join(line.split()[1:4:2]) for line in in_namespace(ns, 'ip', '-o', 'address').splitlines()
                       if ' scope link ' not in line)
    assert addresses == ['eth0 198.18.0.11/24', 'lo 127.0.0.1/8', 'lo ::1/128']
    if nft:
        assert 'table' not in in_namespace(ns, 'nft', 'list', 'ruleset')


def test_a_machine_never_boots_nor_power_cycles_in_the_root_namespace(tmp_path):
    # The guard comes before the power cycle is even defined: the header alone must stop.
    text = _machine.boot_script('hv1', '/img/rootfs', '/layers/hv1', '/img/repo', os.getpid())
    script = tmp_path / 'hv1.boot'
    script.write_text(text[:text.index('power_cycle() {')] + 'echo "past the guard"\n')
    out = subprocess.run(['sh', str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         check=False)
    assert out.returncode == 1 and 'past the guard' not in out.stdout and 'no lab namespace' in out.stdout


def test_the_wired_addresses_are_written_as_ip_prints_them():
    text = _machine.wired_addresses([{'interface': 'eth0', 'addresses': ['198.18.0.11/24', '2001:DB8:0::1/64']},
                                     {'interface': 'eth1'}, {'interface': 'eth0', 'addresses': ['198.18.0.11/24']}])
    assert text == 'eth0 198.18.0.11/24\neth0 2001:db8::1/64\n'
