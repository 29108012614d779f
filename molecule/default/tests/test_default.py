# -*- coding: utf-8 -*-
"""Testinfra checks of the embedded lab after converge, run by ``molecule verify``.

Every command runs inside a lab host through Molecule's inventory (testinfra's ansible
backend; for the netvirt.overlay.namespace connection it runs each command with ``ansible``),
so the checks see the lab of this scenario, not the main lab. The expected values are worked
out here from the inventory, independently of the role's filters.
"""

from __future__ import annotations

import os

import pytest

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

# molecule/resources (on the verifier's PYTHONPATH, see .config/molecule/config.yml).
from lab_checks import OVERHEAD, address  # noqa: E402

# The parametrized hosts and what they are asked, shared with the other checks of this scenario.
from conftest import COOKIE, networks, tunnels  # noqa: E402

BRIDGES = ('br-phy', 'br-int', 'br-tun')


@pytest.fixture(scope='module')
def state(hypervisor, lab_state):
    """What the checks look at on a hypervisor (conftest.read_state, one command per host)."""
    return lab_state(hypervisor.name)


def test_checks_run_in_this_scenarios_lab(hypervisor, state):
    """The commands run in the network namespace of the host that this scenario's lab started."""
    assert state['netns'] == hypervisor.lab_netns()


def test_bridges_use_the_userspace_datapath(hypervisor, state):
    have = state['bridges']
    for name in BRIDGES:
        assert name in have, '%s: bridge %s missing' % (hypervisor.name, name)
        assert have[name]['row']['datapath_type'] == 'netdev', name
    assert have['br-int']['row']['fail_mode'] == 'standalone'
    assert have['br-tun']['row']['fail_mode'] == 'secure'
    assert {'eth1', 'tep0'} <= set(have['br-phy']['ports']), 'br-phy holds the transport NIC and tep0'


def test_tep0_has_its_address(hypervisor, state):
    link = state['tep0']
    have = ['%s/%s' % (a['local'], a['prefixlen']) for a in link['addr_info'] if a['family'] == 'inet']
    assert have == [hypervisor.vars['overlay_tep_address']]
    assert 'UP' in link['flags']


def test_one_tunnel_per_other_endpoint(hypervisor, state):
    """Exactly one tunnel to each other hypervisor, and to each other endpoint (gateways, service nodes)."""
    encapsulation = hypervisor.vars['overlay_encapsulation']
    local_ip = address(hypervisor.vars['overlay_tep_address'])
    groups = hypervisor.vars['groups']
    tep_groups = hypervisor.vars.get('overlay_tep_groups', ['hypervisors', 'gateways', 'service_nodes'])
    endpoints = sorted(set(h for g in tep_groups for h in groups.get(g, [])) - {hypervisor.name})
    tunnel_ifaces = tunnels(state)
    remote_ips = sorted(t['options'].get('remote_ip') for t in tunnel_ifaces)
    for other in groups['hypervisors']:
        if other != hypervisor.name:
            assert remote_ips.count(address(hypervisor.hostvars(other)['overlay_tep_address'])) == 1, other
    assert remote_ips == sorted(address(hypervisor.hostvars(h)['overlay_tep_address']) for h in endpoints)
    assert all(t['type'] == encapsulation for t in tunnel_ifaces), [(t['name'], t['type']) for t in tunnel_ifaces]
    assert all(t['options'].get('local_ip') == local_ip for t in tunnel_ifaces)
    assert all(t['options'].get('key') == 'flow' for t in tunnel_ifaces)


def test_vm_ports_carry_their_vlan_and_the_tenant_mtu(hypervisor, state):
    nets = networks(hypervisor.vars)
    mtu = int(hypervisor.vars['overlay_underlay_mtu']) - OVERHEAD[hypervisor.vars['overlay_encapsulation']]
    my_vms = [vm for vm in hypervisor.vars['groups']['vms']
              if hypervisor.hostvars(vm)['vm_hypervisor'] == hypervisor.name]
    assert my_vms, 'the lab puts at least one VM on every hypervisor'
    ports = state['bridges']['br-int']['ports']
    assert sorted(p for p in ports if p.startswith('vm-')) == sorted('vm-' + vm for vm in my_vms)
    for vm in my_vms:
        port, ifaces = ports['vm-' + vm]
        assert port['tag'] == nets[hypervisor.hostvars(vm)['vm_network']]['vlan'], vm
        assert [i['mtu'] for i in ifaces] == [mtu], vm
    assert ports['patch-tun'][1][0]['options'] == {'peer': 'patch-int'}


def test_overlay_flows_on_br_tun(hypervisor, state):
    flows = state['flows']
    assert flows, 'no flows with cookie %s on br-tun' % COOKIE
    assert all(line.startswith('cookie=%s,' % COOKIE) for line in flows)
    carried = hypervisor.vars.get('overlay_host_networks')
    for name, net in networks(hypervisor.vars).items():
        vni = '0x%x' % net['vni']
        decap = [f for f in flows if 'tun_id=%s ' % vni in f]
        encap = [f for f in flows if 'set_field:%s->tun_id' % vni in f]
        if carried is None or name in carried:
            assert decap and encap, '%s: no flows for network %s (VNI %s)' % (hypervisor.name, name, vni)
        else:
            assert not decap and not encap, '%s carries no %s but has flows for it' % (hypervisor.name, name)


def test_vm_is_in_this_scenarios_lab(vm, pings):
    assert pings(vm)['netns'] == pings(vm)['vm'].lab_netns()


def test_ping_reaches_same_network_only(pair, pings):
    src, dst = pair
    vm = pings(src)['vm']
    same = vm.vars['vm_network'] == vm.hostvars(dst)['vm_network']
    rc = pings(src)['rc'][dst]
    if same:
        assert rc == 0, '%s cannot reach %s on its own network' % (src, dst)
    else:
        # 1: no reply at all (2 would be an error on the VM, not isolation).
        assert rc == 1, '%s -> %s crosses tenant networks (ping rc %d)' % (src, dst, rc)
