# -*- coding: utf-8 -*-
# The platform table: RHEL cannot run here, so its names are checked against what the distributions
# ship, and both families must name every package set and unit the roles ask for.
from __future__ import annotations

import glob
import os
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.filter.platform import platform
from ansible_collections.netvirt.overlay.plugins.plugin_utils._platform import PLATFORMS

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles')


def test_both_families_name_the_same_things():
    debian, redhat = PLATFORMS['Debian'], PLATFORMS['RedHat']
    for part in ('packages', 'services', 'config_files'):
        assert set(debian[part]) == set(redhat[part]), part
    for family in (debian, redhat):
        assert all(isinstance(v, list) and v and all(isinstance(n, str) and n for n in v)
                   for v in family['packages'].values())
        assert all(isinstance(v, str) and v and not v.endswith('.service') for v in family['services'].values())
        assert all(v.startswith('/etc/') for v in family['config_files'].values())


@pytest.mark.parametrize('family, kind, key, name', [
    # What the distributions ship (Debian 12 / Ubuntu 22.04+; Fedora and EPEL, RHEL 9 NFV SIG un-versioned).
    ('Debian', 'packages', 'ovs', 'openvswitch-switch'),
    ('Debian', 'packages', 'ovn_central', 'ovn-central'),
    ('Debian', 'packages', 'ovn_host', 'ovn-host'),
    ('Debian', 'packages', 'ovsdb', 'openvswitch-common'),
    ('RedHat', 'packages', 'ovsdb', 'openvswitch'),
    ('Debian', 'services', 'ovs', 'openvswitch-switch'),
    ('Debian', 'services', 'ovs_vswitchd', 'ovs-vswitchd'),
    ('Debian', 'services', 'ovn_nb_db', 'ovn-ovsdb-server-nb'),
    ('Debian', 'services', 'ovn_sb_db', 'ovn-ovsdb-server-sb'),
    ('Debian', 'services', 'ovn_controller', 'ovn-controller'),
    ('Debian', 'config_files', 'ovn_central', '/etc/default/ovn-central'),
    ('RedHat', 'packages', 'ovs', 'openvswitch'),
    ('RedHat', 'packages', 'gateway', 'iproute'),
    ('RedHat', 'services', 'ovs', 'openvswitch'),
    ('RedHat', 'services', 'ovs_vswitchd', 'ovs-vswitchd'),
    ('RedHat', 'services', 'ovn_northd', 'ovn-northd'),
    ('RedHat', 'services', 'ovn_nb_db', 'ovn-northd'),
    ('RedHat', 'services', 'ovn_controller', 'ovn-controller'),
    ('RedHat', 'config_files', 'ovs', '/etc/sysconfig/openvswitch'),
    ('RedHat', 'config_files', 'ovn_host', '/etc/sysconfig/ovn'),
])
def test_names_the_distributions_use(family, kind, key, name):
    value = platform(family)[kind][key]
    assert name in value if isinstance(value, list) else value == name


def test_debian_names_are_the_ones_installed_here():
    # This machine is Debian: the unit files the table names for it exist when the packages are in.
    units = PLATFORMS['Debian']['services']
    for key in ('ovs', 'ovsdb_server', 'ovs_vswitchd', 'ovn_nb_db', 'ovn_sb_db', 'ovn_northd', 'ovn_controller'):
        found = glob.glob('/lib/systemd/system/%s.service' % units[key]) + glob.glob('/usr/lib/systemd/system/%s.service' % units[key])
        if not os.path.exists('/usr/share/ovn') and key.startswith('ovn'):
            pytest.skip('OVN is not installed on this machine')
        assert found, '%s: no unit %s.service on this Debian machine' % (key, units[key])


def test_an_unknown_family_is_refused_by_name():
    with pytest.raises(AnsibleFilterError, match=r"'Solaris'.*known: Debian, RedHat"):
        platform('Solaris')


def test_a_caller_cannot_change_the_table():
    names = platform('Debian')
    names['packages']['ovs'].append('something-else')
    assert platform('Debian')['packages']['ovs'] == ['openvswitch-switch', 'python3-openvswitch']


def test_roles_take_their_names_from_the_table():
    # No role keeps a table of its own (the old ovs_packages_by_family) or hard-codes a unit name
    # the table has.
    text = ''
    for path in glob.glob(os.path.join(ROLES, '*', '*', '*.yml')):
        with open(path) as handle:
            text += handle.read()
    assert 'packages_by_family' not in text.replace('__kerberos_packages_by_family', '')
    assert not re.search(r'name:\s*openvswitch-switch\s*$', text, re.M)


@pytest.mark.parametrize('family, starts', [('Debian', True), ('RedHat', False)])
def test_whether_installing_a_package_starts_its_services(family, starts):
    # Debian's maintainer scripts enable and start what they install; Fedora's and RHEL's presets
    # leave it disabled and stopped. Check mode on a fresh host predicts the start task from this.
    assert platform(family)['starts_installed_services'] is starts
