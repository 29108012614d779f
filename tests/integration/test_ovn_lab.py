# -*- coding: utf-8 -*-
"""The OVN lab (inventories/lab_ovn, built under its own lab name, hosts made of namespaces): its
deployment, then failure drills, on one lab that the tests take through in order.

1. site.yml deploys controllers, the logical topology, chassis and gateways (Geneve); its
   verification table, a second run and check mode are tested on booted machines
   (test_machine_lab_ovn.py), so here the deployment only sets the lab up for the drills.
2. Drills on the converged lab:
   * stop the Raft leader: the cluster elects another, the northbound accepts writes, VMs keep pinging;
   * an inventory that lost most controllers kicks nobody; a controller whose server does not run
     cannot leave.
3. The same deployment switched to VXLAN: every chassis re-registers, playbooks/lab/verify_ovn.yml passes.
(A dead controller, hypervisor or gateway replaced by a fresh machine, the gateway failover that
the death of the active one causes, a crash of ovs-vswitchd on a chassis (systemd restarts it), a
controller that leaves the clusters and joins again, the fleet's renewal (a hypervisor joins while
another and a gateway leave) and the rotation of node certificates and of the CAs are drilled on
booted machines, test_machine_lab_ovn.py.)
"""

from __future__ import annotations

import datetime
import json
import os
import re
import time

import pytest

from conftest import (DEPLOY, OVN_CONTROLLERS, OVN_NB, OVN_SB, OVN_SSL, OVN_TABLE, ROOT, Playbook, changed_hosts,
                      changed_tasks, edited_inventory, host_states, in_lab_host, lab_fixtures, ovn_ctl_as, ping_result,
                      pki_files, results, start_ping, state_differences, wait_for)
from conftest import VERIFY_OVN as VERIFY


LAB = 'it-ovn-lab'
STATE = '/run/netvirt-lab/%s' % LAB
EXTRA = {'netvirt_lab_name': LAB, 'netvirt_lab_state_dir': STATE}
INVENTORY = os.path.join(ROOT, 'inventories', 'lab_ovn')


def sh(host, argv, check=True, timeout=60):
    return in_lab_host(STATE, host, argv, check=check, timeout=timeout)


def cluster_status(host, db, check=False):
    return sh(host, ['ovn-appctl', '-t', '/var/run/ovn/ovn%s_db.ctl' % {'Northbound': 'nb', 'Southbound': 'sb'}[db],
                     'cluster/status', 'OVN_%s' % db], check=check).stdout


def role(host, db):
    found = re.search(r'Role: (\w+)', cluster_status(host, db))
    return found.group(1) if found else None


def servers(host, db):
    """The addresses of the servers that the cluster/status of ``host`` lists for a database."""
    return sorted(re.findall(r'\([0-9a-f]{4} at ssl:([0-9.]+):\d+\)', cluster_status(host, db, check=True)))


def active_gateway(via):
    out = sh(via, ['ovn-sbctl', '--db=' + OVN_SB] + OVN_SSL + ['show']).stdout
    for block in re.split(r'\n(?=Chassis )', out):
        if 'cr-lr0-public' in block:
            return re.match(r'Chassis "?([\w-]+)', block.strip()).group(1)
    return None


ovn_lab, deployed = lab_fixtures('ovn_lab', INVENTORY, EXTRA, ('ctl1', '/var/lib/ovn/ovnnb_db.db'))


def test_site_deploys_the_logical_topology(ovn_lab):
    # The deployment's verification table, a second run and check mode on the converged hosts are
    # test_machine_lab_ovn.py's, on booted machines with the same inventory; this lab is for the drills.
    first = ovn_lab.run(DEPLOY, extra_vars=EXTRA)
    topology = results(first, 'Logical topology')
    assert len(topology) == 1 and not list(topology.values())[0].get('failed')
    assert topology['ctl1']['changed'] and topology['ctl1']['changes'], topology


