# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the cost curve of a fleet, for each control plane and fleet size N.

For every N (default 4, 8, 16, 32) and control plane it builds a lab of its own (``bench-fleet``):
- mesh: N hypervisors that carry both tenant networks (blue, red), one VM each (odd VMs on blue,
  even on red), two service nodes (broadcast replication through them, as the embedded lab);
- ovn: the same N hypervisors as OVN chassis, three controllers (Raft, SSL), and with
  ``--relays K`` K southbound relays in front of them; blue and red are logical switches.
It times lab create (playbooks/lab/create.yml), the first converge (site.yml) and a no-change re-run
(site.yml again, which must report changed=0), counts the module runs per hypervisor of the re-run
(module_runs(), from the integration tests' results_file callback), sums the resident memory of every process of the lab, counts
the OpenFlow flows of each hypervisor, and checks broadcast: the first VM of each network sends
ARP broadcasts, and every other VM of that network must see exactly one copy of each, VMs of the
other network none. The lab is always destroyed, also on failure or Ctrl-C, and the machine's
root namespace must be unchanged (tools/host_guard.py).

With ``--baseline REF`` it also times, on each converged lab, no-change re-runs of the collection
at git ref REF and of this checkout, ``--rounds`` each in alternating order, and prints their
medians and ratio side by side (a change's speed-up, measured in one run on the same lab).

Run as root, after ``. tools/setup.sh``, under the lab lock:
  flock /run/nvo-lab.lock python bench/fleet.py --sizes 4,8 --planes mesh,ovn [--relays 2]
  flock /run/nvo-lab.lock python bench/fleet.py --sizes 32 --planes mesh --baseline 65e2e85 --rounds 3
Not part of CI. Exit code 1 when a check failed, 2 when a step failed.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/benchlab.py, also when imported by path
from benchlab import PROBE, ROOT, Failed, command, guarded_run, host_pid, report, run_inside, state_dir  # noqa: E402

LAB = 'bench-fleet'
STATE = state_dir(LAB)
NETWORKS = ('blue', 'red')
BURST = 5  # broadcasts each sender sends
# Inside a VM: count the ARP requests for TARGET seen on IFACE during SECONDS (raw socket).
ARP_COUNTER = r'''
import socket, struct, sys, time
iface, target, seconds = sys.argv[1], socket.inet_aton(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((iface, 0))
s.settimeout(0.2)
seen, end = 0, time.monotonic() + seconds
print('ready', flush=True)
while time.monotonic() < end:
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    if len(frame) >= 42 and frame[20:22] == b'\x00\x01' and frame[38:42] == target:
        seen += 1
print(seen, flush=True)
'''


def vm_network(i):
    return NETWORKS[(i - 1) % 2]


def vm_address(i):
    return '198.18.%d.%d' % (100 + (i - 1) % 2, i)


NODE_LINKS = [{'interface': 'eth0', 'network': 'mgmt', 'addresses': ['{{ lab_mgmt_address }}']},
              {'interface': 'eth1', 'network': 'transport'}]


def vm_ports(hvs, var, port, computed=None):
    """The hypervisors' group variables; each hypervisor (hvs: {'hvI': host variables}) gets its VM's
    port (port(I)) as its own `var`, or with `computed` (a template over lab_my_vms) the group
    computes every hypervisor's from the VMs' variables."""
    group_vars = {'lab_links': NODE_LINKS, 'hypervisor_underlay_interfaces': ['eth1']}
    if computed:
        group_vars.update({'lab_my_vms': ("{{ groups['vms'] | map('extract', hostvars) | selectattr('vm_hypervisor', 'eq', "
                                          "inventory_hostname) | map(attribute='inventory_hostname') | list }}"),
                           var: computed})
    else:
        for name, host in hvs.items():
            host[var] = [port(int(name[2:]))]
    return group_vars


def inventory(plane, n, relays, computed_vm_ports=False):
    """The lab's inventory. Each hypervisor's VM ports are listed with the host, as a fleet's inventory
    lists them; computed_vm_ports computes them from the VMs' host variables instead, as
    inventories/lab does (every task that reads them reads every VM's variables: at N = 32 that made
    the argument validation of the hypervisor role and the preflight's check 1.5 to 2.5 s each)."""
    common = {'netvirt_lab_name': LAB, 'netvirt_lab_state_dir': STATE,
              'ansible_connection': 'netvirt.overlay.namespace', 'ansible_python_interpreter': '/usr/bin/python3',
              'ovs_datapath_type': 'netdev', 'ovs_manage_packages': False, 'overlay_tx_checksum_offload': False,
              'overlay_underlay_mtu': 1500, 'lab_networks': [{'name': 'mgmt'}, {'name': 'transport'}]}
    hvs = dict(('hv%d' % i, {'lab_mgmt_address': '198.18.0.%d/24' % (100 + i),
                             'overlay_tep_address': '198.18.1.%d/24' % (100 + i)}) for i in range(1, n + 1))
    vms = dict(('vm%d' % i, {'vm_hypervisor': 'hv%d' % i, 'vm_network': vm_network(i),
                             'vm_address': vm_address(i) + '/24', 'vm_mac': '02:00:00:%02x:00:%02x' % ((i - 1) % 2, i)})
               for i in range(1, n + 1))
    vm_link = {'interface': 'eth0', 'peer_host': '{{ vm_hypervisor }}', 'peer_interface': 'vm-{{ inventory_hostname }}',
               'addresses': ['{{ vm_address }}'], 'mac': '{{ vm_mac }}'}
    if plane == 'mesh':
        for host in hvs.values():
            host['overlay_host_networks'] = list(NETWORKS)
        hv_vars = vm_ports(hvs, 'hypervisor_vm_ports', lambda i: {'name': 'vm-vm%d' % i, 'network': vm_network(i)}, (
            "{{ dict(lab_my_vms | map('regex_replace', '^', 'vm-') | zip(lab_my_vms | map('extract', hostvars, 'vm_network')))"
            " | dict2items(key_name='name', value_name='network') }}") if computed_vm_ports else None)
        return {'all': {
            'vars': dict(common, overlay_control_plane='mesh', overlay_encapsulation='gre',
                         overlay_networks=[{'name': 'blue', 'vni': 1001}, {'name': 'red', 'vni': 1002}],
                         overlay_bum_replication='service_node'),
            'children': {
                'hypervisors': {'hosts': hvs, 'vars': hv_vars},
                'service_nodes': {'vars': {'lab_links': NODE_LINKS, 'hypervisor_underlay_interfaces': ['eth1']},
                                  'hosts': dict(('sn%d' % i, {'lab_mgmt_address': '198.18.0.%d/24' % (20 + i),
                                                              'overlay_tep_address': '198.18.1.%d/24' % (20 + i)})
                                                for i in (1, 2))},
                'vms': {'hosts': vms, 'vars': {'lab_links': [vm_link]}}}}}
    ports = dict((net, [{'name': vm, 'mac': v['vm_mac'], 'ips': [v['vm_address'].split('/')[0]]}
                        for vm, v in sorted(vms.items()) if v['vm_network'] == net]) for net in NETWORKS)
    ovn_vars = dict(common, overlay_control_plane='ovn', overlay_encapsulation='geneve', overlay_ovn_transport='ssl',
                    overlay_ovn_pki_dir=STATE + '.pki',
                    overlay_tenant_mtu="{{ (overlay_underlay_mtu | netvirt.overlay.tenant_mtu(overlay_encapsulation)) | int - 8 }}",
                    overlay_ovn_topology={'switches': [
                        {'name': net, 'subnet': '198.18.%d.0/24' % (100 + k), 'ports': ports[net]}
                        for k, net in enumerate(NETWORKS)]})
    hv_vars = vm_ports(hvs, 'hypervisor_ovn_vm_ports', lambda i: {'name': 'vm-vm%d' % i, 'logical_port': 'vm%d' % i}, (
        "{{ lab_my_vms | map('regex_replace', '^(.*)$', '{\"name\": \"vm-\\1\", \"logical_port\": \"\\1\"}')"
        " | map('from_json') | list }}") if computed_vm_ports else None)
    children = {
        'controllers': {'vars': {'lab_links': NODE_LINKS[:1]},
                        'hosts': dict(('ctl%d' % i, {'lab_mgmt_address': '198.18.0.%d/24' % (20 + i),
                                                     'controller_address': '198.18.0.%d' % (20 + i)}) for i in (1, 2, 3))},
        'hypervisors': {'hosts': hvs, 'vars': hv_vars},
        'vms': {'hosts': vms, 'vars': {'lab_links': [vm_link]}}}
    if relays:
        children['relays'] = {'vars': {'lab_links': NODE_LINKS[:1]},
                              'hosts': dict(('rl%d' % i, {'lab_mgmt_address': '198.18.0.%d/24' % (40 + i),
                                                          'sb_relay_address': '198.18.0.%d' % (40 + i)})
                                            for i in range(1, relays + 1))}
    return {'all': {'vars': ovn_vars, 'children': children}}


def hosts_of(plane, n, relays):
    """Every host of the lab: the Open vSwitch and OVN nodes, then the VMs."""
    nodes = ['hv%d' % i for i in range(1, n + 1)]
    nodes += ['sn1', 'sn2'] if plane == 'mesh' else ['ctl1', 'ctl2', 'ctl3'] + ['rl%d' % i for i in range(1, relays + 1)]
    return nodes + ['vm%d' % i for i in range(1, n + 1)]


# The integration tests' callback (tests/integration/callback_plugins/results_file.py): every task
# result, with the task's action and where it was delegated.
RESULTS_CALLBACK = os.path.join(ROOT, 'tests', 'integration', 'callback_plugins')
# Actions that run on the control node only: they are no module run on the host. The collection's
# validate_role_variables (site.yml's preflight) is one: counted before 2026-12-06, it made every
# figure of module runs per host one too many from 2026-12-03 (ea1129f) on.
CONTROL_NODE_ONLY = frozenset([
    'set_fact', 'assert', 'fail', 'debug', 'meta', 'include_tasks', 'import_tasks', 'include_role',
    'import_role', 'include_vars', 'validate_argument_spec', 'add_host', 'group_by', 'set_stats', 'pause',
    'validate_role_variables'])
# Actions that may run shell commands on the host and no Python module (as raw does): the ovs role's
# probe since 2026-12-06, and ovs_bridges when it returns the result it kept on the host (a module run
# otherwise). A result with the module's invocation is a module run: ovs_bridges' runs, and a
# --baseline run of older code, where the probe was a module.
SHELL_COMMAND_ONLY = frozenset(['raw', 'ovs_host_facts', 'ovs_bridges'])


def module_runs(data):
    """{host: task runs that executed a module on that host} of a results_file record: every task
    result (each loop item apart) that was not skipped, without control-node actions, actions that
    ran a shell command and no module, and tasks delegated to another host. An action plugin that
    runs several modules (copy) counts once."""
    runs = collections.Counter()
    for play in data['plays']:
        for task in play['tasks']:
            action = task['task']['action'].rsplit('.', 1)[-1]
            if action in CONTROL_NODE_ONLY:
                continue
            for host, res in task['hosts'].items():
                if res.get('skipped') or res.get('unreachable') or res.get('_delegated_to'):
                    continue
                if action in SHELL_COMMAND_ONLY and 'invocation' not in res:
                    continue
                items = res.get('results')
                runs[host] += sum(1 for item in items if not item.get('skipped')) if isinstance(items, list) else 1
    return dict(runs)


def task_seconds(data, end):
    """[(seconds, play, task, hosts that ran it)] of a results_file record, slowest first: a task's time
    is from its start to the next task's (the linear strategy runs one task at a time on every host),
    the last one's to `end` (time.time() when the run ended)."""
    tasks = [(play['play']['name'], task) for play in data['plays'] for task in play['tasks']]
    out = []
    for k, (play, task) in enumerate(tasks):
        until = tasks[k + 1][1]['task']['started'] if k + 1 < len(tasks) else end
        ran = sum(1 for res in task['hosts'].values() if not res.get('skipped'))
        out.append((until - task['task']['started'], play, task['task']['name'], ran))
    return sorted(out, key=lambda row: -row[0])


class Lab(object):
    def __init__(self, inv_path, forks, env, root=ROOT):
        self.inv = inv_path
        self.forks = forks
        self.env = env
        self.root = root  # the collection's checkout whose playbooks and ansible.cfg run

    def playbook(self, name, count_runs=False):
        """Run a playbook of playbooks/: (seconds, {host: changed}, {host: module runs}, task_seconds())."""
        argv = ['ansible-playbook', '-i', self.inv, os.path.join(self.root, 'playbooks', name)]
        if self.forks:
            argv += ['--forks', str(self.forks)]
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(self.root, 'ansible.cfg'), **self.env)
        runs_file = None
        if count_runs:
            handle, runs_file = tempfile.mkstemp(suffix='.json')
            os.close(handle)
            env.update(ANSIBLE_CALLBACK_PLUGINS=RESULTS_CALLBACK, ANSIBLE_CALLBACKS_ENABLED='results_file',
                       NVO_RESULTS_FILE=runs_file)
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        seconds = time.monotonic() - start
        ended = time.time()
        runs, slowest = {}, []
        if runs_file:
            with open(runs_file) as handle:
                text = handle.read()
            os.unlink(runs_file)
            if text:
                record = json.loads(text)
                runs, slowest = module_runs(record), task_seconds(record, ended)
        if proc.returncode != 0:
            raise Failed('%s failed (rc %d):\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-3000:]))
        changed = dict((m.group(1), int(m.group(2))) for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)',
                                                                          proc.stdout, re.M))
        if not changed:
            raise Failed('%s printed no recap' % name)
        return seconds, changed, runs, slowest


