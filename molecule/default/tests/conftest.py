# -*- coding: utf-8 -*-
"""What the checks of the default scenario share (test_default.py, test_service_nodes.py,
test_gateways.py): the parametrized lab hosts, and what each of them is asked.

Each host is asked once per run, with one command (lab_checks.LabHost.sections), and the answer
is kept for every check that looks at it: ``lab_state`` for the tunnel endpoints (hypervisors,
service nodes, gateways), ``pings`` for the VMs. Expected values are worked out in the test files
from the inventory, independently of the roles' filters.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import re
import sys

import pytest

# molecule/resources is on the verifier's PYTHONPATH (see .config/molecule/config.yml); a plain
# `pytest` run, whose test modules skip, finds it here, so that this file always imports.
RESOURCES = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, 'resources')
if not any(os.path.isfile(os.path.join(path, 'lab_checks.py')) for path in sys.path if path):
    sys.path.append(os.path.normpath(RESOURCES))

from lab_checks import (NETNS, OVS_BRIDGES, LabHost, address, bridges, inventory_of, ovsdb_tables,  # noqa: E402
                        ping_all, ping_results, runner_of)


def _flow_cookie(owner):
    """The cookie of one owner's flows, from the collection's one definition
    (plugins/module_utils/_constants.py, which the roles' flow_cookie filter reads), in the hex
    that ovs-ofctl prints. Loaded by path: the verifier's Python has no ansible_collections."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir,
                        'plugins', 'module_utils', '_constants.py')
    spec = importlib.util.spec_from_file_location('netvirt_overlay_constants', path)
    constants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(constants)
    return '0x%x' % constants.FLOW_COOKIES[owner]


# Cookie of the overlay flows on br-tun (the tunnel_bridge role's flows carry it).
COOKIE = _flow_cookie('overlay')
# Fixtures that stand for one lab host each (a LabHost), and the inventory groups they go over.
LAB_HOST_FIXTURES = {
    'hypervisor': ('hypervisors',),
    'service_node': ('service_nodes',),
    'gateway': ('gateways',),
    # The endpoints that hand their floods to the service nodes.
    'sn_client': ('hypervisors', 'gateways'),
}
# Half-seconds a host gives its BFD sessions to come up before it answers (one that was just
# starved of CPU by a busy machine may report a session down for a moment).
BFD_SETTLE = ('i=0; while [ $i -lt 20 ] && ovs-vsctl --format=csv --no-headings --columns=bfd_status'
              ' find Interface bfd:enable=true | grep -vq forwarding=..true; do sleep 0.5; i=$((i+1)); done; ')
# What every tunnel endpoint is asked. The OVSDB tables are lab_checks' (bridges()), then the
# Port and Interface columns that the checks of service nodes and gateways need on top.
ENDPOINT_COMMANDS = (
    NETNS,
    BFD_SETTLE + 'ovs-vsctl --format=json --data=json ' + OVS_BRIDGES
    + ' -- --columns=name,trunks list Port -- --columns=name,bfd,bfd_status list Interface',
    'ip -j address show dev tep0',
    'ovs-ofctl -O OpenFlow13 --names dump-flows br-tun cookie=%s/-1' % COOKIE,
    'ovs-ofctl -O OpenFlow13 --names dump-groups br-tun',
)
# A gateway's network namespaces (its routers), each after a line NETNS_MARK % name.
NETNS_MARK = '@@@@ netns %s @@@@'
NETNS_SPLIT = re.compile(r'^@@@@ netns (\S+) @@@@$', re.M)


def pytest_generate_tests(metafunc):
    runner = runner_of(metafunc.config)
    for name, groups in LAB_HOST_FIXTURES.items():
        if name in metafunc.fixturenames:
            hosts = [host for group in groups for host in runner.get_hosts(group)]
            metafunc.parametrize(name, hosts, indirect=True, scope='module')
    vms = runner.get_hosts('vms')
    if 'vm' in metafunc.fixturenames:
        metafunc.parametrize('vm', vms)
    if 'pair' in metafunc.fixturenames:
        pairs = [(src, dst) for src in vms for dst in vms if src != dst]
        metafunc.parametrize('pair', pairs, ids=['%s->%s' % p for p in pairs])


@pytest.fixture(scope='session')
def inventory(request):
    return inventory_of(request.config)


def _lab_host_fixture(name):
    def lab_host(request, inventory):
        return LabHost(inventory, request.param)
    lab_host.__doc__ = 'A host of %s (the tests go over each).' % ' and '.join(LAB_HOST_FIXTURES[name])
    return pytest.fixture(scope='module', name=name)(lab_host)


hypervisor = _lab_host_fixture('hypervisor')
service_node = _lab_host_fixture('service_node')
gateway = _lab_host_fixture('gateway')
sn_client = _lab_host_fixture('sn_client')


def networks(hostvars):
    """Tenant networks by name, each with its VNI and its local VLAN (position when not given)."""
    return dict((net['name'], {'vni': int(net['vni']), 'vlan': int(net.get('vlan', index + 1))})
                for index, net in enumerate(hostvars['overlay_networks']))


def carried(host, name):
    """The tenant networks a host carries (overlay_host_networks; all of them when not set)."""
    have = host.hostvars(name).get('overlay_host_networks')
    return set(networks(host.vars) if have is None else have)


def tep(host, name):
    """The tunnel endpoint address of a host of the inventory."""
    return address(host.hostvars(name)['overlay_tep_address'])


def tunnels(state, bridge='br-tun'):
    """The tunnel interfaces of a bridge (not internal, patch or system ports)."""
    return [iface for _port, ifaces in state['bridges'][bridge]['ports'].values() for iface in ifaces
            if iface['type'] not in ('', 'internal', 'patch')]


