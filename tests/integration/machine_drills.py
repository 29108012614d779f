# -*- coding: utf-8 -*-
"""What the machine-lab drills (test_machine_lab*.py) measure with: SSH to a machine as Ansible
reaches it, pings from VMs with reply timestamps, waiting for a machine's reboot, and the search
for anything a removed lab left behind. Every measurement fails when it is missing."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import time

from ansible_collections.netvirt.overlay.plugins.module_utils import _lab, _machine
from conftest import CREATE, HOST_STATE, Ping, host_states, in_lab_host

# The machines' writable layers.
LAYER_ROOT = _machine.LAYER_ROOT


def ssh(state, host, command, check=True, timeout=60):
    """A command on a machine over SSH, as Ansible reaches it (the lab's key, config and known_hosts)."""
    argv = ['ssh', '-F', os.path.join(state, 'ssh', 'config'), '-o', 'ConnectTimeout=3', host, command]
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


def machine_states(state, machines, file_dirs, namespace_hosts=()):
    """{host: state} as host_state.py reads it: on each machine over SSH with sudo, as a real host is
    read (with its packages and units), on each namespace host (VMs, outside hosts) from inside it.
    The SSH logins that Ansible keeps open are left out of the machines' processes: they are the
    connection, not a change of the host."""
    with open(HOST_STATE) as handle:
        script = handle.read()
    found = {}
    for machine in machines:
        argv = ['ssh', '-F', os.path.join(state, 'ssh', 'config'), '-o', 'ConnectTimeout=3', machine,
                'sudo /usr/bin/python3 - --machine ' + ' '.join(file_dirs)]
        proc = subprocess.run(argv, input=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120, check=False)
        assert proc.returncode == 0, '%s: host_state.py failed (%d): %s' % (machine, proc.returncode, proc.stderr[-1000:])
        found[machine] = json.loads(proc.stdout)
        found[machine]['processes'].pop('sshd', None)
    found.update(host_states(state, namespace_hosts))
    return found


def detailed_differences(before, after):
    """'host: part: item' for what differs between two machine_states(): the items of a part that is
    a list or a mapping (packages, units, files by path, processes by name), else the part."""
    found = []
    for host in sorted(before):
        for part in sorted(set(before[host]) | set(after[host])):
            old, new = before[host].get(part), after[host].get(part)
            if old == new:
                continue
            if isinstance(old, list) and isinstance(new, list):
                items = sorted(set(map(str, old)) ^ set(map(str, new)))
            elif isinstance(old, dict) and isinstance(new, dict):
                items = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
            else:
                items = ['(differs)']
            found += ['%s: %s: %s' % (host, part, item) for item in items[:20]]
    return found


class Pinger(Ping):
    """ping from a VM (a namespace host) at 50 per second, each reply stamped with the wall clock."""

    def __init__(self, state, vm, target):
        # Warm-up, not measured: the userspace datapath drops the first packet towards a tunnel
        # endpoint whose underlay MAC it has not resolved yet (a machine replaced by a fresh one has
        # resolved none): the OVN machine lab's controller drill once lost exactly that one ping,
        # with no gap between its replies.
        in_lab_host(state, vm, ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', target], check=False)
        super().__init__(state, vm, target, 0.02)

    def stop(self):
        """(sent, received, reply timestamps), as Ping.stop judges them; fails when there are fewer
        than two replies (no silence between replies can be measured)."""
        self.stopped_at = time.time()  # outage(): a silence that lasts until the stop is one too
        sent, received, seqs, stamps = super().stop()
        # The requests without a reply (icmp_seq from 1), for a message that says where they fell.
        self.lost = sorted(set(range(1, sent + 1)) - set(seqs))
        assert len(stamps) >= 2, 'ping %s: fewer than two replies, no gap can be measured' % self.label
        return sent, received, stamps


def longest_gap(stamps):
    """(seconds, wall-clock time of the reply that ended it) of the longest silence between replies."""
    return max((later - earlier, later) for earlier, later in zip(stamps, stamps[1:]))


def outage(stamps, since, until):
    """Silences of more than half a second between replies, from the last reply before the
    wall-clock time ``since`` on: (seconds from since until replies came again after the first of
    them, 0.0 when there was none; how many there were; their total length).
    Fails when the traffic was not flowing when the drill began (no reply in the half second
    before since: a silence that began earlier has no start to measure from, and counting from the
    first reply after since read an outage as "never stopped"), and when it did not come back
    (no reply in the half second before ``until``, when the ping stopped)."""
    before = [stamp for stamp in stamps if stamp < since]
    after = [stamp for stamp in stamps if stamp >= since]
    assert before and since - before[-1] <= 0.5, (
        'no reply in the 0.5 s before the drill began (last one %s): the traffic was not flowing, the outage cannot be '
        'measured' % ('%.1f s before' % (since - before[-1]) if before else 'never'))
    assert after and until - after[-1] <= 0.5, 'no reply in the last %.1f s before the ping stopped: the traffic did not come back' % (
        until - (after[-1] if after else since))
    points = before[-1:] + after
    silences = [(later - earlier, later) for earlier, later in zip(points, points[1:]) if later - earlier > 0.5]
    if not silences:
        return 0.0, 0, 0.0
    return silences[0][1] - since, len(silences), sum(length for length, _end in silences)


def stopped_outage(pinger, since):
    """Stop a Pinger and judge its outage from the wall-clock time ``since``: (seconds until its
    traffic came again, 0.0 when it was never silent for more than 0.5 s, None when the outage
    cannot be measured or the traffic did not come back; a line for the drill's report)."""
    try:
        sent, received, stamps = pinger.stop()
        back, silences, _silent = outage(stamps, since, pinger.stopped_at)
    except AssertionError as exc:
        return None, 'FAIL: %s' % exc
    result = 'traffic again after %.1f s' % back if silences else 'never silent for more than 0.5 s'
    return back, '%s, lost %d of %d' % (result, sent - received, sent)


def wait_for_traffic(state, vm, target, started, timeout=90):
    """Seconds from started (monotonic) until one ping from vm to target is answered; fails after timeout."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if in_lab_host(state, vm, ['ping', '-n', '-c', '1', '-W', '1', target], check=False).returncode == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError('no traffic %s -> %s %d s after the drill began' % (vm, target, timeout))


def wait_booted(state, machine, started, timeout=120):
    """Seconds from started (monotonic) until the machine answers over SSH as booted again, with a
    PID 1 younger than the reboot (the machine really went down). A unit that failed at the boot
    fails the drill: a real host boots "running", not "degraded"."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        proc = ssh(state, machine, 'systemctl is-system-running; cat /proc/1/stat', check=False, timeout=10)
        lines = proc.stdout.split('\n')
        if proc.returncode in (0, 1) and lines[0] in ('running', 'degraded') and len(lines) > 1:
            ticks = int(lines[1].split()[21])
            with open('/proc/uptime') as handle:
                uptime = float(handle.read().split()[0])
            if uptime - ticks / os.sysconf('SC_CLK_TCK') < time.monotonic() - started + 1:
                took = time.monotonic() - started
                if lines[0] == 'degraded':
                    failed = ssh(state, machine, 'systemctl --failed --plain --no-legend', check=False).stdout
                    raise AssertionError('%s booted %.1f s after the reboot with failed units: %s' % (machine, took, failed))
                return took
        time.sleep(0.2)
    raise AssertionError('%s did not come back within %d s' % (machine, timeout))


def tunnel_remotes(state, host):
    """The remote_ip of every tunnel interface of a machine's Open vSwitch (sorted, one per port)."""
    out = ssh(state, host, 'sudo ovs-vsctl --bare --columns=options list Interface').stdout
    return sorted(re.findall(r'remote_ip="?([0-9.]+)', out))


def switch_off_for_good(lab, state, machine):
    """A running machine dies for good: switched off (no shutdown) and its disk wiped
    (_machine.wipe_machine); its lab host, the cables, stays."""
    netns_pid = _lab.pid_of(lab, machine)
    assert netns_pid, 'lab %s has no host %s' % (lab, machine)
    assert _machine.wipe_machine(lab, state, machine, netns_pid), 'machine %s was not running' % machine


def replace_with_a_fresh_machine(pb, lab, state, machines, extra_vars):
    """Machines (a name or several) die for good and fresh ones with their names and addresses take
    their places: the dead ones are switched off and their disks wiped (_machine.wipe_machine), then
    playbooks/lab/create.yml boots fresh machines from the image in the same lab hosts, as new
    servers take the dead ones' cables. They have what a fresh host has: sshd with the lab's keys
    (the lab keeps one host key per name), no OVS, no OVN, a new machine-id. Returns the seconds
    until they were up."""
    started = time.monotonic()
    for machine in [machines] if isinstance(machines, str) else machines:
        switch_off_for_good(lab, state, machine)
    pb.run(CREATE, extra_vars=extra_vars)
    return time.monotonic() - started


def leftovers(lab, state):
    """What of a lab is still on this machine: processes of its machines (in their cgroups, or
    whose command line names its state or layer directories, such as the boot loops and the SSH
    connection masters), its directories and its machines' cgroups."""
    layers = os.path.join(LAYER_ROOT, lab)
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read().replace(b'\0', b' ').decode(errors='replace')
            with open('/proc/%s/cgroup' % pid) as handle:
                cgroup = handle.read()
        except OSError:
            continue
        if '/netvirt-lab/%s/' % lab in cgroup or state + '/' in cmdline or layers + '/' in cmdline:
            found.append('process %s: %s' % (pid, cmdline[:150].strip()))
    found += ['directory %s' % path for path in (state, layers) if os.path.exists(path)]
    # (cgroup v2: one tree; v1: the machines are in the name=systemd and unified hierarchies)
    found += ['cgroup %s' % path for pattern in ('/sys/fs/cgroup/netvirt-lab/%s', '/sys/fs/cgroup/*/netvirt-lab/%s')
              for path in glob.glob(pattern % lab)]
    return found


def destroy_leaving_nothing(pb, lab, state, extra_vars):
    """Remove the running lab and fail on anything of it left on this machine (leftovers)."""
    running = leftovers(lab, state)
    # The search finds the running lab (else it could not find what is left of it).
    assert any(item.startswith('process') for item in running) and any(item.startswith('cgroup') for item in running), running
    pb.destroy(extra_vars=extra_vars)
    left = leftovers(lab, state)
    assert not left, 'left behind by the removed lab: %s' % left


def losses_in_windows(replies, windows, sent, interval):
    """Where a pinger's losses fell: {label: (lost, longest silence in seconds, replies)} for each
    window (label, start, end) of wall-clock time, and 'outside' for the rest. A lost request's time
    is estimated between the replies to its neighbours (ping sends at a steady interval), and after
    the last reply from it at that interval, up to sent (the requests judged); a silence counts in
    the window its end falls in. A window with no reply in it was not measured: the caller must
    fail it, not read it as no loss. replies: Ping.replies after stop()."""
    found = dict((label, [0, 0.0, 0]) for label, _start, _end in windows)
    found['outside'] = [0, 0.0, 0]

    def window_of(moment):
        for label, start, end in windows:
            if start <= moment <= end:
                return label
        return 'outside'

    ordered = sorted(set(replies), key=lambda reply: reply[1])
    for stamp, _seq in ordered:
        found[window_of(stamp)][2] += 1
    for (t0, s0), (t1, s1) in zip(ordered, ordered[1:]):
        for seq in range(s0 + 1, s1):
            found[window_of(t0 + (t1 - t0) * (seq - s0) / (s1 - s0))][0] += 1
        entry = found[window_of(t1)]
        entry[1] = max(entry[1], t1 - t0)
    if ordered:
        last_stamp, last_seq = ordered[-1]
        for seq in range(last_seq + 1, sent + 1):
            found[window_of(last_stamp + (seq - last_seq) * interval)][0] += 1
    return dict((label, tuple(value)) for label, value in found.items())
