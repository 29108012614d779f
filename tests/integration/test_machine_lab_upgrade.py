# -*- coding: utf-8 -*-
"""The rolling upgrade drill on the OVN machine lab: booted Debian 12 machines
(inventories/lab_ovn with netvirt_lab_machines) deployed with Open vSwitch 3.1 and OVN 23.03 from
Debian 12, then upgraded machine by machine to Debian 13's Open vSwitch 3.5 and OVN 25.03 by the
collection's playbooks/upgrade.yml. The lab mounts a repository of the Debian 13 packages (and what
they need from Debian 13) in every machine (netvirt_lab_upgrade_release); the playbook is pointed at
it with an apt source, as a real host is pointed at a mirror.

During the whole upgrade three VM pairs ping at 50 per second (east-west, routed between
hypervisors, north-south through the gateways); the test prints the versions before and after on
every machine, each machine's step with its duration and what each pair lost in it, and the total.
Then the verification table must pass and a run of site.yml (playbooks/lab/deploy.yml) must change
nothing.

About 10 minutes alone on the 2-core machine (upgrade.yml 276 s on 2026-12-03); .ci/run runs it at
the end of its lane B (tools/test.sh), beside the two other machine labs.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from conftest import DEPLOY, OVN_TABLE, ROOT, VERIFY_OVN as VERIFY, changed_hosts, changed_tasks, created_lab, results
from machine_drills import Pinger, losses_in_windows
import machine_drills

LAB = os.path.join(ROOT, 'inventories', 'lab_ovn')
UPGRADE = os.path.join(ROOT, 'playbooks', 'upgrade.yml')
NAME = 'it-upgrade-ovn'
STATE = '/run/netvirt-lab/' + NAME
EV = {'netvirt_lab_name': NAME, 'netvirt_lab_state_dir': STATE, 'netvirt_lab_machines': True,
      'netvirt_lab_upgrade_release': 'trixie'}
# Where the lab mounts the Debian 13 packages in every machine (plugins/module_utils/_machine.py).
UPGRADE_EV = dict(EV, upgrade_apt_source='deb [trusted=yes] file:/srv/netvirt-lab-upgrade-repo ./')
CONTROLLERS = ('ctl1', 'ctl2', 'ctl3')
CHASSIS = ('hv1', 'hv2', 'hv3', 'gw1', 'gw2')
BINARIES = {'controller': ('ovsdb-server', 'ovn-northd'), 'chassis': ('ovs-vswitchd', 'ovn-controller')}
# Debian 12 (bookworm) and Debian 13 (trixie)
BEFORE = {'ovsdb-server': '3.1.', 'ovn-northd': '23.03.', 'ovs-vswitchd': '3.1.', 'ovn-controller': '23.03.'}
AFTER = {'ovsdb-server': '3.5.', 'ovn-northd': '25.03.', 'ovs-vswitchd': '3.5.', 'ovn-controller': '25.03.'}
# east-west on one switch (hv1 -> hv2), routed between hypervisors (hv3 -> hv1), north-south (hv2 -> gateway -> ext1),
# with the machines each path crosses: a pair must lose nothing while another machine is upgraded.
PAIRS = (('vm1', '198.18.100.2', {'hv1', 'hv2'}), ('vm3', '198.18.100.1', {'hv3', 'hv1'}),
         ('vm4', '198.18.200.100', {'hv2', 'gw1', 'gw2'}))


def versions():
    """{machine: {binary: version}} from each binary's --version (over SSH, as Ansible reaches it)."""
    found = {}
    for machine in CONTROLLERS + CHASSIS:
        names = BINARIES['controller' if machine in CONTROLLERS else 'chassis']
        out = machine_drills.ssh(STATE, machine, '; '.join('sudo %s --version | head -n 1' % name for name in names)).stdout
        found[machine] = dict(zip(names, [line.split()[-1] for line in out.splitlines() if line.strip()]))
        assert len(found[machine]) == len(names), '%s: no version from %s: %r' % (machine, names, out)
    return found


@pytest.fixture(scope='module')
def machine_lab():
    started = time.monotonic()
    with created_lab(LAB, EV) as pb:
        created = time.monotonic()
        pb.run(DEPLOY, extra_vars=EV)
        print('\nOVN machine lab for the upgrade: up in %.1f s, playbooks/lab/deploy.yml %.1f s'
              % (created - started, time.monotonic() - created))
        yield pb


