# -*- coding: utf-8 -*-
"""The mesh lab on booted machines (inventories/lab with netvirt_lab_machines): hypervisors,
service nodes and gateways run systemd, journald and sshd in their lab namespaces, Ansible reaches
them over SSH with host key checking, the roles install packages and run daemons as units.

Then the drills of a real host, with no Ansible run in between: reboot a hypervisor, a gateway and a
service node one at a time (the verification table passes afterwards; time from reboot to its VMs'
traffic and the loss other pairs saw are printed), and a crash of ovs-vswitchd (SIGSEGV; systemd
restarts it, the OpenFlow state is installed again: VM traffic within 5 s).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import ROOT, changed_hosts, created_lab, in_lab_host

LAB = os.path.join(ROOT, 'inventories', 'lab')
DEPLOY = os.path.join(ROOT, 'playbooks', 'lab_deploy.yml')
VERIFY = os.path.join(ROOT, 'playbooks', 'lab_verify.yml')
NAME = 'it-machines'
STATE = '/run/netvirt-lab/' + NAME
EV = {'netvirt_lab_name': NAME, 'netvirt_lab_state_dir': STATE, 'netvirt_lab_machines': True}
MESH_TABLE = {'ping ': 12, 'TCP overlay': 1, 'TCP underlay': 1, 'overlay / underlay throughput': 1, 'BUM: ': 1,
              'service-node failover': 1, 'L2 gateway': 1, 'L3 gateway': 1, 'floating ': 1, 'gateway failover': 1}
VM_ADDRESS = {'vm1': '198.18.100.1', 'vm2': '198.18.100.2', 'vm3': '198.18.100.3', 'vm4': '198.18.100.4'}


def ssh(host, command, check=True, timeout=60):
    """A command on a machine over SSH, as Ansible reaches it (the lab's key, config and known_hosts)."""
    argv = ['ssh', '-F', os.path.join(STATE, 'ssh', 'config'), '-o', 'ConnectTimeout=3', host, command]
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        # A machine that is going down can leave a connection hanging: no answer, as unreachable.
        if check:
            raise
        return subprocess.CompletedProcess(argv, 255, '', 'timed out after %d s' % timeout)
    if check and proc.returncode != 0:
        raise AssertionError('%s: %s failed (%d): %s%s' % (host, command, proc.returncode, proc.stdout, proc.stderr))
    return proc


@pytest.fixture(scope='module')
def machine_lab():
    started = time.monotonic()
    with created_lab(LAB, EV) as pb:
        created = time.monotonic()
        first = pb.run(DEPLOY, extra_vars=EV)
        deployed = time.monotonic()
        print('\nmachine lab: up in %.1f s, lab_deploy.yml %.1f s' % (created - started, deployed - created))
        yield pb, first


def test_machines_are_booted_hosts_reached_over_ssh(machine_lab):
    pb, first = machine_lab
    for host in ('hv1', 'sn1', 'gw1'):
        out = ssh(host, 'cat /proc/1/comm; systemctl is-system-running; id -un; sudo -n id -un;'
                        ' ss -Htln sport = :22; systemctl is-enabled openvswitch-switch netvirt-openflow').stdout.split('\n')
        assert out[0] == 'systemd' and out[1] in ('running', 'degraded'), out
        assert out[2:4] == ['ansible', 'root'], out
        # sshd listens on the management address only.
        listeners = [line.split()[3] for line in out if line.startswith('LISTEN')]
        assert listeners and all(re.match(r'198\.18\.0\.\d+:22$', a) for a in listeners), listeners
        assert out[-3:-1] == ['enabled', 'enabled'], out
    # Host keys are checked: a known_hosts that names another key makes SSH refuse the machine.
    config = open(os.path.join(STATE, 'ssh', 'config')).read().replace(
        os.path.join(STATE, 'ssh', 'known_hosts'), os.path.join(STATE, 'ssh', 'known_hosts.wrong'))
    with open(os.path.join(STATE, 'ssh', 'known_hosts')) as handle:
        known = handle.read()
    hv1_key = re.search(r'^\S*hv1 (\S+ \S+)$', known, re.M).group(1)
    hv2_key = re.search(r'^\S*hv2 (\S+ \S+)$', known, re.M).group(1)
    with open(os.path.join(STATE, 'ssh', 'known_hosts.wrong'), 'w') as handle:
        handle.write(known.replace(hv1_key, hv2_key))
    with open(os.path.join(STATE, 'ssh', 'config.wrong'), 'w') as handle:
        handle.write(config)
    proc = subprocess.run(['ssh', '-F', os.path.join(STATE, 'ssh', 'config.wrong'), '-o', 'ControlPath=none', 'hv1', 'true'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
    assert proc.returncode == 255 and 'HOST IDENTIFICATION HAS CHANGED' in proc.stderr, proc.stderr


def test_verification_table_and_a_second_run_changes_nothing(machine_lab):
    pb, _first = machine_lab
    second = pb.run(DEPLOY, extra_vars=EV)
    assert changed_hosts(second) == {}, 'second site.yml run on the machines changed something'
    pb.verify(VERIFY, EV, 'machine lab (mesh)', MESH_TABLE)


class Pinger(object):
    """ping from a VM (a namespace host) at 50 per second; loss and the longest gap, when stopped."""

    def __init__(self, vm, target):
        pid = open(os.path.join(STATE, '%s.pid' % vm)).read().strip()
        self.proc = subprocess.Popen(['nsenter', '-t', pid, '-a', 'ping', '-D', '-i', '0.02', '-W', '1', target],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
        self.label = '%s -> %s' % (vm, target)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        out = self.proc.communicate(timeout=10)[0]
        sent = re.search(r'(\d+) packets transmitted, (\d+) received', out)
        assert sent, 'ping %s measured nothing:\n%s' % (self.label, out[-500:])
        stamps = [float(s) for s in re.findall(r'^\[(\d+\.\d+)\]', out, re.M)]
        gap = max((b - a for a, b in zip(stamps, stamps[1:])), default=None)
        return int(sent.group(1)), int(sent.group(2)), gap


def wait_for_traffic(vm, target, started, timeout=60):
    """Seconds from started until one ping from vm to target is answered; fails after timeout."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if in_lab_host(STATE, vm, ['ping', '-c', '1', '-W', '1', target], check=False).returncode == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError('no traffic %s -> %s %d s after the reboot' % (vm, target, timeout))


# (machine, VM traffic that needs it or its stand-in: the VM on hv1, the routed path of the active
#  gateway, flooding through the service nodes; another pair, whose loss is printed)
DRILLS = [('hv1', ('vm2', 'vm1'), ('vm3', 'vm4')),
          ('gw1', ('vm4', '198.18.64.100'), ('vm1', 'vm2')),
          ('sn1', ('vm1', 'vm2'), ('vm3', 'vm4'))]


def test_reboot_drills_need_no_ansible(machine_lab):
    pb, _first = machine_lab
    figures = []
    for machine, (vm, target), (ovm, otarget) in DRILLS:
        target_ip = VM_ADDRESS.get(target, target)
        other = Pinger(ovm, VM_ADDRESS[otarget])
        time.sleep(1)
        started = time.monotonic()
        ssh(machine, 'sudo systemctl reboot', check=False)
        # The machine really went down: its systemd is a new process.
        booted = wait_booted(machine, started)
        traffic = wait_for_traffic(vm, target_ip, started)
        time.sleep(1)
        sent, received, gap = other.stop()
        figures.append((machine, booted, traffic, '%s -> %s' % (vm, target), other.label, sent - received, sent, gap))
        table = pb.verify(VERIFY, EV, 'after the reboot of %s (no Ansible run)' % machine, MESH_TABLE)
        assert 'FAIL' not in table
    print('\nreboot drills (no Ansible run after the reboot):')
    print('%-6s %-10s %-14s %-28s %s' % ('host', 'booted', 'traffic again', 'VM traffic', 'other pair: lost/sent, longest gap'))
    for machine, booted, traffic, path, label, lost, sent, gap in figures:
        shown_gap = '%.2f s' % gap if gap is not None else 'n/a'
        print('%-6s %-10s %-14s %-28s %s: %d/%d, %s'
              % (machine, '%.1f s' % booted, '%.1f s' % traffic, path, label, lost, sent, shown_gap))


def boot_id(machine):
    return ssh(machine, 'cat /proc/sys/kernel/random/boot_id', check=False, timeout=10).stdout.strip()


def wait_booted(machine, started, timeout=90):
    """Seconds from started until the machine answers over SSH as running again, after a reboot."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        proc = ssh(machine, 'systemctl is-system-running; cat /proc/1/stat', check=False, timeout=10)
        state = proc.stdout.split('\n')[0] if proc.returncode == 0 else ''
        uptime = float(open('/proc/uptime').read().split()[0])
        if state in ('running', 'degraded'):
            # The machine's PID 1 started after the reboot was asked for.
            ticks = int(proc.stdout.split('\n')[1].split()[21])
            pid1_age = uptime - ticks / os.sysconf('SC_CLK_TCK')
            if pid1_age < time.monotonic() - started + 1:
                return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError('%s did not come back within %d s' % (machine, timeout))


def test_ovs_vswitchd_crash_restarts_with_its_flows(machine_lab):
    _pb, _first = machine_lab
    before = ssh('hv2', 'sudo ovs-ofctl -O OpenFlow13 dump-flows br-tun | grep -c cookie=0x4e56').stdout.strip()
    assert int(before) > 0
    pinger = Pinger('vm2', VM_ADDRESS['vm1'])
    time.sleep(1)
    pid = ssh('hv2', 'cat /run/openvswitch/ovs-vswitchd.pid').stdout.strip()
    started = time.monotonic()
    ssh('hv2', 'sudo kill -SEGV %s' % pid)
    back = wait_for_traffic('vm2', VM_ADDRESS['vm1'], started, timeout=30)
    time.sleep(1)
    sent, received, gap = pinger.stop()
    after = ssh('hv2', 'sudo ovs-ofctl -O OpenFlow13 dump-flows br-tun | grep -c cookie=0x4e56').stdout.strip()
    new_pid = ssh('hv2', 'cat /run/openvswitch/ovs-vswitchd.pid').stdout.strip()
    print('\novs-vswitchd SIGSEGV on hv2: restarted by systemd (pid %s -> %s), br-tun flows %s -> %s, '
          'vm2 -> vm1 traffic again after %.2f s; ping lost %d of %d, longest gap %s'
          % (pid, new_pid, before, after, back, sent - received, sent, '%.2f s' % gap if gap else 'n/a'))
    assert new_pid != pid
    assert after == before
    assert back <= 5.0, 'VM traffic came back after %.1f s (more than 5 s)' % back
