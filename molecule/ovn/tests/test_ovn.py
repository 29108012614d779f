# -*- coding: utf-8 -*-
"""Testinfra checks of the OVN lab after converge, run by ``molecule verify``.

Controllers: both Raft clusters have every controller as a member and one leader, the client
listeners are SSL on their ports (a plain tcp client is refused), private keys are 0600 and
ovn-northd runs on each (one active). Chassis (hypervisors and gateways): ovn-controller runs
and is connected, the Open_vSwitch external_ids carry the inventory's chassis settings, br-int
has one tunnel per other chassis, the chassis is registered in the southbound database, VM ports
are bound there to their hypervisor; gateways offer themselves as gateways with their bridge
mapping, and the northbound HA chassis group holds both at their inventory priorities. VMs reach
each other on one logical switch and through the router, and the external host through the
gateway (it has no route to the tenant networks, so a reply means SNAT worked).

Every expected value is worked out here from the inventory (testinfra's view of Molecule's), not
from the roles' filters or defaults. Each host is read with one command (see lab_checks).
"""

from __future__ import annotations

import json
import os
import random
import re

import pytest

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

# molecule/resources (on the verifier's PYTHONPATH, see .config/molecule/config.yml).
from lab_checks import (NETNS, OVERHEAD, OVS_BRIDGES, LabHost, address, as_list, bridges, inventory_of,  # noqa: E402
                        ovsdb_tables, ping_all, ping_results, runner_of)

# Where ovn-ctl (Debian's OVN 23.03) puts the databases' control sockets: the controller role
# starts the databases with ovn-ctl's defaults.
DATABASES = {
    'nb': {'name': 'OVN_Northbound', 'ctl': '/var/run/ovn/ovnnb_db.ctl', 'port': 6641, 'raft_port': 6643},
    'sb': {'name': 'OVN_Southbound', 'ctl': '/var/run/ovn/ovnsb_db.ctl', 'port': 6642, 'raft_port': 6644},
}
SSL_DIR = '/etc/ovn'
SSL_FILES = {'ovn-privkey.pem': '600', 'ovn-cert.pem': '644', 'cacert.pem': '644'}
SSL_CLIENT = '-p %s/ovn-privkey.pem -c %s/ovn-cert.pem -C %s/cacert.pem' % (SSL_DIR, SSL_DIR, SSL_DIR)
# OVN's Geneve header carries an 8-byte option (the logical ports) on top of plain Geneve.
OVN_GENEVE_OPTION = 8
GATEWAY_CMS_OPTION = 'enable-chassis-as-gw'
# Waits for replies (ARP, router MAC bindings, BFD towards the gateways) up to the deadline;
# each probe must then get its replies.
PING = 'ping -c 3 -i 0.2 -W 1 -w 10'
# -M do: DF set, so a frame larger than a hop's MTU is not fragmented but lost.
PING_FULL_SIZE = 'ping -M do -s %d -c 2 -i 0.2 -W 1 -w 10'

CHASSIS_GROUPS = ('hypervisors', 'gateways')
HOST_GROUPS = ('controllers',) + CHASSIS_GROUPS + ('vms', 'external')


def pytest_generate_tests(metafunc):
    runner = runner_of(metafunc.config)
    groups = dict((g, runner.get_hosts(g)) for g in HOST_GROUPS)
    chassis = groups['hypervisors'] + groups['gateways']
    params = {
        'node': [h for g in HOST_GROUPS for h in groups[g]],
        'ovn_node': groups['controllers'] + chassis,
        'controller': groups['controllers'],
        'chassis': chassis,
        'hypervisor': groups['hypervisors'],
        'vm': groups['vms'],
        'db': sorted(DATABASES),
    }
    for name, values in params.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values)
    # From every VM to every other VM (vm_pair), and to the external host too (pair).
    for name, targets in (('vm_pair', groups['vms']), ('pair', groups['vms'] + groups['external'])):
        if name in metafunc.fixturenames:
            pairs = [(src, dst) for src in groups['vms'] for dst in targets if dst != src]
            metafunc.parametrize(name, pairs, ids=['%s->%s' % p for p in pairs])


