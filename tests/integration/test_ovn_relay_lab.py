# -*- coding: utf-8 -*-
"""The OVN lab with southbound relays (inventories/lab_ovn plus inventories/lab_ovn_relay: two relays
in front of the 3-member southbound cluster), under its own lab name, the tests in order:

1. site.yml deploys it, playbooks/lab/verify_ovn.yml passes, a second run changes nothing;
2. chassis traffic really goes through the relays: every chassis' ovn-remote names the relays, the
   relays hold one connection per chassis, the Raft members only the relays';
3. RBAC through a relay: a chassis may write its own row, not another's nor the Connection table,
   and its certificate is refused by the Raft members themselves;
4. relays stop and start: with one relay stopped its chassis move to the other; with both stopped
   every chassis is cut off from the southbound (its flows keep the VMs talking); site.yml starts
   them again and every chassis reconnects.
"""

from __future__ import annotations

import os

import yaml

from conftest import DEPLOY, OVN_TABLE, ROOT, SITE, changed_hosts, in_lab_host, lab_fixtures, wait_for
from conftest import VERIFY_OVN as VERIFY

LAB = 'it-ovn-relay'
STATE = '/run/netvirt-lab/%s' % LAB
EXTRA = {'netvirt_lab_name': LAB, 'netvirt_lab_state_dir': STATE}
INVENTORIES = [os.path.join(ROOT, 'inventories', 'lab_ovn'), os.path.join(ROOT, 'inventories', 'lab_ovn_relay')]


def _addresses(inventory, group, var):
    hosts = yaml.safe_load(open(os.path.join(inventory, 'relays.yml' if group == 'relays' else 'hosts.yml')))
    return dict((name, values[var].split('/')[0]) for name, values in hosts['all']['children'][group]['hosts'].items())


RELAYS = _addresses(INVENTORIES[1], 'relays', 'sb_relay_address')
CONTROLLERS = _addresses(INVENTORIES[0], 'controllers', 'controller_address')
CHASSIS = dict(_addresses(INVENTORIES[0], 'hypervisors', 'lab_mgmt_address'),
               **_addresses(INVENTORIES[0], 'gateways', 'lab_mgmt_address'))
RELAY_REMOTE = ','.join('ssl:%s:6642' % address for address in RELAYS.values())
SSL = ['-p', '/etc/ovn/ovn-privkey.pem', '-c', '/etc/ovn/ovn-cert.pem', '-C', '/etc/ovn/cacert.pem']


def sh(host, argv, check=True, timeout=60):
    return in_lab_host(STATE, host, argv, check=check, timeout=timeout)


def sb_peers(host):
    """The peer addresses of the established TCP connections to port 6642 of a lab host."""
    out = sh(host, ['ss', '-Htn', 'state', 'established', '( sport = :6642 )']).stdout
    return sorted(line.split()[-1].rsplit(':', 1)[0] for line in out.splitlines() if line.strip())


def connection_status(host):
    return sh(host, ['ovn-appctl', '-t', 'ovn-controller', 'connection-status'], check=False).stdout.strip()


def sbctl_as(host, db, argv):
    """ovn-sbctl on host with its own key (a relay is not a cluster leader: --no-leader-only)."""
    return sh(host, ['timeout', '20', 'ovn-sbctl', '--no-leader-only', '--timeout=5', '--db=' + db] + SSL + argv,
              check=False)


relay_lab, deployed = lab_fixtures('relay_lab', INVENTORIES, EXTRA, ('rl1', '/var/run/ovn/ovnsb_relay_db.ctl'))


def test_site_verify_and_idempotence(relay_lab):
    relay_lab.run(DEPLOY, extra_vars=EXTRA)
    table = relay_lab.verify(VERIFY, EXTRA, 'geneve through relays', OVN_TABLE)
    assert 'FAIL' not in table
    assert changed_hosts(relay_lab.run(DEPLOY, extra_vars=EXTRA)) == {}


def test_chassis_traffic_goes_through_the_relays(deployed):
    for host in CHASSIS:
        remote = sh(host, ['ovs-vsctl', '--timeout=5', 'get', 'Open_vSwitch', '.', 'external_ids:ovn-remote']).stdout
        assert remote.strip().strip('"') == RELAY_REMOTE, (host, remote)
        assert connection_status(host) == 'connected', host
    # Each chassis holds one southbound connection, to one of the relays; the members see the relays only.
    on_relays = dict((relay, sb_peers(relay)) for relay in RELAYS)
    chassis_peers = sorted(peer for peers in on_relays.values() for peer in peers if peer in CHASSIS.values())
    assert chassis_peers == sorted(CHASSIS.values()), on_relays
    # Every relay keeps its copy from one member; no chassis is connected to a member.
    on_members = sorted(peer for member in CONTROLLERS for peer in sb_peers(member))
    assert on_members == sorted(RELAYS.values()), on_members


