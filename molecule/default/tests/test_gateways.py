# -*- coding: utf-8 -*-
"""Testinfra checks of the gateways (L2 to a VLAN, L3 with SNAT and floating addresses, VRRP),
run by ``molecule verify``.

State: keepalived runs on each gateway for the L2 election and in each router's namespace; of the
gateways, exactly one is VRRP master of each instance and holds its virtual addresses; the L2
gateway bridges each network of gateway_l2_networks onto its VLAN of the NIC, and only the active
gateway's bridge forwards; each router's nftables holds the SNAT of its tenant subnet to
external_vip and the 1:1 NAT of each floating address. Function: a VM reaches the physical host
on the VLAN its network is bridged to (and not one bridged to another network), and the external
host through its router; the external host sees a VM's traffic come from external_vip, or from
the VM's floating address, and reaches a floating address (its VM sees the external host's own
address).

Expected values come from the inventory (gateway_l2_networks, gateway_routers, lab_outside
hosts); where the inventory leaves a value to the role, the role's default is named below.
"""

from __future__ import annotations

import ipaddress
import os
import re

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

# molecule/resources (on the verifier's PYTHONPATH, see .config/molecule/config.yml).
from lab_checks import LabHost, address, as_list  # noqa: E402

# The parametrized hosts and what they are asked (one command per host, shared with the other checks).
from conftest import networks  # noqa: E402

# roles/gateway/defaults/main.yml: the address the L2 gateway's VRRP master holds.
L2_VRRP_MARKER = '169.254.100.1/32'
NETPROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir,
                        'playbooks', 'lab', 'files', 'netprobe.py')
# whoami servers: a port of this run's own (a server of an earlier run may still be waiting).
PORT = 20000 + os.getpid() % 1000 * 20
PING = 'ping -c 3 -i 0.2 -W 1 -q'


def _gateways(host):
    return host.groups['gateways']


def _l2_marker(host):
    return address(host.vars.get('gateway_l2_vrrp_marker', L2_VRRP_MARKER))


def _held(addresses):
    """The addresses (without prefix) on any interface."""
    return set(address(cidr) for cidrs in addresses.values() for cidr in cidrs)


def _router_namespace(state, gateway_name, router):
    """The namespace that holds this gateway's own address on the router's external network."""
    mine = address(router['external_addresses'][gateway_name])
    found = [ns for ns in state['namespaces'].values() if mine in _held(ns['addresses'])]
    assert len(found) == 1, '%s: router %s: %d namespaces hold %s' % (gateway_name, router['name'], len(found), mine)
    return found[0]


def _virtual_addresses(router):
    """What the VRRP master of a router holds: external_vip, the floating addresses, the tenant gateway."""
    return set([address(router['external_vip']), address(router['address'])]
               + [address(f['address']) for f in router.get('floating', [])])


def _nat_chains(ruleset):
    """{hook: [rule, ...]} of the nat chains of an `nft list ruleset`."""
    chains, rules = {}, None
    for line in ruleset.splitlines():
        line = line.strip()
        hook = re.match(r'type nat hook (\w+) ', line)
        if hook:
            rules = chains.setdefault(hook.group(1), [])
        elif line.startswith('chain ') or line == '}':
            rules = None
        elif rules is not None and line:
            rules.append(line)
    return chains


def _nat(rules, kind, match):
    """[(matched address, translated address)] of the rules "ip <match> ADDR <kind> to ADDR", in order."""
    return [m.groups() for m in (re.search(r'\bip %s (\S+) %s to (\S+)$' % (match, kind), r) for r in rules) if m]


@pytest.fixture(scope='module')
def any_gateway(inventory):
    """The first gateway (its inventory has the gateways' settings), for the checks of all gateways at once."""
    return LabHost(inventory, AnsibleRunner.get_runner(inventory).get_hosts('gateways')[0])


def test_gateway_is_in_this_scenarios_lab(gateway, lab_state):
    assert lab_state(gateway.name)['netns'] == gateway.lab_netns()


def test_keepalived_runs_for_the_l2_election_and_in_each_router(gateway, lab_state):
    state = lab_state(gateway.name)
    running = set(netns for _pid, netns, argv in state['keepalived'] if argv.split()[0].endswith('keepalived'))
    if gateway.vars.get('gateway_l2_networks'):
        assert state['netns'] in running, '%s: no keepalived in the host (L2 election)' % gateway.name
    for router in gateway.vars.get('gateway_routers', []):
        netns = _router_namespace(state, gateway.name, router)['netns']
        assert netns in running, '%s: no keepalived in the namespace of router %s' % (gateway.name, router['name'])


