# -*- coding: utf-8 -*-
"""The OVN lab on booted machines (inventories/lab_ovn with netvirt_lab_machines): controllers,
hypervisors and gateways run systemd and sshd, the roles install OVS and OVN from the lab's
repository and run OVN central, ovn-controller and OVS as units (the OVN trust model: two CAs,
TLS 1.2+, the southbound's RBAC listeners).

The verification table passes, a second run changes nothing and check mode (--diff) predicts
nothing; then the drills of a real host, with no Ansible run: ovs-vswitchd of a chassis crashes
(systemd restarts it, ovn-controller installs its flows again); reboot the southbound Raft leader; it comes back a member of both clusters, the
verification table passes, and what the VM pairs lost meanwhile is printed. Reboot a hypervisor and
the gateway that holds the router: each must come back as the same chassis (the distributions' units
set the system-id from /etc/openvswitch/system-id.conf at every start; before the ovs role wrote it,
a rebooted chassis came back under a random name that OVN's RBAC refused, with no flows), its VM's
traffic flows again and the verification table passes. Last, removing the lab leaves no process,
directory or cgroup of its machines. Before that, hv3 leaves the fleet (hypervisor_state: absent),
stays out after a reboot and joins again; the fleet is renewed (hv4, a fresh machine, joins while hv3
and gw2 leave in one run, then they come back and hv4 goes); then a controller, hv1 and the gateway that holds the
router die, one at a time, and are replaced by fresh machines; ctl3 leaves both clusters, stays out
after a reboot and joins again; then node certificates due are refused and rotated, and both CAs
are rotated in three runs, with the VMs' traffic measured. One lab serves every test. (The mesh's
hypervisors, gateways and service nodes are drilled on the mesh machine lab, test_machine_lab.py.)
"""

from __future__ import annotations

import os
import re
import shlex
import time

import pytest

from conftest import (CREATE, DEPLOY, OVN_CONTROLLERS, OVN_NB, OVN_SB, OVN_TABLE, ROOT, VERIFY_OVN as VERIFY, Playbook, changed_hosts,
                      changed_tasks, created_lab, edited_inventory, in_lab_host, ovn_ctl_as, pki_files, results, wait_for)

from ansible_collections.netvirt.overlay.plugins.plugin_utils._pki import certificate_signed_by
from machine_drills import (Pinger, destroy_leaving_nothing, longest_gap, outage, replace_with_a_fresh_machine, switch_off_for_good,
                            wait_booted, wait_for_traffic)
import machine_drills

LAB = os.path.join(ROOT, 'inventories', 'lab_ovn')
NAME = 'it-machines-ovn'
STATE = '/run/netvirt-lab/' + NAME
EV = {'netvirt_lab_name': NAME, 'netvirt_lab_state_dir': STATE, 'netvirt_lab_machines': True}
# The tables' throughput bar: .ci/run runs this lab beside its two busy lanes (sanity, lint, unit
# tests), and the userspace datapath's encapsulation needs more CPU per packet than the underlay it
# is compared with, so the ratio falls with the load: 65% and 63% against the 70% of an idle machine
# (playbooks/lab/tasks/throughput_rows.yml) in a run of 2026-12-05. Both throughputs are printed.
VERIFY_EV = dict(EV, verify_min_ratio=0.5)
CONTROLLERS = ('ctl1', 'ctl2', 'ctl3')
DB_CTL = {'OVN_Northbound': '/var/run/ovn/ovnnb_db.ctl', 'OVN_Southbound': '/var/run/ovn/ovnsb_db.ctl'}


def ssh(host, command, check=True, timeout=60):
    return machine_drills.ssh(STATE, host, command, check=check, timeout=timeout)


def cluster_status(host, db):
    return ssh(host, 'sudo ovn-appctl -t %s cluster/status %s' % (DB_CTL[db], db), check=False, timeout=10).stdout


@pytest.fixture(scope='module')
def machine_lab():
    started = time.monotonic()
    with created_lab(LAB, EV) as pb:
        created = time.monotonic()
        first = pb.run(DEPLOY, extra_vars=EV)
        print('\nOVN machine lab: up in %.1f s, playbooks/lab/deploy.yml %.1f s' % (created - started, time.monotonic() - created))
        yield pb, first


def test_units_verification_table_and_a_second_run_changes_nothing(machine_lab):
    pb, _first = machine_lab
    # Enabled at boot: what the roles enable; Debian's ovn-central.service wants the two database
    # servers and ovn-northd (PartOf it, not enabled on their own), ovn-host.service (the
    # platform table's unit of a chassis) wants ovn-controller (static). All of them run.
    for host, enabled, units in (('ctl1', 'ovn-central', 'ovn-central ovn-ovsdb-server-nb ovn-ovsdb-server-sb ovn-northd'),
                                 ('hv1', 'openvswitch-switch ovn-host netvirt-openflow',
                                  'openvswitch-switch ovn-host ovn-controller netvirt-openflow')):
        out = ssh(host, 'cat /proc/1/comm; systemctl is-enabled %s; systemctl is-active %s' % (enabled, units)).stdout.split()
        assert out[0] == 'systemd', (host, out)
        assert out[1:] == ['enabled'] * len(enabled.split()) + ['active'] * len(units.split()), (host, enabled, units, out)
    second = pb.run(DEPLOY, extra_vars=EV)
    assert changed_hosts(second) == {}, 'second run on the OVN machines changed something'
    check = pb.run(DEPLOY, extra_vars=EV, check=True, diff=True)
    assert changed_hosts(check) == {}, 'check mode on the converged OVN machines predicted changes'
    assert results(check, 'Logical topology')['ctl1']['changes'] == []
    pb.verify(VERIFY, VERIFY_EV, 'OVN machine lab', OVN_TABLE)