class Lab(object):
    """The inventory's view of the lab, and each host's state read once (one command per host)."""

    def __init__(self, inventory, runner):
        self.inventory = inventory
        self.hosts = {}
        self.states = {}
        # Group variables of all (the deployment-wide settings) and the groups, as any host sees them.
        self.vars = runner.get_variables(runner.get_hosts('controllers')[0])
        self.groups = self.vars['groups']
        # ICMP identifiers of this run's pings (see ping_all): 100 for each VM, from a random start.
        # The gateway's userspace conntrack (OVS 3.1) SNATs echo requests without rewriting their
        # identifier, so a request whose identifier another VM used towards the same host in the
        # last 30 s gets no reply; and a request that reuses a tuple whose entry has just expired
        # (30 s) gets none until ovs-vswitchd sweeps the entry, several seconds later: a fixed
        # identifier would fail one run started 30-40 s after the last.
        self.icmp_ids = random.randrange(1, 65535 - 100 * len(self.groups['vms']))

    def host(self, name):
        if name not in self.hosts:
            self.hosts[name] = LabHost(self.inventory, name)
        return self.hosts[name]

    def hostvars(self, name):
        return self.host(name).vars

    def group_of(self, name):
        return next(g for g in HOST_GROUPS if name in self.groups.get(g, []))

    def state(self, name):
        if name not in self.states:
            self.states[name] = READERS[self.group_of(name)](self, self.host(name))
        return self.states[name]

    # What the inventory says.
    def controller_address(self, name):
        return self.hostvars(name)['controller_address']

    def tep(self, name):
        return address(self.hostvars(name)['overlay_tep_address'])

    def transport(self):
        return self.vars['overlay_ovn_transport']

    def remotes(self, db):
        """Client remotes of a database: every controller's address over the inventory's transport."""
        return ['%s:%s:%d' % (self.transport(), self.controller_address(c), DATABASES[db]['port'])
                for c in self.groups['controllers']]

    def tenant_mtu(self):
        encapsulation = self.vars['overlay_encapsulation']
        return (int(self.vars['overlay_underlay_mtu']) - OVERHEAD[encapsulation]
                - (OVN_GENEVE_OPTION if encapsulation == 'geneve' else 0))

    def target_address(self, name):
        """A VM's address, or the external host's address on the physical network."""
        host_vars = self.hostvars(name)
        if 'vm_address' in host_vars:
            return address(host_vars['vm_address'])
        return address(host_vars['lab_links'][0]['addresses'][0])

    def databases(self):
        """Southbound and northbound rows, read once from the first controller over the client listeners."""
        if 'databases' not in self.states:
            first = self.host(self.groups['controllers'][0])
            tool = '%s --db=%s ' + SSL_CLIENT + ' --format=json --data=json --timeout=20 '
            sb, nb = first.sections(
                tool % ('ovn-sbctl', ','.join(self.remotes('sb')))
                + '--columns=_uuid,name,hostname,encaps,other_config list Chassis'
                + ' -- --columns=_uuid,type,ip,chassis_name list Encap'
                + ' -- --columns=logical_port,type,chassis list Port_Binding',
                tool % ('ovn-nbctl', ','.join(self.remotes('nb')))
                + '--columns=_uuid,name,ha_chassis list HA_Chassis_Group'
                + ' -- --columns=_uuid,chassis_name,priority list HA_Chassis')
            chassis, encaps, bindings = ovsdb_tables(sb)
            groups, ha_chassis = ovsdb_tables(nb)
            self.states['databases'] = {'chassis': chassis, 'encaps': encaps, 'bindings': bindings,
                                        'ha_groups': groups, 'ha_chassis': ha_chassis}
        return self.states['databases']


