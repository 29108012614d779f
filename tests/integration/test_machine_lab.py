# -*- coding: utf-8 -*-
"""The mesh lab on booted machines (inventories/lab with netvirt_lab_machines): hypervisors,
service nodes and gateways run systemd, journald and sshd in their lab namespaces, Ansible reaches
them over SSH with host key checking, the roles install packages and run daemons as units.

First, before any real run, site.yml --check --diff on the fresh machines: it goes to the end,
changes nothing (packages, units, files, OVSDB, flows, links compared before and after), and the
real run that follows changes exactly the tasks it predicted.

Then the drills of a real host, with no Ansible run in between: a crash of ovs-vswitchd (SIGSEGV;
systemd restarts it) on the active L2 gateway (its br-l2 flow is set again from the VRRP election,
the VLAN reaches the overlay again within 5 s); reboot a hypervisor, the active gateway (the one of
the higher VRRP priority: the standby takes the router and the L2 gateway over and keeps them; the
routed and the bridged path are measured) and a service node one at a time (time from reboot to its
VMs' traffic and the loss other pairs saw are printed); a hypervisor again with no traffic across
the reboot (its tunnel endpoint comes back with the MAC address its peers cached, traffic flows at
once); a crash of ovs-vswitchd on a hypervisor (the OpenFlow state is installed again: flows and VM
traffic back within 5 s); afterwards the verification table passes, and then a site.yml run changes
nothing. Then a move of the L2 gateway: the bridged path flows again within 5 s both ways (the
gateway that stops bridging takes its trunk's link down for a moment, so that the physical switch
forgets the overlay's MACs on its port, as a dead gateway's would). Then the fleet shrinks and grows:
the active gateway is drained, it, a hypervisor and a service node leave the inventory, and fresh
machines of their names join, with no ping lost between the VMs that stay. Last, removing the lab leaves no
process, directory or cgroup of its machines. (The controller's reboot is drilled on the OVN machine
lab, test_machine_lab_ovn.py.) One lab serves every test of the module.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
import yaml

from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import flow_cookie
from conftest import (DEPLOY, ROOT, SITE, VERIFY, Playbook, changed_hosts, changed_tasks, created_lab, edited_inventory, failures,
                      router_address_command, shows_address, wait_for)
from machine_drills import (Pinger, destroy_leaving_nothing, detailed_differences, longest_gap, machine_states, outage, stopped_outage,
                            replace_with_a_fresh_machine, wait_booted, wait_for_traffic)
import machine_drills

LAB = os.path.join(ROOT, 'inventories', 'lab')
NAME = 'it-machines'
STATE = '/run/netvirt-lab/' + NAME
# The L2 gateway election on the management NIC rather than on tep0 (the role's default), which
# belongs to ovs-vswitchd: a crash of ovs-vswitchd then does not move the L2 gateway, whose move
# costs the physical switch's and the hypervisors' MAC relearning (docs/service-nodes-and-gateways.md).
EV = {'netvirt_lab_name': NAME, 'netvirt_lab_state_dir': STATE, 'netvirt_lab_machines': True,
      'gateway_l2_vrrp_interface': 'eth0'}
MESH_TABLE = {'ping ': 12, 'TCP overlay': 1, 'TCP underlay': 1, 'overlay / underlay throughput': 1, 'BUM: ': 1,
              'service-node failover': 1, 'L2 gateway': 1, 'L3 gateway': 1, 'floating ': 1, 'gateway failover': 1}
MACHINES = ('hv1', 'hv2', 'hv3', 'sn1', 'sn2', 'gw1', 'gw2')
# The lab's hosts that site.yml must leave alone (playbooks/lab/deploy.yml's host_networks.yml sets them up).
NAMESPACE_HOSTS = ('phys1', 'ext1', 'vm1', 'vm2', 'vm3', 'vm4')
# Where the roles write on a machine: /etc (network configuration, units, OVS, gateway files), the
# OpenFlow replay script, the gateways' run directory.
MACHINE_FILES = ('/etc', '/usr/local', '/run/netvirt-gateway')
VM_ADDRESS = {'vm1': '198.18.100.1', 'vm2': '198.18.100.2', 'vm3': '198.18.100.3', 'vm4': '198.18.100.4'}


@pytest.fixture(scope='module')
def machine_lab():
    """The lab, and what its first runs found: the check run of site.yml on the fresh machines,
    their state before and after it, and the real deployment that followed."""
    started = time.monotonic()
    with created_lab(LAB, EV) as pb:
        created = time.monotonic()
        fresh = machine_states(STATE, MACHINES, MACHINE_FILES, NAMESPACE_HOSTS)
        # A failure is the check test's to report: the drills need the real run either way.
        check = pb.run(SITE, check=True, diff=True, extra_vars=EV, expect_rc=None)
        check_output = pb.last_output
        after_check = machine_states(STATE, MACHINES, MACHINE_FILES, NAMESPACE_HOSTS)
        checked = time.monotonic()
        first = pb.run(DEPLOY, extra_vars=EV)
        deployed = time.monotonic()
        print('\nmachine lab: up in %.1f s, site.yml --check --diff %.1f s, lab/deploy.yml %.1f s'
              % (created - started, checked - created, deployed - checked))
        yield pb, {'check': check, 'check_output': check_output, 'fresh': fresh, 'after_check': after_check,
                   'first': first}


def test_check_mode_on_fresh_machines_changes_nothing_and_predicts_the_real_run(machine_lab):
    _pb, runs = machine_lab
    # Before any real run: no OVS, no OVN, no keepalived installed; check mode goes to the end on
    # every machine and leaves packages, units, files, OVSDB alone.
    ended = set(host for host, stats in runs['check']['stats'].items() if not stats.get('failures') and not stats.get('unreachable'))
    assert ended >= set(MACHINES), 'site.yml --check --diff did not go to the end on %s: %s\n%s' % (
        sorted(set(MACHINES) - ended), failures(runs['check']), runs['check_output'][-3000:])
    assert not any(line.startswith('openvswitch-switch ') for line in runs['fresh']['hv1']['packages']), \
        'hv1 was not fresh: Open vSwitch is installed before the first run'
    changed = detailed_differences(runs['fresh'], runs['after_check'])
    assert not changed, 'site.yml --check --diff changed the fresh machines: %s' % changed
    # The real run reports changed exactly the tasks check mode said would change, host by host
    # (playbooks/lab/deploy.yml's own plays, after site.yml, set up the VMs and outside hosts).
    predicted = changed_tasks(runs['check'])
    done = set((host, task) for host, task in changed_tasks(runs['first']) if host not in NAMESPACE_HOSTS)
    assert predicted == done, ('check mode and the real run disagree\nonly predicted: %s\nonly done: %s'
                               % (sorted(predicted - done), sorted(done - predicted)))
    assert set(host for host, _task in predicted) == set(MACHINES), sorted(predicted)
    for task in ('netvirt.overlay.ovs : Install Open vSwitch',
                 "netvirt.overlay.hypervisor : Bridges, ports, tunnels, the tunnel endpoint's address and the overlay flows of this "
                 "endpoint (stale tunnels removed)"):
        assert ('hv1', task) in predicted, (task, sorted(task for host, task in predicted if host == 'hv1'))
    print('\nsite.yml --check --diff on the fresh machines: %d tasks predicted changed on %d machines, the same the '
          'real run changed; nothing on the machines changed (packages, units, files, OVSDB, flows, links)'
          % (len(predicted), len(set(host for host, _task in predicted))))


def test_machines_are_booted_hosts_reached_over_ssh(machine_lab):
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


def test_a_second_run_changes_nothing(machine_lab):
    # The verification table comes after the drills below, which need no table before them: each
    # measures its own traffic (tools/lab.sh prints the table of the fresh deployment).
    pb, _runs = machine_lab
    second = pb.run(DEPLOY, extra_vars=EV)
    assert changed_hosts(second) == {}, 'second site.yml run on the machines changed something'


def ssh(host, command, check=True, timeout=60):
    return machine_drills.ssh(STATE, host, command, check=check, timeout=timeout)


# The lab's L3 gateway router: the active gateway (the VRRP master) holds its external address.
with open(os.path.join(LAB, 'group_vars', 'gateways.yml')) as _handle:
    ROUTER = yaml.safe_load(_handle)['gateway_routers'][0]
GATEWAYS = ('gw1', 'gw2')
with open(os.path.join(LAB, 'hosts.yml')) as _handle:
    _GROUPS = yaml.safe_load(_handle)['all']['children']
# nopreempt matters for the gateway of the higher VRRP priority: once it is back from a reboot, only
# the adverts of the other gateway keep it from taking the router back.
PREFERRED_GATEWAY = max(GATEWAYS, key=lambda gw: _GROUPS['gateways']['hosts'][gw].get('gateway_vrrp_priority', 100))


def holds_router(gateway):
    """Whether the gateway's router namespace has the router's external address (the VRRP master)."""
    out = ssh(gateway, 'sudo ' + ' '.join(router_address_command(ROUTER['name'])), check=False, timeout=10)
    return shows_address(out.stdout, ROUTER['external_vip'])


def router_holders():
    return [gw for gw in GATEWAYS if holds_router(gw)]


def wait_for_holder(gateway, started, timeout=30):
    """Seconds from started (monotonic) until gateway holds the router's address (only it is asked:
    the other is going down); fails after timeout."""
    while time.monotonic() < started + timeout:
        if holds_router(gateway):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError('%s did not take over router %s within %d s' % (gateway, ROUTER['name'], timeout))


# Seconds the reboot drill waits for phys1 -> vm1 through the L2 gateway to flow again, and the
# most a move of the L2 gateway may cut it for.
L2_PATIENCE = 60
L2_BACK = 5.0
PHYS1 = '198.18.100.50'  # phys1's address on VLAN 100 (inventories/lab)
L2_MARKER = '169.254.100.1/32'  # gateway_l2_vrrp_marker (the role's default): the L2 VRRP master holds it on lo


def l2_gateway_state():
    """{gateway: (holds the L2 marker, number of forwarding flows on br-l2)}."""
    command = 'ip -o address show dev lo to %s; sudo ovs-ofctl dump-flows br-l2 | grep -c cookie=%s' % (
        L2_MARKER, flow_cookie('gateway_l2'))
    state = {}
    for gw in GATEWAYS:
        lines = ssh(gw, command, check=False, timeout=10).stdout.strip().splitlines()
        state[gw] = (len(lines) > 1, int(lines[-1]) if lines and lines[-1].isdigit() else -1)
    return state


def l2_holders(state):
    """The gateways of an l2_gateway_state() that hold the L2 marker."""
    return [gw for gw, (holds, _flows) in state.items() if holds]


def test_ovs_vswitchd_crash_on_the_active_l2_gateway_keeps_it_bridging(machine_lab):
    """br-l2's forwarding flow is keepalived's, not in the OpenFlow state netvirt-openflow replays.
    A crash of ovs-vswitchd on the active L2 gateway does not move the election (it runs on eth0
    here, see EV), so nothing would call the notify script: netvirt-l2-gateway.service sets the flow
    again from the election at every start of ovs-vswitchd. The same gateway holds the marker and
    alone forwards, and phys1 on VLAN 100 reaches vm1 on blue again, within 5 s."""
    _pb, _runs = machine_lab
    before = l2_gateway_state()
    active = l2_holders(before)
    assert len(active) == 1 and before[active[0]][1] == 1 and sum(f for _h, f in before.values()) == 1, before
    pinger = Pinger(STATE, 'phys1', VM_ADDRESS['vm1'])
    time.sleep(1)
    script = ('old=$(cat /run/openvswitch/ovs-vswitchd.pid); killed=$(date +%s.%N); kill -SEGV "$old"; '
              'for i in $(seq 600); do new=$(cat /run/openvswitch/ovs-vswitchd.pid 2>/dev/null); '
              '  if [ -n "$new" ] && [ "$new" != "$old" ]; then break; fi; sleep 0.05; done; '
              'echo "$old $new $killed"')
    out = ssh(active[0], "sudo sh -c '%s'" % script).stdout.split()
    old_pid, new_pid, killed = out[0], out[1], float(out[2])
    started = time.monotonic() - (time.time() - killed)

    def settled():
        state = l2_gateway_state()
        holders = l2_holders(state)
        return len(holders) == 1 and all(flows == (1 if holds else 0) for holds, flows in state.values()) and state

    after, _seconds = wait_for('exactly the L2 marker holder forwards', settled, 30)
    settled_in = time.monotonic() - started
    back = wait_for_traffic(STATE, 'phys1', VM_ADDRESS['vm1'], started, timeout=30)
    time.sleep(1)
    sent, received, stamps = pinger.stop()
    traffic_back, _silences, gap = outage(stamps, killed, pinger.stopped_at)
    unit = ssh(active[0], 'systemctl is-active netvirt-l2-gateway').stdout.strip()
    holder = l2_holders(after)[0]
    print('\novs-vswitchd SIGSEGV on %s, the active L2 gateway: restarted (pid %s -> %s, netvirt-l2-gateway %s); '
          '%s holds the L2 election afterwards and only it forwards, %.2f s after the kill; phys1 -> vm1 traffic again '
          'after %.2f s (silent %.2f s in all, lost %d of %d)'
          % (active[0], old_pid, new_pid, unit, holder, settled_in, traffic_back, gap, sent - received, sent))
    assert new_pid != old_pid, 'ovs-vswitchd was not restarted'
    assert unit == 'active', 'netvirt-l2-gateway.service is %s on %s' % (unit, active[0])
    assert holder == active[0], 'the L2 election moved from %s to %s: the drill measured a failover' % (active[0], holder)
    assert traffic_back > 0, 'phys1 -> vm1 never stopped: the crash was not measured'
    assert settled_in <= 5.0 and traffic_back <= 5.0 and back <= 5.0, \
        'the L2 gateway bridged again only after %.1f s (more than 5 s)' % max(settled_in, traffic_back, back)


# (machine, or 'active gateway' for the VRRP master found at run time; VM traffic that needs it or
#  its stand-in: the VM on hv1, the routed path of the active gateway to the external host, flooding
#  through the service nodes; another pair, whose loss is printed)
DRILLS = [('hv1', ('vm2', 'vm1'), ('vm3', 'vm4')),
          ('active gateway', ('vm4', '198.18.64.100'), ('vm1', 'vm2')),
          ('sn1', ('vm1', 'vm2'), ('vm3', 'vm4'))]


def test_reboot_drills_need_no_ansible(machine_lab):
    pingers = []
    try:
        reboot_drills(pingers)
    finally:
        for pinger in pingers:  # stopped when the drills passed; a failure must not leave them pinging
            pinger.discard()


def reboot_drills(pingers):
    figures, failover = [], None
    for machine, (vm, target), (ovm, otarget) in DRILLS:
        standby = None
        if machine == 'active gateway':
            # Which gateway holds the router depends on the election (a verification table's
            # failover moves it too): ask them, and hand the router to the gateway of the higher priority (a restart of the holder's
            # instance: it stops with a priority 0 advert and starts again as backup).
            holders = router_holders()
            assert len(holders) == 1, 'router %s is held by %s, not by one gateway' % (ROUTER['name'], holders)
            if holders != [PREFERRED_GATEWAY]:
                ssh(holders[0], 'sudo systemctl restart netvirt-keepalived-%s' % ROUTER['name'])
                wait_for_holder(PREFERRED_GATEWAY, time.monotonic())
                time.sleep(3)  # the restarted gateway is backup again, hearing the adverts
                assert router_holders() == [PREFERRED_GATEWAY], router_holders()
            machine, standby = PREFERRED_GATEWAY, [gw for gw in GATEWAYS if gw != PREFERRED_GATEWAY][0]
        target_ip = VM_ADDRESS.get(target, target)
        own, other = Pinger(STATE, vm, target_ip), Pinger(STATE, ovm, VM_ADDRESS[otarget])
        pingers += [own, other]
        if standby:
            # The gateway's bridged traffic as well: phys1 on VLAN 100 to vm1 through the L2 gateway.
            l2_before = l2_holders(l2_gateway_state())
            bridged = Pinger(STATE, 'phys1', VM_ADDRESS['vm1'])
            pingers.append(bridged)
        time.sleep(1)
        started, started_wall = time.monotonic(), time.time()
        ssh(machine, 'sudo systemctl reboot', check=False, timeout=10)
        if standby:
            took_over = wait_for_holder(standby, started)
        booted = wait_booted(STATE, machine, started)
        wait_for_traffic(STATE, vm, target_ip, started)  # flowing again, to stop the pingers
        if standby:
            try:
                wait_for_traffic(STATE, 'phys1', VM_ADDRESS['vm1'], started, timeout=L2_PATIENCE)
            except AssertionError:
                pass  # measured below, from the pinger's replies
        time.sleep(1)
        _sent, _received, own_stamps = own.stop()
        back, silences, silent = outage(own_stamps, started_wall, own.stopped_at)
        sent, received, other_stamps = other.stop()
        other_gap = longest_gap(other_stamps)[0]
        figures.append((machine, booted, back, silences, silent, own.label, other.label, sent - received, sent, other_gap))
        if standby:
            # Measured, then judged after every drill's figures are printed.
            l2_back, l2_result = stopped_outage(bridged, started_wall)
            l2_after = l2_holders(l2_gateway_state())
            bridged_figures = (l2_before, l2_after, l2_back, l2_result)
            # nopreempt: the rebooted gateway comes back as backup, the router stays on the standby.
            # (Its external leg keeps its MAC across the reboot: with a new one, the standby's adverts
            # went to the old MAC and the rebooted gateway, hearing none, took the router back.)
            after = router_holders()
            failover = (machine, standby, took_over, after)
            assert after == [standby], 'after the reboot of %s router %s is held by %s, not by %s' % (
                machine, ROUTER['name'], after, standby)
    print('\nreboot drills (no Ansible run after the reboot; times from "systemctl reboot"):')
    print('%-5s %-8s %-14s %-22s %-22s %s' % ('host', 'booted', 'traffic again', 'its VM pair (outages)', 'other pair',
                                              'lost/sent, longest gap'))
    for machine, booted, back, silences, silent, label, other_label, lost, sent, other_gap in figures:
        print('%-5s %-8s %-14s %-22s %-22s %d/%d, %.2f s'
              % (machine, '%.1f s' % booted, '%.1f s' % back if back else 'never stopped',
                 '%s (%d, %.1f s)' % (label, silences, silent), other_label, lost, sent, other_gap))
    print('gateway failover: %s was the active gateway (VRRP master of router %s); %s held the router %.1f s after '
          'the reboot began, and still holds it with %s back (holders now: %s)'
          % (failover[0], ROUTER['name'], failover[1], failover[2], failover[0], ', '.join(failover[3])))
    print('L2 gateway during the reboot of %s: the L2 election on %s before, on %s after; phys1 -> vm1 (VLAN 100 to '
          'blue): %s' % (failover[0], ', '.join(bridged_figures[0]) or 'no gateway', ', '.join(bridged_figures[1]) or
                         'no gateway', bridged_figures[3]))
    # Whether the reboot moved the L2 gateway depends on which gateway won the election at deployment;
    # either way the bridged path must come back (a move is drilled on its own as well, below).
    assert bridged_figures[2] is not None and bridged_figures[2] <= L2_BACK, \
        'phys1 -> vm1 through the L2 gateway: %s' % bridged_figures[3]
    # The hypervisor's VM has no network while its hypervisor is down: a reboot that cost it
    # nothing did not happen. (The active gateway's reboot is proven by the router moving to the
    # standby, above: keepalived's stop hands it over at once, and the gap may be too short to see.)
    assert figures[0][2] > 0, 'vm1 kept its traffic through the reboot of hv1: %s' % (figures[0],)


def tunnel_neighbours(host):
    """{IP: MAC} of a host's tunnel neighbour cache (the userspace datapath's, ovs-appctl tnl/neigh/show)."""
    out = ssh(host, 'sudo ovs-appctl tnl/neigh/show').stdout
    return dict(line.split()[:2] for line in out.splitlines() if re.match(r'^[0-9a-f.:]+\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s', line))


def test_a_quiet_reboot_keeps_the_tunnel_endpoint_mac_and_the_traffic(machine_lab):
    """hv1 rebooted while no VM talks: the peers' tunnel neighbour caches still hold hv1's endpoint
    MAC address, so it must come back with the same one (hypervisor_tep_mac, set in OVSDB). With a
    new random one, vm2 -> vm1 was lost for as long as hv2's entry lived (up to 15 minutes). The
    pingers of the reboot drills hid it: their traffic made hv1 ask for its peers' addresses with
    ARP, which refreshed the peers' caches."""
    _pb, _runs = machine_lab
    tep = '198.18.1.11'  # hv1's overlay_tep_address (inventories/lab)
    mac_before = ssh('hv1', 'cat /sys/class/net/tep0/address').stdout.strip()
    wait_for_traffic(STATE, 'vm2', VM_ADDRESS['vm1'], time.monotonic(), timeout=10)  # hv2 has hv1 in its cache
    cached_before = tunnel_neighbours('hv2').get(tep)
    time.sleep(1)
    started = time.monotonic()
    ssh('hv1', 'sudo systemctl reboot', check=False, timeout=10)
    booted = wait_booted(STATE, 'hv1', started)
    mac_after = ssh('hv1', 'cat /sys/class/net/tep0/address').stdout.strip()
    cached_after = tunnel_neighbours('hv2').get(tep)
    # From the side whose cache would be stale first, then back.
    since = time.monotonic()
    to_vm1 = wait_for_traffic(STATE, 'vm2', VM_ADDRESS['vm1'], since, timeout=30)
    to_vm2 = wait_for_traffic(STATE, 'vm1', VM_ADDRESS['vm2'], time.monotonic(), timeout=30)
    print('\nquiet reboot of hv1 (no traffic across it): booted %.1f s after "systemctl reboot"; tep0 MAC %s before, %s '
          'after; hv2 caches %s for %s before, %s after the boot; then vm2 -> vm1 answered after %.2f s, vm1 -> vm2 '
          'after %.2f s' % (booted, mac_before, mac_after, cached_before, tep, cached_after, to_vm1, to_vm2))
    assert mac_before == '02:4e:c6:12:01:0b', 'tep0 has %s, not the MAC address derived from %s' % (mac_before, tep)
    assert cached_before == mac_before, 'hv2 cached %s for %s before the reboot: the drill measured nothing' % (cached_before, tep)
    assert mac_after == mac_before, 'hv1 came back with tep0 MAC %s (was %s)' % (mac_after, mac_before)
    assert to_vm1 <= 5.0 and to_vm2 <= 5.0, 'traffic after the quiet reboot only after %.1f s' % max(to_vm1, to_vm2)


