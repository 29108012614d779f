# -*- coding: utf-8 -*-
"""Testinfra checks of the embedded lab after converge, run by ``molecule verify``.

Every command runs inside a lab host through Molecule's inventory (testinfra's ansible
backend; for the netvirt.overlay.namespace connection it runs each command with ``ansible``),
so the checks see the lab of this scenario, not the main lab. The expected values are worked
out here from the inventory, independently of the role's filters.
"""

from __future__ import annotations

import json
import os

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

BRIDGES = ('br-phy', 'br-int', 'br-tun')
COOKIE = '0x4e56'
# Bytes an encapsulation adds over an IPv4 underlay: outer IP, tunnel header, inner Ethernet.
OVERHEAD = {'gre': 42, 'vxlan': 50, 'geneve': 50}

# One command per hypervisor (each command is one `ansible` run): sections split by MARK.
MARK = '@@@@ next @@@@'
HYPERVISOR_STATE = ' ; '.join([
    'readlink /proc/self/ns/net', 'echo "%s"' % MARK,
    'ovs-vsctl --format=json --data=json --columns=name,datapath_type,fail_mode,ports list Bridge'
    ' -- --columns=_uuid,name,tag,interfaces list Port -- --columns=_uuid,name,type,options,mtu list Interface',
    'echo "%s"' % MARK,
    'ip -j address show dev tep0', 'echo "%s"' % MARK,
    'ovs-ofctl -O OpenFlow13 dump-flows br-tun cookie=%s/-1' % COOKIE,
])


def _inventory(config):
    inventory = config.option.ansible_inventory
    if not inventory:
        # Without Molecule's inventory, testinfra would fall back to ansible.cfg's (the main lab).
        raise pytest.UsageError('run these tests with "molecule verify" (it passes --ansible-inventory)')
    return inventory


def pytest_generate_tests(metafunc):
    runner = AnsibleRunner.get_runner(_inventory(metafunc.config))
    hypervisors = runner.get_hosts('hypervisors')
    vms = runner.get_hosts('vms')
    if 'vm' in metafunc.fixturenames:
        metafunc.parametrize('vm', vms)
    if 'hypervisor' in metafunc.fixturenames:
        metafunc.parametrize('hypervisor', hypervisors, indirect=True, scope='module')
    if 'pair' in metafunc.fixturenames:
        pairs = [(src, dst) for src in vms for dst in vms if src != dst]
        metafunc.parametrize('pair', pairs, ids=['%s->%s' % p for p in pairs])


class LabHost(object):
    """A lab host: testinfra host, its inventory variables, and the inventory's."""

    def __init__(self, inventory, name):
        self.name = name
        self.host = testinfra.get_host('ansible://' + name, ansible_inventory=inventory)
        self.runner = AnsibleRunner.get_runner(inventory)
        self.vars = self.runner.get_variables(name)

    def hostvars(self, name):
        return self.runner.get_variables(name)

    def check_output(self, command):
        return self.host.check_output(command)


@pytest.fixture(scope='session')
def inventory(request):
    return _inventory(request.config)


@pytest.fixture(scope='module')
def hypervisor(request, inventory):
    return LabHost(inventory, request.param)


def _plain(value):
    """ansible-inventory marks values that came from templates as unsafe: {'__ansible_unsafe': value}."""
    return value.get('__ansible_unsafe') if isinstance(value, dict) else value