def test_ovs_vswitchd_crash_on_a_chassis_needs_no_ansible(machine_lab):
    """SIGSEGV to ovs-vswitchd on hv2, as a crash: systemd starts a new one, ovn-controller installs
    br-int's flows again, and vm2's traffic flows again, east-west (vm1 on hv1) and routed (vm3 on
    hv3), with no Ansible run. Prints the PIDs, br-int's flow counts and when the traffic came back."""
    targets = ('198.18.100.1', '198.18.101.3')
    flows = 'ovs-ofctl -O OpenFlow15 dump-flows br-int | grep -c cookie='
    pairs = [Pinger(STATE, 'vm2', target) for target in targets]
    time.sleep(1)
    before = ssh('hv2', 'cat /run/openvswitch/ovs-vswitchd.pid; sudo %s' % flows).stdout.split()
    killed, started = time.time(), time.monotonic()
    ssh('hv2', 'sudo kill -SEGV %s' % before[0])
    for target in targets:
        wait_for_traffic(STATE, 'vm2', target, started, timeout=30)
    time.sleep(1)
    figures = []
    for pinger in pairs:
        sent, received, stamps = pinger.stop()
        figures.append((pinger.label, outage(stamps, killed, pinger.stopped_at), sent - received, sent))
    after = ssh('hv2', 'cat /run/openvswitch/ovs-vswitchd.pid; sudo %s; systemctl show -p NRestarts --value ovs-vswitchd' % flows).stdout.split()
    print('\nOVN machine drill: ovs-vswitchd SIGSEGV on hv2 (no Ansible run): restarted by systemd (pid %s -> %s, NRestarts %s); '
          'br-int flows %s -> %s; %s'
          % (before[0], after[0], after[2], before[1], after[1], '; '.join(
              '%s traffic again after %.2f s (silent %.2f s in all, lost %d of %d)' % (label, first_back, silent, lost, sent)
              for label, (first_back, _silences, silent), lost, sent in figures)))
    assert after[0] != before[0], 'ovs-vswitchd was not restarted'
    assert int(before[1]) > 0 and int(after[1]) > 0, 'br-int flows before and after: %s, %s' % (before[1], after[1])
    for label, (first_back, _silences, _silent), _lost, _sent in figures:
        assert first_back > 0, '%s never stopped: the crash was not measured' % label


def test_reboot_of_the_southbound_leader_needs_no_ansible(machine_lab):
    pb, _first = machine_lab
    leaders = [host for host in CONTROLLERS if re.search(r'Role: leader', cluster_status(host, 'OVN_Southbound'))]
    assert len(leaders) == 1, 'southbound leaders: %s' % leaders
    machine = leaders[0]
    pairs = [Pinger(STATE, 'vm1', '198.18.100.2'), Pinger(STATE, 'vm3', '198.18.100.1'), Pinger(STATE, 'vm4', '198.18.200.100')]
    time.sleep(1)
    started = time.monotonic()
    ssh(machine, 'sudo systemctl reboot', check=False, timeout=10)
    # The two others elect a southbound leader among themselves while it is down.
    others, elected, new_leader = [host for host in CONTROLLERS if host != machine], None, None
    while time.monotonic() < started + 60 and elected is None:
        for host in others:
            if re.search(r'Role: leader', cluster_status(host, 'OVN_Southbound')):
                elected, new_leader = time.monotonic() - started, host
                break
        else:
            time.sleep(0.1)
    assert elected is not None, 'no southbound leader among %s 60 s after the reboot of %s' % (others, machine)
    booted = wait_booted(STATE, machine, started)
    # Back when it is a member of both clusters again and knows their leaders.
    deadline, member = started + 120, None
    while time.monotonic() < deadline:
        statuses = [cluster_status(machine, db) for db in DB_CTL]
        if all(re.search(r'Status: cluster member', s) and re.search(r'Leader: [a-z0-9]', s) for s in statuses):
            member = time.monotonic() - started
            break
        time.sleep(0.2)
    assert member is not None, '%s is not a member of both clusters 120 s after its reboot' % machine
    time.sleep(1)
    figures = []
    for pinger in pairs:
        sent, received, stamps = pinger.stop()
        figures.append((pinger.label, sent - received, sent, longest_gap(stamps)[0]))
    leaders_now = [host for host in CONTROLLERS if re.search(r'Role: leader', cluster_status(host, 'OVN_Southbound'))]
    pb.verify(VERIFY, VERIFY_EV, 'after the reboot of %s (no Ansible run)' % machine, OVN_TABLE)
    print('\ncontroller reboot drill (%s, the southbound leader; no Ansible run; times from "systemctl reboot"): '
          '%s southbound leader after %.1f s, %s booted after %.1f s and a member of both clusters after %.1f s '
          '(southbound leader now %s); a controller carries no VM traffic, the pairs lost:'
          % (machine, new_leader, elected, machine, booted, member, ', '.join(leaders_now) or 'none'))
    for label, lost, sent, gap in figures:
        print('  %-28s lost %d of %d, longest gap %.2f s' % (label, lost, sent, gap))


def sb_column(table, column, condition):
    """One column of the southbound rows that match (ovn-sbctl find, on ctl1)."""
    return ssh('ctl1', 'sudo ovn-sbctl --no-leader-only --bare --columns=%s find %s %s' % (column, table, condition)).stdout.split()


def router_chassis():
    """The chassis that holds the router's gateway port (its chassisredirect port)."""
    bound = sb_column('Port_Binding', 'chassis', 'type=chassisredirect')
    return [name for uuid in bound
            for name in ssh('ctl1', 'sudo ovn-sbctl --no-leader-only --bare --columns=name list Chassis %s' % uuid).stdout.split()]


def test_reboot_of_a_hypervisor_and_the_active_gateway_keeps_the_chassis(machine_lab):
    pb, _first = machine_lab
    chassis_before = sorted(sb_column('Chassis', 'name', ''))
    holders = router_chassis()
    assert len(holders) == 1, 'the router gateway port is bound to %s, not to one chassis' % holders
    # (machine, its VM traffic: vm1 on hv1 to vm2; vm4 through the active gateway to the outside
    #  host; the other pair, whose loss is printed: vm3 on hv3 routed to vm2 on hv2 crosses neither)
    drills = [('hv1', ('vm1', '198.18.100.2'), ('vm3', '198.18.100.2')),
              (holders[0], ('vm4', '198.18.200.100'), ('vm3', '198.18.100.2'))]
    figures = []
    for machine, (vm, target), (other_vm, other_target) in drills:
        own, other = Pinger(STATE, vm, target), Pinger(STATE, other_vm, other_target)
        time.sleep(1)
        started, started_wall = time.monotonic(), time.time()
        ssh(machine, 'sudo systemctl reboot', check=False, timeout=10)
        booted = wait_booted(STATE, machine, started)
        wait_for_traffic(STATE, vm, target, started)
        time.sleep(1)
        _sent, _received, own_stamps = own.stop()
        back, silences, silent = outage(own_stamps, started_wall, own.stopped_at)
        sent, received, other_stamps = other.stop()
        name = ssh(machine, 'sudo ovs-vsctl get Open_vSwitch . external_ids:system-id').stdout.strip().strip('"')
        figures.append((machine, booted, back, silences, silent, own.label, other.label, sent - received, sent,
                        longest_gap(other_stamps)[0], name))
    chassis_after = sorted(sb_column('Chassis', 'name', ''))
    pb.verify(VERIFY, VERIFY_EV, 'after the reboots of hv1 and %s (no Ansible run)' % holders[0], OVN_TABLE)
    print('\nchassis reboot drills (no Ansible run; times from "systemctl reboot"):')
    print('%-5s %-8s %-14s %-24s %-26s %-22s %s' % ('host', 'booted', 'traffic again', 'its VM pair (outages)', 'other pair',
                                                    'lost/sent, longest gap', 'chassis name after'))
    for machine, booted, back, silences, silent, label, other_label, lost, sent, gap, name in figures:
        print('%-5s %-8s %-14s %-24s %-26s %-22s %s'
              % (machine, '%.1f s' % booted, '%.1f s' % back if back else 'never stopped',
                 '%s (%d, %.1f s)' % (label, silences, silent), other_label, '%d/%d, %.2f s' % (lost, sent, gap), name))
    print('southbound chassis before: %s; after: %s; router gateway port now on %s'
          % (', '.join(chassis_before), ', '.join(chassis_after), ', '.join(router_chassis())))
    for machine, _booted, _back, _s, _silent, _l, _o, _lost, _sent, _gap, name in figures:
        assert name == machine, '%s came back as chassis %s' % (machine, name)
    assert chassis_after == chassis_before, 'the chassis changed: %s -> %s' % (chassis_before, chassis_after)
    # vm1 has no network while hv1 is down: a reboot that cost it nothing did not happen.
    assert figures[0][2] > 0, 'vm1 kept its traffic through the reboot of hv1: %s' % (figures[0],)