def _read_controller(lab, host):
    addr = lab.controller_address(host.name)
    commands = [NETNS]
    for db in sorted(DATABASES):
        ctl, name = DATABASES[db]['ctl'], DATABASES[db]['name']
        commands += ['ovn-appctl -t %s cluster/status %s' % (ctl, name), 'ovn-appctl -t %s ovsdb-server/list-remotes' % ctl]
    probes = []
    for db in sorted(DATABASES):
        port = DATABASES[db]['port']
        # A plain tcp client, and an ssl client with this node's key and the lab's CA.
        probes += ['ovsdb-client --timeout=5 list-dbs tcp:%s:%d >/dev/null 2>&1; echo "%s tcp $?"' % (addr, port, db),
                   'ovsdb-client --timeout=5 %s list-dbs ssl:%s:%d 2>&1 | grep -qx %s; echo "%s ssl $?"'
                   % (SSL_CLIENT, addr, port, DATABASES[db]['name'], db)]
    commands += [' ; '.join(probes), 'stat -c "%%a %%U %%n" %s/*.pem' % SSL_DIR,
                 'ovn-appctl -t ovn-northd status', 'ps -e -o comm=']
    out = host.sections(*commands)
    state = {'netns': out[0], 'cluster': {}, 'remotes': {}, 'probes': {}, 'ssl_files': _ssl_files(out[6]),
             'northd': out[7], 'processes': out[8].split()}
    for index, db in enumerate(sorted(DATABASES)):
        state['cluster'][db] = _cluster_status(out[1 + 2 * index])
        state['remotes'][db] = out[2 + 2 * index].split()
    for line in out[5].splitlines():
        db, kind, rc = line.split()
        state['probes'][(db, kind)] = int(rc)
    return state


def _read_chassis(_lab, host):
    netns, ovsdb, connection, ssl_files, processes = host.sections(
        NETNS, 'ovs-vsctl --format=json --data=json --columns=external_ids list Open_vSwitch -- ' + OVS_BRIDGES,
        'ovn-appctl -t ovn-controller connection-status', 'stat -c "%%a %%U %%n" %s/*.pem' % SSL_DIR,
        'ps -e -o comm=')
    ovs, bridge_rows, port_rows, interface_rows = ovsdb_tables(ovsdb)
    return {'netns': netns, 'external_ids': ovs[0]['external_ids'], 'connection': connection,
            'bridges': bridges(bridge_rows, port_rows, interface_rows), 'ssl_files': _ssl_files(ssl_files),
            'processes': processes.split()}


def _read_vm(lab, host):
    """Pings of every other VM and the external host, full-size pings of every other VM, at once."""
    others = [vm for vm in lab.groups['vms'] if vm != host.name]
    targets = dict((lab.target_address(t), t) for t in others + lab.groups['external'])
    full_size = dict((lab.target_address(t), t) for t in others)
    first_id = lab.icmp_ids + 100 * lab.groups['vms'].index(host.name)
    netns, mtu, pings, full = host.sections(
        # ip, not /sys: a lab host's /sys is the machine's (its network namespace's devices).
        NETNS, 'ip -j link show dev eth0', ping_all(targets, PING, first_id),
        # The payload that fills the tenant MTU: IPv4 header 20 bytes, ICMP header 8.
        ping_all(full_size, PING_FULL_SIZE % (lab.tenant_mtu() - 28)))
    return {'netns': netns, 'mtu': json.loads(mtu)[0]['mtu'],
            'ping': dict((targets[ip], rc) for ip, rc in ping_results(pings).items()),
            'full_size': dict((full_size[ip], rc) for ip, rc in ping_results(full).items())}


def _read_external(lab, host):
    """The external host's route to each VM: there must be none (only the SNAT address talks to it)."""
    routes = ['ip route get %s >/dev/null 2>&1; echo "%s $?"' % (lab.target_address(vm), vm) for vm in lab.groups['vms']]
    netns, output = host.sections(NETNS, ' ; '.join(routes))
    return {'netns': netns, 'route_rc': dict((vm, int(rc)) for vm, rc in (line.split() for line in output.splitlines()))}


