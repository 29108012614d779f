# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The numbers and names the collection gives meaning to, each defined once.

Modules and module_utils import them; the control-node code (plugins/plugin_utils) imports them
from here too; roles read the flow cookies through the ``netvirt.overlay.flow_cookie`` filter.
Nothing else writes these values down.
"""

from __future__ import annotations

import hashlib
import ipaddress

# Where the OVSDB modules connect by default (Open vSwitch's own socket), and the OpenFlow version
# ovs_flows speaks by default; ovs_bridges' action plugin reads the host with the same defaults.
DEFAULT_DB = 'unix:/var/run/openvswitch/db.sock'
DEFAULT_OPENFLOW_PROTOCOL = 'OpenFlow14'

# OpenFlow cookies say whose flows are whose on a bridge: each owner replaces or deletes only the
# flows that carry its cookie ('NV' and the next two letters, in hex).
FLOW_COOKIES = {
    'overlay': 0x4e56,     # the flows ovs_flows writes by default: br-tun's and the service nodes' tables
    'learned': 0x4e57,     # the flows br-tun's learn() action writes at run time (MAC behind a tunnel)
    'gateway_l2': 0x4e58,  # the L2 gateway's NORMAL flow on its bridge, there while it is the VRRP master
}

# The tables of a hypervisor's or gateway's br-tun (plugins/plugin_utils/_mesh.py describes the pipeline).
TABLE_CLASSIFY = 0             # where a frame came from: br-int, a tunnel, a service node's tunnel
TABLE_FROM_INTEGRATION = 1     # from br-int: flood or unicast
TABLE_FROM_TUNNEL = 10         # from a tunnel: VNI -> local VLAN
TABLE_LEARN = 11               # learn "this MAC is behind that tunnel", out to br-int
TABLE_FROM_SERVICE_NODE = 12   # from a service node: VNI -> local VLAN, out to br-int, learn nothing
TABLE_LEARNED = 20             # learned unicast (written by TABLE_LEARN at run time)
TABLE_FLOOD = 21               # broadcast/multicast: every endpoint of the network, or its flood group
TABLE_UNKNOWN_UNICAST = 22     # with service-node replication: unknown unicast straight to the endpoints

# Largest tunnel key per encapsulation, the tenant network's VNI: GRE has a 32-bit key, VXLAN and
# Geneve a 24-bit VNI; STT's 64-bit context is used as a 32-bit key by OVS's flow-based tunnels.
KEY_MAX = {'gre': 2 ** 32 - 1, 'vxlan': 2 ** 24 - 1, 'geneve': 2 ** 24 - 1, 'stt': 2 ** 32 - 1}
TUNNEL_TYPES = tuple(KEY_MAX)

# Where distributions put the Python that their packaged bindings (python3-openvswitch,
# python3-libselinux) are built for, the distribution's own first; a module that lacks a binding
# under the interpreter Ansible chose re-runs under the first of these that has it.
SYSTEM_PYTHONS = ('/usr/libexec/platform-python', '/usr/bin/python3', '/usr/bin/python')


def port_name(prefix, remote_ip):
    """The name of a tunnel port towards remote_ip: deterministic, at most 15 characters,
    prefix-<8 hex>. For IPv4 the hex digits are the address itself (gre-c6120a0b is 198.18.10.11),
    so an operator can read it back; IPv6 addresses are hashed. Here, with the constants, because
    the control node's filters name ports too (plugins/plugin_utils/_mesh.py) and import this module
    in every worker process, compiled from source: not _tunnels.py and the OVSDB code behind it."""
    addr = ipaddress.ip_address(remote_ip)
    if addr.version == 4:
        digits = '%08x' % int(addr)
    else:
        digits = hashlib.sha256(addr.packed).hexdigest()[:8]
    return '%s-%s' % (prefix, digits)