def test_no_private_key_in_the_output(deployed):
    """A node key that must be placed again never shows in the output, in check mode with --diff
    or in the real run with --diff -v (nor in the recorded task results)."""
    key = sh('hv1', ['cat', '/etc/ovn/ovn-privkey.pem']).stdout
    body = [line for line in key.splitlines() if line and not line.startswith('-----')]
    assert 'PRIVATE KEY' in key and body
    # Another valid PEM file in place of the key: copy would show the difference in its diff.
    sh('hv1', ['cp', '/etc/ovn/ovn-cert.pem', '/etc/ovn/ovn-privkey.pem'])
    try:
        check = deployed.run(DEPLOY, extra_vars=EXTRA, limit='hv1', check=True, diff=True, verbose=True)
        check_output = deployed.last_output
    finally:
        real = deployed.run(DEPLOY, extra_vars=EXTRA, limit='hv1', diff=True, verbose=True)
    assert results(check, 'Private key on the node')['hv1']['changed']
    assert results(real, 'Private key on the node')['hv1']['changed']
    assert sh('hv1', ['cat', '/etc/ovn/ovn-privkey.pem']).stdout == key
    for label, text in (('check mode', check_output + json.dumps(check)), ('real run', deployed.last_output + json.dumps(real))):
        assert 'PRIVATE KEY' not in text, '%s printed a private key' % label
        assert not [line for line in body if line in text], '%s printed part of the private key' % label


# The PKI tasks (controller role, certificate.yml), on the control node and on each node.
PKI_TASKS = ('The PKI has a home on the control node (overlay_ovn_pki_dir; site.yml\'s preflight explains)',
             'Directories of the PKI on the Ansible controller', 'Certificate authority',
             'Lifetime of the node certificates the CAs sign', 'CA certificates the southbound database trusts',
             'Private key on the node', 'Certificate and CA certificates on the node')
# The signing tasks are included only for the nodes that need a certificate signed.
SIGN_INCLUDE = 'Sign a key and certificate for this node on the control node (none yet, due, or not of the new CA)'
OVN_NODES = ('ctl1', 'ctl2', 'ctl3', 'hv1', 'hv2', 'hv3', 'gw1', 'gw2')


def test_a_fresh_control_node_with_the_same_pki_dir_signs_nothing(deployed, tmp_path):
    """An AWX job or CI runner starts with a new home directory: with overlay_ovn_pki_dir on storage
    that survives (here the lab's), its run re-signs nothing and changes nothing."""
    pki_dir = STATE + '.pki'
    before = pki_files(pki_dir)
    assert {'ca/controllerca/cacert.pem', 'ca/switchca/cacert.pem', 'nodes/controllers/ctl1-cert.pem',
            'nodes/chassis/hv1-cert.pem'} <= set(before), sorted(before)
    node_files = dict((host, sh(host, ['sha256sum', '/etc/ovn/ovn-privkey.pem', '/etc/ovn/ovn-cert.pem',
                                       '/etc/ovn/cacert.pem']).stdout) for host in OVN_NODES)
    home = tmp_path / 'fresh-home'
    home.mkdir()
    data = deployed.run(DEPLOY, extra_vars=EXTRA, env={'HOME': str(home)})
    for task in PKI_TASKS:
        changed = sorted(host for host, res in results(data, task).items() if res.get('changed'))
        assert not changed, '%s changed on %s from a fresh control node' % (task, changed)
    signing = results(data, SIGN_INCLUDE)
    assert set(signing) == set(OVN_NODES) and all(res.get('skipped') for res in signing.values()), signing
    assert changed_hosts(data) == {}
    assert pki_files(pki_dir) == before, 'the PKI directory changed'
    for host in OVN_NODES:
        assert sh(host, ['sha256sum', '/etc/ovn/ovn-privkey.pem', '/etc/ovn/ovn-cert.pem', '/etc/ovn/cacert.pem']).stdout \
            == node_files[host], '%s: key or certificates changed' % host
    assert not (home / '.local' / 'share' / 'netvirt-overlay').exists(), 'a PKI was made under the fresh HOME'


def test_node_certificates_live_for_the_configured_days(deployed):
    """overlay_ovn_cert_days (365 by default), not the ten years ovs-pki signs for by itself."""
    end = sh('hv1', ['openssl', 'x509', '-in', '/etc/ovn/ovn-cert.pem', '-noout', '-enddate']).stdout
    days = (datetime.datetime.strptime(end.strip().split('=', 1)[1], '%b %d %H:%M:%S %Y %Z')
            - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)).days
    assert 360 <= days <= 365, 'the node certificate of hv1 is valid for %d more days' % days