def test_rolling_upgrade_from_debian_12_to_debian_13_packages(machine_lab):
    pb = machine_lab
    before = versions()
    for machine, found in before.items():
        for binary, version in found.items():
            assert version.startswith(BEFORE[binary]), '%s runs %s %s before the upgrade' % (machine, binary, version)
    pingers = [Pinger(STATE, vm, target) for vm, target, _path in PAIRS]
    time.sleep(1)
    started = time.monotonic()
    try:
        data = pb.run(UPGRADE, extra_vars=UPGRADE_EV, expect_rc=None)
    finally:
        time.sleep(2)
        figures = []
        for pinger in pingers:
            sent, received, _stamps = pinger.stop()
            figures.append((pinger, sent, received))
    upgrade_seconds = time.monotonic() - started
    output = pb.last_output
    broken = [host for host, stats in data['stats'].items() if stats['failures'] or stats['unreachable']]
    assert data['stats'] and not broken, 'upgrade.yml failed on %s\n%s' % (broken, output[-6000:])
    plan = results(data, 'The plan - OVN\'s procedure for these versions and the order of the machines')
    the_plan = next(iter(plan.values()))['ansible_facts']['upgrade_the_plan']
    starts = results(data, "Time this machine's upgrade starts")
    ends = results(data, "Time this machine's upgrade ends")
    windows = sorted(((host, float(starts[host]['ansible_facts']['upgrade_step_started']),
                       float(ends[host]['ansible_facts']['upgrade_step_ended'])) for host in starts),
                     key=lambda window: window[1])
    after = versions()

    print('\nupgrade machine by machine, Debian 12 -> Debian 13 packages (playbooks/upgrade.yml, %.0f s): %s'
          % (upgrade_seconds, the_plan['reason']))
    print('order: %s' % ', '.join(host for host, _start, _end in windows))
    print('%-5s %s' % ('host', 'versions before -> after'))
    for machine in CONTROLLERS + CHASSIS:
        print('%-5s %s' % (machine, ', '.join('%s %s -> %s' % (b, before[machine][b], after[machine][b])
                                              for b in before[machine])))
    losses = [(pinger.label, sent, received, losses_in_windows(pinger.replies, windows, sent, pinger.interval)) for pinger, sent, received in figures]
    print('data-path loss per step (pings lost at 50/s, longest silence):')
    print('%-5s %-7s %s' % ('step', 'seconds', '  '.join('%-26s' % label for label, _s, _r, _l in losses)))

    def cell(found, key):
        # A step with no reply in it measured nothing: it must not read as "0 lost".
        if found[key][2] or key == 'outside':
            return '%d lost, %.2f s' % found[key][:2]
        return 'NOT MEASURED (no reply)'

    for host, start, end in windows + [('other', 0, 0)]:
        key = host if host != 'other' else 'outside'
        print('%-5s %-7s %s' % (host, '%.0f' % (end - start) if host != 'other' else '-',
                                '  '.join('%-26s' % cell(found, key) for _l, _s, _r, found in losses)))
    for label, sent, received, _found in losses:
        print('  %-28s lost %d of %d in all' % (label, sent - received, sent))
    # Checked after the verification table and the second site.yml run, which must run either way.
    lost_elsewhere = ['%s lost %d while %s was upgraded' % (label, found[host][0], host)
                      for (label, _s, _r, found), (_vm, _target, path) in zip(losses, PAIRS)
                      for host, _start, _end in windows if host not in path and found[host][0]]
    unmeasured = ['%s while %s was upgraded' % (label, host) for label, _s, _r, found in losses
                  for host, _start, _end in windows if not found[host][2]]

    # Every machine ran through its step, and runs Debian 13's versions now.
    assert sorted(host for host, _start, _end in windows) == sorted(CONTROLLERS + CHASSIS), windows
    for machine, found in after.items():
        for binary, version in found.items():
            assert version.startswith(AFTER[binary]), '%s runs %s %s after the upgrade' % (machine, binary, version)
    # OVN's documentation: 23.03 to 25.03 is past the supported rolling span, the controllers go first.
    assert the_plan['procedure'] == 'fail-safe', the_plan
    order = [host for host, _start, _end in windows]
    assert set(order[:3]) == set(CONTROLLERS), order
    assert re.search(r'Open vSwitch 3\.1\.\d+ -> 3\.5\.\d+', output), 'the plan was not shown'

    pb.verify(VERIFY, EV, 'OVN machine lab after the upgrade to Debian 13 packages', OVN_TABLE)
    again = pb.run(DEPLOY, extra_vars=EV)
    assert changed_hosts(again) == {}, 'site.yml after the upgrade changed %s' % sorted(changed_tasks(again))
    print('site.yml (playbooks/lab/deploy.yml) after the upgrade: changed=0 on every host')
    assert not unmeasured, 'no ping answered (nothing measured, or all lost): %s' % unmeasured
    assert not lost_elsewhere, 'pings lost between VMs whose path does not cross the machine upgraded: %s' % lost_elsewhere


def test_removing_the_lab_leaves_no_machine_behind(machine_lab):
    machine_drills.destroy_leaving_nothing(machine_lab, NAME, STATE, EV)