READERS = {'controllers': _read_controller, 'hypervisors': _read_chassis, 'gateways': _read_chassis,
           'vms': _read_vm, 'external': _read_external}


def _ssl_files(output):
    """stat's "MODE OWNER PATH" lines: {file name: (mode, owner)}."""
    return dict((os.path.basename(path), (mode, owner)) for mode, owner, path in (line.split() for line in output.splitlines()))


def _cluster_status(text):
    """ovn-appctl cluster/status: the fields that matter, and the servers {id: address}."""
    fields = dict(re.findall(r'^(Server ID|Address|Role|Leader): (\S+)', text, re.M))
    fields.update(re.findall(r'^(Status): (.*\S)', text, re.M))
    fields['servers'] = dict(re.findall(r'^\s+([0-9a-f]+) \([0-9a-f]+ at (\S+?)\)', text, re.M))
    return fields


@pytest.fixture(scope='session')
def lab(request):
    return Lab(inventory_of(request.config), runner_of(request.config))


# Every host of the lab.

def test_checks_run_in_this_scenarios_lab(lab, node):
    """Each host's command ran in the network namespace of the host that this scenario's lab started."""
    assert lab.state(node)['netns'] == lab.host(node).lab_netns()


# Controllers.

def test_raft_cluster_has_every_controller(lab, controller, db):
    status = lab.state(controller)['cluster'][db]
    raft = '%s:%%s:%d' % (lab.transport(), DATABASES[db]['raft_port'])
    assert status.get('Status') == 'cluster member', status
    assert status.get('Address') == raft % lab.controller_address(controller)
    assert sorted(status['servers'].values()) == sorted(raft % lab.controller_address(c) for c in lab.groups['controllers'])


def test_raft_cluster_has_one_leader(lab, db):
    """Every member names the same leader, and that member, alone, says it leads."""
    statuses = dict((c, lab.state(c)['cluster'][db]) for c in lab.groups['controllers'])
    named = set(s['Server ID'] if s.get('Leader') == 'self' else s.get('Leader') for s in statuses.values())
    leaders = [c for c, s in statuses.items() if s.get('Role') == 'leader']
    assert len(leaders) == 1, dict((c, s.get('Role')) for c, s in statuses.items())
    assert named == {statuses[leaders[0]]['Server ID']}, 'members name leaders %s' % sorted(named)


def test_listeners_are_ssl_on_their_ports(lab, controller, db):
    addr = lab.controller_address(controller)
    configured = lab.state(controller)['remotes'][db]
    remotes = [r for r in configured if not r.startswith(('punix:', 'db:'))]
    if db == 'sb' and lab.transport() == 'ssl':
        # The southbound's client listeners are rows of its Connection table (they carry the RBAC role).
        assert remotes == [] and 'db:OVN_Southbound,SB_Global,connections' in configured, configured
    else:
        assert remotes == ['p%s:%d:%s' % (lab.transport(), DATABASES[db]['port'], addr)]
    if db == 'nb':
        assert not [r for r in configured if r.startswith('db:')], 'the northbound reads listeners from its Connection table'
    probes = lab.state(controller)['probes']
    assert probes[(db, 'ssl')] == 0, 'an ssl client with the lab CA does not get %s' % DATABASES[db]['name']
    assert probes[(db, 'tcp')] != 0, 'a plain tcp client gets an answer on port %d' % DATABASES[db]['port']


def test_ovn_northd_runs_on_each_controller(lab, controller):
    state = lab.state(controller)
    assert 'ovn-northd' in state['processes']
    assert state['northd'] in ('Status: active', 'Status: standby'), state['northd']


def test_one_ovn_northd_is_active(lab):
    status = dict((c, lab.state(c)['northd']) for c in lab.groups['controllers'])
    assert list(status.values()).count('Status: active') == 1, status


