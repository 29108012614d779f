# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the rolling upgrade (logic in plugins/plugin_utils/_upgrade.py; documentation in the
YAML file of each filter's name): the plan, the versions the package manager offers, the gateways'
HA priorities, the versions the daemons answer, and the tunnels' health (an OVN cluster's health: filter ovn.py)."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filters


class FilterModule(object):
    def filters(self):
        return lazy_filters('_upgrade', 'upgrade_plan', 'apt_policy', 'upgrade_version', 'upgrade_targets', 'ha_priority',
                            'tunnel_problems', 'version_answer', 'daemon_versions')
