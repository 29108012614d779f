# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what a hypervisor sends for a burst of K ARP broadcasts, source replication
against service-node replication, from OVS port counters.

A lab of its own (``bench-bum``): 8 hypervisors that all carry one tenant network, one service
node (one, so that no BFD packets share the counters), one VM on hv1. The overlay is deployed with
playbooks/lab/deploy.yml (site.yml and the lab's VMs), first with ``overlay_bum_replication=source``, then with ``service_node``; each
time the VM sends K ARP requests for an address nobody has, and the OpenFlow port counters of
hv1's transport NIC (read just before and after, inside hv1) give the packets and bytes it sent;
the counters of its tunnel ports tell how many went to the service node and how many direct.
The lab is always destroyed at the end, and the root network namespace must be unchanged.

Run as root, after ``. tools/setup.sh``:  python bench/bum_replication.py [--count 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/benchlab.py, also when imported by path
from benchlab import LAB_PLAYBOOKS, PROBE, ROOT, host_guard, run_inside, state_dir  # noqa: E402

LAB = 'bench-bum'
STATE = state_dir(LAB)
HYPERVISORS = 8
# Seconds between two ARP requests of a burst: back to back, a burst of 1000 overflows the VM
# port's receive queue of the userspace datapath and the counts would measure drops.
GAP = 0.0005


def inventory():
    hvs = {}
    for i in range(1, HYPERVISORS + 1):
        hvs['hv%d' % i] = {'overlay_tep_address': '198.18.1.%d/24' % (10 + i), 'overlay_host_networks': ['blue'],
                           'hypervisor_vm_ports': [{'name': 'vm-vm1', 'network': 'blue'}] if i == 1 else []}
    return {'all': {
        'vars': {'netvirt_lab_name': LAB, 'netvirt_lab_state_dir': STATE,
                 'ansible_connection': 'netvirt.overlay.namespace', 'ansible_python_interpreter': '/usr/bin/python3',
                 'lab_networks': [{'name': 'transport'}], 'ovs_manage_packages': False,
                 'overlay_tx_checksum_offload': False, 'overlay_encapsulation': 'gre', 'overlay_underlay_mtu': 1500,
                 'overlay_networks': [{'name': 'blue', 'vni': 4001}],
                 'lab_links': [{'interface': 'eth1', 'network': 'transport'}]},
        'children': {
            'hypervisors': {'hosts': hvs},
            'service_nodes': {'hosts': {'sn1': {'overlay_tep_address': '198.18.1.21/24'}}},
            'vms': {'hosts': {'vm1': {'vm_address': '198.18.100.1/24', 'lab_links': [
                {'interface': 'eth0', 'peer_host': 'hv1', 'peer_interface': 'vm-vm1',
                 'addresses': ['198.18.100.1/24'], 'mtu': 1458}]}}}}}}


def playbook(inv, name, *extra):
    argv = ['ansible-playbook', '-i', inv, os.path.join(LAB_PLAYBOOKS, name)] + list(extra)
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit('BENCHMARK FAILED: %s\n%s' % (' '.join(argv), proc.stdout[-3000:]))


def inside(host, *argv, **kw):
    proc = run_inside(STATE, host, argv)
    if kw.get('check', True) and proc.returncode != 0:
        raise SystemExit('BENCHMARK FAILED: %s: %s exited %d: %s' % (host, ' '.join(argv), proc.returncode, proc.stderr))
    return proc.stdout


def measure(count):
    def ports():
        tun = json.loads(inside('hv1', 'python3', PROBE, 'port-tx', 'br-tun'))
        tun['wire'] = json.loads(inside('hv1', 'python3', PROBE, 'port-tx', 'br-phy'))['eth1']
        return tun

    before = ports()
    inside('vm1', 'python3', PROBE, 'arp-burst', 'eth0', '198.18.100.77', str(count), str(GAP))
    time.sleep(1)
    after = ports()
    tunnels = [p for p in after if p.startswith('gre-') or p.startswith('sn-')]
    delta = dict((p, [after[p][0] - before[p][0], after[p][1] - before[p][1]]) for p in tunnels)
    # What leaves the hypervisor is counted on its transport NIC (eth1 on br-phy). The tunnel
    # ports' own counters only tell where the copies went (the userspace datapath counts a
    # tunnelled packet twice there, before and after encapsulation).
    return {'packets': after['wire'][0] - before['wire'][0], 'bytes': after['wire'][1] - before['wire'][1],
            'frames': after['patch-int'][2] - before['patch-int'][2],
            'to_service_node': sum(d[0] for p, d in delta.items() if p.startswith('sn-')),
            'direct': sum(d[0] for p, d in delta.items() if p.startswith('gre-'))}


def replication_ok(src, via):
    """Source replication sends one copy per other hypervisor, service-node replication one copy
    and nothing direct. A burst that nobody counted (0 frames) proves nothing and fails."""
    return (src['frames'] > 0 and via['frames'] > 0
            and abs(src['packets'] - (HYPERVISORS - 1) * src['frames']) <= 0.02 * src['packets']
            and abs(via['packets'] - via['frames']) <= 0.02 * via['frames'] and via['direct'] == 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--count', type=int, default=1000, help='ARP broadcasts per burst (K)')
    args = parser.parse_args()
    before = host_guard.snapshot()
    rows = []
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        json.dump(inventory(), handle)
        inv = handle.name
    try:
        playbook(inv, 'create.yml')
        for mode in ('source', 'service_node'):
            playbook(inv, 'deploy.yml', '-e', 'overlay_bum_replication=%s' % mode)
            inside('vm1', 'ping', '-c', '1', '-W', '1', '198.18.100.77', check=False)  # let the flows settle
            rows.append((mode, measure(args.count)))
    finally:
        playbook(inv, 'destroy.yml')
        os.unlink(inv)
    changed = host_guard.differences(before, host_guard.snapshot())
    if changed:
        raise SystemExit('BENCHMARK FAILED: the benchmark changed this machine: %s' % '; '.join(changed))
    k = args.count
    print('%d hypervisors carry the network; a VM on hv1 sends K=%d ARP broadcasts (42-byte frames)\n'
          % (HYPERVISORS, k))
    print('| replication | frames into br-tun | packets hv1 sent (eth1) | bytes hv1 sent (eth1) | copies per frame'
          ' | tunnel counters: to service node | direct |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    for mode, r in rows:
        print('| %s | %d | %d | %d | %.2f | %d | %d |'
              % (mode, r['frames'], r['packets'], r['bytes'], r['packets'] / float(max(r['frames'], 1)),
                 r['to_service_node'], r['direct']))
    src, via = rows[0][1], rows[1][1]
    ok = replication_ok(src, via)
    print('\n%s: source replication sends %.2f copies per frame, service-node replication %.2f'
          % ('PASS' if ok else 'FAIL', src['packets'] / float(max(src['frames'], 1)),
             via['packets'] / float(max(via['frames'], 1))))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
