# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of package names, systemd unit names and service configuration files per OS
family (Ansible's ``ansible_facts['os_family']``). Every role takes its names from here.

Debian covers Debian and Ubuntu (``os_family`` Debian). RedHat covers RHEL and its rebuilds,
CentOS Stream and Fedora (``os_family`` RedHat); their un-versioned names are Fedora's and
EPEL's; a host that installs versioned builds (``openvswitch3.1``, ``ovn23.03-central`` from the
NFV SIG) names them through the roles' package variables.
"""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import FilterInputError

# The names both families share; each family below adds or replaces its own.
# python3-openvswitch with the OVN packages: the collection's modules talk OVSDB through it
# (netvirt.overlay.ovn_topology runs on a controller).
_SHARED_PACKAGES = {
    'ovn_central': ['ovn-central', 'python3-openvswitch'],
    'ovn_host': ['ovn-host'],
}
_SHARED_SERVICES = {
    'ovsdb_server': 'ovsdb-server',
    'ovs_vswitchd': 'ovs-vswitchd',
    'ovn_northd': 'ovn-northd',
    'ovn_controller': 'ovn-controller',
    'keepalived': 'keepalived',
    'nftables': 'nftables',
}


def _family(packages, services, config_files, config_vars, network_config, starts_installed_services):
    return {
        'packages': dict(_SHARED_PACKAGES, **packages),
        'services': dict(_SHARED_SERVICES, **services),
        'config_files': config_files,
        # The variable of each config file that the units pass to ovn-ctl.
        'config_vars': config_vars,
        # How the roles make host network settings (the tunnel endpoint) survive a reboot.
        'network_config': network_config,
        # Whether installing a package enables and starts its services (what check mode, before
        # the install, predicts for the task that then starts and enables them).
        'starts_installed_services': starts_installed_services,
    }


PLATFORMS = {
    'Debian': _family(
        # ovsdb: the package of ovsdb-server, which also serves OVN's databases (playbooks/upgrade.yml
        # upgrades it on the controllers, where openvswitch-switch is not installed).
        packages={'ovs': ['openvswitch-switch', 'python3-openvswitch'], 'ovsdb': ['openvswitch-common'],
                  'gateway': ['keepalived', 'nftables', 'iproute2']},
        # openvswitch-switch.service is the wrapper that starts the two daemons' units; ovn-host is
        # what a chassis enables and restarts, the wrapper whose restart reaches ovn-controller.
        services={'ovs': 'openvswitch-switch', 'ovn_central': 'ovn-central', 'ovn_nb_db': 'ovn-ovsdb-server-nb',
                  'ovn_sb_db': 'ovn-ovsdb-server-sb', 'ovn_host': 'ovn-host'},
        config_files={'ovs': '/etc/default/openvswitch-switch', 'ovn_central': '/etc/default/ovn-central',
                      'ovn_host': '/etc/default/ovn-host'},
        config_vars={'ovn_central': 'OVN_CTL_OPTS', 'ovn_host': 'OVN_CTL_OPTS'},
        network_config='ifupdown',
        # The packages' maintainer scripts enable and start them (deb-systemd-helper, deb-systemd-invoke).
        starts_installed_services=True),
    'RedHat': _family(
        packages={'ovs': ['openvswitch', 'python3-openvswitch'], 'ovsdb': ['openvswitch'],
                  'gateway': ['keepalived', 'nftables', 'iproute']},
        # One unit runs the northbound and southbound databases and ovn-northd (ovn-ctl start_northd).
        services={'ovs': 'openvswitch', 'ovn_central': 'ovn-northd', 'ovn_nb_db': 'ovn-northd', 'ovn_sb_db': 'ovn-northd',
                  'ovn_host': 'ovn-controller'},
        config_files={'ovs': '/etc/sysconfig/openvswitch', 'ovn_central': '/etc/sysconfig/ovn',
                      'ovn_host': '/etc/sysconfig/ovn'},
        config_vars={'ovn_central': 'OVN_NORTHD_OPTS', 'ovn_host': 'OVN_CONTROLLER_OPTS'},
        # NetworkManager's OVS interfaces are not written by the roles yet: the tunnel endpoint is
        # set at run time only there.
        network_config=None,
        # The distribution's presets leave a newly installed service disabled and stopped.
        starts_installed_services=False),
}


class PlatformError(FilterInputError):
    pass


def platform(os_family):
    """Names for one OS family; an unknown family is refused by name, with the known ones."""
    if os_family not in PLATFORMS:
        raise PlatformError("OS family %r has no entry in the collection's platform table (known: %s); "
                            "set the roles' package and service variables for it"
                            % (os_family, ', '.join(sorted(PLATFORMS))))
    return PLATFORMS[os_family]