def test_a_hypervisor_leaves_for_good_and_stays_gone_after_a_reboot(machine_lab, tmp_path):
    """hypervisor_state: absent on hv3 under systemd: ovn-host stopped and disabled, its chassis and
    key gone, a re-run changes nothing, and after a reboot it stays out of the fleet; present brings
    it back. Every run is limited to hv3, as an operator retires one host. vm1 -> vm2 (other
    hypervisors) loses nothing throughout."""
    pb, _first = machine_lab
    leaving = Playbook(edited_inventory(LAB, tmp_path / 'lab_ovn', host_vars={'hv3': {'hypervisor_state': 'absent'}}))
    assert 'hv3' in sb_column('Chassis', 'name', 'name=hv3')
    pinger = Pinger(STATE, 'vm1', '198.18.100.2')
    leaving.run(DEPLOY, extra_vars=EV, limit='hv3')

    def left():
        assert sb_column('Chassis', 'name', 'name=hv3') == [], 'hv3 is still a chassis'
        out = ssh('hv3', 'systemctl is-enabled ovn-host; systemctl is-active ovn-controller;'
                         ' ls /etc/ovn/ovn-privkey.pem /etc/ovn/ovn-cert.pem', check=False).stdout.split()
        assert out == ['disabled', 'inactive'], out
    left()
    assert changed_hosts(leaving.run(DEPLOY, extra_vars=EV, limit='hv3')) == {}, 'a re-run after hv3 left changed something'
    started = time.monotonic()
    ssh('hv3', 'sudo systemctl reboot', check=False, timeout=10)
    booted = wait_booted(STATE, 'hv3', started)
    time.sleep(5)  # time enough for an ovn-controller started at boot to register
    left()
    pb.run(DEPLOY, extra_vars=EV, limit='hv3')
    back = wait_for_traffic(STATE, 'vm3', '198.18.101.4', time.monotonic())
    sent, received, _stamps = pinger.stop()
    assert sb_column('Chassis', 'name', 'name=hv3') == ['hv3']
    print('\nOVN machine drill: hv3 left the fleet (ovn-host disabled, chassis and key gone), stayed out after a reboot '
          '(booted in %.1f s), joined again (vm3 traffic %.1f s after the run); vm1 -> vm2 lost %d of %d'
          % (booted, back, sent - received, sent))
    assert sent > 0 and received == sent, 'vm1 -> vm2 lost %d of %d pings' % (sent - received, sent)


def chassis_names():
    return sorted(sb_column('Chassis', 'name', ''))


def ha_chassis():
    """The chassis of the northbound database's HA chassis groups."""
    return sorted(ssh('ctl1', 'sudo ovn-nbctl --no-leader-only --bare --columns=chassis_name list HA_Chassis').stdout.split())


def tunnel_remotes(host):
    return machine_drills.tunnel_remotes(STATE, host)


# A hypervisor new to the fleet (a machine like the others), with a VM of its own on blue.
NEW_HYPERVISOR = {'hypervisors': {'hv4': {'lab_mgmt_address': '198.18.0.14/24', 'overlay_tep_address': '198.18.1.14/24'}},
                  'vms': {'vm5': {'vm_hypervisor': 'hv4', 'vm_network': 'blue', 'vm_address': '198.18.100.5/24',
                                  'vm_mac': '02:00:00:00:64:05'}}}
BLUE_VM2_PORT = "        - {name: vm2, mac: \"{{ hostvars['vm2'].vm_mac }}\", ips: [\"{{ hostvars['vm2'].vm_address | split('/') | first }}\"]}\n"
EDGE_GW2 = "        - {name: gw2, priority: \"{{ hostvars['gw2'].gateway_ovn_priority }}\"}\n"


def edit_topology(inventory, *replacements):
    """Edit the topology in the group_vars/all.yml of an inventory copy, as a user would."""
    group_vars = os.path.join(inventory, 'group_vars', 'all.yml')
    with open(group_vars) as handle:
        text = handle.read()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    with open(group_vars, 'w') as handle:
        handle.write(text)
    return inventory