def ip_addresses(ip_json):
    """`ip -j -4 address` output as {interface: ['address/prefix', ...]}."""
    return dict((link['ifname'], ['%s/%s' % (a['local'], a['prefixlen']) for a in link.get('addr_info', [])])
                for link in json.loads(ip_json or '[]'))


def _gateway_commands(host):
    """What a gateway is asked on top: keepalived's processes, the host's addresses, each network
    namespace (its routers) with its addresses and nftables ruleset, and the flows of the bridge
    that holds the L2 gateway's NIC (whatever the role calls that bridge)."""
    commands = [
        'for p in $(pgrep -x keepalived); do echo "$p $(readlink /proc/$p/ns/net) $(tr "\\0" " " < /proc/$p/cmdline)"; done',
        'ip -j -4 address show',
        'for ns in $(ip netns list | cut -d" " -f1); do echo "%s"; ip netns exec "$ns" sh -c'
        ' "readlink /proc/self/ns/net; ip -j -4 address show; nft list ruleset"; done' % (NETNS_MARK % '$ns'),
    ]
    if host.vars.get('gateway_l2_networks'):
        commands.append('ovs-ofctl -O OpenFlow13 dump-flows "$(ovs-vsctl port-to-br %s)"' % host.vars['gateway_l2_interface'])
    return commands


def _namespaces(text):
    """{namespace: {'netns', 'addresses', 'ruleset'}} from the gateway's namespace listing."""
    parts = NETNS_SPLIT.split(text)
    out = {}
    for name, block in zip(parts[1::2], parts[2::2]):
        netns, ip_json, ruleset = (block.strip('\n').split('\n', 2) + ['', ''])[:3]
        out[name] = {'netns': netns.strip(), 'addresses': ip_addresses(ip_json), 'ruleset': ruleset}
    return out


def read_state(host):
    """What the checks look at on a tunnel endpoint, read with one command."""
    gateway_part = host.name in host.groups.get('gateways', [])
    out = host.sections(*(ENDPOINT_COMMANDS + tuple(_gateway_commands(host) if gateway_part else ())))
    netns, ovsdb, tep0, flows, groups = out[:5]
    bridge_rows, port_rows, interface_rows, port_extra, interface_extra = ovsdb_tables(ovsdb)
    for rows, extra in ((port_rows, port_extra), (interface_rows, interface_extra)):
        by_name = dict((row['name'], row) for row in extra)
        for row in rows:
            row.update(by_name[row['name']])
    state = {
        'netns': netns,
        'bridges': bridges(bridge_rows, port_rows, interface_rows),
        'tep0': json.loads(tep0)[0],
        'flows': [line.strip() for line in flows.splitlines() if 'cookie=' in line],
        # ovs-ofctl quotes the port names in groups ("sn-c6120115"); the checks do not.
        'groups': [line.strip().replace('"', '') for line in groups.splitlines() if 'group_id=' in line],
    }
    if gateway_part:
        keepalived, addresses, namespaces = out[5:8]
        state.update(keepalived=[line.split(None, 2) for line in keepalived.splitlines()],
                     addresses=ip_addresses(addresses), namespaces=_namespaces(namespaces),
                     l2_flows=[line.strip() for line in ''.join(out[8:]).splitlines() if 'actions=' in line])
    return state


@pytest.fixture(scope='session')
def lab_state(inventory):
    """lab_state(name): read_state of a tunnel endpoint, asked the first time only."""
    cache = {}

    def state(name):
        if name not in cache:
            cache[name] = read_state(LabHost(inventory, name))
        return cache[name]

    return state


def routers_of(host, network):
    """The routers (gateway_routers) that route a tenant network, as the gateways' inventory has them."""
    seen = {}
    for gw in host.groups.get('gateways', []):
        for router in host.hostvars(gw).get('gateway_routers', []):
            if router['network'] == network:
                seen[router['name']] = router
    return [seen[name] for name in sorted(seen)]


def outside_targets(vm):
    """{address: host} of the hosts outside the overlay (lab_outside) that a VM pings: every
    address on a VLAN of the physical segment, and the addresses on the external network of a
    router of the VM's tenant network (the VM's default route leads there)."""
    targets = {}
    external = [ipaddress.ip_network(r['external_network']) for r in routers_of(vm, vm.vars['vm_network'])]
    for name in vm.groups.get('lab_outside', []):
        outside = vm.hostvars(name)
        for item in outside.get('lab_vlan_interfaces', []):
            targets[address(item['address'])] = name
        for link in outside.get('lab_links', []):
            for cidr in link.get('addresses', []):
                if any(ipaddress.ip_address(address(cidr)) in net for net in external):
                    targets[address(cidr)] = name
    return targets


@pytest.fixture(scope='session')
def pings(inventory):
    """By source VM: the VM, its network namespace, {destination VM: ping's exit code} and
    {outside address: ping's exit code} (outside_targets).

    One command per VM, which pings every other VM and those outside addresses at once.
    """
    cache = {}

    def results(src):
        if src not in cache:
            vm = LabHost(inventory, src)
            targets = dict((address(vm.hostvars(dst)['vm_address']), dst) for dst in vm.groups['vms'] if dst != src)
            outside = outside_targets(vm)
            netns, out = vm.sections(NETNS, ping_all(set(targets) | set(outside)))
            rc = ping_results(out)
            cache[src] = {'vm': vm, 'netns': netns, 'rc': dict((dst, rc[ip]) for ip, dst in targets.items()),
                          'outside': dict((ip, rc[ip]) for ip in outside)}
        return cache[src]

    return results