def test_ovs_vswitchd_crash_restarts_with_its_flows(machine_lab):
    _pb, _runs = machine_lab
    pinger = Pinger(STATE, 'vm2', VM_ADDRESS['vm1'])
    time.sleep(1)
    # Inside the machine: kill ovs-vswitchd, then wait until a new one has br-tun's mesh flows
    # back (all of them); print the old and new PIDs, the flow count and both clock readings.
    script = (
        'flows() { ovs-ofctl -O OpenFlow13 dump-flows br-tun 2>/dev/null | grep -c cookie=%s; }; '
        'old=$(cat /run/openvswitch/ovs-vswitchd.pid); count=$(flows); '
        'killed=$(date +%%s.%%N); kill -SEGV "$old"; '
        'for i in $(seq 600); do '
        '  new=$(cat /run/openvswitch/ovs-vswitchd.pid 2>/dev/null); '
        '  if [ -n "$new" ] && [ "$new" != "$old" ] && [ "$(flows)" = "$count" ]; then break; fi; sleep 0.05; '
        'done; '
        'echo "$old $new $count $(flows) $killed $(date +%%s.%%N)"' % flow_cookie('overlay'))
    out = ssh('hv2', "sudo sh -c '%s'" % script).stdout.split()
    old_pid, new_pid, before, after, killed, flows_back = out[0], out[1], int(out[2]), int(out[3]), float(out[4]), float(out[5])
    back = wait_for_traffic(STATE, 'vm2', VM_ADDRESS['vm1'], time.monotonic() - (time.time() - killed), timeout=30)
    time.sleep(1)
    sent, received, stamps = pinger.stop()
    traffic_back, _silences, gap = outage(stamps, killed, pinger.stopped_at)
    unit = ssh('hv2', 'systemctl show -p NRestarts --value ovs-vswitchd; systemctl is-active netvirt-openflow').stdout.split()
    print('\novs-vswitchd SIGSEGV on hv2: restarted by systemd (pid %s -> %s, NRestarts %s, netvirt-openflow %s); '
          'br-tun mesh flows %d -> %d, all back %.2f s after the kill; vm2 -> vm1 traffic again after %.2f s '
          '(silent %.2f s in all, lost %d of %d)'
          % (old_pid, new_pid, unit[0], unit[1], before, after, flows_back - killed, traffic_back, gap, sent - received, sent))
    assert before > 0, 'br-tun had no mesh flows before the crash'
    assert new_pid != old_pid, 'ovs-vswitchd was not restarted'
    assert after == before, 'br-tun has %d mesh flows after the restart, %d before' % (after, before)
    assert traffic_back > 0, 'vm2 -> vm1 never stopped: the crash was not measured'
    assert flows_back - killed <= 5.0, 'the flows came back after %.1f s (more than 5 s)' % (flows_back - killed)
    assert traffic_back <= 5.0 and back <= 5.0, 'VM traffic came back after %.1f s (more than 5 s)' % max(traffic_back, back)


