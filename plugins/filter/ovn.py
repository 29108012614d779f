# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about OVN: the member controllers, the OVSDB remote of a group of servers, a node's certificate,
the ports of a chassis' bridges.

The logic is in plugins/plugin_utils/_ovn.py (control node only); each filter's documentation is
the YAML file of its name next to this one.
"""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.netvirt.overlay.plugins.plugin_utils._ovn import (
    ovn_bridge_ports, ovn_certificate, ovn_members, ovn_remote)


class FilterModule(object):
    def filters(self):
        return {
            'ovn_members': as_filter_errors(ovn_members),
            'ovn_remote': as_filter_errors(ovn_remote),
            'ovn_certificate': as_filter_errors(ovn_certificate),
            'ovn_bridge_ports': as_filter_errors(ovn_bridge_ports),
        }