def inside(host, argv, check=True, timeout=60):
    proc = run_inside(STATE, host, argv, timeout=timeout)
    if check and proc.returncode != 0:
        raise Failed('%s: %s failed: %s' % (host, ' '.join(argv), proc.stderr))
    return proc.stdout


def lab_processes(hosts, read):
    """{(host, pid): read(pid)} for every process in the PID namespace of one of the lab's hosts;
    processes that end while they are read are left out."""
    ns_of = dict((os.readlink('/proc/%d/ns/pid' % host_pid(STATE, h)), h) for h in hosts)
    found = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            host = ns_of.get(os.readlink('/proc/%s/ns/pid' % entry))
            if host is not None:
                found[(host, int(entry))] = read(entry)
        except OSError:
            continue  # the process ended meanwhile
    return found


def _rss_mib(pid):
    with open('/proc/%s/status' % pid) as handle:
        found = re.search(r'^VmRSS:\s+(\d+) kB', handle.read(), re.M)
    return int(found.group(1)) / 1024.0 if found else 0.0


def _cpu_seconds(pid):
    with open('/proc/%s/stat' % pid) as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf('SC_CLK_TCK'))  # utime + stime


def memory_mib(hosts):
    """{host: MiB of resident memory of every process in its PID namespace}."""
    rss = collections.Counter()
    for (host, _pid), mib in lab_processes(hosts, _rss_mib).items():
        rss[host] += mib
    return rss