def test_private_keys_are_private(lab, ovn_node):
    """The key (0600), certificate and CA certificate of every OVN node, root's."""
    files = lab.state(ovn_node)['ssl_files']
    expected = dict(SSL_FILES)
    if ovn_node in lab.groups['controllers']:
        expected['southbound-clients-cacert.pem'] = '644'  # the CAs of the southbound's clients
    assert dict((name, mode) for name, (mode, _owner) in files.items()) == expected
    assert set(owner for _mode, owner in files.values()) == {'root'}


# Chassis (hypervisors and gateways).

def test_ovn_controller_runs_and_is_connected(lab, chassis):
    state = lab.state(chassis)
    assert 'ovn-controller' in state['processes']
    assert state['connection'] == 'connected'


def test_chassis_settings(lab, chassis):
    ids = lab.state(chassis)['external_ids']
    assert ids.get('system-id') == chassis
    assert ids.get('hostname') == chassis
    assert sorted(ids.get('ovn-remote', '').split(',')) == sorted(lab.remotes('sb'))
    assert ids.get('ovn-encap-type') == lab.vars['overlay_encapsulation']
    assert ids.get('ovn-encap-ip') == lab.tep(chassis)
    # No openvswitch kernel module here: the userspace datapath.
    assert ids.get('ovn-bridge-datapath-type') == 'netdev'


def test_gateway_settings(lab, chassis):
    """Gateways offer themselves as gateways and map the physical network; hypervisors do neither."""
    ids = lab.state(chassis)['external_ids']
    if chassis in lab.groups['gateways']:
        gw = lab.hostvars(chassis)
        assert GATEWAY_CMS_OPTION in ids.get('ovn-cms-options', '').split(',')
        assert ids.get('ovn-bridge-mappings') == '%s:%s' % (gw['gateway_ovn_physical_network'], gw['gateway_ovn_bridge'])
        uplink = lab.state(chassis)['bridges'][gw['gateway_ovn_bridge']]
        assert set(gw['gateway_ovn_uplink_interfaces']) <= set(uplink['ports'])
    else:
        assert 'ovn-cms-options' not in ids
        assert 'ovn-bridge-mappings' not in ids


def test_one_tunnel_per_other_chassis(lab, chassis):
    br_int = lab.state(chassis)['bridges']['br-int']
    assert br_int['row']['datapath_type'] == 'netdev'
    assert br_int['row']['fail_mode'] == 'secure'
    tunnels = [i for _port, ifaces in br_int['ports'].values() for i in ifaces if i['type'] not in ('', 'internal', 'patch')]
    others = [c for g in CHASSIS_GROUPS for c in lab.groups[g] if c != chassis]
    assert sorted(t['options'].get('remote_ip') for t in tunnels) == sorted(lab.tep(c) for c in others)
    assert set(t['type'] for t in tunnels) == {lab.vars['overlay_encapsulation']}


def test_vm_ports_bound_to_their_logical_ports(lab, hypervisor):
    my_vms = [vm for vm in lab.groups['vms'] if lab.hostvars(vm)['vm_hypervisor'] == hypervisor]
    ports = lab.state(hypervisor)['bridges']['br-int']['ports']
    assert sorted(p for p in ports if p.startswith('vm-')) == sorted('vm-' + vm for vm in my_vms)
    for vm in my_vms:
        (iface,) = ports['vm-' + vm][1]
        assert iface['external_ids'].get('iface-id') == vm
        # ovn-controller installed the port's flows.
        assert iface['external_ids'].get('ovn-installed') == 'true', vm
        assert iface['mtu'] == lab.tenant_mtu(), vm