def _ovsdb_value(value):
    """OVSDB JSON ("uuid"/"set"/"map" wrapped) to plain Python values."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ('uuid', 'set', 'map'):
        kind, data = value
        if kind == 'uuid':
            return data
        if kind == 'set':
            return [_ovsdb_value(v) for v in data]
        return dict((_ovsdb_value(k), _ovsdb_value(v)) for k, v in data)
    return value


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _tables(text):
    """The JSON tables ovs-vsctl printed one after the other, as lists of row dicts."""
    decoder = json.JSONDecoder()
    tables, pos = [], 0
    text = text.strip()
    while pos < len(text):
        table, pos = decoder.raw_decode(text, pos)
        tables.append([dict(zip(table['headings'], map(_ovsdb_value, row))) for row in table['data']])
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tables


@pytest.fixture(scope='module')
def state(hypervisor):
    """What the checks look at on a hypervisor, read with one command."""
    netns, ovsdb, tep0, flows = hypervisor.check_output(HYPERVISOR_STATE).split(MARK)
    bridges, ports, interfaces = _tables(ovsdb)
    ports_by_uuid = dict((p['_uuid'], p) for p in ports)
    ifaces_by_uuid = dict((i['_uuid'], i) for i in interfaces)
    out = {'netns': netns.strip(), 'tep0': json.loads(tep0)[0], 'bridges': {},
           'flows': [line.strip() for line in flows.splitlines() if 'cookie=' in line]}
    for bridge in bridges:
        members = {}
        for uuid in _as_list(bridge['ports']):
            port = ports_by_uuid[uuid]
            members[port['name']] = (port, [ifaces_by_uuid[u] for u in _as_list(port['interfaces'])])
        out['bridges'][bridge['name']] = {'row': bridge, 'ports': members}
    return out


def _lab_netns(name, state_dir):
    """The network namespace of a host of this scenario's lab, as the machine sees it."""
    assert state_dir == '/run/netvirt-lab/molecule-default', 'not the lab of this scenario'
    with open(os.path.join(state_dir, name + '.pid')) as handle:
        return os.readlink('/proc/%d/ns/net' % int(handle.read()))


def _networks(hostvars):
    """Tenant networks by name, each with its VNI and its local VLAN (position when not given)."""
    return dict((net['name'], {'vni': int(net['vni']), 'vlan': int(net.get('vlan', index + 1))})
                for index, net in enumerate(hostvars['overlay_networks']))


def _address(cidr):
    return cidr.split('/')[0]


def test_checks_run_in_this_scenarios_lab(hypervisor, state):
    """The commands run in the network namespace of the host that this scenario's lab started."""
    state_dir = _plain(hypervisor.vars['netvirt_lab_state_dir'])
    assert state['netns'] == _lab_netns(hypervisor.name, state_dir)


def test_bridges_use_the_userspace_datapath(hypervisor, state):
    bridges = state['bridges']
    for name in BRIDGES:
        assert name in bridges, '%s: bridge %s missing' % (hypervisor.name, name)
        assert bridges[name]['row']['datapath_type'] == 'netdev', name
    assert bridges['br-int']['row']['fail_mode'] == 'standalone'
    assert bridges['br-tun']['row']['fail_mode'] == 'secure'
    assert {'eth1', 'tep0'} <= set(bridges['br-phy']['ports']), 'br-phy holds the transport NIC and tep0'


def test_tep0_has_its_address(hypervisor, state):
    link = state['tep0']
    have = ['%s/%s' % (a['local'], a['prefixlen']) for a in link['addr_info'] if a['family'] == 'inet']
    assert have == [hypervisor.vars['overlay_tep_address']]
    assert 'UP' in link['flags']


def test_one_tunnel_per_other_endpoint(hypervisor, state):
    """Exactly one tunnel to each other hypervisor, and to each other endpoint (gateways, service nodes)."""
    encapsulation = hypervisor.vars['overlay_encapsulation']
    local_ip = _address(hypervisor.vars['overlay_tep_address'])
    groups = hypervisor.vars['groups']
    tep_groups = hypervisor.vars.get('overlay_tep_groups', ['hypervisors', 'gateways', 'service_nodes'])
    endpoints = sorted(set(h for g in tep_groups for h in groups.get(g, [])) - {hypervisor.name})
    tunnels = [iface for _port, ifaces in state['bridges']['br-tun']['ports'].values() for iface in ifaces
               if iface['type'] not in ('', 'internal', 'patch')]
    remote_ips = sorted(t['options'].get('remote_ip') for t in tunnels)
    for other in groups['hypervisors']:
        if other != hypervisor.name:
            assert remote_ips.count(_address(hypervisor.hostvars(other)['overlay_tep_address'])) == 1, other
    assert remote_ips == sorted(_address(hypervisor.hostvars(h)['overlay_tep_address']) for h in endpoints)
    assert all(t['type'] == encapsulation for t in tunnels), [(t['name'], t['type']) for t in tunnels]
    assert all(t['options'].get('local_ip') == local_ip for t in tunnels)
    assert all(t['options'].get('key') == 'flow' for t in tunnels)


