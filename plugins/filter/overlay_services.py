# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for service nodes and gateways of the static mesh."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.module_utils._gateway import gateway_plan
from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.netvirt.overlay.plugins.module_utils._mesh import (
    MeshError, check_topology, flood_groups, service_node_flows)

KIND_OF_GROUP = (('service_nodes', 'service_node'), ('gateways', 'gateway'), ('hypervisors', 'hypervisor'))


def mesh_check(hostvars, groups, all_networks, tep_var='overlay_tep_address', networks_var='overlay_host_networks'):
    """Validate the whole inventory's endpoints (see check_topology); True or an error."""
    endpoints = []
    for group, kind in KIND_OF_GROUP:
        for host in groups.get(group) or []:
            hv = hostvars[host]
            if not hv.get(tep_var):
                continue
            endpoints.append({'host': host, 'kind': kind, 'networks': hv.get(networks_var)})
    try:
        return check_topology(all_networks, endpoints)
    except MeshError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {
            'mesh_check': mesh_check,
            'service_node_flows': as_filter_errors(service_node_flows),
            'flood_groups': as_filter_errors(flood_groups),
            'gateway_plan': as_filter_errors(gateway_plan),
        }