def test_verification_table_after_the_drills_with_no_ansible_run_then_a_run_changes_nothing(machine_lab):
    # One table after every reboot and the crash (a drill that broke something leaves it broken:
    # nothing repairs the machines in between), rather than one per drill, to keep the file short.
    # Then site.yml: what the hosts restored by themselves is what the roles set (hv1 was rebooted
    # twice: the second time ifupdown re-adds tep0 from its stanza, columns and all).
    pb, _runs = machine_lab
    pb.verify(VERIFY, EV, 'after the reboots of hv1, the active gateway and sn1, and the crashes of ovs-vswitchd on hv2 '
                          'and the active L2 gateway (no Ansible run)', MESH_TABLE)
    rerun = pb.run(DEPLOY, extra_vars=EV)
    assert changed_hosts(rerun) == {}, 'site.yml after the drills changed: %s' % sorted(changed_tasks(rerun))


def test_a_move_of_the_l2_gateway_is_relearned(machine_lab):
    """The L2 gateway moves (its keepalived instance restarted on the gateway holding it: a priority 0
    advert hands the election over at once, as a drain does): phys1 on VLAN 100 reaches vm1 on blue,
    and vm2 reaches phys1, again within 5 s. Without the trunk's link going down on the old gateway
    the physical switch kept the overlay's MACs on the old gateway's port: no reply for minutes."""
    before = l2_gateway_state()
    holder = l2_holders(before)
    assert len(holder) == 1, before
    other = [gw for gw in GATEWAYS if gw != holder[0]][0]
    pairs = (('phys1', VM_ADDRESS['vm1']), ('vm2', PHYS1))
    pingers = [Pinger(STATE, source, target) for source, target in pairs]
    time.sleep(1)
    started, started_wall = time.monotonic(), time.time()
    ssh(holder[0], 'sudo systemctl restart netvirt-keepalived-l2')

    def moved():
        state = l2_gateway_state()
        return state[other] == (True, 1) and state[holder[0]] == (False, 0)

    wait_for('%s holds the L2 election and alone forwards' % other, moved, 30)
    moved_in = time.monotonic() - started
    for source, target in pairs:
        try:
            wait_for_traffic(STATE, source, target, started, timeout=L2_PATIENCE)
        except AssertionError:
            pass  # measured below, from the pinger's replies
    time.sleep(1)
    figures = [(pinger.label,) + stopped_outage(pinger, started_wall) for pinger in pingers]
    print('\nL2 gateway moved from %s to %s (%.1f s after the restart of its keepalived instance); %s'
          % (holder[0], other, moved_in, '; '.join('%s: %s' % (label, result) for label, _back, result in figures)))
    for label, back, result in figures:
        assert back is not None and back <= L2_BACK, '%s after the move of the L2 gateway: %s' % (label, result)


