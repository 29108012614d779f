# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: N GRE tunnel ports on one bridge, three ways, on a lab host running real OVS.

(a) netvirt.overlay.ovs_tunnels, one task (create, no-change re-run, purge to remove);
(b) one ``ovs-vsctl add-port`` / ``del-port`` per port, a shell loop inside the lab host;
(c) openvswitch.openvswitch.openvswitch_port in an Ansible loop (create, no-change re-run).

Wall time is taken around each ansible-playbook / nsenter call. After every step the bridge
must hold exactly the expected tunnel ports, or the benchmark stops. The lab (its own name,
``bench``) is always destroyed at the end, and the root network namespace must be unchanged.

Run as root, after ``. tools/setup.sh``:  python bench/tunnel_ports.py [--sizes 10,100,500]
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)  # bench/benchlab.py, also when imported by path
from benchlab import LAB_PLAYBOOKS, enter, host_guard, host_pid  # noqa: E402
INVENTORY = os.path.join(HERE, 'inventory.yml')
PLAYBOOKS = os.path.join(HERE, 'playbooks')
LAB_DESTROY = os.path.join(LAB_PLAYBOOKS, 'destroy.yml')
GET_PEER = os.path.join(HERE, 'get_peer_collection.sh')

# Must match bench/inventory.yml.
LAB_STATE_DIR = '/run/netvirt-lab/bench'
HOST = 'bench1'
BRIDGE = 'br-bench'

# RFC 2544 benchmark range: no real network uses it, so the remotes can never reach anything.
BENCH_NET = ipaddress.IPv4Network('198.18.0.0/15')

COLUMNS = ['a-create', 'a-rerun', 'a-remove', 'b-create', 'b-remove', 'c-create', 'c-rerun']
TARGET_RATIO = 20.0
TARGET_RERUN = 2.0
RATIO_SIZE = 500

# (b): the per-port way; each ovs-vsctl call waits until ovs-vswitchd applied it, as an
# operator's script would.
ADD_LOOP = ('set -e; br=$1; shift; while [ $# -gt 0 ]; do '
            'ovs-vsctl add-port "$br" "$1" -- set Interface "$1" type=gre options:remote_ip="$2"; '
            'shift 2; done')