def test_chassis_certificate_names_the_chassis_and_comes_from_the_switch_ca(deployed):
    """OVN's RBAC finds a chassis' rows by its certificate's common name: exactly the chassis name."""
    for host, issuer in (('hv1', 'switchca'), ('gw1', 'switchca'), ('ctl1', 'controllerca')):
        out = sh(host, ['openssl', 'x509', '-in', '/etc/ovn/ovn-cert.pem', '-noout', '-subject', '-issuer',
                        '-nameopt', 'multiline']).stdout
        assert re.search(r'commonName\s+= %s\n' % host, out), out
        assert re.search(r'organizationalUnitName\s+= %s\n' % issuer, out), out


def test_a_chassis_key_cannot_write_the_northbound_or_another_chassis(deployed):
    """The northbound trusts only the controller CA: hv1's certificate is refused at the handshake.
    In the southbound hv1 has the ovn-controller role: its own chassis row, yes; hv2's, no."""
    nb_write = ovn_ctl_as(sh, 'hv1', 'ovn-nbctl', OVN_NB, ['ls-add', 'intruder'])
    assert nb_write.returncode != 0 and 'unknown ca' in nb_write.stderr, nb_write.stderr
    assert 'intruder' not in sh('ctl1', ['ovn-nbctl', '--db=' + OVN_NB] + OVN_SSL + ['ls-list']).stdout

    own = ovn_ctl_as(sh, 'hv1', 'ovn-sbctl', OVN_SB, ['set', 'chassis', 'hv1', 'external_ids:rbac-probe=1'])
    other = ovn_ctl_as(sh, 'hv1', 'ovn-sbctl', OVN_SB, ['set', 'chassis', 'hv2', 'external_ids:rbac-probe=1'])
    try:
        assert own.returncode == 0, own.stderr
        assert other.returncode != 0 and 'permission error' in other.stderr, other.stderr
        find = ['--bare', '--columns=name', 'find', 'chassis', 'external_ids:rbac-probe=1']
        probes = sh('ctl1', ['ovn-sbctl', '--db=' + OVN_SB] + OVN_SSL + find).stdout.split()
        assert probes == ['hv1']
    finally:
        # Over the network every southbound client has the chassis role (controllers too); hv1 may
        # clean its own row.
        ovn_ctl_as(sh, 'hv1', 'ovn-sbctl', OVN_SB, ['remove', 'chassis', 'hv1', 'external_ids', 'rbac-probe'])


def test_a_certificate_from_another_ca_is_refused(deployed):
    """A key signed by a CA of its own (same names, same tool) reaches neither database."""
    pki = '/etc/ovn/foreign-pki'
    sh('hv1', ['bash', '-c', 'rm -rf {0} && mkdir -p {0} && cd {0} && ovs-pki --dir={0}/ca init '
               '&& ovs-pki --dir={0}/ca -u req+sign hv1 switch'.format(pki)], timeout=120)
    try:
        for tool, db, argv in (('ovn-nbctl', OVN_NB, ['ls-list']), ('ovn-sbctl', OVN_SB, ['list', 'chassis'])):
            out = ovn_ctl_as(sh, 'hv1', tool, db, argv, key=pki + '/hv1-privkey.pem', cert=pki + '/hv1-cert.pem')
            assert out.returncode != 0 and 'unknown ca' in out.stderr, (tool, out.stderr)
        # The same command with hv1's own key reads the southbound: the refusal above was the CA's.
        assert ovn_ctl_as(sh, 'hv1', 'ovn-sbctl', OVN_SB, ['list', 'chassis']).returncode == 0
    finally:
        sh('hv1', ['rm', '-rf', pki])


