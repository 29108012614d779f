# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about OVN (logic in plugins/plugin_utils/_ovn.py; documentation in the YAML file of
each filter's name): the member controllers, the OVSDB remote of a group of servers and a server's
listener, the options of the database servers, a node's certificate, the ports of a chassis'
bridges, where the topology schedules gateway ports on a chassis, the servers a Raft cluster lists
and its health (raft_kick_plan, in its own file, reads cluster/status too)."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filters


class FilterModule(object):
    def filters(self):
        return lazy_filters('_ovn', 'ovn_members', 'ovn_remote', 'ovn_listener', 'ovn_certificate', 'ovn_bridge_ports',
                            'ovn_gateway_uses', 'cluster_servers', 'cluster_problems', 'ovn_database_options')