def tunnel_remotes(host):
    return machine_drills.tunnel_remotes(STATE, host)


TEP = dict((host, values['overlay_tep_address'].split('/')[0])
           for group in ('hypervisors', 'service_nodes', 'gateways') for host, values in _GROUPS[group]['hosts'].items())
EXT1 = '198.18.64.100'  # the external host, behind the gateways' router
# The pairs measured while the fleet shrinks and grows cross none of the machines that leave:
# vm1 (hv1) -> vm2 (hv2) east-west on blue, vm3 (hv2, red) -> ext1 north-south through the router.
FLEET_PAIRS = (('vm1', VM_ADDRESS['vm2']), ('vm3', EXT1))


def measured_run(playbook, limit=None):
    """lab/deploy.yml under pings of FLEET_PAIRS: (its seconds, {pair label: (lost, sent, icmp_seq lost)})."""
    pingers = [Pinger(STATE, vm, target) for vm, target in FLEET_PAIRS]
    time.sleep(1)
    started = time.monotonic()
    try:
        playbook.run(DEPLOY, extra_vars=EV, limit=limit)
    finally:
        took = time.monotonic() - started
        time.sleep(1)
        counts = {}
        for pinger in pingers:
            sent, received, _stamps = pinger.stop()
            counts[pinger.label] = (sent - received, sent, pinger.lost[:10])
    return took, counts