def test_the_fleet_is_renewed_a_hypervisor_joins_while_another_and_a_gateway_leave(machine_lab, tmp_path):
    """Day 2 on the OVN fleet of machines. gw2 alone set absent while the topology still lists it is
    refused. Then one run: hv4, a fresh machine new to the fleet, joins with vm5; hv3 leaves
    (hypervisor_state: absent) and so does gw2, the standby gateway (gateway_state: absent, taken out
    of the HA chassis group in the same run). The leavers' chassis rows, every other chassis's tunnels
    to them, their ovn-controller, keys and certificates are gone (the PKI keeps the certificates under
    retired/), every chassis has a tunnel to hv4 and vm5 reaches vm1; a re-run changes nothing. A
    second run brings hv3 and gw2 back and takes hv4 away, which is then switched off; a run of the
    inventory as it was changes nothing. vm1 -> vm2 (hv1 to hv2) loses nothing meanwhile, and vm4's
    way out through gw1 loses at most one ping in each run and is never silent for a second."""
    pb, _first = machine_lab
    listed = Playbook(edited_inventory(LAB, tmp_path / 'listed', host_vars={'gw2': {'gateway_state': 'absent'}}))
    listed.run(DEPLOY, extra_vars=EV, expect_rc=2)
    assert 'overlay_ovn_topology still lists its chassis gw2 in ha_chassis_groups edge' in listed.last_output

    renewed = Playbook(edit_topology(
        edited_inventory(LAB, tmp_path / 'renewed', add_hosts=NEW_HYPERVISOR,
                         host_vars={'hv3': {'hypervisor_state': 'absent'}, 'gw2': {'gateway_state': 'absent'}}),
        (EDGE_GW2, ''), (BLUE_VM2_PORT, BLUE_VM2_PORT + BLUE_VM2_PORT.replace('vm2', 'vm5'))))
    back = Playbook(edited_inventory(LAB, tmp_path / 'back', add_hosts={
        'hypervisors': {'hv4': dict(NEW_HYPERVISOR['hypervisors']['hv4'], hypervisor_state='absent')}}))
    teps = {'hv3': '198.18.1.13', 'gw2': '198.18.1.32'}
    hv4_tep = '198.18.1.14'
    assert {'hv3', 'gw2'} <= set(chassis_names()) and ha_chassis() == ['gw1', 'gw2']
    assert router_chassis() == ['gw1'], 'the router is on %s, not on gw1 (the gateway that stays)' % router_chassis()
    assert all(set(teps.values()) <= set(tunnel_remotes(host)) for host in ('hv1', 'hv2', 'gw1'))
    started = time.monotonic()
    renewed.run(CREATE, extra_vars=EV)  # hv4 boots, a fresh machine, and vm5 on it
    hv4_up = time.monotonic() - started
    pairs = (('vm1', '198.18.100.2'), ('vm4', '198.18.200.100'))
    pingers = [Pinger(STATE, vm, target) for vm, target in pairs]
    time.sleep(1)
    start = time.monotonic()
    renewed.run(DEPLOY, extra_vars=EV)
    renewed_in = time.monotonic() - start
    wait_for('the chassis are gw1, hv1, hv2 and hv4', lambda: chassis_names() == ['gw1', 'hv1', 'hv2', 'hv4'], 20)
    assert ha_chassis() == ['gw1']
    _done, tunnels_in = wait_for('every chassis has a tunnel to hv4 and none to hv3 and gw2', lambda: all(
        hv4_tep in tunnel_remotes(host) and not set(teps.values()) & set(tunnel_remotes(host)) for host in ('hv1', 'hv2', 'gw1')), 20)
    wait_for_traffic(STATE, 'vm5', '198.18.100.1', time.monotonic(), timeout=30)
    pki = pki_files(STATE + '.pki')
    for host in teps:
        assert as_root(host, ['ovn-appctl', '-t', 'ovn-controller', 'version'], check=False).returncode != 0, \
            'ovn-controller runs on %s' % host
        assert as_root(host, ['ls', '/etc/ovn/ovn-privkey.pem', '/etc/ovn/ovn-cert.pem'], check=False).stdout == '', \
            '%s kept its key or certificate' % host
        assert 'nodes/chassis/%s-cert.pem' % host not in pki and 'nodes/chassis/%s-privkey.pem' % host not in pki, sorted(pki)
        assert [f for f in pki if re.match(r'nodes/retired/%s-left-\d{8}T\d{6}Z-cert\.pem$' % host, f)], sorted(pki)
    assert changed_hosts(renewed.run(DEPLOY, extra_vars=EV)) == {}, 'a re-run of the renewed fleet changed something'
    during_renewal = [pinger.stop() + (pinger.lost,) for pinger in pingers]

    pingers = [Pinger(STATE, vm, target) for vm, target in pairs]
    time.sleep(1)
    start = time.monotonic()
    back.run(DEPLOY, extra_vars=EV)
    back_in = time.monotonic() - start
    # hv4 left: switched off for good.
    switch_off_for_good(NAME, STATE, 'hv4')
    wait_for_traffic(STATE, 'vm3', '198.18.101.4', time.monotonic(), timeout=60)  # vm3 on hv3 again
    wait_for('the chassis are gw1, gw2, hv1, hv2 and hv3', lambda: chassis_names() == ['gw1', 'gw2', 'hv1', 'hv2', 'hv3'], 20)
    assert ha_chassis() == ['gw1', 'gw2'] and router_chassis() == ['gw1']
    assert changed_hosts(pb.run(DEPLOY, extra_vars=EV)) == {}, 'a run of the inventory as it was changed something'
    during_return = [pinger.stop() + (pinger.lost,) for pinger in pingers]
    figures = ', '.join('%s lost %d of %d in the renewal (longest silence %.2f s), %d of %d in the return (%.2f s)'
                        % (pinger.label, rsent - rreceived, rsent, longest_gap(rstamps)[0], bsent - breceived, bsent,
                           longest_gap(bstamps)[0])
                        for pinger, (rsent, rreceived, rstamps, _rl), (bsent, breceived, bstamps, _bl)
                        in zip(pingers, during_renewal, during_return))
    print('\nOVN machine fleet drill: hv4 (a fresh machine, up in %.1f s) joined while hv3 and gw2 left (run %.0f s; tunnels '
          'to hv4 and none to the leavers %.1f s after), then hv3 and gw2 joined again while hv4 left and was switched off '
          '(run %.0f s); %s' % (hv4_up, renewed_in, tunnels_in, back_in, figures))
    # North-south may lose one ping a run: vm4 once lost one (icmp_seq 6677 of 14629 at 50 a second)
    # in the return of a CI run, and the namespace lab lost 1 in 48 rounds of the return's sequence
    # (gw2 out of edge and its ovn-controller stopped, then listed again and started). An outage
    # loses more: listing an already registered chassis in a group of one silenced the way out for
    # 0.9-1.8 s there, while BFD came up. (Under .ci/run's load replies were up to 0.23 s apart
    # with none lost: the silence bound is for a ping that stalled, which would count nothing lost.)
    for (vm, _target), *runs in zip(pairs, during_renewal, during_return):
        for sent, received, stamps, lost in runs:
            assert sent > 0 and sent - received <= {'vm1': 0, 'vm4': 1}[vm] and longest_gap(stamps)[0] < 1, \
                '%s (%s: icmp_seq lost %s)' % (figures, vm, lost[:20])


def cluster_facts(host, db):
    """(own server id, cluster id, the members' addresses) from a controller's cluster/status."""
    status = cluster_status(host, db)
    own = re.search(r'^Server ID: ([0-9a-f]{4}) ', status, re.M)
    cluster = re.search(r'^Cluster ID: \S+ \(([0-9a-f-]+)\)', status, re.M)
    assert own and cluster, '%s on %s: no cluster/status: %s' % (db, host, status[-500:])
    return own.group(1), cluster.group(1), sorted(re.findall(r'\([0-9a-f]{4} at ssl:([0-9.]+):\d+\)', status))


RUN_OVN_CENTRAL = 'Run OVN central under systemd, enabled at boot'  # roles/controller/tasks/systemd.yml