def test_vm_ports_carry_their_vlan_and_the_tenant_mtu(hypervisor, state):
    networks = _networks(hypervisor.vars)
    mtu = int(hypervisor.vars['overlay_underlay_mtu']) - OVERHEAD[hypervisor.vars['overlay_encapsulation']]
    my_vms = [vm for vm in hypervisor.vars['groups']['vms']
              if hypervisor.hostvars(vm)['vm_hypervisor'] == hypervisor.name]
    assert my_vms, 'the lab puts at least one VM on every hypervisor'
    ports = state['bridges']['br-int']['ports']
    assert sorted(p for p in ports if p.startswith('vm-')) == sorted('vm-' + vm for vm in my_vms)
    for vm in my_vms:
        port, ifaces = ports['vm-' + vm]
        assert port['tag'] == networks[hypervisor.hostvars(vm)['vm_network']]['vlan'], vm
        assert [i['mtu'] for i in ifaces] == [mtu], vm
    assert ports['patch-tun'][1][0]['options'] == {'peer': 'patch-int'}


def test_overlay_flows_on_br_tun(hypervisor, state):
    flows = state['flows']
    assert flows, 'no flows with cookie %s on br-tun' % COOKIE
    assert all(line.startswith('cookie=%s,' % COOKIE) for line in flows)
    carried = hypervisor.vars.get('overlay_host_networks')
    for name, net in _networks(hypervisor.vars).items():
        vni = '0x%x' % net['vni']
        decap = [f for f in flows if 'tun_id=%s ' % vni in f]
        encap = [f for f in flows if 'set_field:%s->tun_id' % vni in f]
        if carried is None or name in carried:
            assert decap and encap, '%s: no flows for network %s (VNI %s)' % (hypervisor.name, name, vni)
        else:
            assert not decap and not encap, '%s carries no %s but has flows for it' % (hypervisor.name, name)


@pytest.fixture(scope='session')
def pings(inventory):
    """By source VM: its network namespace, and {destination VM: ping's exit code}.

    One command per VM, which pings every other VM at once.
    """
    cache = {}

    def results(src):
        if src not in cache:
            vm = LabHost(inventory, src)
            targets = dict((_address(vm.hostvars(dst)['vm_address']), dst)
                           for dst in vm.vars['groups']['vms'] if dst != src)
            script = ('readlink /proc/self/ns/net; for ip in %s; do '
                      '(ping -c 3 -i 0.2 -W 1 -q "$ip" >/dev/null 2>&1; echo "$ip $?") & done; wait'
                      % ' '.join(sorted(targets)))
            lines = vm.check_output(script).splitlines()
            cache[src] = {'netns': lines[0], 'state_dir': _plain(vm.vars['netvirt_lab_state_dir']),
                          'rc': dict((targets[ip], int(rc)) for ip, rc in (line.split() for line in lines[1:]))}
        return cache[src]

    return results


def test_vm_is_in_this_scenarios_lab(vm, pings):
    assert pings(vm)['netns'] == _lab_netns(vm, pings(vm)['state_dir'])


def test_ping_reaches_same_network_only(pair, pings, inventory):
    src, dst = pair
    runner = AnsibleRunner.get_runner(inventory)
    same = runner.get_variables(src)['vm_network'] == runner.get_variables(dst)['vm_network']
    rc = pings(src)['rc'][dst]
    if same:
        assert rc == 0, '%s cannot reach %s on its own network' % (src, dst)
    else:
        # 1: no reply at all (2 would be an error on the VM, not isolation).
        assert rc == 1, '%s -> %s crosses tenant networks (ping rc %d)' % (src, dst, rc)
