# -*- coding: utf-8 -*-
"""Gateways on real OVS in lab namespaces: L2 bridging to a VLAN, L3 routing with SNAT and a
floating address, and failover when the active gateway's host dies (VRRP, no preemption)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from ansible_collections.netvirt.overlay.plugins.plugin_utils._gateway import external_mac
from conftest import (CREATE, DEPLOY, HERE, PROBE, changed_hosts, created_lab, deployed_lab, eventually, in_lab_host, lab_pid,
                      results, router_holders, start_in_lab_host)

INVENTORY = 'gateways.yml'
STATE = '/run/netvirt-lab/it-gw'
VIP, FIP, EXT, PHYS = '198.18.64.1', '198.18.64.10', '198.18.64.100', '198.18.100.50'
MAX_GW_OUTAGE = 5.0
ROUTER = {'name': 'red', 'external_vip': VIP}  # the router of tests/integration/inventories/gateways.yml


def pid(host):
    return lab_pid(STATE, host)


def inside(host, *argv, **kw):
    """Run a command in a lab host (never in the machine's own namespaces)."""
    return in_lab_host(STATE, host, argv, check=kw.get('check', True))


def start_probe(host, *args):
    return start_in_lab_host(STATE, host, ['python3', PROBE] + list(args))


def pings(host, target, count=3):
    return inside(host, 'ping', '-c', str(count), '-i', '0.2', '-W', '2', target, check=False).returncode == 0


def active_router():
    holders = router_holders(STATE, ('gw1', 'gw2'), ROUTER)
    return holders[0] if holders else None


def l2_forwarding():
    """The gateways whose br-l2 holds the flow that lets it forward."""
    return [gw for gw in ('gw1', 'gw2') if 'cookie=0x4e58' in inside(gw, 'ovs-ofctl', 'dump-flows', 'br-l2').stdout]


PORTS = iter(range(8081, 8181))


def whoami(client, server_host, address):
    """What the server saw of the client (a one-connection server, on a port of its own)."""
    port = str(next(PORTS))
    server = start_probe(server_host, 'whoami-server', port, '10', '1')
    time.sleep(0.5)
    answer = inside(client, 'python3', PROBE, 'whoami', address, port, check=False).stdout.strip()
    server.wait(timeout=20)
    return answer


@pytest.fixture(scope='module')
def lab():
    with deployed_lab(INVENTORY) as (pb, _first):
        yield pb


def test_deploy_reruns_clean(lab):
    assert changed_hosts(lab.run(DEPLOY)) == {}


def test_router_external_legs_have_their_fixed_mac(lab):
    # The same MAC after every boot, so that the other gateway's VRRP adverts still reach it.
    for gw in ('gw1', 'gw2'):
        mac = inside(gw, 'ip', 'netns', 'exec', 'nvr-red', 'cat', '/sys/class/net/ext0/address').stdout.strip()
        assert mac == external_mac(gw, 'red'), (gw, mac)


def test_l2_gateway_joins_the_vlan_and_the_tenant_network(lab):
    assert eventually(lambda: pings('phys1', '198.18.100.1'))
    assert pings('vm1', PHYS)
    # exactly one gateway bridges: br-l2 forwards only on the VRRP master
    assert len(l2_forwarding()) == 1, l2_forwarding()


def test_l2_notify_calls_out_of_order_follow_the_election(lab):
    """keepalived starts its notify scripts without waiting for the last one, so an "up" can finish
    after the "down" that followed it (CI saw a backup bridging after both gateways started
    together). The script sets the flow from the marker address the election left, whatever it is
    called with: here both calls on both gateways at once, ten times, and a stale "up" on the backup."""
    notify = '/run/netvirt-gateway/etc/l2-notify.sh'  # gateway_config_dir of the lab inventory
    master = [gw for gw in ('gw1', 'gw2')
              if inside(gw, 'ip', '-o', 'address', 'show', 'dev', 'lo', 'to', '169.254.100.1/32').stdout.strip()]
    assert l2_forwarding() == master and len(master) == 1, (l2_forwarding(), master)
    backup = 'gw2' if master == ['gw1'] else 'gw1'
    script = 'for i in $(seq 10); do %s up & %s down & wait; done' % (notify, notify)
    for gw in ('gw1', 'gw2'):
        inside(gw, 'sh', '-c', script)
    inside(backup, notify, 'up')
    assert l2_forwarding() == master
    assert eventually(lambda: pings('phys1', '198.18.100.1'))


def test_l3_gateway_snat_and_floating_address(lab):
    assert eventually(lambda: active_router() is not None)
    assert eventually(lambda: pings('vm3', EXT, 1))
    # vm3 has no floating address: SNAT to the router's address
    assert whoami('vm3', 'ext1', EXT) == 'ext1 saw %s' % VIP
    # vm4's floating address: reachable from outside (no SNAT inbound), and its own traffic leaves with it
    assert whoami('ext1', 'vm4', FIP) == 'vm4 saw %s' % EXT
    assert whoami('vm4', 'ext1', EXT) == 'ext1 saw %s' % FIP


def test_the_router_lets_in_only_floating_addresses(lab):
    """ext1 routes the tenant subnet through the router: a VM without a floating address stays
    unreachable from outside, the floating address still works."""
    inside('ext1', 'ip', 'route', 'replace', '198.18.100.0/24', 'via', VIP)
    try:
        assert not pings('ext1', '198.18.100.3', 2), 'the router forwarded a new connection to a fixed address'
        assert whoami('ext1', 'vm4', FIP) == 'vm4 saw %s' % EXT
    finally:
        inside('ext1', 'ip', 'route', 'del', '198.18.100.0/24')


ROGUE_VRRP = '''vrrp_instance rogue {
    state MASTER
    interface eth0
    virtual_router_id 52
    priority 254
    version 3
    advert_int 0.5
    virtual_ipaddress {
        %s/24
        %s/32
        198.18.100.254/24
    }
}
''' % (VIP, FIP)  # the same addresses as the router's instance: keepalived ignores adverts that differ


def test_a_host_on_the_external_segment_cannot_take_the_router_address(lab):
    """ext1 advertises the router's VRRP id with a higher priority: the gateways talk VRRP by
    unicast with each other only, so the active one keeps the address."""
    assert eventually(lambda: active_router() is not None)
    before = active_router()
    inside('ext1', 'sh', '-c', 'cat > /run/rogue-vrrp.conf <<EOF\n%sEOF' % ROGUE_VRRP)
    rogue = start_in_lab_host(STATE, 'ext1', ['keepalived', '--vrrp', '--dont-fork', '--log-console', '--use-file',
                                              '/run/rogue-vrrp.conf', '--pid', '/run/rogue-keepalived.pid',
                                              '--vrrp_pid', '/run/rogue-vrrp.pid'])
    try:
        time.sleep(4)  # eight of its adverts
        assert rogue.poll() is None, 'the rogue keepalived did not run'
        assert active_router() == before, 'a host on the external segment took the router address'
    finally:
        # nsenter does not pass signals on: stop keepalived by its own PID file, in ext1.
        inside('ext1', 'sh', '-c', 'kill $(cat /run/rogue-keepalived.pid)', check=False)
        rogue.wait(timeout=20)
    assert eventually(lambda: pings('vm3', EXT, 1))


def test_a_keepalived_configuration_keepalived_refuses_is_not_installed(lab):
    """The role's template is checked by keepalived --config-test in the router's namespace before
    it replaces the running configuration: an instance on an interface the namespace lacks fails
    that task, and the file (and the router address) stay as they were."""
    conf = '/run/netvirt-gateway/etc/keepalived-red.conf'  # gateway_config_dir of the lab inventory
    before = inside('gw1', 'cat', conf).stdout
    holder = active_router()
    refused = lab.run(os.path.join(HERE, 'playbooks', 'keepalived_refused.yml'), expect_rc=2)
    task = results(refused, 'Configuration of keepalived instance red')['gw1']
    assert task.get('failed') and 'failed to validate' in task.get('msg', ''), task
    assert 'ext9' not in inside('gw1', 'cat', conf).stdout
    assert inside('gw1', 'cat', conf).stdout == before
    assert active_router() == holder


def test_losing_the_active_gateway(lab):
    active = active_router()
    other = 'gw2' if active == 'gw1' else 'gw1'
    ping = start_probe('vm3', 'ping-gap', EXT, '10', '0.02')
    time.sleep(2)
    os.kill(pid(active), signal.SIGKILL)
    result = json.loads(ping.communicate(timeout=30)[0])
    print('gateway failover (host of %s killed): %s' % (active, result))
    assert result['received'] > 0
    assert result['outage_s'] <= MAX_GW_OUTAGE, result
    assert active_router() == other
    assert whoami('vm3', 'ext1', EXT) == 'ext1 saw %s' % VIP
    # the L2 gateway moved too (or stayed): the physical host still reaches the VM
    assert eventually(lambda: pings('phys1', '198.18.100.1', 2), timeout=15)

    # Bring the host back: it rejoins as backup (no preemption, no second outage), and a further
    # run changes nothing.
    lab.run(CREATE)
    lab.run(DEPLOY)
    assert active_router() == other
    assert changed_hosts(lab.run(DEPLOY)) == {}


def refused(lab, extra_vars, *messages, **kw):
    """site.yml with extra_vars (and a limit=) fails in its preflight, changes no host and says each message."""
    data = lab.run(DEPLOY, extra_vars=extra_vars, expect_rc=2, limit=kw.get('limit'))
    assert changed_hosts(data) == {}
    for message in messages:
        assert message in lab.last_output, (extra_vars, message)


def test_bad_gateway_input_stops_before_any_change(lab):
    refused(lab, {'gateway_l2_networks': [{'network': 'blue', 'vlan': 4095}]}, 'vlan 4095 is outside 1-4094')
    router = {'name': 'red', 'network': 'red', 'address': '198.18.100.254/24', 'external_network': '198.18.64.0/24',
              'external_vip': '198.18.64.1', 'external_addresses': {'gw1': '198.18.64.2', 'gw2': '198.18.64.3'},
              'floating': [{'address': '198.18.65.10', 'fixed': '198.18.100.4'}], 'vrrp_id': 52}
    refused(lab, {'gateway_routers': [router]}, 'floating address 198.18.65.10 is outside the external network 198.18.64.0/24')
    # Draining every gateway would leave no router and no L2 gateway: refused, as is a state that does not exist.
    refused(lab, {'gateway_state': 'drained'}, 'every gateway (gw1, gw2) would be drained')
    refused(lab, {'gateway_state': 'off'}, 'gateway_state', 'active, drained, absent')


def test_a_hypervisor_or_gateway_of_the_mesh_cannot_be_set_absent(lab):
    # absent is OVN's: on the mesh a hypervisor leaves by leaving the inventory, a gateway after a drain.
    # The preflight stops every host at the first task that fails on one: the gateways' check comes first.
    refused(lab, {'hypervisor_state': 'absent'}, 'gw1, which is a gateway: set gateway_state to absent (OVN)')
    refused(lab, {'hypervisor_state': 'absent'}, 'a hypervisor leaves by leaving the inventory', limit='hypervisors')
    refused(lab, {'hypervisor_state': 'gone'}, 'hypervisor_state', 'present, absent')
    refused(lab, {'gateway_state': 'absent'}, 'a gateway leaves by being drained (gateway_state: drained) and then leaving the inventory')


# What a deployment writes in a lab host: OVS and OVN state, and the gateway's files under /run.
WRITTEN = 'find /etc/openvswitch /var/lib/openvswitch /etc/ovn /var/lib/ovn /run -type f | sort; pgrep -l -x "ovsdb-server|ovs-vswitchd|keepalived"'


def test_bad_input_on_a_fresh_lab_changes_no_host():
    """site.yml starts with a preflight play: one gateway's bad VLAN stops the run before any host
    (controllers, hypervisors, the other gateway) is changed, and the message names host and variable."""
    name = 'it-gw-fresh'
    lab_vars = {'netvirt_lab_name': name, 'netvirt_lab_state_dir': '/run/netvirt-lab/' + name}
    with created_lab(os.path.join(HERE, 'inventories', INVENTORY), lab_vars) as pb:
        hosts = sorted(f[:-4] for f in os.listdir(lab_vars['netvirt_lab_state_dir']) if f.endswith('.pid'))
        before = dict((h, in_lab_host(lab_vars['netvirt_lab_state_dir'], h, ['sh', '-c', WRITTEN], check=False).stdout)
                      for h in hosts)
        bad = dict(lab_vars, gateway_l2_networks=[{'network': 'blue', 'vlan': 4095}])
        data = pb.run(DEPLOY, extra_vars=bad, expect_rc=2)
        assert changed_hosts(data) == {}
        assert [play['play']['name'] for play in data['plays']][-1].startswith('Preflight'), 'a play after the preflight ran'
        assert 'fatal: [gw1]' in pb.last_output
        assert "gateway_l2_networks: L2 gateway for 'blue': vlan 4095 is outside 1-4094" in pb.last_output
        after = dict((h, in_lab_host(lab_vars['netvirt_lab_state_dir'], h, ['sh', '-c', WRITTEN], check=False).stdout)
                     for h in hosts)
        assert after == before
