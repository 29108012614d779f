# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import as_filter_errors
from ansible_collections.netvirt.overlay.plugins.module_utils._mesh import (
    integration_bridge_ports, normalise_networks, tenant_mtu, tunnel_bridge_flows)
from ansible_collections.netvirt.overlay.plugins.module_utils._tunnels import port_name

# Name prefix of the tunnels to service nodes (group service-nodes, BFD on them).
SERVICE_NODE_PORT_PREFIX = 'sn'


def mesh_peers(hostvars, hosts, me, encapsulation, all_networks, tep_var='overlay_tep_address',
               networks_var='overlay_host_networks', service_nodes=None, gateways=None):
    """The other tunnel endpoints: [{host, remote_ip, port, networks, kind}] (hosts without a TEP are skipped).

    ``kind`` is service_node for hosts in ``service_nodes``, gateway for hosts in ``gateways``,
    hypervisor otherwise. Tunnels to service nodes are named sn-<hex> (their own tunnel group).
    """
    service_nodes = list(service_nodes or [])
    gateways = list(gateways or [])
    peers, seen = [], {}
    names = [n['name'] for n in all_networks]
    for host in hosts:
        if host == me or host in seen:
            continue
        tep = hostvars[host].get(tep_var)
        if not tep:
            continue
        ip = str(tep).split('/', maxsplit=1)[0]
        if ip in seen.values():
            raise AnsibleFilterError('hosts %s and %s have the same tunnel endpoint %s'
                                     % ([h for h, i in seen.items() if i == ip][0], host, ip))
        seen[host] = ip
        carried = hostvars[host].get(networks_var)
        kind = 'service_node' if host in service_nodes else ('gateway' if host in gateways else 'hypervisor')
        peers.append({'host': host, 'remote_ip': ip, 'kind': kind,
                      'port': port_name(SERVICE_NODE_PORT_PREFIX if kind == 'service_node' else encapsulation, ip),
                      'networks': list(names if carried is None else carried)})
    return peers


class FilterModule(object):
    def filters(self):
        return {
            'overlay_networks': as_filter_errors(normalise_networks),
            'tenant_mtu': as_filter_errors(tenant_mtu),
            'mesh_peers': mesh_peers,
            'tunnel_bridge_flows': as_filter_errors(tunnel_bridge_flows),
            'integration_bridge_ports': as_filter_errors(integration_bridge_ports),
        }