def central_started(run):
    """The controllers on which a run (re)started OVN central's units, in order."""
    return sorted(host for host, task in changed_tasks(run) if task.endswith(RUN_OVN_CENTRAL))


def test_a_dead_controller_replaced_by_a_fresh_machine(machine_lab):
    """The first controller dies (switched off, no shutdown) and a fresh machine with its name and
    address takes its place, from the image: no OVN, no database. site.yml
    limited to the controllers, as an operator runs it for the control plane: the new server joins
    the same clusters and the dead one is kicked (it had the same address: only its server id tells
    it apart), so each cluster has exactly three members on every controller, one cluster id; the
    northbound's contents are kept; the VMs lose nothing; a re-run changes nothing."""
    pb, _first = machine_lab
    # The first controller of the inventory: the units' options of the others join it, and its own
    # would create the clusters: the hardest to replace. (It may be a leader: the others elect one.)
    victim = CONTROLLERS[0]
    roles = ', '.join(re.search(r'Role: (\w+)', cluster_status(victim, db)).group(1) for db in DB_CTL)
    others = [host for host in CONTROLLERS if host != victim]
    before = dict((db, cluster_facts(victim, db)) for db in DB_CTL)
    assert all(len(members) == 3 for _own, _cluster, members in before.values()), before
    nb_show = ssh(others[0], 'sudo ovn-nbctl --no-leader-only show').stdout
    assert 'lr0' in nb_show, nb_show
    pinger = Pinger(STATE, 'vm1', '198.18.101.3')  # routed, through every controller's work
    time.sleep(1)
    up_in = replace_with_a_fresh_machine(pb, NAME, STATE, victim, EV)
    fresh = ssh(victim, 'for f in /usr/sbin/ovsdb-server /usr/bin/ovn-northd /var/lib/ovn/ovnnb_db.db /etc/ovn/ovn-privkey.pem;'
                        ' do test -e $f && echo $f; done', check=False).stdout.split()
    assert fresh == [], '%s is not a fresh machine: %s' % (victim, fresh)
    started = time.monotonic()
    replaced = pb.run(DEPLOY, extra_vars=EV, limit='controllers')
    ran = time.monotonic() - started
    sent, received, stamps = pinger.stop()
    # The members that stayed keep running: their units' options do not depend on who has a disk.
    # (Before controller_creator, replacing ctl1 restarted every member, then again on the next run.)
    restarted = [host for host in central_started(replaced) if host != victim]
    assert restarted == [], 'OVN central restarted on %s, which stayed' % restarted
    after = dict(((host, db), cluster_facts(host, db)) for host in CONTROLLERS for db in DB_CTL)
    print('\nOVN controller replacement drill: %s (northbound, southbound: %s) switched off and replaced by a fresh '
          'machine (up %.1f s after the switch-off); site.yml --limit controllers %.1f s; dead servers %s, new %s; '
          'vm1 -> vm3 lost %d of %d, longest gap %.2f s'
          % (victim, roles, up_in, ran, '/'.join(before[db][0] for db in DB_CTL),
             '/'.join(after[(victim, db)][0] for db in DB_CTL), sent - received, sent, longest_gap(stamps)[0]))
    for db, (dead, cluster, members) in before.items():
        for host in CONTROLLERS:
            own, now_cluster, now_members = after[(host, db)]
            assert now_members == members, '%s on %s: members %s, not %s' % (db, host, now_members, members)
            assert now_cluster == cluster, '%s: %s is in cluster %s, not %s' % (db, host, now_cluster, cluster)
        assert after[(victim, db)][0] != dead, '%s: %s kept the dead server id %s' % (db, victim, dead)
        for host in others:
            assert dead not in cluster_status(host, db), '%s on %s still lists the dead server %s' % (db, host, dead)
    assert ssh(others[0], 'sudo ovn-nbctl --no-leader-only show').stdout == nb_show, 'the northbound changed'
    assert sent > 0 and received == sent, 'vm1 -> vm3 lost %d of %d pings' % (sent - received, sent)
    rerun = pb.run(DEPLOY, extra_vars=EV, limit='controllers')
    assert changed_hosts(rerun) == {}, 'a re-run on the controllers changed: %s' % sorted(changed_tasks(rerun))


def test_a_dead_hypervisor_replaced_by_a_fresh_machine(machine_lab):
    """hv1 dies (switched off, no shutdown) and a fresh machine with its name and address takes its
    place, from the image: no OVS, no OVN, no key. site.yml limited to it, as an operator runs it for
    one host, installs and sets it up: it is the same chassis again (one row, no duplicate), vm1's
    port is bound to it and vm1 reaches vm2; the VMs of the other hypervisors lose nothing; a re-run
    changes nothing."""
    pb, _first = machine_lab
    chassis_before = sorted(sb_column('Chassis', 'name', ''))
    assert chassis_before.count('hv1') == 1, chassis_before
    machine_id = ssh('hv1', 'cat /etc/machine-id').stdout.strip()
    other = Pinger(STATE, 'vm3', '198.18.100.2')  # vm3 on hv3 to vm2 on hv2: crosses no hv1
    time.sleep(1)
    up_in = replace_with_a_fresh_machine(pb, NAME, STATE, 'hv1', EV)
    fresh = ssh('hv1', 'cat /etc/machine-id; for f in /usr/sbin/ovs-vswitchd /usr/bin/ovn-controller /etc/ovn/ovn-privkey.pem;'
                       ' do test -e $f && echo $f; done', check=False).stdout.split()
    assert fresh and fresh[0] != machine_id and fresh[1:] == [], 'hv1 is not a fresh machine: %s' % fresh
    started = time.monotonic()
    pb.run(DEPLOY, extra_vars=EV, limit='hv1')
    ran = time.monotonic() - started
    back = wait_for_traffic(STATE, 'vm1', '198.18.100.2', time.monotonic())
    sent, received, stamps = other.stop()
    chassis_after = sorted(sb_column('Chassis', 'name', ''))
    binding = sb_column('Port_Binding', 'chassis', 'logical_port=vm1')
    print('\nOVN hypervisor replacement drill: hv1 switched off and replaced by a fresh machine (up %.1f s after the '
          'switch-off); site.yml --limit hv1 %.1f s, vm1 -> vm2 %.1f s after it; chassis before: %s, after: %s; '
          'vm3 -> vm2 (other hypervisors) lost %d of %d, longest gap %.2f s'
          % (up_in, ran, back, ', '.join(chassis_before), ', '.join(chassis_after), sent - received, sent,
             longest_gap(stamps)[0]))
    assert chassis_after == chassis_before, 'the chassis changed: %s -> %s' % (chassis_before, chassis_after)
    assert binding and binding == sb_column('Chassis', '_uuid', 'name=hv1'), 'vm1 is bound to %s, not to hv1' % binding
    assert sent > 0 and received == sent, 'vm3 -> vm2 lost %d of %d pings' % (sent - received, sent)
    rerun = pb.run(DEPLOY, extra_vars=EV, limit='hv1')
    assert changed_hosts(rerun) == {}, 'a re-run on the new hv1 changed: %s' % sorted(changed_tasks(rerun))


