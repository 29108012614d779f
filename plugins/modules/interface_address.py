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
    endpoint C(tep0) or a management port C(mgmt0) (the seed's scenario 5).
  - OVS creates an internal port's Linux device shortly after the port is added; the module waits
    up to O(wait_timeout) seconds for the device to appear.
  - This is run-time state. To survive a reboot on a real host, also write it to the host's
    network configuration (systemd-networkd, ifupdown, NetworkManager).
options:
  interface:
    description: Interface name.
    type: str
    required: true
  addresses:
    description: Addresses with prefix length (V(198.18.1.11/24), V(2001:db8::1/64)).
    type: list
    elements: str
    default: []
  purge:
    description: Remove global addresses of the interface that are not in O(addresses).
    type: bool
    default: false
  mtu:
    description: MTU of the interface.
    type: int
  link:
    description: Link state to set; V(unchanged) leaves it alone.
    type: str
    choices: [up, down, unchanged]
    default: up
  wait_timeout:
    description: Seconds to wait for the interface to exist.
    type: int
    default: 10
requirements:
  - iproute2 with JSON output (C(ip -j)), as on every current distribution.
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
  description: The ip commands run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["ip address add 198.18.1.11/24 dev tep0", "ip link set dev tep0 up"]
interface:
  description: Addresses, MTU and link state after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {"addresses": ["198.18.1.11/24"], "mtu": 1500, "up": true}
'''

import ipaddress
import json
import time

from ansible.module_utils.basic import AnsibleModule


def read_interface(module, name):
    rc, out, _err = module.run_command(['ip', '-j', 'address', 'show', 'dev', name])
    if rc != 0:
        return None
    data = json.loads(out or '[]')
    if not data:
        return None
    link = data[0]
    addresses = sorted('%s/%s' % (a['local'], a['prefixlen']) for a in link.get('addr_info', [])
                       if a.get('scope') == 'global')
    return {'addresses': addresses, 'mtu': link.get('mtu'), 'up': 'UP' in link.get('flags', [])}


def plan(name, current, addresses, purge, mtu, link):
    commands, after = [], dict(current, addresses=list(current['addresses']))
    have = set(current['addresses'])
    for addr in addresses:
        if addr not in have:
            commands.append(['ip', 'address', 'add', addr, 'dev', name])
            after['addresses'].append(addr)
    if purge:
        for addr in sorted(have - set(addresses)):
            commands.append(['ip', 'address', 'del', addr, 'dev', name])
            after['addresses'].remove(addr)
    if mtu is not None and mtu != current['mtu']:
        commands.insert(0, ['ip', 'link', 'set', 'dev', name, 'mtu', str(mtu)])
        after['mtu'] = mtu
    if link != 'unchanged' and (link == 'up') != current['up']:
        commands.append(['ip', 'link', 'set', 'dev', name, link])
        after['up'] = link == 'up'
    after['addresses'] = sorted(after['addresses'])
    return commands, after


def normalise(module, addresses):
    out = []
    for addr in addresses:
        try:
            iface = ipaddress.ip_interface(addr)
        except ValueError:
            module.fail_json(msg="'%s' is not an address with a prefix length, like 198.18.1.11/24" % addr)
        if '/' not in addr:
            module.fail_json(msg="'%s' needs a prefix length, like %s/24" % (addr, addr))
        out.append('%s/%s' % (iface.ip, iface.network.prefixlen))
    if len(set(out)) != len(out):
        module.fail_json(msg='an address is listed twice: %s' % ', '.join(out))
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type='str', required=True),
            addresses=dict(type='list', elements='str', default=[]),
            purge=dict(type='bool', default=False),
            mtu=dict(type='int'),
            link=dict(type='str', default='up', choices=['up', 'down', 'unchanged']),
            wait_timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    p = module.params
    addresses = normalise(module, p['addresses'])
    if p['mtu'] is not None and not 68 <= p['mtu'] <= 65535:
        module.fail_json(msg='mtu %s is outside 68-65535' % p['mtu'])
    module.get_bin_path('ip', required=True)

    deadline = time.monotonic() + max(p['wait_timeout'], 0)
    current = read_interface(module, p['interface'])
    while current is None and time.monotonic() < deadline:
        time.sleep(0.2)
        current = read_interface(module, p['interface'])
    if current is None:
        module.fail_json(msg="interface '%s' does not exist (waited %ss). For an OVS internal port, "
                         "is ovs-vswitchd running and the port on a bridge?" % (p['interface'], p['wait_timeout']))

    commands, after = plan(p['interface'], current, addresses, p['purge'], p['mtu'], p['link'])
    if commands and not module.check_mode:
        for cmd in commands:
            rc, _out, err = module.run_command(cmd)
            if rc != 0:
                module.fail_json(msg="'%s' failed: %s" % (' '.join(cmd), err.strip()),
                                 commands=[' '.join(c) for c in commands])
        after = read_interface(module, p['interface'])
    result = dict(changed=bool(commands), commands=[' '.join(c) for c in commands], interface=after)
    if module._diff:
        result['diff'] = dict(before=current, after=after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
