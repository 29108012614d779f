# -*- coding: utf-8 -*-
"""The OVN main job as a test: the lab of inventories/lab_ovn (under its own lab name) is built,
site.yml deploys controllers, the logical topology, chassis and gateways, verify_ovn.yml passes
over SSL, a second site run changes nothing, and check mode on the converged lab predicts nothing."""

from __future__ import annotations

import os

import pytest

from conftest import OVN_SB, OVN_SSL, ROOT, Playbook, changed_hosts, in_lab_host, results

LAB = 'it-ovn-lab'
EXTRA = {'netvirt_lab_name': LAB, 'netvirt_lab_state_dir': '/run/netvirt-lab/%s' % LAB}


def playbook(name):
    return os.path.join(ROOT, 'playbooks', name)


@pytest.fixture(scope='module')
def ovn_lab():
    pb = Playbook(os.path.join(ROOT, 'inventories', 'lab_ovn'))
    try:
        pb.run(playbook('lab_create.yml'), extra_vars=EXTRA)
        yield pb
    finally:
        pb.run(playbook('lab_destroy.yml'), extra_vars=EXTRA, expect_rc=None)


def test_site_verify_idempotence_and_check_mode(ovn_lab):
    first = ovn_lab.run(playbook('site.yml'), extra_vars=EXTRA)
    topology = results(first, 'Logical topology')
    assert len(topology) == 1 and not list(topology.values())[0].get('failed')

    verify = ovn_lab.run(playbook('verify_ovn.yml'), extra_vars=EXTRA)
    table = results(verify, 'Print the table')['localhost']['msg']
    print('\n' + table)
    assert 'FAIL' not in table
    assert 'southbound listener, plain tcp client' in table

    second = ovn_lab.run(playbook('site.yml'), extra_vars=EXTRA)
    assert changed_hosts(second) == {}

    check = ovn_lab.run(playbook('site.yml'), check=True, diff=True, extra_vars=EXTRA)
    assert changed_hosts(check) == {}
    assert results(check, 'Logical topology')['ctl1']['changes'] == []


def test_vxlan_encapsulation(ovn_lab):
    """The same deployment with ovn-encap-type vxlan: every chassis re-registers, traffic passes."""
    vxlan = dict(EXTRA, overlay_encapsulation='vxlan')
    ovn_lab.run(playbook('site.yml'), extra_vars=vxlan)
    encaps = in_lab_host(EXTRA['netvirt_lab_state_dir'], 'ctl1', ['ovn-sbctl', '--db=' + OVN_SB] + OVN_SSL
                         + ['--bare', '--columns=type', 'list', 'Encap']).stdout.split()
    assert len(encaps) == 5 and set(encaps) == {'vxlan'}, encaps  # 3 hypervisors, 2 gateways
    verify = ovn_lab.run(playbook('verify_ovn.yml'), extra_vars=vxlan)
    table = results(verify, 'Print the table')['localhost']['msg']
    print('\n' + table)
    assert 'FAIL' not in table
    assert '(vxlan, MTU' in table
    assert changed_hosts(ovn_lab.run(playbook('site.yml'), extra_vars=vxlan)) == {}