def lab_cpu_seconds(hosts, before):
    """CPU seconds the lab's processes that ran in `before` (a lab_processes(hosts, _cpu_seconds)
    snapshot) used since: its daemons. Processes that started after it (the module runs) are
    Ansible's, counted in its own rusage."""
    now = lab_processes(hosts, _cpu_seconds)
    return sum(now[key] - seconds for key, seconds in before.items() if key in now)


def flows(host):
    total = 0
    for bridge in inside(host, ['ovs-vsctl', '--timeout=10', 'list-br']).split():
        out = inside(host, ['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', bridge])
        total += sum(1 for line in out.splitlines() if 'actions=' in line)
    return total


def wait_reachable(n, timeout=120):
    """Every VM pings the next VM of its network (the control plane has done its work)."""
    deadline = time.monotonic() + timeout
    pending = [(i, j) for i in range(1, n + 1) for j in [i + 2 if i + 2 <= n else i - 2] if 1 <= j <= n]
    while pending and time.monotonic() < deadline:
        pending = [(i, j) for i, j in pending
                   if subprocess.run(command(STATE, 'vm%d' % i, ['ping', '-c', '1', '-W', '1', vm_address(j)]),
                                     stdout=subprocess.DEVNULL, check=False).returncode != 0]
    if pending:
        raise Failed('VMs that never reached their network peer: %s' % pending)


