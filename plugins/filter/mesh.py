# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about the mesh's tenant networks: the networks, their MTU, the peers and ports that carry them,
and the tunnel endpoint's MAC address.

The logic is in plugins/plugin_utils/_mesh.py (control node only); each filter's documentation is
the YAML file of its name next to this one.
"""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filters


class FilterModule(object):
    def filters(self):
        return lazy_filters('_mesh', 'tenant_mtu', 'mesh_peers', 'mesh_endpoints', 'mesh_check', 'integration_bridge_ports', 'tep_mac',
                            overlay_networks='normalise_networks')