def test_the_gateway_holding_the_router_dies_and_a_fresh_machine_replaces_it(machine_lab):
    """The gateway chassis that holds the router dies (switched off, no shutdown): the other one
    takes the router's gateway port over. A fresh machine with its name and address takes its place
    and site.yml limited to it sets it up: the same chassis again (one row, no duplicate), and the
    router back on it (the higher priority of the HA chassis group). North-south traffic is cut at
    the death and at the return (printed); east-west traffic loses nothing; a re-run changes nothing."""
    pb, _first = machine_lab
    holders = router_chassis()
    assert len(holders) == 1, 'the router gateway port is bound to %s, not to one chassis' % holders
    gateway = holders[0]
    chassis_before = sorted(sb_column('Chassis', 'name', ''))
    east_west, north_south = Pinger(STATE, 'vm1', '198.18.100.2'), Pinger(STATE, 'vm4', '198.18.200.100')
    time.sleep(1)
    died = time.time()
    up_in = replace_with_a_fresh_machine(pb, NAME, STATE, gateway, EV)
    standby = router_chassis()
    started = time.monotonic()
    pb.run(DEPLOY, extra_vars=EV, limit=gateway)
    ran = time.monotonic() - started
    wait_for('the router back on %s' % gateway, lambda: router_chassis() == [gateway], 60)
    back = time.monotonic() - started
    time.sleep(2)
    ew_sent, ew_received, _stamps = east_west.stop()
    ns_sent, ns_received, ns_stamps = north_south.stop()
    first_back, silences, silent = outage(ns_stamps, died, north_south.stopped_at)
    chassis_after = sorted(sb_column('Chassis', 'name', ''))
    print('\nOVN gateway replacement drill: %s (holding the router) switched off, the router on %s meanwhile; a fresh %s '
          'up %.1f s after the switch-off; site.yml --limit %s %.1f s, the router back on %s %.1f s after it began; '
          'vm4 -> ext1 (north-south) lost %d of %d: %d silences, %.1f s in all, the first over %.1f s after the switch-off; '
          'vm1 -> vm2 (east-west) lost %d of %d'
          % (gateway, ', '.join(standby) or 'no chassis', gateway, up_in, gateway, ran, gateway, back,
             ns_sent - ns_received, ns_sent, silences, silent, first_back, ew_sent - ew_received, ew_sent))
    assert standby and standby != [gateway], 'the router was on %s while %s was down' % (standby, gateway)
    assert chassis_after == chassis_before, 'the chassis changed: %s -> %s' % (chassis_before, chassis_after)
    assert ew_sent > 0 and ew_received == ew_sent, 'east-west lost %d of %d pings' % (ew_sent - ew_received, ew_sent)
    rerun = pb.run(DEPLOY, extra_vars=EV, limit=gateway)
    assert changed_hosts(rerun) == {}, 'a re-run on the new %s changed: %s' % (gateway, sorted(changed_tasks(rerun)))


def northd_states(hosts):
    """systemctl is-active of ovn-northd on each host: it runs on every member (active or standby)."""
    return [ssh(host, 'systemctl is-active ovn-northd', check=False).stdout.strip() for host in hosts]


def test_a_controller_leaves_stays_out_after_a_reboot_and_joins_again(machine_lab, tmp_path):
    """controller_state: absent on ctl3 under systemd: it leaves both clusters (two members on the
    others), OVN central stopped and disabled, its database files gone, the northbound still takes
    writes, a re-run changes nothing; after a reboot it is still out (an enabled unit with no
    database file would join again); present brings it back as a member of both. Runs limited to
    the controllers, as an operator changes the control plane. vm1 -> vm3 (routed) loses nothing."""
    pb, _first = machine_lab
    leaving = Playbook(edited_inventory(LAB, tmp_path / 'lab_ovn', host_vars={'ctl3': {'controller_state': 'absent'}}))
    everyone = sorted(OVN_CONTROLLERS.values())
    assert all(cluster_facts('ctl1', db)[2] == everyone for db in DB_CTL)
    pinger = Pinger(STATE, 'vm1', '198.18.101.3')
    time.sleep(1)
    started = time.monotonic()
    left = leaving.run(DEPLOY, extra_vars=EV, limit='controllers')
    left_in = time.monotonic() - started
    # ctl1 and ctl2 restart ovn-northd alone (its northbound remotes lost ctl3), not their database
    # servers: both restarted at once left the clusters without a leader for a moment (a run failed so).
    restarted = central_started(left)
    assert restarted == [], 'OVN central restarted on %s when ctl3 left' % restarted

    def out_of_the_clusters(when):
        for host in ('ctl1', 'ctl2'):
            for db in DB_CTL:
                assert cluster_facts(host, db)[2] == everyone[:2], '%s %s: ctl3 still a member on %s' % (when, db, host)
        out = ssh('ctl3', 'systemctl is-enabled ovn-central; systemctl is-active ovn-ovsdb-server-nb ovn-ovsdb-server-sb ovn-northd;'
                          ' ls /var/lib/ovn/ovnnb_db.db /var/lib/ovn/ovnsb_db.db', check=False).stdout.split()
        assert out == ['disabled', 'inactive', 'inactive', 'inactive'], (when, out)
    out_of_the_clusters('after the run')
    northd = northd_states(('ctl1', 'ctl2'))
    assert northd == ['active', 'active'], 'ovn-northd on ctl1, ctl2 after ctl3 left: %s' % northd
    for argv in (['ls-add', 'leave-probe'], ['ls-del', 'leave-probe']):
        assert ovn_ctl_as(as_root, 'ctl1', 'ovn-nbctl', OVN_NB, argv).returncode == 0, argv
    assert changed_hosts(leaving.run(DEPLOY, extra_vars=EV, limit='controllers')) == {}, 'a re-run after ctl3 left changed something'
    started = time.monotonic()
    ssh('ctl3', 'sudo systemctl reboot', check=False, timeout=10)
    booted = wait_booted(STATE, 'ctl3', started)
    time.sleep(5)  # time enough for a database server started at boot to join
    out_of_the_clusters('after a reboot')
    started = time.monotonic()
    joined = pb.run(DEPLOY, extra_vars=EV, limit='controllers')
    joined_in = time.monotonic() - started
    restarted = central_started(joined)
    assert restarted == ['ctl3'], 'OVN central (re)started on %s when ctl3 joined, ctl3 alone expected' % restarted
    northd = northd_states(CONTROLLERS)
    assert northd == ['active'] * 3, 'ovn-northd after ctl3 joined: %s' % northd
    for db in DB_CTL:
        assert all(cluster_facts(host, db)[2] == everyone for host in CONTROLLERS), '%s: ctl3 did not join again' % db
        assert re.search(r'Role: (follower|leader)', cluster_status('ctl3', db)), cluster_status('ctl3', db)
    sent, received, stamps = pinger.stop()
    print('\nOVN machine drill: ctl3 left both clusters (run %.0f s; OVN central disabled), stayed out after a reboot (booted in '
          '%.1f s), joined again (run %.0f s); vm1 -> vm3 lost %d of %d, longest gap %.2f s'
          % (left_in, booted, joined_in, sent - received, sent, longest_gap(stamps)[0]))
    assert sent > 0 and received == sent, 'vm1 -> vm3 lost %d of %d pings while ctl3 left and joined (icmp_seq %s, 50 a second)' % (
        sent - received, sent, pinger.lost[:20])
    assert changed_hosts(pb.run(DEPLOY, extra_vars=EV, limit='controllers')) == {}