def broadcast_check(n):
    """For each network, the first VM sends BURST ARP broadcasts for an address nobody has: every
    other VM of the network must count exactly BURST, every VM of the other network 0.
    (ok, 'what was seen')."""
    report, ok = [], True
    for k, net in enumerate(NETWORKS):
        sender = k + 1
        target = '198.18.%d.250' % (100 + k)
        listeners = {}
        for i in range(1, n + 1):
            if i != sender:
                listeners[i] = subprocess.Popen(command(STATE, 'vm%d' % i, ['python3', '-c', ARP_COUNTER, 'eth0', target, '6']),
                                                stdout=subprocess.PIPE, universal_newlines=True)
        for proc in listeners.values():
            if proc.stdout.readline().strip() != 'ready':
                raise Failed('an ARP counter did not start')
        # One broadcast for another address first: OVS's userspace tunnelling drops the first packet
        # towards a tunnel endpoint whose MAC it has not resolved yet (seen at N=8: 4 of 5 copies on
        # the hypervisors that no ping had reached); the check is about copies in steady state.
        inside('vm%d' % sender, ['python3', PROBE, 'arp-burst', 'eth0', '198.18.%d.251' % (100 + k), '1'])
        time.sleep(1)
        inside('vm%d' % sender, ['python3', PROBE, 'arp-burst', 'eth0', target, str(BURST), '0.05'])
        seen = dict((i, int(proc.communicate(timeout=30)[0].strip() or -1)) for i, proc in listeners.items())
        same = [seen[i] for i in seen if vm_network(i) == net]
        other = [seen[i] for i in seen if vm_network(i) != net]
        good = all(c == BURST for c in same) and all(c == 0 for c in other) and len(same) > 0
        ok = ok and good
        report.append('%s: %s' % (net, 'each of %d VMs %d/%d, other network 0' % (len(same), BURST, BURST) if good
                                  else 'same network %s, other network %s' % (same, other)))
    return ok, '; '.join(report)