def test_chassis_registered_in_the_southbound_database(lab, chassis):
    databases = lab.databases()
    rows = [c for c in databases['chassis'] if c['name'] == chassis]
    assert len(rows) == 1, 'chassis %s is not registered in %s' % (chassis, DATABASES['sb']['name'])
    row = rows[0]
    assert row['hostname'] == chassis
    encaps = [e for e in databases['encaps'] if e['_uuid'] in as_list(row['encaps'])]
    assert [(e['type'], e['ip'], e['chassis_name']) for e in encaps] == [
        (lab.vars['overlay_encapsulation'], lab.tep(chassis), chassis)]
    gateway = chassis in lab.groups['gateways']
    assert (GATEWAY_CMS_OPTION in row['other_config'].get('ovn-cms-options', '').split(',')) == gateway


def test_southbound_has_only_the_inventorys_chassis(lab):
    names = sorted(c['name'] for c in lab.databases()['chassis'])
    assert names == sorted(c for g in CHASSIS_GROUPS for c in lab.groups[g])


def test_vm_port_bound_on_its_hypervisor(lab, vm):
    databases = lab.databases()
    names = dict((c['_uuid'], c['name']) for c in databases['chassis'])
    bound = [names.get(b['chassis']) for b in databases['bindings'] if b['logical_port'] == vm]
    assert bound == [lab.hostvars(vm)['vm_hypervisor']]


def test_ha_chassis_group_has_both_gateways_at_their_priorities(lab):
    databases = lab.databases()
    by_uuid = dict((c['_uuid'], c) for c in databases['ha_chassis'])
    declared = [g['name'] for g in lab.vars['overlay_ovn_topology']['ha_chassis_groups']]
    groups = [g for g in databases['ha_groups'] if g['name'] in declared]
    assert sorted(g['name'] for g in groups) == sorted(declared)
    expected = dict((gw, int(lab.hostvars(gw)['gateway_ovn_priority'])) for gw in lab.groups['gateways'])
    for group in groups:
        members = [by_uuid[u] for u in as_list(group['ha_chassis'])]
        assert dict((m['chassis_name'], m['priority']) for m in members) == expected, group['name']


def test_gateway_port_on_the_highest_priority_gateway(lab):
    """The router's gateway port (chassisredirect) is active on the gateway of the highest priority."""
    databases = lab.databases()
    names = dict((c['_uuid'], c['name']) for c in databases['chassis'])
    best = max(lab.groups['gateways'], key=lambda gw: int(lab.hostvars(gw)['gateway_ovn_priority']))
    redirects = [b for b in databases['bindings'] if b['type'] == 'chassisredirect']
    assert redirects, 'no gateway port in the southbound database'
    assert dict((b['logical_port'], names.get(b['chassis'])) for b in redirects) == dict(
        (b['logical_port'], best) for b in redirects)


# VMs and the external host.

def test_vm_interface_has_the_tenant_mtu(lab, vm):
    assert lab.state(vm)['mtu'] == lab.tenant_mtu()


def test_ping(lab, pair):
    """East-west (one logical switch), routed (two switches, the distributed router) and north-south
    (the external host, through the active gateway)."""
    src, dst = pair
    dst_network = lab.hostvars(dst).get('vm_network')
    kind = 'north-south' if dst_network is None else (
        'east-west' if dst_network == lab.hostvars(src)['vm_network'] else 'routed')
    rc = lab.state(src)['ping'][dst]
    assert rc == 0, '%s %s -> %s: no reply (ping rc %d)' % (kind, src, dst, rc)


def test_full_size_frames_cross_at_the_tenant_mtu(lab, vm_pair):
    src, dst = vm_pair
    rc = lab.state(src)['full_size'][dst]
    assert rc == 0, '%s -> %s: %d-byte frames with DF set get no reply' % (src, dst, lab.tenant_mtu())


def test_external_host_has_no_route_to_the_tenants(lab):
    """So its replies to the VMs' pings went to the router's SNAT address."""
    for external in lab.groups['external']:
        assert all(rc != 0 for rc in lab.state(external)['route_rc'].values()), lab.state(external)['route_rc']
