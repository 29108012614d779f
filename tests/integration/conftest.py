# -*- coding: utf-8 -*-
"""Integration tests run real ansible-playbook against lab hosts made of namespaces.

Every test session checks that the machine is exactly as it was before, whatever the tests
did (tools/host_guard.py: root network namespace, forwarding, firewall, kernel modules, /etc).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import yaml

from ansible_collections.netvirt.overlay.plugins.filter.verification_table import verification_table
from ansible_collections.netvirt.overlay.plugins.module_utils import _lab

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# What users run on real hosts, and the lab's own playbooks (playbooks/lab/): build the lab, deploy
# it (site.yml, then the lab's own hosts), verify it (each prints a table), remove it.
SITE = os.path.join(ROOT, 'playbooks', 'site.yml')
LAB_PLAYBOOKS = os.path.join(ROOT, 'playbooks', 'lab')
CREATE = os.path.join(LAB_PLAYBOOKS, 'create.yml')
DEPLOY = os.path.join(LAB_PLAYBOOKS, 'deploy.yml')
# deploy.yml's second half: the settings of the lab's own hosts (VMs, outside hosts).
HOST_NETWORKS = os.path.join(LAB_PLAYBOOKS, 'host_networks.yml')
DESTROY = os.path.join(LAB_PLAYBOOKS, 'destroy.yml')
VERIFY = os.path.join(LAB_PLAYBOOKS, 'verify.yml')
VERIFY_OVN = os.path.join(LAB_PLAYBOOKS, 'verify_ovn.yml')
# The traffic probe the verification copies into lab hosts.
PROBE = os.path.join(LAB_PLAYBOOKS, 'files', 'netprobe.py')

# The controllers of inventories/lab_ovn, and how a lab host reaches their databases over SSL.
OVN_CONTROLLERS = {'ctl1': '198.18.0.21', 'ctl2': '198.18.0.22', 'ctl3': '198.18.0.23'}
OVN_NB = ','.join('ssl:%s:6641' % a for a in OVN_CONTROLLERS.values())
OVN_SB = ','.join('ssl:%s:6642' % a for a in OVN_CONTROLLERS.values())
OVN_SSL = ['-p', '/etc/ovn/ovn-privkey.pem', '-c', '/etc/ovn/ovn-cert.pem', '-C', '/etc/ovn/cacert.pem']


def ovn_ctl_as(run, host, tool, db, argv, key='/etc/ovn/ovn-privkey.pem', cert='/etc/ovn/ovn-cert.pem'):
    """ovn-nbctl/ovn-sbctl on host with the given key and certificate (the lab CA checks the servers);
    run(host, argv, check=False) runs a command as root on a lab host (namespaces or a machine)."""
    return run(host, ['timeout', '20', tool, '--db=' + db, '--timeout=5', '-p', key, '-c', cert, '-C', '/etc/ovn/cacert.pem']
               + argv, check=False)


# The rows playbooks/lab/verify_ovn.yml must print for inventories/lab_ovn (with or without the
# southbound relays): 3 controllers, 5 chassis (3 hypervisors, 2 gateways), 4 VMs that ping each
# other and the external host, then north-south and throughput.
OVN_TABLE = {'OVN_Northbound Raft cluster': 1, 'OVN_Southbound Raft cluster': 1, 'southbound listener': 2,
             'chassis ': 5, 'east-west ': 4, 'routed ': 8, 'north-south ': 4, 'external host sees the SNAT address': 1,
             'TCP north-south': 1, 'TCP overlay': 1, 'TCP underlay': 1, 'overlay / underlay throughput': 1}


def _host_guard():
    """tools/host_guard.py: what the lab must leave untouched on this machine."""
    spec = importlib.util.spec_from_file_location('host_guard', os.path.join(ROOT, 'tools', 'host_guard.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


host_guard = _host_guard()


@pytest.fixture(scope='session', autouse=True)
def root_namespace_untouched():
    """The root network namespace, forwarding sysctls, firewall rulesets, kernel modules and the
    files under /etc that the roles write: as they were before the tests, whatever the tests did."""
    before = host_guard.snapshot()
    yield
    changed = host_guard.differences(before, host_guard.snapshot())
    assert not changed, 'the tests changed this machine: %s' % '; '.join(changed)


def lab_pid(state_dir, host):
    """The PID that holds a lab host's namespaces (playbooks/lab/create.yml writes it; the host
    may have been killed since)."""
    return _lab.read_pid(state_dir, host)


def lab_command(state_dir, host, argv):
    """argv as it runs in every namespace of a lab host (never in the machine's own), the way the
    namespace connection plugin runs Ansible's tasks there (module_utils/_lab.py, enter)."""
    return _lab.enter(_lab.host_pid(state_dir, host), argv)


def in_lab_host(state_dir, host, argv, check=True, timeout=60):
    """Run argv in a lab host; its CompletedProcess (exit code 1 when the host is gone and check is off,
    as when nsenter finds no such process)."""
    try:
        command = lab_command(state_dir, host, argv)
    except _lab.LabError as exc:
        if check:
            raise AssertionError('%s: %s' % (host, exc))
        return subprocess.CompletedProcess(argv, 1, '', str(exc))
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('%s: %s failed (%d): %s%s' % (host, ' '.join(argv), proc.returncode, proc.stdout, proc.stderr))
    return proc


def start_in_lab_host(state_dir, host, argv, **popen):
    """Start argv in a lab host without waiting for it; its stdout is a pipe (text)."""
    return subprocess.Popen(lab_command(state_dir, host, argv), stdout=subprocess.PIPE, universal_newlines=True, **popen)


class Ping(object):
    """ping from a lab host in the background (until count pings, or until stop), in a session of
    its own: nsenter forks ping into the host's PID namespace and does not pass signals on, so stop
    interrupts the whole session. Its output goes to a file, not a pipe: a pipe read only at the end
    fills after about 1,000 lines and then blocks ping, a stall that no count would show. Replies
    carry the wall clock (-D)."""

    # Seconds a request waits for its reply (ping -W): a request older than this without a reply is lost.
    REPLY_TIMEOUT = 1

    def __init__(self, state_dir, host, target, interval, count=None):
        self.label, self.interval, self.count = '%s -> %s' % (host, target), interval, count
        self.output = tempfile.TemporaryFile(mode='w+')
        argv = ['ping', '-n', '-D', '-i', str(interval), '-W', str(self.REPLY_TIMEOUT)] \
            + (['-c', str(count)] if count else []) + [target]
        self.proc = subprocess.Popen(lab_command(state_dir, host, argv), stdout=self.output, stderr=subprocess.STDOUT,
                                     universal_newlines=True, start_new_session=True)

    def discard(self):
        """End the ping without judging it (a drill that failed half way): its pings would go on
        through the checks of the tests after it (a verification table counted them as copies of a
        broadcast)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def result(self, timeout=120):
        """(sent, received, the icmp_seq numbers answered, the wall-clock times of the replies) once
        ping has ended. Error lines such as "Destination Host Unreachable" carry an icmp_seq too:
        not counted. Fails when ping printed no summary (nothing measured)."""
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self.output.seek(0)
            out = self.output.read()
            self.output.close()
        summary = re.search(r'(\d+) packets transmitted, (\d+) received', out)
        assert summary, 'ping %s measured nothing:\n%s' % (self.label, out[-500:])
        replies = re.findall(r'^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+) ', out, re.M)
        seqs = sorted(set(int(seq) for _stamp, seq in replies))  # (a duplicate reply counts once)
        # (wall-clock time, icmp_seq) of every reply, for a drill that places the losses in time
        self.replies = [(float(stamp), int(seq)) for stamp, seq in replies]
        return int(summary.group(1)), len(seqs), seqs, [float(stamp) for stamp, _seq in replies]

    def _interrupt(self):
        """SIGINT to ping itself, not to its process group: nsenter, interrupted too, exits at once,
        while ping (its child, in the host's PID namespace) may still be writing its summary, which
        a loaded CI run then read before it was there ("measured nothing"). Interrupted alone, ping
        prints its summary and exits, and nsenter, waiting for it, exits after it."""
        if self.proc.poll() is not None:
            return  # ping has ended on its own (its count reached): its summary is written
        with open('/proc/%d/task/%d/children' % (self.proc.pid, self.proc.pid)) as children:
            pids = [int(pid) for pid in children.read().split()]
        if not pids:  # ping ended between the two looks: nsenter follows it at once
            self.proc.wait(timeout=10)
            return
        for pid in pids:
            os.kill(pid, signal.SIGINT)

    def stop(self):
        """Interrupt the ping (as Ctrl-C would: ping prints its summary) and return its result,
        judging only the requests whose reply time was up when ping stopped. ping counts those still
        waiting for their reply as lost (a CI run lost "1 of 759" so); they are neither sent nor
        received here: the last REPLY_TIMEOUT / interval requests. Ping keeps going for that reply
        time first, so the requests sent before stop() was called are judged (at ping's nominal
        rate; a ping slowed down below it has fewer in that last second)."""
        time.sleep(self.REPLY_TIMEOUT)
        self._interrupt()
        sent, _received, seqs, stamps = self.result()
        judged = max(0, sent - int(math.ceil(self.REPLY_TIMEOUT / self.interval)))
        seqs = [seq for seq in seqs if seq <= judged]
        return judged, len(seqs), seqs, stamps


def start_ping(state_dir, host, target, interval, count=None):
    """A Ping from a lab host to target every interval seconds (count of them, or until its stop())."""
    return Ping(state_dir, host, target, interval, count=count)


def ping_result(ping, timeout=120):
    """(sent, received, the icmp_seq numbers answered) of a start_ping with a count, once it ends."""
    return ping.result(timeout=timeout)[:3]


def eventually(predicate, timeout=20, step=0.5):
    """True as soon as predicate() is, False if it still is not after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def router_address_command(router_name):
    """argv listing a mesh gateway router's external IPv4 addresses: in its namespace (nvr-<name>),
    on ext0, where the active gateway (the VRRP master) holds the router's external_vip."""
    return ['ip', 'netns', 'exec', 'nvr-' + router_name, 'ip', '-4', '-o', 'address', 'show', 'dev', 'ext0']


def shows_address(output, address):
    """Whether `ip -o address` output has this address (any prefix length)."""
    return re.search(r' %s/' % re.escape(address), output) is not None


def router_holders(state_dir, gateways, router):
    """The gateways (namespace lab hosts) whose router namespace holds router['external_vip']: one,
    unless a failover is under way or VRRP split."""
    return [gw for gw in gateways
            if shows_address(in_lab_host(state_dir, gw, router_address_command(router['name']), check=False).stdout,
                             router['external_vip'])]


def wait_for(what, condition, timeout, step=0.2):
    """(condition()'s first true value, seconds it took); fails saying what did not happen after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        value = condition()
        if value:
            return value, time.monotonic() - start
        time.sleep(step)
    raise AssertionError('%s did not happen within %ss' % (what, timeout))


def edited_inventory(source, path, drop_hosts=(), host_vars=None, add_hosts=None):
    """A copy of the inventory directory source at path (a pathlib.Path), as a user would edit it:
    without some hosts, with some host variables set, and with new hosts ({group: {host: vars}});
    only hosts.yml changes. Returns path."""
    shutil.copytree(source, path)
    hosts = yaml.safe_load((path / 'hosts.yml').read_text())
    for group, new_hosts in (add_hosts or {}).items():
        hosts['all']['children'][group]['hosts'].update(new_hosts)
    for group in hosts['all']['children'].values():
        for name, values in (group.get('hosts') or {}).items():
            values.update((host_vars or {}).get(name, {}))
        for name in drop_hosts:
            (group.get('hosts') or {}).pop(name, None)
    (path / 'hosts.yml').write_text(yaml.safe_dump(hosts))
    return str(path)


class Playbook(object):
    """ansible-playbook with the JSON callback, so tests can assert on every task result."""

    def __init__(self, inventory):
        # One inventory, or a list of them that ansible-playbook merges (-i each).
        self.inventories = [inventory] if isinstance(inventory, str) else list(inventory)
        self.inventory = self.inventories[0]

    def run(self, playbook, check=False, diff=False, extra_vars=None, expect_rc=0, limit=None, verbose=False, env=None):
        argv = ['ansible-playbook'] + [arg for inv in self.inventories for arg in ('-i', inv)] + [playbook] \
            + (['-v'] if verbose else [])
        if limit:
            argv += ['--limit', limit]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        if extra_vars:
            argv += ['-e', json.dumps(extra_vars)]
        with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as handle:
            results_path = handle.name
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
                   ANSIBLE_CALLBACKS_ENABLED='results_file', NVO_RESULTS_FILE=results_path, **(env or {}))
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        self.last_output = proc.stdout
        try:
            with open(results_path) as handle:
                data = json.load(handle)
        except ValueError:
            raise AssertionError('ansible-playbook wrote no results (rc %d):\n%s'
                                 % (proc.returncode, proc.stdout[-4000:]))
        finally:
            os.unlink(results_path)
        print(run_time(playbook, argv, data, time.monotonic() - start))
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError('ansible-playbook rc %d (expected %d): %s\n%s'
                                 % (proc.returncode, expect_rc, failures(data), proc.stdout[-4000:]))
        return data

    def verify(self, playbook, extra_vars, label, expected_rows):
        """Run a verification playbook; print its table and return it.

        Every row must pass on its first measurement, except rows marked ``timing`` (throughput
        ratios, failover times measured on a shared 2-core machine): when only such rows failed,
        the playbook is run once more, and the table shows both readings of every row that was
        measured again ("67%, again 74%"). A row that fails the second time fails the test, be it
        timing-bound or not. ``expected_rows`` is {check prefix: how many rows}: a row that is
        expected but missing fails the test.
        """
        data = self.run(playbook, extra_vars=extra_vars, expect_rc=None)
        rows = table_rows(data)
        failed = [r for r in rows if not r['ok']]
        if failed:
            untimed = [r['check'] for r in failed if not r.get('timing')]
            if untimed:
                raise AssertionError('%s: failed, and these rows are never measured again: %s\n%s'
                                     % (label, '; '.join(untimed), verification_table(rows)))
            print('\n%s: only timing-bound rows failed (%s); measuring again, both readings are shown'
                  % (label, '; '.join(r['check'] for r in failed)))
            again = table_rows(self.run(playbook, extra_vars=extra_vars, expect_rc=None))
            assert len(again) == len(rows), '%s: the second measurement has %d rows, the first %d' % (label, len(again), len(rows))
            rows = [first if first['ok'] and second['ok'] else
                    dict(first, measured='%s, again %s' % (first['measured'], second['measured']),
                         ok=second['ok'] and (first['ok'] or bool(first.get('timing'))))
                    for first, second in zip(rows, again)]
        table = verification_table(rows)
        print('\n%s\n%s' % (label, table))
        for prefix, count in expected_rows.items():
            found = sum(1 for r in rows if r['check'].startswith(prefix))
            assert found == count, '%s: %d rows "%s...", expected %d\n%s' % (label, found, prefix, count, table)
        assert all(r['ok'] for r in rows), '%s: failed\n%s' % (label, table)
        return table

    def destroy(self, extra_vars=None, expect_rc=0):
        self.run(DESTROY, extra_vars=extra_vars, expect_rc=expect_rc)


def run_time(playbook, argv, data, seconds, slowest=3):
    """One line on where a playbook run's time went: the run, then its slowest tasks (-rP prints
    it for passing tests; the CI budget is tight on 2 cores)."""
    tasks = [task['task'] for play in data['plays'] for task in play['tasks']]
    ends = [task['started'] for task in tasks[1:]] + [data.get('ended', time.time())]
    spent = sorted(((end - task['started'], task['name']) for task, end in zip(tasks, ends)), reverse=True)
    options = ' '.join(arg for arg in argv if arg in ('--check', '--diff'))
    return '%s%s: %.1f s (%s)' % (os.path.basename(playbook), ' ' + options if options else '', seconds,
                                  ', '.join('%s %.1f s' % (name, took) for took, name in spent[:slowest]))


def table_rows(data):
    """The rows of a verification table (playbooks/lab/tasks/report_table.yml); fails when there are none."""
    try:
        kept = results(data, 'Keep the rows').get('localhost', {})
    except AssertionError:
        # The verification stopped before its table: say where.
        raise AssertionError('the verification stopped before its table:\n%s' % '\n'.join(failures(data)))
    rows = kept.get('ansible_facts', {}).get('verify_table_rows')
    if not rows:
        raise AssertionError('the verification table has no rows:\n%s' % '\n'.join(failures(data)))
    return rows


def results(data, task_name):
    """{host: result} of the tasks with this name (a later task's result wins for a host)."""
    found = None
    for play in data['plays']:
        for task in play['tasks']:
            name = task['task']['name']
            # Role tasks are named "role : task"; two roles may share a task name.
            if name == task_name or name.endswith(' : ' + task_name):
                found = dict(found or {}, **task['hosts'])
    if found is None:
        raise AssertionError('no task named %r ran' % task_name)
    return found


def failures(data):
    out = []
    for play in data.get('plays', []):
        for task in play['tasks']:
            for host, res in task['hosts'].items():
                if res.get('failed') or res.get('unreachable'):
                    out.append('%s / %s: %s' % (host, task['task']['name'], res.get('msg')))
    return out


HOST_STATE = os.path.join(HERE, 'playbooks', 'files', 'host_state.py')


def host_states(state_dir, hosts, file_dirs=()):
    """{host: what playbooks/files/host_state.py reads in it} (OVSDB, flows, groups, links, namespaces,
    nftables, daemons, and the files under file_dirs)."""
    return dict((host, json.loads(in_lab_host(state_dir, host, ['/usr/bin/python3', HOST_STATE] + list(file_dirs)).stdout))
                for host in hosts)


def state_differences(before, after):
    """'host: part' for every part of a host's state that differs between two host_states()."""
    return ['%s: %s' % (host, part) for host in sorted(before) for part in sorted(set(before[host]) | set(after[host]))
            if before[host].get(part) != after[host].get(part)]


def pki_files(pki_dir):
    """{path: sha256} of every file of the PKI directory on the control node."""
    out = {}
    for folder, _dirs, names in os.walk(pki_dir):
        for name in names:
            with open(os.path.join(folder, name), 'rb') as handle:
                out[os.path.relpath(os.path.join(folder, name), pki_dir)] = hashlib.sha256(handle.read()).hexdigest()
    return out


def changed_tasks(data):
    """{(host, task name)} of the tasks that reported changed (in check mode: would change)."""
    return set((host, task['task']['name']) for play in data['plays'] for task in play['tasks']
               for host, res in task['hosts'].items() if res.get('changed'))


def changed_hosts(data):
    return dict((host, stats['changed']) for host, stats in data['stats'].items() if stats['changed'])


@pytest.fixture
def lab_playbook():
    """Factory: a Playbook on an inventory of tests/integration/inventories; its lab is removed after."""
    made = []

    def make(inventory_name):
        pb = Playbook(os.path.join(HERE, 'inventories', inventory_name))
        made.append(pb)
        return pb

    yield make
    for pb in made:
        pb.destroy()


@contextlib.contextmanager
def created_lab(inventory, extra_vars=None):
    """The lab of an inventory, built with playbooks/lab/create.yml: its Playbook. The lab is removed
    afterwards, also when what ran in it failed."""
    pb = Playbook(inventory)
    try:
        pb.run(CREATE, extra_vars=extra_vars)
        yield pb
    finally:
        pb.destroy(extra_vars=extra_vars, expect_rc=None)


@contextlib.contextmanager
def deployed_lab(inventory_name):
    """The lab of an inventory of tests/integration/inventories, created and deployed with
    playbooks/lab/deploy.yml (site.yml, then the lab's own hosts):
    (Playbook, results of the deployment)."""
    with created_lab(os.path.join(HERE, 'inventories', inventory_name)) as pb:
        yield pb, pb.run(DEPLOY)


def lab_fixtures(name, inventory, extra_vars, deployed_when):
    """Two fixtures for a test module that works on one lab: ``name`` (module scope), the lab of
    the inventory (one, or a list) built with created_lab and removed after the module; and
    ``deployed``, that lab once deployed with playbooks/lab/deploy.yml, by the module's first test
    or, when a later test runs alone, by the fixture. deployed_when is (host, path): the path that
    exists on that lab host once the lab is deployed.
    Use: ``ovn_lab, deployed = lab_fixtures('ovn_lab', INVENTORY, EXTRA, ('ctl1', '/var/lib/ovn/ovnnb_db.db'))``."""
    def lab():
        with created_lab(inventory, extra_vars) as pb:
            yield pb
    lab.__doc__ = 'The lab of %s, removed after the module.' % inventory

    def deployed(request):
        pb = request.getfixturevalue(name)
        host, path = deployed_when
        if in_lab_host(extra_vars['netvirt_lab_state_dir'], host, ['test', '-e', path], check=False).returncode != 0:
            pb.run(DEPLOY, extra_vars=extra_vars)
        return pb
    deployed.__doc__ = 'The lab of %s, deployed (by the first test, or here when a later test runs alone).' % inventory

    return pytest.fixture(scope='module', name=name)(lab), pytest.fixture(name='deployed')(deployed)