def baseline_checkout(ref):
    """(the collection at git ref REF, unpacked in a temporary directory; a collections path holding it)."""
    top = tempfile.mkdtemp(prefix='fleet-baseline-')
    tree = os.path.join(top, 'ansible_collections', 'netvirt', 'overlay')
    os.makedirs(tree)
    archive = subprocess.run(['git', '-C', ROOT, 'archive', '--format=tar', ref], stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(['tar', '-x', '-C', tree], input=archive, check=True)
    return tree, top


def side_by_side(lab, baseline, rounds):
    """No-change re-runs of this checkout and of the baseline's, `rounds` each on the same lab, in an
    order that alternates from round to round: {'this'|'baseline': [(seconds, changed, module runs per hypervisor)]}."""
    tree, top = baseline
    labs = {'this': lab, 'baseline': Lab(lab.inv, lab.forks, dict(lab.env, ANSIBLE_COLLECTIONS_PATH=top), root=tree)}
    times = {'this': [], 'baseline': []}
    for k in range(rounds):
        for which in (('this', 'baseline') if k % 2 == 0 else ('baseline', 'this')):
            seconds, changed, runs, _slowest = labs[which].playbook('site.yml', count_runs=True)
            hv_runs = [v for h, v in runs.items() if h.startswith('hv')]
            times[which].append((seconds, sum(changed.values()), sum(hv_runs) / float(max(len(hv_runs), 1))))
    return times


def side_by_side_table(rows, ref):
    out = ['| control plane | N | code | no-change re-run s, median (min-max) | ratio to %s | changed | module runs per '
           'hypervisor |' % ref, '|---|---:|---|---:|---:|---:|---:|']
    for r in rows:
        runs = r.get('side_by_side')
        if not runs:
            continue
        base = sorted(t for t, _c, _m in runs['baseline'])[len(runs['baseline']) // 2]
        for which, label in (('baseline', ref), ('this', 'this checkout')):
            secs = sorted(t for t, _c, _m in runs[which])
            median = secs[len(secs) // 2]
            out.append('| %s | %d | %s | %.1f (%.1f-%.1f) | %.2f | %d | %.1f |'
                       % (r['plane'], r['n'], label, median, secs[0], secs[-1], median / base,
                          sum(c for _t, c, _m in runs[which]), runs[which][0][2]))
    return '\n'.join(out)


def measure(plane, n, relays, forks, env, computed_vm_ports=False, baseline=None, rounds=0):
    handle, inv_path = tempfile.mkstemp(suffix='.json', prefix='fleet-')
    with os.fdopen(handle, 'w') as out:
        json.dump(inventory(plane, n, relays, computed_vm_ports), out)
    lab = Lab(inv_path, forks, env)
    row = {'plane': plane + (' + %d relays' % relays if plane == 'ovn' and relays else '')
           + (' (VM ports computed)' if computed_vm_ports else ''), 'n': n}
    try:
        row['create'] = lab.playbook('lab/create.yml')[0]
        row['first'], _changed, _runs, row['slowest_first'] = lab.playbook('site.yml', count_runs=True)
        lab.playbook('lab/host_networks.yml')
        # Where the re-run's CPU goes: Ansible (ansible-playbook, its workers and the module runs, all
        # its descendants) against the lab's own daemons (Open vSwitch and OVN in every lab host).
        lab_hosts = [h for h in hosts_of(plane, n, relays) if os.path.exists(os.path.join(STATE, '%s.pid' % h))]
        daemons = lab_processes(lab_hosts, _cpu_seconds)
        ansible_cpu = os.times()
        row['rerun'], changed, runs, row['slowest'] = lab.playbook('site.yml', count_runs=True)
        ansible_after = os.times()
        row['cpu_ansible'] = (ansible_after.children_user + ansible_after.children_system
                              - ansible_cpu.children_user - ansible_cpu.children_system)
        row['cpu_lab'] = lab_cpu_seconds(lab_hosts, daemons)
        row['rerun_changed'] = sum(changed.values())
        hv_runs = [runs.get('hv%d' % i, 0) for i in range(1, n + 1)]
        row['runs'] = sum(hv_runs) / float(n)
        row['runs_all'] = dict(runs)
        mem = memory_mib(lab_hosts)
        row['mem_total'] = sum(mem.values())
        row['mem_hv'] = sum(mem['hv%d' % i] for i in range(1, n + 1)) / float(n)
        hv_flows = [flows('hv%d' % i) for i in range(1, n + 1)]
        row['flows'] = (min(hv_flows), max(hv_flows))
        wait_reachable(n)
        row['bcast_ok'], row['bcast'] = broadcast_check(n)
        if baseline:
            row['side_by_side'] = side_by_side(lab, baseline, rounds)
    finally:
        try:
            lab.playbook('lab/destroy.yml')
        finally:
            os.unlink(inv_path)
    return row


def table(rows):
    out = ['| control plane | N | lab create s | first converge s | no-change re-run s (changed) | module runs per '
           'hypervisor (re-run) | CPU s in the re-run: Ansible / the lab\'s daemons | memory of the lab MiB (per hypervisor) '
           '| flows per hypervisor | broadcast |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in rows:
        flow = '%d' % r['flows'][0] if r['flows'][0] == r['flows'][1] else '%d-%d' % r['flows']
        out.append('| %s | %d | %.1f | %.1f | %.1f (%d) | %.1f | %.1f / %.1f | %.0f (%.0f) | %s | %s %s |'
                   % (r['plane'], r['n'], r['create'], r['first'], r['rerun'], r['rerun_changed'], r['runs'],
                      r['cpu_ansible'], r['cpu_lab'], r['mem_total'], r['mem_hv'], flow,
                      'PASS' if r['bcast_ok'] else 'FAIL', r['bcast']))
    return '\n'.join(out)


def slowest_tasks(rows, count):
    """The `count` slowest tasks of each row's first converge and no-change re-run: where their time goes."""
    out = []
    for r in rows:
        for run, seconds, slowest in (('first converge', r['first'], r['slowest_first']),
                                      ('no-change re-run', r['rerun'], r['slowest'])):
            out += ['', 'slowest tasks of the %s, %s N=%d (%.1f s in all):' % (run, r['plane'], r['n'], seconds),
                    '| seconds | hosts that ran it | play | task |', '|---:|---:|---|---|']
            out += ['| %.1f | %d | %s | %s |' % (sec, ran, play, task) for sec, play, task, ran in slowest[:count]]
    return '\n'.join(out)


def uptime():
    return subprocess.run(['uptime'], stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--sizes', default='4,8,16,32', help='hypervisor counts N (comma separated)')
    parser.add_argument('--planes', default='mesh,ovn', help='control planes: mesh, ovn (comma separated)')
    parser.add_argument('--relays', type=int, default=0, help='southbound relays in the OVN lab (0: none)')
    parser.add_argument('--forks', type=int, default=0, help='ansible-playbook --forks (0: ansible.cfg\'s)')
    parser.add_argument('--env', action='append', default=[], metavar='KEY=VALUE',
                        help='environment for ansible-playbook (ANSIBLE_* tuning), repeatable')
    parser.add_argument('--output', help='also write the table (markdown) to this file')
    parser.add_argument('--computed-vm-ports', action='store_true',
                        help="also measure each lab with the hypervisors' VM ports computed from the VMs' variables, "
                             "as inventories/lab computes them (a row of its own after each)")
    parser.add_argument('--slowest', type=int, default=0, metavar='K',
                        help="also print the K slowest tasks of each lab's first converge and no-change re-run")
    parser.add_argument('--baseline', metavar='REF',
                        help='also time no-change re-runs of the collection at git ref REF on each converged lab, '
                             'side by side with this checkout\'s (--rounds each, alternating), and print their ratio')
    parser.add_argument('--rounds', type=int, default=3, help='re-runs of each code with --baseline (default 3)')
    args = parser.parse_args()
    env = dict(item.split('=', 1) for item in args.env)
    sizes = [int(s) for s in args.sizes.split(',')]
    planes = args.planes.split(',')
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = uptime()
    rows = []
    baseline = baseline_checkout(args.baseline) if args.baseline else None

    def work():
        for plane in planes:
            for n in sizes:
                print('%s N=%d ...' % (plane, n), file=sys.stderr, flush=True)
                rows.append(measure(plane, n, args.relays, args.forks, env, baseline=baseline, rounds=args.rounds))
                if args.computed_vm_ports:
                    rows.append(measure(plane, n, args.relays, args.forks, env, computed_vm_ports=True))
                print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)

    try:
        failure, changed = guarded_run(STATE, work)
    finally:
        if baseline:
            shutil.rmtree(baseline[1], ignore_errors=True)
    text = ('fleet benchmark, %s UTC; forks %s%s\nload before: %s\nload after:  %s\n\n%s\n'
            % (started.strftime('%Y-%m-%d %H:%M'), args.forks or "ansible.cfg's",
               ''.join('; %s=%s' % kv for kv in sorted(env.items())), load_before, uptime(), table(rows)))
    if args.slowest:
        text += slowest_tasks(rows, args.slowest) + '\n'
    if baseline:
        text += ('\nno-change re-runs side by side, %d each, alternating, on the lab this checkout converged:\n%s\n'
                 % (args.rounds, side_by_side_table(rows, args.baseline)))
    verdict = report(text, args.output, failure, changed)
    if verdict:
        return verdict
    bad = [r for r in rows if r['rerun_changed'] or not r['bcast_ok']
           or any(c for runs in r.get('side_by_side', {}).values() for _t, c, _m in runs)]
    for r in bad:
        print('FAIL: %s N=%d: re-run changed=%d, broadcast %s%s' % (
            r['plane'], r['n'], r['rerun_changed'], r['bcast'],
            '; side by side changed %s' % dict((k, [c for _t, c, _m in v]) for k, v in r['side_by_side'].items())
            if r.get('side_by_side') else ''))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
