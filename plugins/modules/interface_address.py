#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: interface_address
short_description: Addresses, MTU and link state of one Linux interface (for example an OVS internal port)
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
extends_documentation_fragment:
  - netvirt.overlay.attributes
description:
  - Puts the listed IP addresses on an interface, sets its MTU and brings it up, with C(ip) from
    iproute2. Meant for the OVS internal ports that carry a host's own traffic, such as a tunnel
    endpoint C(tep0) or a management port C(mgmt0) (management and tunnel traffic on separate internal ports).
  - OVS creates an internal port's Linux device shortly after the port is added; the module waits
    up to O(wait_timeout) seconds for the device to appear.
  - In check mode an interface that does not exist yet (an internal port that an earlier task would
    create) is not waited for; the changes are predicted from a new interface (down, no address).
  - This is run-time state. To survive a reboot on a real host, also write it to the host's
    network configuration (systemd-networkd, ifupdown, NetworkManager).
options:
  interface:
    description: Interface name, 1 to 15 characters of letters, digits and C(_.:@+-).
    type: str
    required: true
  addresses:
    description:
      - Addresses with prefix length (V(198.18.1.11/24), V(2001:db8::1/64)).
      - Refused before anything changes, with the entry named (V(addresses[1])), are no prefix length, a
        zone index, a multicast, unspecified (V(0.0.0.0/0)), broadcast or (except on C(lo)) loopback
        address, the network or broadcast address of its own subnet (V(198.18.1.0/24); a /31 or /32
        has none), and an address listed twice, also with two prefix lengths.
      - An address the interface already has with another prefix length is replaced.
      - An IPv6 address needs an MTU of at least 1280 (the kernel turns IPv6 off below it).
    type: list
    elements: str
    default: []
  purge:
    description: Remove global addresses of the interface that are not in O(addresses).
    type: bool
    default: false
  mtu:
    description:
      - MTU of the interface, 68-65535 and within what the device accepts (its C(min_mtu)/C(max_mtu)).
      - At least 1280 while the interface keeps or gets an IPv6 address.
    type: int
  link:
    description: Link state to set; V(unchanged) leaves it alone.
    type: str
    choices: [up, down, unchanged]
    default: up
  wait_timeout:
    description: Seconds to wait for the interface to exist, 0-3600.
    type: int
    default: 10
  announce:
    description:
      - When an IPv4 address is added and the interface is up, broadcast three ARP announcements of
        it (gratuitous ARP, RFC 5227), 0.2 s apart, so that neighbours which hold another MAC address
        for it take the new one.
      - Set it on a tunnel endpoint. Open vSwitch's userspace datapath keeps each remote endpoint's MAC
        address in a cache of its own and asks again only once the entry ages out (15 minutes). A
        host replaced behind the same address would get no tunnel traffic from its peers until then.
      - Not sent in check mode, nor when the address was already there (unless O(mac_changed)).
    type: bool
    default: false
    version_added: 0.2.0
  mac_changed:
    description:
      - The interface's MAC address has just changed, for example an Open vSwitch internal port whose
        C(mac) an earlier task set. With O(announce), the IPv4 addresses of O(addresses) it already had
        are announced too, and the task reports C(changed) when they are sent.
    type: bool
    default: false
    version_added: 0.2.0
  tx_checksum_offload:
    description:
      - TX checksum offload of the interface (C(ethtool -K INTERFACE tx on|off)); unset leaves it alone.
      - Set it V(false) on a tunnel endpoint where the offload breaks TCP through Open vSwitch's
        userspace datapath (veth and tap devices).
      - In check mode, an interface that does not exist yet is predicted to need it set.
    type: bool
    version_added: 0.2.0
  arp_ignore:
    description:
      - The interface's C(net.ipv4.conf.INTERFACE.arp_ignore) (written to C(/proc/sys)); unset leaves it alone.
      - Set it V(1) on a NIC that is a port of an Open vSwitch bridge of the userspace datapath. The kernel
        still sees the NIC's packets there, and by default answers ARP requests for any of the host's addresses on
        any interface; it would answer for the tunnel endpoint's address with the NIC's MAC address, and a peer
        that takes that answer sends its tunnels where the userspace datapath does not end them.
      - Run-time state, like the addresses (on a real host also write it to C(/etc/sysctl.d)).
    type: int
    choices: [0, 1, 2, 3, 8]
    version_added: 0.2.0
requirements:
  - iproute2 with JSON output (C(ip -j)), as on every current distribution.
  - ethtool, when O(tx_checksum_offload) is set.
'''

EXAMPLES = r'''
- name: Tunnel endpoint address on tep0 (created by netvirt.overlay.ovs_bridge)
  netvirt.overlay.interface_address:
    interface: tep0
    addresses: [198.18.1.11/24]
    mtu: 1500
    purge: true
'''

RETURN = r'''
commands:
  description:
    - The ip (and ethtool) commands run (or, in check mode, that would run), and the value written to
      C(/proc/sys) for O(arp_ignore) (as C(echo VALUE > FILE)).
    - When a command fails, the commands that ran before it (the task then reports C(changed) if there
      were any).
  returned: always
  type: list
  elements: str
  sample: ["ip address add 198.18.1.11/24 dev tep0", "ip link set dev tep0 up"]
announced:
  description: The IPv4 addresses announced with ARP (O(announce)); in check mode, those that would be.
  returned: always
  type: list
  elements: str
  sample: ["198.18.1.11/24"]
  version_added: 0.2.0
interface:
  description:
    - Addresses, MTU and link state after the run (predicted in check mode), and C(tx_checksum_offload)
      when O(tx_checksum_offload) is set.
  returned: always
  type: dict
  sample: {"addresses": ["198.18.1.11/24"], "mtu": 1500, "up": true}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._interface_address import ADDRESS_ARGUMENT_SPEC, run


def main():
    run(AnsibleModule(argument_spec=ADDRESS_ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == '__main__':
    main()
