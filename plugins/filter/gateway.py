# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about L2 and L3 gateways: what a gateway host sets up for its networks and routers.

The logic is in plugins/plugin_utils/_gateway.py (control node only); the filter's documentation is
the YAML file of its name next to this one.
"""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filters


class FilterModule(object):
    def filters(self):
        return lazy_filters('_gateway', 'gateway_plan')
