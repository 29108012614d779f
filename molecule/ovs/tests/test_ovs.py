# -*- coding: utf-8 -*-
"""Testinfra checks of the ovs role on one lab host, run by ``molecule verify``."""

from __future__ import annotations

import os

import pytest

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

# Every host of the scenario's inventory (Molecule passes it with --ansible-inventory).
testinfra_hosts = ['all']

OVS_CTL = '/usr/share/openvswitch/scripts/ovs-ctl'


@pytest.fixture(autouse=True)
def _molecule_inventory(request):
    if not request.config.option.ansible_inventory:
        # Without Molecule's inventory, testinfra would fall back to ansible.cfg's (the main lab).
        raise pytest.UsageError('run these tests with "molecule verify" (it passes --ansible-inventory)')


def _plain(value):
    """ansible-inventory marks values that came from templates as unsafe: {'__ansible_unsafe': value}."""
    return value.get('__ansible_unsafe') if isinstance(value, dict) else value


def test_checks_run_in_this_scenarios_lab(host):
    state_dir = _plain(host.ansible.get_variables()['netvirt_lab_state_dir'])
    assert state_dir == '/run/netvirt-lab/molecule-ovs'
    with open(os.path.join(state_dir, host.backend.host + '.pid')) as handle:
        pid = int(handle.read())
    assert host.check_output('readlink /proc/self/ns/net') == os.readlink('/proc/%d/ns/net' % pid)


def test_daemons_run_under_ovs_ctl(host):
    status = host.check_output('%s status', OVS_CTL)
    assert 'ovsdb-server is running' in status
    assert 'ovs-vswitchd is running' in status
    names = host.check_output('ps -e -o comm=').split()
    assert 'ovsdb-server' in names
    assert 'ovs-vswitchd' in names


def test_system_id_is_the_inventory_name(host):
    system_id = host.check_output('ovs-vsctl get Open_vSwitch . external_ids:system-id')
    assert system_id.strip('"') == host.backend.host


def test_switch_offers_the_userspace_datapath(host):
    assert 'netdev' in host.check_output('ovs-vsctl get Open_vSwitch . datapath_types')
