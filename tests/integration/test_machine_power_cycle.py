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


def boot_script_up_to_its_loop(tmp_path, pid, then, name='hv1'):
    """The boot script up to its loop (what runs before the first boot), then the commands given."""
    text = _machine.boot_script(name, '/img/rootfs', '/layers/' + name, '/img/repo', pid)
    script = tmp_path / ('%s.boot' % name)
    script.write_text(text[:text.index('while :')] + then)
    with open(str(script) + '.wired', 'w') as handle:
        handle.write(_machine.wired_addresses([{'interface': 'eth0', 'addresses': ['198.18.0.11/24']}]))
    return str(script)


def wire_and_leave_a_machines_state(ns):
    """The lab's wiring of a host (a veth pair, the management address on eth0), and what a machine
    made there: a persistent tap with an address (OVS's tep0 on the userspace datapath), a bridge,
    keepalived's address on eth0 and the L2 marker on lo, an nftables table."""
    in_namespace(ns, 'ip', 'link', 'set', 'lo', 'up')
    in_namespace(ns, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'vm-vm1')
    in_namespace(ns, 'ip', 'link', 'set', 'eth0', 'up')
    in_namespace(ns, 'ip', 'address', 'add', '198.18.0.11/24', 'dev', 'eth0')
    in_namespace(ns, 'ip', 'tuntap', 'add', 'dev', 'tep0', 'mode', 'tap')
    in_namespace(ns, 'ip', 'address', 'add', '198.18.1.11/24', 'dev', 'tep0')
    in_namespace(ns, 'ip', 'link', 'add', 'br-phy', 'type', 'bridge')
    in_namespace(ns, 'ip', 'address', 'add', '198.18.0.99/24', 'dev', 'eth0')
    in_namespace(ns, 'ip', 'address', 'add', '169.254.100.1/32', 'dev', 'lo')
    if shutil.which('nft'):
        in_namespace(ns, 'nft', 'add', 'table', 'inet', 'machine')


def assert_only_the_wiring_is_left(ns):
    links = sorted(line.split(':')[1].strip().split('@')[0] for line in in_namespace(ns, 'ip', '-o', 'link').splitlines())
    assert links == ['eth0', 'lo', 'vm-vm1']
    for link in ('eth0', 'vm-vm1'):  # down for a second, as a rebooting host's NICs, and up again
        assert ',UP' in in_namespace(ns, 'ip', '-o', 'link', 'show', 'dev', link).split('>')[0], link
    addresses = sorted(' '.join(line.split()[1:4:2]) for line in in_namespace(ns, 'ip', '-o', 'address').splitlines()
                       if ' scope link ' not in line)
    assert addresses == ['eth0 198.18.0.11/24', 'lo 127.0.0.1/8', 'lo ::1/128']
    if shutil.which('nft'):
        assert 'table' not in in_namespace(ns, 'nft', 'list', 'ruleset')


def test_the_power_cycle_clears_what_the_machine_made_and_keeps_the_wiring(tmp_path, namespace):
    # The boot script runs it before the first boot (a dead machine's replacement, after
    # _machine.wipe_machine, boots in the lab host the dead one left) and at every reboot (the same
    # function in the loop, tests/unit/plugins/module_utils/test_machine.py).
    script = boot_script_up_to_its_loop(tmp_path, namespace, 'echo "first boot"\n')
    wire_and_leave_a_machines_state(namespace)
    out = subprocess.run(['sh', script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                         check=False)
    assert out.returncode == 0 and 'first boot' in out.stdout, out.stdout
    assert_only_the_wiring_is_left(namespace)


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