@pytest.mark.parametrize('port', [6641, 6642, 6643, 6644])
def test_database_servers_speak_only_tls_1_2_or_newer_with_forward_secrecy(deployed, port):
    """Client listeners and Raft ports alike: TLS 1.1 and a TLS 1.2 cipher without forward secrecy
    are refused; TLS 1.2 with ECDHE is accepted (the same client, the same certificate)."""
    def handshake(*options):
        # s_client reads what to send from its input: none, so it ends after the handshake.
        return sh('ctl2', ['bash', '-c', 'timeout 10 openssl s_client "$@" </dev/null', 's_client',
                           '-connect', '%s:%d' % (OVN_CONTROLLERS['ctl1'], port), '-cert', '/etc/ovn/ovn-cert.pem',
                           '-key', '/etc/ovn/ovn-privkey.pem', '-CAfile', '/etc/ovn/cacert.pem'] + list(options), check=False)
    accepted = handshake('-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384')
    assert 'New, TLSv1.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384' in accepted.stdout, accepted.stdout + accepted.stderr
    for options, alert in ((['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], 'alert protocol version'),
                           (['-tls1_2', '-cipher', 'AES256-GCM-SHA384'], 'alert handshake failure')):
        refused = handshake(*options)
        assert 'Cipher is (NONE)' in refused.stdout and alert in refused.stderr, (options, refused.stdout, refused.stderr)


def test_listeners_are_only_those_the_role_sets(deployed):
    """The northbound ignores its Connection table (a row there opens nothing); the southbound's rows
    are the role's: one listener per controller address, with the ovn-controller role."""
    nb = sh('ctl1', ['ovn-nbctl', '--db=' + OVN_NB] + OVN_SSL + ['get-connection']).stdout
    assert nb.strip() == ''
    sh('ctl1', ['ovn-nbctl', '--db=' + OVN_NB] + OVN_SSL + ['set-connection', 'ptcp:6690'])
    try:
        time.sleep(2)
        for host in OVN_CONTROLLERS:
            listening = sh(host, ['ss', '-Htln']).stdout
            assert ':6690 ' not in listening, '%s opened a listener from the northbound Connection table' % host
    finally:
        sh('ctl1', ['ovn-nbctl', '--db=' + OVN_NB] + OVN_SSL + ['del-connection'])
    sb = sh('ctl1', ['ovn-sbctl', '--db=' + OVN_SB] + OVN_SSL + ['get-connection']).stdout.splitlines()
    assert sorted(sb) == sorted('read-write role="ovn-controller" pssl:6642:%s' % a for a in OVN_CONTROLLERS.values())
    for host, address in OVN_CONTROLLERS.items():
        bound = sorted(set(re.findall(r'\s(\S+):664[12]\s', sh(host, ['ss', '-Htln']).stdout)))
        assert bound == [address], '%s listens for clients on %s' % (host, bound)


def test_raft_leader_stops(deployed):
    # Warm up ARP and the gateway's flows.
    for target in ('198.18.100.2', '198.18.101.3', '198.18.200.100'):
        sh('vm1', ['ping', '-c', '3', '-i', '0.2', '-W', '1', target], check=False)
    leader = [h for h in OVN_CONTROLLERS if role(h, 'Northbound') == 'leader']
    assert len(leader) == 1, 'expected one northbound leader'
    leader = leader[0]
    others = [h for h in OVN_CONTROLLERS if h != leader]
    ping = start_ping(STATE, 'vm1', '198.18.101.3', 0.1, count=80)
    time.sleep(1)
    sh(leader, ['/usr/share/ovn/scripts/ovn-ctl', 'stop_nb_ovsdb'])
    sh(leader, ['/usr/share/ovn/scripts/ovn-ctl', 'stop_sb_ovsdb'])
    new_leader, elected_in = wait_for('a new northbound leader', lambda: next(
        (h for h in others if role(h, 'Northbound') == 'leader'), None), 15)
    # The northbound accepts writes through the new leader, and an ovn-northd of the remaining
    # members (on the new southbound leader's host) turns them into southbound datapaths.
    sh(others[0], ['ovn-nbctl', '--db=' + OVN_NB, '--timeout=20'] + OVN_SSL + ['ls-add', 'drill-probe'])

    def probe_datapath():
        return sh(others[0], ['ovn-sbctl', '--db=' + OVN_SB, '--timeout=10'] + OVN_SSL + [
            '--bare', '--columns=_uuid', 'find', 'datapath_binding', 'external_ids:name=drill-probe']).stdout.strip()

    _found, northd_in = wait_for('ovn-northd to translate the new switch', probe_datapath, 30)
    sh(others[0], ['ovn-nbctl', '--db=' + OVN_NB, '--timeout=20'] + OVN_SSL + ['ls-del', 'drill-probe'])
    sent, received, _seqs = ping_result(ping)
    print('\nraft drill: %s stopped, %s elected in %.1fs, a new switch in the southbound after %.1fs; ping %d/%d'
          % (leader, new_leader, elected_in, northd_in, received, sent))
    assert received >= sent - 2, 'VMs lost %d of %d pings while the leader changed' % (sent - received, sent)
    # Bring the member back (the role would do the same) so later drills have three members.
    deployed.run(DEPLOY, extra_vars=EXTRA, limit='controllers')
    assert role(leader, 'Northbound') in ('follower', 'leader')


def test_an_inventory_that_lost_most_controllers_kicks_nobody(deployed, tmp_path):
    """ctl2 and ctl3 missing from the inventory (both alive): the first member would kick them and
    leave a cluster of one. The role refuses, naming them; both clusters keep three members."""
    shrunk = Playbook(edited_inventory(INVENTORY, tmp_path / 'lab_ovn', drop_hosts=('ctl2', 'ctl3')))
    shrunk.run(DEPLOY, extra_vars=EXTRA, limit='controllers', expect_rc=2)
    refused = re.search(r'refusing to kick ([0-9., ]+) \(not in the inventory\)', shrunk.last_output)
    assert refused and sorted(refused.group(1).split(', ')) == ['198.18.0.22', '198.18.0.23'], shrunk.last_output[-3000:]
    for db in ('Northbound', 'Southbound'):
        assert servers('ctl1', db) == sorted(OVN_CONTROLLERS.values()), db


def test_a_controller_whose_server_does_not_run_is_not_forgotten(deployed, tmp_path):
    """controller_state: absent on ctl3 while its northbound server is stopped: it cannot leave, so
    the role fails and keeps its database file, and the cluster still counts it."""
    leaving = Playbook(edited_inventory(INVENTORY, tmp_path / 'lab_ovn', host_vars={'ctl3': {'controller_state': 'absent'}}))
    sh('ctl3', ['/usr/share/ovn/scripts/ovn-ctl', 'stop_nb_ovsdb'])
    try:
        leaving.run(DEPLOY, extra_vars=EXTRA, limit='ctl3', expect_rc=2)
        assert 'OVN_Northbound: /var/lib/ovn/ovnnb_db.db exists but its server does not run' in leaving.last_output
        assert sh('ctl3', ['test', '-e', '/var/lib/ovn/ovnnb_db.db'], check=False).returncode == 0
        assert servers('ctl1', 'Northbound') == sorted(OVN_CONTROLLERS.values())
    finally:
        deployed.run(DEPLOY, extra_vars=EXTRA, limit='controllers')
    assert role('ctl3', 'Northbound') in ('follower', 'leader')


def test_vxlan_encapsulation(deployed):
    """The same deployment with ovn-encap-type vxlan: check mode predicts the change without making
    it, every chassis re-registers, traffic passes."""
    vxlan = dict(EXTRA, overlay_encapsulation='vxlan')
    before = host_states(STATE, OVN_NODES, ['/etc/ovn'])
    check = deployed.run(DEPLOY, extra_vars=vxlan, check=True, diff=True)
    assert not state_differences(before, host_states(STATE, OVN_NODES, ['/etc/ovn'])), 'check mode changed the lab'
    real = deployed.run(DEPLOY, extra_vars=vxlan)
    predicted, done = changed_tasks(check), changed_tasks(real)
    assert predicted == done, 'only predicted: %s; only done: %s' % (sorted(predicted - done), sorted(done - predicted))
    assert ('hv1', 'netvirt.overlay.hypervisor : Chassis settings for ovn-controller') in predicted, sorted(predicted)
    encaps = sh('ctl1', ['ovn-sbctl', '--db=' + OVN_SB] + OVN_SSL + ['--bare', '--columns=type', 'list', 'Encap']).stdout.split()
    assert len(encaps) == 5 and set(encaps) == {'vxlan'}, encaps  # 3 hypervisors, 2 gateways
    table = deployed.verify(VERIFY, vxlan, 'vxlan', OVN_TABLE)
    assert 'FAIL' not in table
    assert '(vxlan, MTU' in table
    assert changed_hosts(deployed.run(DEPLOY, extra_vars=vxlan)) == {}