# Every OVN node of the lab, and the chassis among them (the rotation drills).
OVN_NODES = CONTROLLERS + ('hv1', 'hv2', 'hv3', 'gw1', 'gw2')
CHASSIS = OVN_NODES[len(CONTROLLERS):]


def as_root(host, argv, check=True, timeout=60):
    """argv as root on a machine: over SSH with sudo, as Ansible becomes root there."""
    return ssh(host, 'sudo ' + shlex.join(argv), check=check, timeout=timeout)


def chassis_connected():
    """{chassis: ovn-controller's connection-status} of every chassis."""
    return dict((host, as_root(host, ['ovn-appctl', '-t', 'ovn-controller', 'connection-status']).stdout.strip())
                for host in CHASSIS)


def node_certificates():
    """{host: (serial, sha256 of key and certificate)} of every OVN node."""
    out = {}
    for host in OVN_NODES:
        serial = as_root(host, ['openssl', 'x509', '-in', '/etc/ovn/ovn-cert.pem', '-noout', '-serial']).stdout.strip()
        out[host] = (serial, as_root(host, ['sha256sum', '/etc/ovn/ovn-privkey.pem', '/etc/ovn/ovn-cert.pem']).stdout)
    return out


def test_certificates_due_are_refused_then_rotated_without_loss(machine_lab):
    """Every node certificate expires within overlay_ovn_cert_renew_days (400 > 365): the preflight
    refuses, naming the date, before any host is changed. With overlay_ovn_cert_rotate every node
    gets a new key and certificate, VMs lose nothing, every chassis stays connected, and the new
    keys work against the servers' new certificates."""
    deployed, _first = machine_lab
    due = dict(EV, overlay_ovn_cert_renew_days=400)
    before = node_certificates()
    deployed.run(DEPLOY, extra_vars=due, expect_rc=2)
    refused = re.search(r'The OVN certificate of (\w+) \(\S+\) expires on (\S+), in (\d+) days', deployed.last_output)
    assert refused and 360 <= int(refused.group(3)) <= 365, deployed.last_output[-3000:]
    assert 'Run with overlay_ovn_cert_rotate=true' in deployed.last_output
    assert node_certificates() == before, 'a refused run changed a certificate'

    in_lab_host(STATE, 'vm1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', '198.18.101.3'], check=False)
    pinger = Pinger(STATE, 'vm1', '198.18.101.3')
    start = time.monotonic()
    deployed.run(DEPLOY, extra_vars=dict(due, overlay_ovn_cert_rotate=True))
    rotated_in = time.monotonic() - start
    sent, received, stamps = pinger.stop()
    after = node_certificates()
    assert all(after[h][0] != before[h][0] and after[h][1] != before[h][1] for h in OVN_NODES), (before, after)
    retired = os.listdir(os.path.join(STATE + '.pki', 'nodes', 'retired'))
    assert len([name for name in retired if name.endswith('-cert.pem')]) >= len(OVN_NODES), retired
    assert chassis_connected() == dict.fromkeys(CHASSIS, 'connected')
    # New connections: a chassis' new key against the southbound, a controller's against the northbound.
    assert ovn_ctl_as(as_root, 'hv1', 'ovn-sbctl', OVN_SB, ['set', 'chassis', 'hv1', 'external_ids:rotation-probe=1']).returncode == 0
    ovn_ctl_as(as_root, 'hv1', 'ovn-sbctl', OVN_SB, ['remove', 'chassis', 'hv1', 'external_ids', 'rotation-probe'])
    assert ovn_ctl_as(as_root, 'ctl2', 'ovn-nbctl', OVN_NB, ['ls-list']).returncode == 0
    print('\nOVN machine certificate rotation drill: %d node certificates re-signed in one site.yml run (%.0f s); '
          'vm1 -> vm3 lost %d of %d pings, longest gap %.2f s'
          % (len(OVN_NODES), rotated_in, sent - received, sent, longest_gap(stamps)[0]))
    assert sent > 0 and received == sent, 'VMs lost %d of %d pings during the rotation' % (sent - received, sent)
    assert changed_hosts(deployed.run(DEPLOY, extra_vars=dict(EV, overlay_ovn_cert_rotate=True))) == {}


def read_file(path):
    with open(path) as handle:
        return handle.read()


def node_certificate(host):
    return as_root(host, ['cat', '/etc/ovn/ovn-cert.pem']).stdout


def southbound_client_ports(host):
    """The local ports of the host's established TCP connections to a southbound server (6642)."""
    out = as_root(host, ['ss', '-Htn', 'state', 'established', '( dport = :6642 )']).stdout
    return set(re.findall(r'[0-9.]+:(\d+)\s+[0-9.]+:6642\b', out))


