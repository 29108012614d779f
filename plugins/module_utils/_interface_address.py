# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""interface_address' run: the addresses, MTU and link state of one interface, changed with ip(8).

The module file is its documentation and ``run(module)``; ovs_bridges runs ``converge_interface``
for each item of its ``interfaces`` after its commit (an internal port and its address in one module
run). Every input is checked before the host is read (``check_request``), what only the interface
can tell (its MTU range, IPv6's minimum MTU) before anything is changed; the plan is a list of ip
commands.
"""

from __future__ import annotations

import json
import re
import socket
import time

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, checked_or_fail, integer, ip_interface, unique
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError, check_ifname

ADDRESS_ARGUMENT_SPEC = dict(
    interface=dict(type='str', required=True),
    addresses=dict(type='list', elements='str', default=[]),
    purge=dict(type='bool', default=False),
    mtu=dict(type='int'),
    link=dict(type='str', default='up', choices=['up', 'down', 'unchanged']),
    wait_timeout=dict(type='int', default=10),
    announce=dict(type='bool', default=False),
    mac_changed=dict(type='bool', default=False),
    tx_checksum_offload=dict(type='bool'),
    arp_ignore=dict(type='int', choices=[0, 1, 2, 3, 8]),
)

# Where the kernel keeps an interface's IPv4 settings (a constant so that the unit tests can point it elsewhere).
IPV4_CONF = '/proc/sys/net/ipv4/conf'

IPV6_MIN_MTU = 1280
# ARP announcements (RFC 5227): how many, how far apart.
ANNOUNCE_COUNT = 3
ANNOUNCE_INTERVAL = 0.2


class AddressError(Exception):
    """The interface cannot be converged (after the request was checked): the message, and the
    result fields to fail with (what was done before)."""

    def __init__(self, msg, **fields):
        super(AddressError, self).__init__(msg)
        self.fields = fields


def read_interface(module, name):
    rc, out, _err = module.run_command(['ip', '-d', '-j', 'address', 'show', 'dev', name])
    if rc != 0:
        return None
    data = json.loads(out or '[]')
    if not data:
        return None
    link = data[0]
    addresses = sorted('%s/%s' % (a['local'], a['prefixlen']) for a in link.get('addr_info', [])
                       if a.get('scope') == 'global')
    return {'addresses': addresses, 'mtu': link.get('mtu'), 'up': 'UP' in link.get('flags', []),
            # 0 or absent: the driver sets no limit of its own.
            'mtu_range': (link.get('min_mtu') or 0, link.get('max_mtu') or 0), 'mac': link.get('address')}


def read_tx_checksum_offload(module, ethtool, name):
    """Whether TX checksumming is on (``ethtool -k``); None when the device is not there."""
    rc, out, err = module.run_command([ethtool, '-k', name])
    if rc != 0:
        if 'no such device' in err.lower():
            return None
        raise AddressError("'%s -k %s' failed: %s" % (ethtool, name, err.strip()))
    found = re.search(r'^tx-checksumming:\s+(on|off)', out, re.M)
    if not found:
        raise AddressError("'%s -k %s' printed no tx-checksumming line: %s" % (ethtool, name, out.strip()[:500]))
    return found.group(1) == 'on'


def read_arp_ignore(name):
    """The interface's arp_ignore; None when the device is not there."""
    try:
        with open('%s/%s/arp_ignore' % (IPV4_CONF, name)) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def write_arp_ignore(name, value, done):
    """Write the interface's arp_ignore; ``done``: the commands run before it (for the failure)."""
    try:
        with open('%s/%s/arp_ignore' % (IPV4_CONF, name), 'w') as handle:
            handle.write('%d\n' % value)
    except OSError as exc:
        raise AddressError('cannot set arp_ignore of %s: %s%s' % (name, exc, ' (done before it: %s)' % '; '.join(done) if done else ''),
                           changed=bool(done), commands=done)


def public(state):
    """The interface as returned to the user."""
    return dict((k, v) for k, v in state.items() if k not in ('mtu_range', 'mac')) if state else state


def arp_announcement(mac, address):
    """An ARP announcement (RFC 5227, a gratuitous ARP request: sender and target address both
    ``address``) from ``mac``, as an Ethernet broadcast frame."""
    hw = bytes.fromhex(mac.replace(':', ''))
    ip = socket.inet_aton(address)
    # Ethernet (1), IPv4 (0x0800), address lengths 6 and 4, request (1).
    arp = bytes.fromhex('0001080006040001') + hw + ip + bytes(6) + ip
    return b'\xff' * 6 + hw + b'\x08\x06' + arp


def announce(name, mac, addresses, count=ANNOUNCE_COUNT, interval=ANNOUNCE_INTERVAL):
    """Broadcast ARP announcements of the IPv4 ``addresses`` on interface ``name``. Neighbours
    that hold another MAC address for one of them (a host replaced behind the same address, an
    internal port made again) take the new one; Open vSwitch's userspace datapath keeps a tunnel
    endpoint's MAC address in a cache of its own that would not ask again until the entry ages
    out (15 minutes), and until then sends that endpoint's tunnel traffic to the old address."""
    frames = [arp_announcement(mac, addr.split('/')[0]) for addr in addresses if ':' not in addr]
    if not frames:
        return
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        sock.bind((name, 0))
        for round_ in range(count):
            if round_:
                time.sleep(interval)
            for frame in frames:
                sock.send(frame)
    finally:
        sock.close()


def check_request(p):
    """The addresses, normalised, with every input checked before the host is read or changed."""
    check_ifname(p['interface'], 'interface')
    addresses = [ip_interface(addr, 'addresses[%d]' % index, loopback=p['interface'] == 'lo')
                 for index, addr in enumerate(p['addresses'])]
    # One address once: the same address with two prefix lengths is two kernel entries, one of them wrong.
    unique([addr.split('/')[0] for addr in addresses], 'addresses')
    if p['mtu'] is not None:
        integer(p['mtu'], 'mtu', 68, 65535)
    integer(p['wait_timeout'], 'wait_timeout', 0, 3600)
    return addresses


def check_against(name, current, addresses, purge, mtu):
    """What can only be checked against the interface itself: its MTU range and IPv6's minimum MTU."""
    low, high = current['mtu_range']
    if mtu is not None and ((low and mtu < low) or (high and mtu > high)):
        raise InputError('mtu: %d is outside %d-%d, what %s accepts' % (mtu, max(low, 68), high or 65535, name))
    if mtu is not None and mtu < IPV6_MIN_MTU:
        ipv6 = sorted(set(a for a in addresses + ([] if purge else current['addresses']) if ':' in a))
        if ipv6:
            raise InputError('mtu: %d is below %d, the minimum of IPv6, and %s keeps %s (the kernel turns IPv6 '
                             'off below it and drops the address)' % (mtu, IPV6_MIN_MTU, name, ', '.join(ipv6)))
    elif mtu is None and current['mtu'] is not None and current['mtu'] < IPV6_MIN_MTU:
        ipv6 = [a for a in addresses if ':' in a]
        if ipv6:
            raise InputError('addresses: %s is IPv6 and the MTU of %s is %d; IPv6 needs at least %d (set mtu)'
                             % (', '.join(ipv6), name, current['mtu'], IPV6_MIN_MTU))


def plan(name, current, addresses, purge, mtu, link, tx_checksum_offload=None, ethtool='ethtool'):
    commands, after = [], dict(current, addresses=list(current['addresses']))
    have = set(current['addresses'])
    wanted_ips = set(addr.split('/')[0] for addr in addresses)
    # The same address with another prefix length: replaced, not kept beside the new one.
    for addr in sorted(have - set(addresses)):
        if addr.split('/')[0] in wanted_ips:
            commands.append(['ip', 'address', 'del', addr, 'dev', name])
            after['addresses'].remove(addr)
    for addr in addresses:
        if addr not in have:
            commands.append(['ip', 'address', 'add', addr, 'dev', name])
            after['addresses'].append(addr)
    if purge:
        for addr in sorted(have - set(addresses)):
            if addr in after['addresses']:
                commands.append(['ip', 'address', 'del', addr, 'dev', name])
                after['addresses'].remove(addr)
    if mtu is not None and mtu != current['mtu']:
        commands.insert(0, ['ip', 'link', 'set', 'dev', name, 'mtu', str(mtu)])
        after['mtu'] = mtu
    if link != 'unchanged' and (link == 'up') != current['up']:
        commands.append(['ip', 'link', 'set', 'dev', name, link])
        after['up'] = link == 'up'
    # (Unknown, None, on an interface that check mode predicts: set, as a new device may have it either way.)
    if tx_checksum_offload is not None and current.get('tx_checksum_offload') is not tx_checksum_offload:
        commands.append([ethtool, '-K', name, 'tx', 'on' if tx_checksum_offload else 'off'])
        after['tx_checksum_offload'] = tx_checksum_offload
    after['addresses'] = sorted(after['addresses'])
    return commands, after


def converge_interface(module, p, addresses, mac_changed=False):
    """One interface as ``p`` (interface_address' options) asks, ``addresses`` from check_request:
    the result fields (changed, commands, interface, announced; diff with --diff). AddressError when
    it cannot be done, with the commands done before. ``mac_changed`` adds to p['mac_changed']."""
    mac_changed = mac_changed or p['mac_changed']
    module.get_bin_path('ip', required=True)
    offload = p['tx_checksum_offload']
    ethtool = module.get_bin_path('ethtool', required=True, opt_dirs=['/sbin', '/usr/sbin']) if offload is not None else None

    deadline = time.monotonic() + p['wait_timeout']
    current = read_interface(module, p['interface'])
    if current is None and module.check_mode:
        # Nothing was created in check mode: the device an earlier task would add comes up down and bare.
        current = {'addresses': [], 'mtu': None, 'up': False, 'mtu_range': (0, 0)}
    while current is None and time.monotonic() < deadline:
        time.sleep(0.2)
        current = read_interface(module, p['interface'])
    if current is None:
        raise AddressError("interface '%s' does not exist (waited %ss). For an OVS internal port, "
                           "is ovs-vswitchd running and the port on a bridge?" % (p['interface'], p['wait_timeout']))
    try:
        check_against(p['interface'], current, addresses, p['purge'], p['mtu'])
    except InputError as exc:
        raise AddressError(str(exc))
    if offload is not None:
        current['tx_checksum_offload'] = read_tx_checksum_offload(module, ethtool, p['interface'])
    arp_ignore = p.get('arp_ignore')
    if arp_ignore is not None:
        current['arp_ignore'] = read_arp_ignore(p['interface'])

    commands, after = plan(p['interface'], current, addresses, p['purge'], p['mtu'], p['link'], offload, ethtool)
    # (Not a command: written to /proc, as procps' sysctl may not be installed.)
    set_arp_ignore = arp_ignore is not None and current['arp_ignore'] != arp_ignore
    if set_arp_ignore:
        after['arp_ignore'] = arp_ignore
    if (commands or set_arp_ignore) and not module.check_mode:
        done = []
        for cmd in commands:
            rc, _out, err = module.run_command(cmd)
            if rc != 0:
                # What ran before stays done: say so, and what the interface looks like now.
                raise AddressError("'%s' failed: %s%s" % (' '.join(cmd), err.strip(),
                                                          ' (done before it: %s)' % '; '.join(done) if done else ''),
                                   changed=bool(done), commands=done, interface=public(read_interface(module, p['interface'])))
            done.append(' '.join(cmd))
        # After the commands, so that a failure reports every change made before it.
        if set_arp_ignore:
            write_arp_ignore(p['interface'], arp_ignore, done)
        after = read_interface(module, p['interface'])
        if offload is not None:
            after['tx_checksum_offload'] = read_tx_checksum_offload(module, ethtool, p['interface'])
        if arp_ignore is not None:
            after['arp_ignore'] = read_arp_ignore(p['interface'])
    # Announced once, when the address is added (or the MAC address behind it has just changed),
    # so that a re-run sends nothing.
    announced = [addr for addr in addresses if ':' not in addr and (mac_changed or addr not in current['addresses'])] \
        if p['announce'] and after['up'] else []
    if announced and not module.check_mode:
        try:
            announce(p['interface'], after['mac'], announced)
        except (OSError, ValueError, AttributeError) as exc:
            module.warn('%s: the ARP announcement of %s was not sent (%s); neighbours that knew another MAC '
                        'address for it keep it until their entry ages out' % (p['interface'], ', '.join(announced), exc))
            announced = []
    reported = [' '.join(c) for c in commands]
    if set_arp_ignore:
        reported.append('echo %d > %s/%s/arp_ignore' % (arp_ignore, IPV4_CONF, p['interface']))
    result = dict(changed=bool(reported) or bool(announced and mac_changed), commands=reported, interface=public(after),
                  announced=announced)
    if module._diff:
        result['diff'] = dict(before=public(current), after=public(after))
    return result


def run(module):
    """The whole module run (exits or fails the module)."""
    addresses = checked_or_fail(module, check_request, (PlanError,))
    try:
        module.exit_json(**converge_interface(module, module.params, addresses))
    except AddressError as exc:
        module.fail_json(msg=str(exc), **exc.fields)
