# -*- coding: utf-8 -*-
"""The embedded lab's main job (static mesh): deploy and verify VXLAN and Geneve, switch to GRE
and re-run clean. (The day-2 drill of shrinking and growing it is on booted machines,
test_machine_lab.py.)

`site.yml --check --diff` tells the truth on a pending change of encapsulation (every tunnel port
is replaced, the flows and flood groups name ports that do not exist yet): the check run goes to
the end, changes nothing on any lab host (tests/integration/playbooks/files/host_state.py: the
Open_vSwitch database, flows and groups of every bridge, links and addresses, network namespaces
and their nftables rules, running daemons, the files the roles write), and the real run that
follows changes exactly the tasks, host by host, that check mode reported. (Check mode on fresh
hosts is tested on the machine lab, test_machine_lab.py, where it also compares packages and
units.)

Runs against inventories/lab itself (the inventory users run), in a lab of its own name."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import time

import pytest
import yaml

from conftest import (CREATE, DEPLOY, DESTROY, ROOT, SITE, VERIFY, Playbook, changed_hosts, changed_tasks, created_lab,
                      host_states, in_lab_host, lab_command, results, state_differences)

LAB = os.path.join(ROOT, 'inventories', 'lab')
# The rows playbooks/lab/verify.yml must print for inventories/lab: 4 VMs (each pinging the other 3), throughput,
# two service nodes (BUM, failover) and two gateways (L2, SNAT, floating address, failover).
MESH_TABLE = {'ping ': 12, 'TCP overlay': 1, 'TCP underlay': 1, 'overlay / underlay throughput': 1, 'BUM: ': 1,
              'service-node failover': 1, 'L2 gateway': 1, 'L3 gateway': 1, 'floating ': 1, 'gateway failover': 1}

# The hypervisor role's one task for its bridges, tunnels and br-tun's flows (netvirt.overlay.ovs_bridges).
SWITCH_TASK = "Bridges, ports, tunnels, the tunnel endpoint's address and the overlay flows of this endpoint (stale tunnels removed)"


def lab_vars(name, **extra):
    out = {'netvirt_lab_name': name, 'netvirt_lab_state_dir': '/run/netvirt-lab/%s' % name}
    out.update(extra)
    return out


@pytest.fixture(scope='module')
def mesh_lab():
    """One lab for the tests of this module: each deploys over what the one before left."""
    ev = lab_vars('it-mesh')
    with created_lab(LAB, ev) as pb:
        yield pb, ev


# Every host of the lab: those site.yml manages, and the VMs and outside hosts it must leave alone.
ALL_HOSTS = ('hv1', 'hv2', 'hv3', 'sn1', 'sn2', 'gw1', 'gw2', 'phys1', 'ext1', 'vm1', 'vm2', 'vm3', 'vm4')
# Where the roles write files on lab hosts (gateway_config_dir and gateway_run_dir of the lab).
FILE_DIRS = ('/run/netvirt-gateway',)
# What check mode must foresee on hv1 on a change of encapsulation (the tunnels replaced, and br-tun's
# learned MACs forgotten, in the same task).
SWITCHED_TASKS = ('netvirt.overlay.hypervisor : ' + SWITCH_TASK,)


def settled_state(state_dir, timeout=60):
    """The lab's state once it stops changing on its own: right after a deployment keepalived is
    still electing, and the active gateway's notify script adds br-l2's flows and brings links up."""
    deadline = time.monotonic() + timeout
    last = host_states(state_dir, ALL_HOSTS, FILE_DIRS)
    while True:
        time.sleep(3)
        now = host_states(state_dir, ALL_HOSTS, FILE_DIRS)
        if not state_differences(last, now):
            return now
        assert time.monotonic() < deadline, 'the lab keeps changing on its own: %s' % state_differences(last, now)
        last = now


def check_then_real(pb, extra_vars, label):
    """site.yml --check --diff, then site.yml: the check changed nothing on any lab host and
    foresaw exactly the tasks the real run changed. Returns them, {(host, task)}, and the real run."""
    state_dir = extra_vars['netvirt_lab_state_dir']
    before = settled_state(state_dir)
    check = pb.run(SITE, check=True, diff=True, extra_vars=extra_vars)
    changed = state_differences(before, host_states(state_dir, ALL_HOSTS, FILE_DIRS))
    assert not changed, '%s: check mode changed %s' % (label, changed)
    real = pb.run(SITE, extra_vars=extra_vars)
    predicted, done = changed_tasks(check), changed_tasks(real)
    assert predicted == done, ('%s: check mode and the real run disagree\nonly predicted: %s\nonly done: %s'
                               % (label, sorted(predicted - done), sorted(done - predicted)))
    return predicted, real


def test_main_job_for_each_encapsulation(mesh_lab):
    pb, ev = mesh_lab
    # One lab, switched from one encapsulation to the next as a user would: every tunnel port is
    # replaced in place, so this also proves that nothing learned through the old ports survives.
    # Check mode is compared with the real run on the change VXLAN -> Geneve. GRE (the default)
    # comes last, and a second run after the change must change nothing. VXLAN's and Geneve's tables are verified here only; GRE's table,
    # check mode on fresh hosts and on the converged lab are the machine labs' (test_machine_lab.py
    # deploys GRE; test_machine_lab_ovn.py checks the converged lab), which CI runs as well. One
    # re-run is enough: the same tasks run for every encapsulation (that VXLAN's and Geneve's
    # tunnel ports re-run clean is shown in test_ovs_modules.py: the same module, another port
    # type), and a deployment takes ~35 s on 2 cores.
    for encapsulation in ('vxlan', 'geneve', 'gre'):
        evx = dict(ev, overlay_encapsulation=encapsulation)
        if encapsulation == 'vxlan':  # the fresh lab
            last = pb.run(DEPLOY, extra_vars=evx)
        elif encapsulation == 'geneve':  # a pending change of encapsulation
            predicted, last = check_then_real(pb, evx, 'VXLAN to Geneve')
            for task in SWITCHED_TASKS:
                assert ('hv1', task) in predicted, (encapsulation, task, sorted(predicted))
            forgot = dict((host, res.get('forgot_learned')) for host, res in results(last, SWITCH_TASK).items())
            assert all(forgot[host] == ['br-tun'] for host in ('hv1', 'hv2', 'hv3')), forgot
        else:  # GRE: the change, then a re-run that changes nothing
            pb.run(DEPLOY, extra_vars=evx)
            last = pb.run(DEPLOY, extra_vars=evx)
            assert changed_hosts(last) == {}, 'second site.yml run with %s changed something' % encapsulation
        if encapsulation != 'gre':
            table = pb.verify(VERIFY, evx, encapsulation, MESH_TABLE)
            assert 'FAIL' not in table
            assert '(%s, best of' % encapsulation in table
        switch = results(last, SWITCH_TASK)
        prefix = {'gre': 'gre-', 'vxlan': 'vxlan-', 'geneve': 'geneve-'}[encapsulation]
        assert {'hv1', 'hv2', 'hv3'} <= set(switch), sorted(switch)  # the hypervisors reported their tunnels
        for host, res in switch.items():
            mesh = res['tunnels'][0]['tunnels']  # the first tunnel group: the mesh
            assert mesh and all(name.startswith(prefix) for name in mesh), (host, mesh)


def four_hypervisor_inventory(tmp_path):
    """The hypervisors of inventories/lab and a fourth, every VM on one network, one per hypervisor.

    No service nodes: each hypervisor floods to every other itself (source replication), the full
    mesh in which plain MAC learning would let a broadcast circulate.
    """
    inv = tmp_path / 'lab4'
    shutil.copytree(LAB, inv)
    hosts = yaml.safe_load((inv / 'hosts.yml').read_text())
    for group in ('service_nodes', 'gateways', 'lab_outside'):
        hosts['all']['children'].pop(group)
    hvs = hosts['all']['children']['hypervisors']['hosts']
    hvs['hv4'] = copy.deepcopy(hvs['hv1'])
    hvs['hv4'].update(lab_mgmt_address='198.18.0.14/24', overlay_tep_address='198.18.1.14/24')
    vms = {}
    for i in range(1, 5):
        hvs['hv%d' % i]['overlay_host_networks'] = ['blue']
        vms['vm%d' % i] = {'vm_hypervisor': 'hv%d' % i, 'vm_network': 'blue',
                           'vm_address': '198.18.100.%d/24' % i, 'vm_mac': '02:00:00:00:64:%02x' % i}
    hosts['all']['children']['vms']['hosts'] = vms
    (inv / 'hosts.yml').write_text(yaml.safe_dump(hosts))
    return str(inv)


SEND_ONE_ARP = (
    "import socket\n"
    "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
    "s.bind(('eth0', 0))\n"
    "mac = bytes.fromhex('020000006401')\n"
    "arp = bytes.fromhex('0001080006040001') + mac + socket.inet_aton('198.18.100.1') + bytes(6)"
    " + socket.inet_aton('198.18.100.99')\n"
    "s.send(b'\\xff' * 6 + mac + b'\\x08\\x06' + arp)\n"
)


def test_broadcast_reaches_each_vm_once_with_four_hypervisors(tmp_path):
    ev = lab_vars('it-mesh4', overlay_bum_replication='source', overlay_networks=[{'name': 'blue', 'vni': 1001}])
    pb = Playbook(four_hypervisor_inventory(tmp_path))
    try:
        pb.run(CREATE, extra_vars=ev)
        pb.run(DEPLOY, extra_vars=ev)
        state = ev['netvirt_lab_state_dir']
        # Warm-up, not measured: the userspace datapath drops a tunnel's first packet while it
        # resolves the remote endpoint's underlay MAC, and right after the deployment a freshly
        # made tunnel may not have sent anything yet (a CI run once saw vm2 get no copy at all).
        for target in ('198.18.100.2', '198.18.100.3', '198.18.100.4'):
            in_lab_host(state, 'vm1', ['ping', '-c', '2', '-i', '0.2', '-W', '1', target], check=False)
        captures = {}
        for vm in ('vm2', 'vm3', 'vm4'):
            captures[vm] = subprocess.Popen(
                lab_command(state, vm, ['timeout', '8', 'tcpdump', '-i', 'eth0', '-nn', '-l', 'arp and dst host 198.18.100.99']),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        # Send only once every tcpdump listens ("listening on eth0"): on a loaded machine a fixed
        # pause was once too short, and the capture that started late saw nothing.
        for vm, proc in captures.items():
            said = [proc.stderr.readline(), proc.stderr.readline()]  # "verbose output suppressed", "listening on eth0"
            assert 'listening on' in ''.join(said), '%s: tcpdump did not start: %s' % (vm, said)
        subprocess.run(lab_command(state, 'vm1', ['python3', '-c', SEND_ONE_ARP]), check=True)
        for vm, proc in captures.items():
            out, _err = proc.communicate(timeout=20)
            seen = [line for line in out.splitlines() if 'who-has 198.18.100.99' in line]
            assert len(seen) == 1, '%s saw the broadcast %d times:\n%s' % (vm, len(seen), out)
    finally:
        pb.run(DESTROY, extra_vars=ev)