RECAP = re.compile(r'^\S+\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.MULTILINE)
DEL_LOOP = 'set -e; br=$1; shift; for p in "$@"; do ovs-vsctl del-port "$br" "$p"; done'


class BenchError(Exception):
    """The benchmark cannot give a trustworthy number: stop, loudly."""


def remotes(count):
    """count distinct remote addresses from 198.18.0.1 on, all inside BENCH_NET."""
    first = BENCH_NET.network_address + 1
    out = [str(first + i) for i in range(count)]
    if out and ipaddress.IPv4Address(out[-1]) not in BENCH_NET:
        raise BenchError('%d remotes do not fit in %s' % (count, BENCH_NET))
    return out


def port_name(remote):
    """ovs_tunnels' name for an IPv4 remote (gre-<address in hex>): all methods make the same ports."""
    return 'gre-%08x' % int(ipaddress.IPv4Address(remote))


def timed(argv, env=None):
    """Run argv; return (wall seconds, CompletedProcess).

    Output is captured, so a slow terminal (500 loop items for (c)) does not count in the time.
    """
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - start, proc


def tail(proc, lines=40):
    return '\n'.join((proc.stdout + proc.stderr).splitlines()[-lines:])


class Lab:
    """The benchmark's lab host, reached with ansible-playbook and nsenter (benchlab)."""

    def __init__(self, env, workdir):
        self.env = env
        self.workdir = workdir
        self.pid = None

    def playbook(self, name, extra_vars=None, changed=None):
        """Run one playbook (timed); check it succeeded and changed what it should (None: don't care)."""
        argv = ['ansible-playbook', '-i', INVENTORY, name]
        if extra_vars is not None:
            # A file, not -e JSON: 500 items would make a very long command line.
            path = os.path.join(self.workdir, 'vars.json')
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(extra_vars, handle)
            argv += ['-e', '@' + path]
        seconds, proc = timed(argv, self.env)
        # PLAY RECAP: one line per host with ok/changed/unreachable/failed counters.
        recap = [tuple(map(int, m)) for m in RECAP.findall(proc.stdout)]
        if proc.returncode != 0 or not recap or any(unreachable or failed for _c, unreachable, failed in recap):
            raise BenchError('%s failed (rc %d):\n%s' % (os.path.basename(name), proc.returncode, tail(proc)))
        changes = sum(count for count, _u, _f in recap)
        if changed is not None and bool(changes) != changed:
            raise BenchError('%s: expected changed=%s, the recap counts %d changes'
                             % (os.path.basename(name), changed, changes))
        return seconds

    def in_host(self, argv):
        """Run argv inside the lab host (timed); it must succeed."""
        seconds, proc = timed(enter(self.pid, argv))
        if proc.returncode != 0:
            raise BenchError('%s failed in the lab host (rc %d):\n%s' % (' '.join(argv[:3]), proc.returncode, tail(proc)))
        return seconds, proc.stdout

    def create(self):
        self.playbook(os.path.join(PLAYBOOKS, 'setup.yml'))
        self.pid = host_pid(LAB_STATE_DIR, HOST)

    def destroy(self):
        """Kill the lab host (all its interfaces and OVS daemons go with it) and make sure it is gone."""
        self.playbook(LAB_DESTROY)
        if self.pid is not None and os.path.exists('/proc/%d' % self.pid):
            raise BenchError('lab host PID %d still runs after playbooks/lab/destroy.yml' % self.pid)

    def reset_bridge(self):
        """Same starting point for every method: a fresh, empty netdev bridge (not timed)."""
        self.in_host(['ovs-vsctl', '--if-exists', 'del-br', BRIDGE, '--', 'add-br', BRIDGE,
                      '--', 'set', 'Bridge', BRIDGE, 'datapath_type=netdev'])
        self.expect_ports([])

    def expect_ports(self, names):
        """The bridge must hold exactly these ports, every one a GRE interface."""
        ports = set(self.in_host(['ovs-vsctl', 'list-ports', BRIDGE])[1].split())
        gre = set(self.in_host(['ovs-vsctl', '--bare', '--columns=name', 'find', 'Interface', 'type=gre'])[1].split())
        tunnels = ports & gre
        if ports != set(names) or tunnels != set(names):
            raise BenchError('bridge %s: expected %d GRE tunnel ports, found %d ports of which %d GRE tunnels '
                             '(missing e.g. %s, unexpected e.g. %s)'
                             % (BRIDGE, len(names), len(ports), len(tunnels),
                                sorted(set(names) - tunnels)[:3], sorted(ports - set(names))[:3]))


def bench_ovs_tunnels(lab, addrs, names):
    """(a): create, no-change re-run, purge; one ansible-playbook run each."""
    playbook = os.path.join(PLAYBOOKS, 'ovs_tunnels.yml')
    out = {}
    lab.reset_bridge()
    out['a-create'] = lab.playbook(playbook, {'bench_remotes': addrs}, changed=True)
    lab.expect_ports(names)
    out['a-rerun'] = lab.playbook(playbook, {'bench_remotes': addrs}, changed=False)
    lab.expect_ports(names)
    out['a-remove'] = lab.playbook(playbook, {'bench_remotes': []}, changed=True)
    lab.expect_ports([])
    return out


def bench_vsctl_loop(lab, addrs, names):
    """(b): one ovs-vsctl per port, the loop running inside the host (one nsenter per phase)."""
    out = {}
    lab.reset_bridge()
    pairs = [word for name, addr in zip(names, addrs) for word in (name, addr)]
    out['b-create'] = lab.in_host(['sh', '-c', ADD_LOOP, 'sh', BRIDGE] + pairs)[0]
    lab.expect_ports(names)
    out['b-remove'] = lab.in_host(['sh', '-c', DEL_LOOP, 'sh', BRIDGE] + names)[0]
    lab.expect_ports([])
    return out


def bench_openvswitch_port(lab, addrs, names):
    """(c): one openvswitch_port item per port; create and no-change re-run (it has no purge)."""
    playbook = os.path.join(PLAYBOOKS, 'openvswitch_port.yml')
    ports = [{'name': name, 'remote': addr} for name, addr in zip(names, addrs)]
    out = {}
    lab.reset_bridge()
    out['c-create'] = lab.playbook(playbook, {'bench_ports': ports}, changed=True)
    lab.expect_ports(names)
    out['c-rerun'] = lab.playbook(playbook, {'bench_ports': ports}, changed=False)
    lab.expect_ports(names)
    lab.reset_bridge()
    return out


def run_sizes(lab, sizes, peer_limit):
    results = {}
    for size in sizes:
        addrs = remotes(size)
        names = [port_name(addr) for addr in addrs]
        row = {}
        row.update(bench_ovs_tunnels(lab, addrs, names))
        row.update(bench_vsctl_loop(lab, addrs, names))
        if peer_limit is None or size <= peer_limit:
            row.update(bench_openvswitch_port(lab, addrs, names))
        results[size] = row
        print('size %d: %s' % (size, ', '.join('%s %.2f s' % kv for kv in row.items())), file=sys.stderr, flush=True)
    return results


def ratio(row, slow, fast):
    if slow not in row:
        return 'skipped'
    return '%.2fx' % (row[slow] / row[fast])


def table(results):
    lines = ['| ports | ' + ' | '.join(COLUMNS) + ' | c/a | b/a |',
             '|---:|' + '---:|' * (len(COLUMNS) + 2)]
    for size, row in results.items():
        cells = ['%.2f' % row[col] if col in row else 'skipped' for col in COLUMNS]
        cells += [ratio(row, 'c-create', 'a-create'), ratio(row, 'b-create', 'a-create')]
        lines.append('| %d | %s |' % (size, ' | '.join(cells)))
    return lines


def targets(results):
    """[(text, passed)]; a target that was not measured does not pass."""
    row = results.get(RATIO_SIZE, {})
    if 'c-create' in row:
        speedup = row['c-create'] / row['a-create']
        ratio_line = ('(a) at least %dx faster than (c) at %d ports: %.1fx' % (TARGET_RATIO, RATIO_SIZE, speedup),
                      speedup >= TARGET_RATIO)
    else:
        ratio_line = ('(a) at least %dx faster than (c) at %d ports: not measured' % (TARGET_RATIO, RATIO_SIZE), False)
    worst = max(row['a-rerun'] for row in results.values())
    rerun_line = ('a-rerun under %.0f s at every size: slowest %.2f s' % (TARGET_RERUN, worst), worst < TARGET_RERUN)
    return [ratio_line, rerun_line]


def report(results):
    lines = table(results) + ['']
    for text, passed in targets(results):
        lines.append('- %s: %s' % (text, 'PASS' if passed else 'FAIL'))
    return lines


def bench_env(peer_dir):
    """ansible-playbook from tools/setup.sh's venv, seeing this collection (and the peer one)."""
    if not os.environ.get('NVO_COLLECTIONS') or shutil.which('ansible-playbook') is None:
        raise BenchError('source tools/setup.sh first (ansible-playbook and NVO_COLLECTIONS are needed)')
    paths = [os.environ['NVO_COLLECTIONS']] + ([peer_dir] if peer_dir else [])
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(paths),
                ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')


def peer_collection():
    """Directory holding ansible_collections/openvswitch (downloaded and unpacked once)."""
    proc = subprocess.run([GET_PEER], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError('bench/get_peer_collection.sh failed:\n%s' % tail(proc))
    return proc.stdout.strip().splitlines()[-1]


def parse_sizes(text):
    sizes = [int(word) for word in text.split(',') if word.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError('a comma-separated list of positive port counts')
    return sizes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--sizes', type=parse_sizes, default=[10, 100, 500],
                        help='comma-separated tunnel port counts (default 10,100,500)')
    parser.add_argument('--skip-peer-above', type=int, metavar='N',
                        help='skip (c) openvswitch_port at sizes above N (it takes ~2 min per run at 500)')
    parser.add_argument('--output', metavar='FILE', help='also write the table to FILE (e.g. bench/results/...)')
    return parser.parse_args(argv)


def run(args):
    needs_peer = args.skip_peer_above is None or min(args.sizes) <= args.skip_peer_above
    env = bench_env(peer_collection() if needs_peer else None)
    with tempfile.TemporaryDirectory(prefix='nvo-bench-') as workdir:
        lab = Lab(env, workdir)
        # A lab left over by an interrupted run would start with stale ports: remove it first.
        lab.destroy()
        before = host_guard.snapshot()
        try:
            lab.create()
            return run_sizes(lab, args.sizes, args.skip_peer_above)
        finally:
            try:
                lab.destroy()
            finally:
                # Checked even if the destroy failed: the safety rule matters more than the numbers.
                changed = host_guard.differences(before, host_guard.snapshot())
                if changed:
                    raise BenchError('the benchmark changed this machine: %s' % '; '.join(changed))


def main(argv=None):
    args = parse_args(argv)
    # Wall times move with whatever else the machine runs: the load goes next to the table.
    load_before = os.getloadavg()[0]
    try:
        results = run(args)
    except BenchError as exc:
        print('BENCHMARK FAILED: %s' % exc, file=sys.stderr)
        return 2
    lines = ['Tunnel ports benchmark, %s, wall seconds (%d CPUs, 1-min load average %.2f before, %.2f after)'
             % (datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), os.cpu_count(), load_before, os.getloadavg()[0]),
             ''] + report(results)
    print('\n'.join(lines))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, 'w', encoding='utf-8') as handle:
            handle.write('\n'.join(lines) + '\n')
    return 0 if all(passed for _text, passed in targets(results)) else 1


if __name__ == '__main__':
    sys.exit(main())