def test_rbac_through_a_relay(deployed):
    """The relay checks the chassis' transaction with the chassis' role and certificate name."""
    relay = 'ssl:%s:6642' % RELAYS['rl1']
    own = sbctl_as('hv1', relay, ['set', 'chassis', 'hv1', 'external_ids:relay-rbac-probe=1'])
    try:
        assert own.returncode == 0, own.stderr
        other = sbctl_as('hv1', relay, ['set', 'chassis', 'hv2', 'external_ids:relay-rbac-probe=1'])
        assert other.returncode != 0 and 'RBAC rules for client \\"hv1\\" role \\"ovn-controller\\"' in other.stderr, \
            other.stderr
        listener = sbctl_as('hv1', relay, ['set-connection', 'ptcp:6642'])
        assert listener.returncode != 0 and 'permission error' in listener.stderr, listener.stderr
        # The write went through the relay to the cluster: the member has it.
        member = 'unix:/var/run/ovn/ovnsb_db.sock'
        probes = sh('ctl1', ['ovn-sbctl', '--no-leader-only', '--db=' + member, '--bare', '--columns=name', 'find',
                             'chassis', 'external_ids:relay-rbac-probe=1']).stdout.split()
        assert probes == ['hv1'], probes
    finally:
        sbctl_as('hv1', relay, ['remove', 'chassis', 'hv1', 'external_ids', 'relay-rbac-probe'])
    # A chassis certificate does not even reach a Raft member: it trusts the controller CA only.
    direct = sbctl_as('hv1', 'ssl:%s:6642' % CONTROLLERS['ctl1'], ['list', 'chassis'])
    assert direct.returncode != 0 and 'unknown ca' in direct.stderr, direct.stderr


def test_relays_stop_and_start(deployed):
    relay_of = dict((address, relay) for relay, address in RELAYS.items())
    ping = sh('vm1', ['ping', '-c', '1', '-W', '2', '198.18.100.2'], check=False)
    assert ping.returncode == 0, ping.stdout
    # One relay stops: its chassis reconnect to the other one.
    sh('rl1', ['/usr/share/ovn/scripts/ovn-ctl', 'stop_sb_relay_ovsdb'])
    _ok, moved = wait_for('every chassis on rl2', lambda: sorted(p for p in sb_peers('rl2') if p in CHASSIS.values())
                          == sorted(CHASSIS.values()) and all(connection_status(h) == 'connected' for h in CHASSIS),
                          60, step=0.5)
    print('\nrl1 stopped: every chassis connected through rl2 after %.1f s' % moved)
    assert [relay_of.get(p) for m in CONTROLLERS for p in sb_peers(m)] == ['rl2']
    # Both stopped: no chassis reaches the southbound (they never talk to the members); the VMs
    # keep talking on the flows ovn-controller installed.
    sh('rl2', ['/usr/share/ovn/scripts/ovn-ctl', 'stop_sb_relay_ovsdb'])
    _ok, cut = wait_for('every chassis cut off', lambda: all(connection_status(h) != 'connected' for h in CHASSIS), 60,
                        step=0.5)
    print('rl2 stopped too: every chassis disconnected after %.1f s' % cut)
    assert not [p for m in CONTROLLERS for p in sb_peers(m)]
    ping = sh('vm1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.100.2'], check=False)
    assert ping.returncode == 0, ping.stdout
    # site.yml starts the relays again (a change), and every chassis reconnects.
    data = deployed.run(SITE, extra_vars=EXTRA, limit='relays')
    assert changed_hosts(data) == {'rl1': 1, 'rl2': 1}, changed_hosts(data)
    _ok, back = wait_for('every chassis connected again', lambda: all(connection_status(h) == 'connected' for h in CHASSIS)
                         and sorted(p for r in RELAYS for p in sb_peers(r) if p in CHASSIS.values())
                         == sorted(CHASSIS.values()), 90, step=0.5)
    print('relays started by site.yml: every chassis connected through them after %.1f s' % back)
