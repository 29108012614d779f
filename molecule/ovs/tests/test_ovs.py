# -*- coding: utf-8 -*-
"""Testinfra checks of the ovs role on one lab host, run by ``molecule verify``."""

from __future__ import annotations

import os

import pytest

if 'MOLECULE_SCENARIO_NAME' not in os.environ:
    # A bare `pytest` at the top of the checkout collects this file too.
    pytest.skip('checks of a Molecule scenario: run them with "molecule verify"', allow_module_level=True)

# molecule/resources (on the verifier's PYTHONPATH, see .config/molecule/config.yml).
from lab_checks import NETNS, LabHost, inventory_of  # noqa: E402

# Every host of the scenario's inventory (Molecule passes it with --ansible-inventory).
testinfra_hosts = ['all']

OVS_CTL = '/usr/share/openvswitch/scripts/ovs-ctl'


@pytest.fixture(autouse=True)
def _molecule_inventory(request):
    # Without Molecule's inventory, testinfra would fall back to ansible.cfg's (the main lab).
    inventory_of(request.config)


def test_checks_run_in_this_scenarios_lab(host, request):
    lab_host = LabHost(inventory_of(request.config), host.backend.host)
    assert host.check_output(NETNS) == lab_host.lab_netns()


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