def test_the_fleet_shrinks_and_grows_on_machines_without_loss(machine_lab, tmp_path):
    """Day 2 on machines: the active gateway is drained (gateway_state, a run limited to it) and the
    standby takes the router over; then the drained gateway, hv3 (with vm4) and sn2 leave the
    inventory and site.yml runs (their tunnels go from every machine that stays); then they are
    switched off for good and fresh machines of the same names (empty disks) join, and site.yml runs
    again (their tunnels come back everywhere, the new VM reaches the old ones). vm1 -> vm2 and
    vm3 -> ext1 lose nothing in any run, except north-south for under a second in the drain's
    handover; a re-run after the shrink and after the grow changes nothing."""
    pb, _runs = machine_lab
    active = router_holders()
    assert len(active) == 1, 'router %s is held by %s, not by one gateway' % (ROUTER['name'], active)
    gateway, standby = active[0], [gw for gw in GATEWAYS if gw != active[0]][0]
    leaving = ('hv3', 'sn2', gateway)
    gone = [TEP[host] for host in leaving]
    staying = [host for host in TEP if host not in leaving]
    before = dict((host, tunnel_remotes(host)) for host in staying)
    for host, remotes in before.items():  # else the shrink's check below would prove nothing
        assert set(gone) & set(remotes), (host, remotes)

    drain = Playbook(edited_inventory(LAB, tmp_path / 'drain', host_vars={gateway: {'gateway_state': 'drained'}}))
    runs = [('drain %s' % gateway,) + measured_run(drain, limit=gateway)]
    assert router_holders() == [standby], 'the drain did not move router %s to %s' % (ROUTER['name'], standby)

    smaller = Playbook(edited_inventory(LAB, tmp_path / 'smaller', drop_hosts=list(leaving) + ['vm4']))
    runs.append(('shrink',) + measured_run(smaller))
    for host in staying:
        remotes = tunnel_remotes(host)
        assert remotes == [r for r in before[host] if r not in gone], (host, before[host], remotes)
    assert changed_hosts(smaller.run(DEPLOY, extra_vars=EV)) == {}, 're-run after the shrink changed something'

    up_in = replace_with_a_fresh_machine(pb, NAME, STATE, leaving, EV)
    assert ssh('hv3', 'pgrep -c ovs-vswitchd || true').stdout.strip() == '0', 'hv3 is not a fresh machine'
    runs.append(('grow',) + measured_run(pb))
    for host in staying:
        assert tunnel_remotes(host) == before[host], host
    # The fresh gateway joins as backup (nopreempt): the router stays where it is.
    assert router_holders() == [standby], 'router %s moved when %s joined' % (ROUTER['name'], gateway)
    for target in (VM_ADDRESS['vm3'], EXT1):  # the new VM reaches the old ones and, through the router, outside
        wait_for_traffic(STATE, 'vm4', target, time.monotonic(), timeout=10)
    assert changed_hosts(pb.run(DEPLOY, extra_vars=EV)) == {}, 're-run after the grow changed something'

    print('\nfleet drill on machines (%s, the active gateway, drained; then it, hv3 with vm4 and sn2 leave; fresh machines '
          'of those names, up in %.1f s, join):' % (gateway, up_in))
    for label, took, counts in runs:
        print('  %-10s site.yml %5.1f s; %s' % (label, took, '; '.join(
            '%s lost %d of %d' % (pair, lost, sent) for pair, (lost, sent, _seqs) in counts.items())))
    for label, _took, counts in runs:
        for pair, (lost, sent, seqs) in counts.items():
            # The drain hands the router over: north-south packets in flight may be lost for less
            # than a second (50 pings at 50 a second); nothing else may lose a ping.
            allowed = 50 if label.startswith('drain') and pair.startswith('vm3') else 0
            assert sent > 0 and lost <= allowed, '%s: %s lost %d of %d pings (icmp_seq %s)' % (label, pair, lost, sent, seqs)


def test_removing_the_lab_leaves_no_machine_behind(machine_lab):
    destroy_leaving_nothing(machine_lab[0], NAME, STATE, EV)
