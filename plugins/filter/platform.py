# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: platform
short_description: Package names, systemd unit names and service configuration files of an OS family
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - The collection's one table of the names that differ between OS families, for
    C(ansible_facts['os_family']). V(Debian) covers Debian and Ubuntu; V(RedHat) covers RHEL and its
    rebuilds, CentOS Stream and Fedora.
  - An OS family that is not in the table is refused with the list of the known ones.
options:
  _input:
    description: The OS family (C(ansible_facts['os_family'])).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Install Open vSwitch under its name on this host
  ansible.builtin.package:
    name: "{{ (ansible_facts['os_family'] | netvirt.overlay.platform).packages.ovs }}"
'''

RETURN = r'''
_value:
  description:
    - C(packages) (lists of package names for V(ovs), V(ovsdb) (the one with C(ovsdb-server)), V(ovn_central),
      V(ovn_host), V(gateway)),
      C(services) (systemd unit names, V(ovs), V(ovsdb_server), V(ovs_vswitchd), V(ovn_central),
      V(ovn_nb_db), V(ovn_sb_db), V(ovn_northd), V(ovn_controller), V(ovn_host), V(keepalived), V(nftables)),
      C(config_files) (the environment files the units read, V(ovs), V(ovn_central), V(ovn_host)) and
      C(config_vars) (the variable of V(ovn_central) and V(ovn_host) that the units pass to C(ovn-ctl)) and
      C(network_config) (V(ifupdown) where the roles write the tunnel endpoint into the host's network
      configuration, V(None) where they do not yet).
  type: dict
'''

import copy

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filter

_platform = lazy_filter('_platform', 'platform')


def platform(os_family):
    # A copy: a play that changes what it got must not change the table for the next host.
    return copy.deepcopy(_platform(os_family))


class FilterModule(object):
    def filters(self):
        return {'platform': platform}