def test_one_vrrp_master_holds_the_virtual_addresses(any_gateway, lab_state):
    """Of all gateways, exactly one holds the L2 election's address, and for each router exactly
    one holds all its virtual addresses while the others hold none; every gateway keeps its own
    external address."""
    states = dict((name, lab_state(name)) for name in _gateways(any_gateway))
    if any_gateway.vars.get('gateway_l2_networks'):
        holders = [name for name, state in states.items() if _l2_marker(any_gateway) in _held(state['addresses'])]
        assert len(holders) == 1, 'L2 election: %s hold %s' % (holders, _l2_marker(any_gateway))
    for router in any_gateway.vars.get('gateway_routers', []):
        virtual = _virtual_addresses(router)
        held = dict((name, _held(_router_namespace(state, name, router)['addresses'])) for name, state in states.items())
        masters = [name for name in states if virtual <= held[name]]
        assert len(masters) == 1, 'router %s: %s hold all of %s' % (router['name'], masters, sorted(virtual))
        for name in states:
            if name != masters[0]:
                assert not virtual & held[name], '%s (backup) holds %s' % (name, sorted(virtual & held[name]))
            assert address(router['external_addresses'][name]) in held[name]
        gateway_address = _router_namespace(states[masters[0]], masters[0], router)['addresses']
        assert any(router['address'] in cidrs for cidrs in gateway_address.values()), \
            'router %s: the tenant gateway %s is not on its interface' % (router['name'], router['address'])


def test_l2_gateway_bridges_each_network_onto_its_vlan(gateway, lab_state):
    """The NIC is a trunk of the VLANs on a secure userspace bridge; per bridged network a patch
    pair joins that bridge (on the VLAN) and br-int (on the network's local VLAN), and br-tun maps
    the network's VNI to that local VLAN."""
    state = lab_state(gateway.name)
    nic, l2 = gateway.vars['gateway_l2_interface'], gateway.vars['gateway_l2_networks']
    holding = [name for name, bridge in state['bridges'].items() if nic in bridge['ports']]
    assert len(holding) == 1, '%s: %s is on bridges %s' % (gateway.name, nic, holding)
    l2_bridge, br_int = state['bridges'][holding[0]], state['bridges']['br-int']['ports']
    assert (l2_bridge['row']['datapath_type'], l2_bridge['row']['fail_mode']) == ('netdev', 'secure')
    assert sorted(as_list(l2_bridge['ports'][nic][0]['trunks'])) == sorted(int(item['vlan']) for item in l2)
    nets = networks(gateway.vars)
    for item in l2:
        net = nets[item['network']]
        patches = [(ifaces[0]['options'].get('peer'), name) for name, (port, ifaces) in l2_bridge['ports'].items()
                   if port['tag'] == int(item['vlan']) and ifaces[0]['type'] == 'patch']
        assert len(patches) == 1, '%s: VLAN %s has patch ports %s' % (gateway.name, item['vlan'], patches)
        peer, name = patches[0]
        assert peer in br_int, '%s: the peer %s of %s is not on br-int' % (gateway.name, peer, name)
        assert br_int[peer][0]['tag'] == net['vlan'], (peer, br_int[peer][0]['tag'])
        assert br_int[peer][1][0]['options'].get('peer') == name
        decap = [f for f in state['flows'] if 'tun_id=0x%x ' % net['vni'] in f]
        assert decap and all('set_field:%d->vlan_vid' % (0x1000 | net['vlan']) in f for f in decap), decap


def test_only_the_active_l2_gateway_forwards(gateway, lab_state):
    """The VRRP master's L2 bridge forwards (one NORMAL flow); any other's has no flow at all, and
    a secure bridge without flows drops everything."""
    if not gateway.vars.get('gateway_l2_networks'):
        pytest.fail('the lab has an L2 gateway (gateway_l2_networks)')
    state = lab_state(gateway.name)
    if _l2_marker(gateway) in _held(state['addresses']):
        assert len(state['l2_flows']) == 1 and state['l2_flows'][0].endswith('actions=NORMAL'), state['l2_flows']
    else:
        assert state['l2_flows'] == [], '%s is backup but its L2 bridge has flows' % gateway.name


def test_router_nat_rules(gateway, lab_state):
    """Per router: DNAT of each floating address to its fixed address (before routing), SNAT of the
    fixed address to its floating address and then of the tenant subnet to external_vip."""
    state = lab_state(gateway.name)
    for router in gateway.vars.get('gateway_routers', []):
        chains = _nat_chains(_router_namespace(state, gateway.name, router)['ruleset'])
        floating = [(f['fixed'], f['address']) for f in router.get('floating', [])]
        dnat = _nat(chains.get('prerouting', []), 'dnat', 'daddr')
        assert sorted(dnat) == sorted((fip, fixed) for fixed, fip in floating), chains
        subnet = str(ipaddress.ip_interface(router['address']).network)
        # In order: the floating addresses' own SNAT first, or their VMs would leave with external_vip.
        assert _nat(chains.get('postrouting', []), 'snat', 'saddr') == floating + [(subnet, router['external_vip'])], chains


def _outside_vlans(host):
    """{address: VLAN} of the outside hosts' interfaces on VLANs of the physical segment."""
    return dict((address(item['address']), int(item['vlan'])) for name in host.groups.get('lab_outside', [])
                for item in host.hostvars(name).get('lab_vlan_interfaces', []))


