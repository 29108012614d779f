# -*- coding: utf-8 -*-
"""Service nodes on real OVS in lab namespaces: one copy per BUM frame, per-VNI replication,
and failover when a service node's host dies (BFD + fast-failover group)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from conftest import CREATE, DEPLOY, PROBE, changed_hosts, deployed_lab, eventually, in_lab_host, lab_pid, results, start_in_lab_host

INVENTORY = 'service_nodes.yml'
STATE = '/run/netvirt-lab/it-sn'
MAX_BUM_OUTAGE = 3.0


def pid(host):
    return lab_pid(STATE, host)


def inside(host, *argv):
    """Run a command in a lab host (never in the machine's own namespaces); its output."""
    return in_lab_host(STATE, host, argv).stdout


def probe(host, *args):
    return json.loads(inside(host, 'python3', PROBE, *args))


def start_probe(host, *args):
    return start_in_lab_host(STATE, host, ['python3', PROBE] + list(args))


def bfd_up(hv, remote):
    out = inside(hv, 'ovs-vsctl', '--bare', '--columns=bfd_status', 'find', 'interface', 'options:remote_ip=%s' % remote)
    return 'state=up' in out


@pytest.fixture(scope='module')
def lab():
    with deployed_lab(INVENTORY) as (pb, first):
        yield pb, first


def test_deploy_reruns_clean(lab):
    pb, first = lab
    # The second tunnel group of the hypervisor role's one task for its switch: the service nodes.
    switch = results(first, "Bridges, ports, tunnels, the tunnel endpoint's address and the overlay flows of this endpoint "
                            "(stale tunnels removed)")
    tunnels = switch['hv1']['tunnels'][1]['tunnels']
    assert sorted(tunnels) == ['sn-c6120115', 'sn-c6120116']
    assert all(t['bfd'].get('enable') == 'true' for t in tunnels.values())
    assert changed_hosts(pb.run(DEPLOY)) == {}


def test_hypervisor_sends_one_copy_and_service_node_replicates_per_vni(lab):
    assert eventually(lambda: bfd_up('hv1', '198.18.1.21') and bfd_up('hv1', '198.18.1.22'), timeout=30)
    count = 40
    before_ports = probe('hv1', 'port-tx', 'br-tun')
    before_groups = probe('hv1', 'group-stats', 'br-tun')
    sn_before = probe('sn1', 'port-tx', 'br-tun')
    probe('vm1', 'arp-burst', 'eth0', '198.18.100.77', str(count))
    time.sleep(0.5)
    after_ports = probe('hv1', 'port-tx', 'br-tun')
    after_groups = probe('hv1', 'group-stats', 'br-tun')
    sn_after = probe('sn1', 'port-tx', 'br-tun')
    direct = sum(after_ports[p][0] - before_ports[p][0] for p in after_ports if p.startswith('gre-'))
    assert direct == 0, 'source replication happened: %d copies on direct tunnels' % direct
    # group 1 is blue (local VLAN 1): bucket 0 is sn1, the first live service node
    # (a VM's own background multicast, IPv6 neighbour discovery for one, may add a frame or two)
    assert count <= after_groups['1'][0] - before_groups['1'][0] <= count + 5
    # sn1 sent every frame to hv2 (carries blue) and none to hv3 (red only), nothing back to hv1
    sent = dict((p, sn_after[p][0] - sn_before[p][0]) for p in sn_after)
    assert sent['gre-c612010c'] >= count           # hv2 (+ BFD)
    assert sent['gre-c612010d'] <= 10               # hv3: BFD only
    assert sent['gre-c612010b'] <= 10               # hv1, the sender: BFD only


def test_losing_a_service_node_costs_bum_seconds_and_unicast_nothing(lab):
    pb, _first = lab
    assert eventually(lambda: bfd_up('hv1', '198.18.1.21'), timeout=30)
    bum = start_probe('vm1', 'arp-probe', 'eth0', '198.18.100.2', '8', '0.02')
    unicast = start_probe('vm1', 'ping-gap', '198.18.100.2', '8', '0.02')
    time.sleep(2)
    os.kill(pid('sn1'), signal.SIGKILL)
    bum_result = json.loads(bum.communicate(timeout=30)[0])
    unicast_result = json.loads(unicast.communicate(timeout=30)[0])
    print('service-node failover: BUM %s, unicast %s' % (bum_result, unicast_result))
    assert bum_result['received'] > 0
    assert bum_result['outage_s'] <= MAX_BUM_OUTAGE, bum_result
    assert unicast_result['sent'] - unicast_result['received'] <= 1, unicast_result
    # BUM still flows through sn2
    assert probe('vm1', 'arp-probe', 'eth0', '198.18.100.2', '1', '0.05')['received'] >= 15

    # Bring the host back: only it changes, and a further run changes nothing.
    pb.run(CREATE)
    again = pb.run(DEPLOY)
    assert set(changed_hosts(again)) <= {'sn1'}
    assert changed_hosts(pb.run(DEPLOY)) == {}
    assert eventually(lambda: bfd_up('hv1', '198.18.1.21'), timeout=30)


def test_bad_input_stops_before_any_change(lab):
    pb, _first = lab
    data = pb.run(DEPLOY, extra_vars={'overlay_networks': [{'name': 'blue', 'vni': 2001}, {'name': 'red', 'vni': 2002},
                                                           {'name': 'green', 'vni': 2003}]}, expect_rc=2)
    assert changed_hosts(data) == {}
    # site.yml's preflight play finds it, before any play that changes hosts starts.
    assert [play['play']['name'] for play in data['plays']][-1].startswith('Preflight')
    msgs = [res.get('msg', '') for res in results(data, 'Check who carries which tenant network (mesh)').values()]
    assert any("'green' (vni 2003) is carried by no hypervisor or gateway" in m for m in msgs), msgs