def test_the_ca_is_rotated_in_three_runs_without_loss(machine_lab):
    """overlay_ovn_ca_rotation, one site.yml run per phase with vm1 pinging vm3 all the time: trust (a
    new CA in ca-next/, every node trusts both, no node certificate changes), sign (every node has a
    key and certificate of the new CA), finish (the old CA is retired and the nodes trust the new one
    alone). No ping lost, every chassis connected after each phase, new keys connect, a key of the
    old CA is accepted until finish and refused after, a re-run changes nothing. (That finish is
    refused before sign, with nothing changed, is tests/integration/test_ca_rotation_control_node.py:
    the same preflight tasks, without a lab run's time.)"""
    deployed, _first = machine_lab
    pki = STATE + '.pki'
    old = dict((ca, read_file('%s/ca/%s/cacert.pem' % (pki, ca))) for ca in ('controllerca', 'switchca'))
    before = node_certificates()
    # Keys and certificates of the old CA, kept aside on a chassis and a controller: clients that
    # must be refused once the rotation is finished.
    probe = {'key': '/etc/ovn/old-ca-probe-privkey.pem', 'cert': '/etc/ovn/old-ca-probe-cert.pem'}
    for host in ('hv1', 'ctl2'):
        as_root(host, ['cp', '-p', '/etc/ovn/ovn-privkey.pem', probe['key']])
        as_root(host, ['cp', '-p', '/etc/ovn/ovn-cert.pem', probe['cert']])
    figures = []

    def phase(name):
        in_lab_host(STATE, 'vm1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', '198.18.101.3'], check=False)
        pinger = Pinger(STATE, 'vm1', '198.18.101.3')
        start = time.monotonic()
        try:
            deployed.run(DEPLOY, extra_vars=dict(EV, overlay_ovn_ca_rotation=name))
        finally:
            sent, received, stamps = pinger.stop()
        figures.append((name, time.monotonic() - start, sent, received, longest_gap(stamps)[0]))
        assert chassis_connected() == dict.fromkeys(CHASSIS, 'connected'), name

    def old_key(host, tool, db, argv):
        return ovn_ctl_as(as_root, host, tool, db, argv, key=probe['key'], cert=probe['cert'])

    try:
        phase('trust')
        new = dict((ca, read_file('%s/ca-next/%s/cacert.pem' % (pki, ca))) for ca in ('controllerca', 'switchca'))
        assert new['controllerca'] != old['controllerca'] and new['switchca'] != old['switchca']
        assert node_certificates() == before, 'phase trust changed a node certificate'
        for host in OVN_NODES:
            assert as_root(host, ['cat', '/etc/ovn/cacert.pem']).stdout == old['controllerca'] + new['controllerca'], host
        for host in OVN_CONTROLLERS:
            assert as_root(host, ['cat', '/etc/ovn/southbound-clients-cacert.pem']).stdout \
                == old['controllerca'] + old['switchca'] + new['controllerca'] + new['switchca'], host

        phase('sign')
        # Key and certificate both new on every node (by their checksums: a new CA's serials start
        # again, so a new certificate may have the serial of the one it replaces).
        after = node_certificates()
        assert all(not set(after[h][1].splitlines()) & set(before[h][1].splitlines()) for h in OVN_NODES), (before, after)
        for host in OVN_NODES:
            ca = new['controllerca' if host in OVN_CONTROLLERS else 'switchca']
            assert certificate_signed_by(node_certificate(host), ca), '%s has no certificate of the new CA' % host
        # Until finish the old CA is trusted too: its keys still connect.
        assert old_key('hv1', 'ovn-sbctl', OVN_SB, ['list', 'chassis']).returncode == 0
        assert old_key('ctl2', 'ovn-nbctl', OVN_NB, ['ls-list']).returncode == 0

        phase('finish')
        assert not os.path.exists(pki + '/ca-next')
        assert dict((ca, read_file('%s/ca/%s/cacert.pem' % (pki, ca))) for ca in ('controllerca', 'switchca')) == new
        retired = [name for name in os.listdir(pki + '/retired') if name.startswith('ca-')]
        assert len(retired) == 1, retired
        assert read_file('%s/retired/%s/switchca/cacert.pem' % (pki, retired[0])) == old['switchca']
        for host in OVN_NODES:
            assert as_root(host, ['cat', '/etc/ovn/cacert.pem']).stdout == new['controllerca'], host

        # Every database server took its new key and certificate without a restart: it presents a
        # certificate that the new CA alone verifies (one TLS context per process: Raft ports too).
        for host, address in OVN_CONTROLLERS.items():
            for port in (6641, 6642):
                shown = as_root('ctl2', ['bash', '-c', 'timeout 10 openssl s_client "$@" </dev/null', 's_client',
                                         '-connect', '%s:%d' % (address, port), '-tls1_2', '-cert', '/etc/ovn/ovn-cert.pem',
                                         '-key', '/etc/ovn/ovn-privkey.pem', '-CAfile', '/etc/ovn/cacert.pem'], check=False)
                assert 'Verify return code: 0 (ok)' in shown.stdout, (host, port, shown.stdout[-1500:], shown.stderr[-500:])
        # And every ovn-controller took its own: made to connect again, each is let in by southbound
        # servers that trust the new CA alone.
        # (A new connection has another local port: that tells it from the old one.)
        old_ports = dict((host, southbound_client_ports(host)) for host in CHASSIS)
        assert all(old_ports.values()), old_ports
        for host in OVN_CONTROLLERS:
            as_root(host, ['ovn-appctl', '-t', '/var/run/ovn/ovnsb_db.ctl', 'ovsdb-server/reconnect'])
        wait_for('every chassis connected again, on a new connection, after the southbound dropped its clients',
                 lambda: set(chassis_connected().values()) == {'connected'}
                 and all(southbound_client_ports(h) and not southbound_client_ports(h) & old_ports[h] for h in CHASSIS),
                 60, step=1)

        # New connections with the new keys; keys of the old CA are refused by both databases.
        assert ovn_ctl_as(as_root, 'hv1', 'ovn-sbctl', OVN_SB, ['set', 'chassis', 'hv1', 'external_ids:ca-probe=1']).returncode == 0
        ovn_ctl_as(as_root, 'hv1', 'ovn-sbctl', OVN_SB, ['remove', 'chassis', 'hv1', 'external_ids', 'ca-probe'])
        assert ovn_ctl_as(as_root, 'ctl2', 'ovn-nbctl', OVN_NB, ['ls-list']).returncode == 0
        for host, tool, db, argv in (('hv1', 'ovn-sbctl', OVN_SB, ['list', 'chassis']),
                                     ('ctl2', 'ovn-nbctl', OVN_NB, ['ls-list'])):
            refused = old_key(host, tool, db, argv)
            assert refused.returncode != 0 and 'unknown ca' in refused.stderr, (host, tool, refused.stderr)
    finally:
        for host in ('hv1', 'ctl2'):
            as_root(host, ['rm', '-f', probe['key'], probe['cert']], check=False)
    print('\nOVN machine CA rotation drill: %s' % '; '.join(
        '%s %.0f s, vm1 -> vm3 lost %d of %d pings, longest gap %.2f s' % (name, took, sent - received, sent, gap)
        for name, took, sent, received, gap in figures))
    assert len(figures) == 3 and all(sent > 0 and received == sent for _n, _t, sent, received, _g in figures), figures
    assert changed_hosts(deployed.run(DEPLOY, extra_vars=EV)) == {}


def test_removing_the_lab_leaves_no_machine_behind(machine_lab):
    destroy_leaving_nothing(machine_lab[0], NAME, STATE, EV)