def test_vm_reaches_the_outside_hosts_of_its_network(vm, pings):
    """A VM reaches a physical host on the VLAN its network is bridged to (and gets no reply from one
    on a VLAN bridged to another network), and the hosts on its router's external network."""
    result = pings(vm)
    host = result['vm']
    bridged = set((item['network'], int(item['vlan'])) for gw in _gateways(host)
                  for item in host.hostvars(gw).get('gateway_l2_networks', []))
    vlans = _outside_vlans(host)
    assert result['outside'], '%s has no outside host to reach' % vm
    for target, rc in sorted(result['outside'].items()):
        if target in vlans and (host.vars['vm_network'], vlans[target]) not in bridged:
            # 1: no reply at all (2 would be an error on the VM, not isolation).
            assert rc == 1, '%s reaches %s on VLAN %d, which is not bridged to %s (ping rc %d)' % (
                vm, target, vlans[target], host.vars['vm_network'], rc)
        else:
            assert rc == 0, '%s cannot reach %s' % (vm, target)


def _serve(python, port, connections):
    """Start a whoami server in the background (it stops after its connections or 60 s) and wait until it listens."""
    return ('setsid %s %s whoami-server %d 60 %d </dev/null >/dev/null 2>&1 & i=0; '
            'until ss -Hltn "sport = :%d" | grep -q .; do i=$((i+1)); '
            'if [ $i -gt 50 ]; then echo "no whoami server on port %d" >&2; exit 1; fi; sleep 0.1; done'
            % (python, NETPROBE, port, connections, port, port))


@pytest.fixture(scope='module')
def nat_views(inventory, any_gateway):
    """What the hosts on both sides of each router saw of each other (netprobe whoami: the server
    answers with the peer address it saw), one command per host and step:
    the external host starts a server; each VM of the router's network (its floating address's
    VM starts a server too) connects to it; the external host pings and connects to each floating address.
    """
    gw = any_gateway
    out = {}
    for index, router in enumerate(gw.vars.get('gateway_routers', [])):
        port = PORT + 2 * index  # the external host's server; its floating addresses' VMs: port + 1
        external = ipaddress.ip_network(router['external_network'])
        outside = [(name, address(cidr)) for name in gw.groups.get('lab_outside', [])
                   for link in gw.hostvars(name).get('lab_links', []) for cidr in link.get('addresses', [])
                   if ipaddress.ip_address(address(cidr)) in external]
        assert outside, 'router %s: no host on its external network %s' % (router['name'], external)
        ext_name, ext_address = outside[0]
        ext = LabHost(inventory, ext_name)
        python = ext.vars['ansible_python_interpreter']
        vms = [LabHost(inventory, name) for name in gw.groups['vms']
               if gw.hostvars(name)['vm_network'] == router['network']]
        floating = dict((f['fixed'], f['address']) for f in router.get('floating', []))
        ext.sections(_serve(python, port, len(vms)))
        seen = {}
        for vm in vms:
            commands = ['%s %s whoami %s %d 2>&1 || true' % (python, NETPROBE, ext_address, port)]
            if address(vm.vars['vm_address']) in floating:
                commands.insert(0, _serve(python, port + 1, 1))
            seen[vm.name] = vm.sections(*commands)[-1]
        inbound = {}
        for fixed, fip in sorted(floating.items()):
            rc, answer = ext.sections('%s %s >/dev/null 2>&1; echo $?' % (PING, fip),
                                      '%s %s whoami %s %d 2>&1 || true' % (python, NETPROBE, fip, port + 1))
            inbound[fip] = {'fixed': fixed, 'ping': int(rc), 'seen': answer}
        out[router['name']] = {'router': router, 'outside': (ext_name, ext_address), 'outbound': seen,
                               'inbound': inbound, 'vms': dict((vm.name, address(vm.vars['vm_address'])) for vm in vms)}
    assert out, 'the lab has a router (gateway_routers)'
    return out


def test_external_host_sees_snat_to_the_router_address(nat_views):
    """A VM of a routed network reaches the external host, which sees it come from external_vip,
    or from the VM's floating address if it has one."""
    for view in nat_views.values():
        router, (ext_name, _ext_address) = view['router'], view['outside']
        floating = dict((f['fixed'], f['address']) for f in router.get('floating', []))
        for vm, vm_address in sorted(view['vms'].items()):
            expected = floating.get(vm_address, router['external_vip'])
            assert view['outbound'][vm] == '%s saw %s' % (ext_name, expected), vm


def test_external_host_reaches_the_floating_addresses(nat_views, inventory):
    """The external host pings a floating address and connects to it: the VM behind it answers
    (the router itself would answer a ping to the address it holds, not a connection) and sees the
    external host's own address (1:1 NAT, no SNAT on the way in)."""
    runner = AnsibleRunner.get_runner(inventory)
    for view in nat_views.values():
        _ext_name, ext_address = view['outside']
        assert view['inbound'], 'router %s has no floating address' % view['router']['name']
        for fip, seen in sorted(view['inbound'].items()):
            vm = [name for name in runner.get_hosts('vms') if address(runner.get_variables(name)['vm_address']) == seen['fixed']]
            assert seen['ping'] == 0, '%s does not answer pings from outside' % fip
            assert seen['seen'] == '%s saw %s' % (vm[0], ext_address), fip
