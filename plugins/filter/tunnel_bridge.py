# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about OpenFlow state: br-tun's flows, the flood groups, each host's tunnel bridge, the service
nodes' flows, flow cookies.

The logic is in plugins/plugin_utils/_mesh.py (control node only); each filter's documentation is
the YAML file of its name next to this one.
"""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filters


class FilterModule(object):
    def filters(self):
        return lazy_filters('_mesh', 'tunnel_bridge_flows', 'flood_groups', 'tunnel_bridge_plans', 'service_node_flows', 'flow_cookie')
