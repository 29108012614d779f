# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of user input shared by the modules, run before a module connects or writes.

Each check returns the normalised value or raises InputError with a message that names the
field, the value and what is allowed, so that modules can pass it to fail_json unchanged.
"""

from __future__ import annotations

import ipaddress
import os
import re

_MAC_RE = re.compile(r'^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$')


def checked_or_fail(module, check, errors=()):
    """``check(module.params)``: the request as the module uses it; the task fails with the message
    of an InputError (or of one of ``errors``) before anything is touched."""
    try:
        return check(module.params)
    except (InputError,) + tuple(errors) as exc:
        module.fail_json(msg=str(exc))
    return None  # not reached: fail_json exits


class InputError(ValueError):
    """The input is wrong; nothing has been touched."""


def integer(value, field, low, high):
    """An int within [low, high] (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError('%s: %r is not a whole number (allowed: %d-%d)' % (field, value, low, high))
    if not low <= value <= high:
        raise InputError('%s: %d is outside %d-%d' % (field, value, low, high))
    return value


def ip_address(value, field, version=None, unicast=True):
    """An IPv4/IPv6 address (no prefix); unicast=True refuses multicast, unspecified, broadcast."""
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise InputError('%s: %r is not an IP address' % (field, value))
    if version and addr.version != version:
        raise InputError('%s: %s is not an IPv%d address' % (field, addr, version))
    if unicast and (addr.is_multicast or addr.is_unspecified or
                    (addr.version == 4 and addr == ipaddress.IPv4Address('255.255.255.255'))):
        raise InputError('%s: %s is not a unicast address' % (field, addr))
    return str(addr)


def unicast_mac(value, field):
    """A unicast Ethernet address, in lower case."""
    if not isinstance(value, str) or not _MAC_RE.match(value):
        raise InputError('%s: %r is not a MAC address (allowed: xx:xx:xx:xx:xx:xx, hex digits)' % (field, value))
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise InputError('%s: %s is a multicast MAC (odd first octet); a port needs a unicast one' % (field, mac))
    if mac == '00:00:00:00:00:00':
        raise InputError('%s: 00:00:00:00:00:00 is not a usable MAC' % field)
    return mac


def unique(values, field):
    """values with no element listed twice (compared as given)."""
    seen = set()
    for value in values:
        key = repr(value)
        if key in seen:
            raise InputError('%s: %r is listed twice' % (field, value))
        seen.add(key)
    return values


def ovsdb_scalar(value, field):
    """A value OVSDB keeps as a string in a map column: str, int, float or bool (as true/false).

    Lists and dicts are refused: str() would store their Python text, which no OVS component reads.
    """
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float, str)):
        return str(value)
    raise InputError('%s: %r is a %s; OVSDB keeps this value as a string, give a string, number or boolean'
                     % (field, value, type(value).__name__))


def ovsdb_map(mapping, field, allow_none=True):
    """A map column's desired value: non-empty string keys, scalar values (None = remove the key
    where allow_none). Returns a new dict with the values as OVSDB strings."""
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise InputError('%s: %r must be a dict of key: value' % (field, mapping))
    out = {}
    for key, value in mapping.items():
        if not isinstance(key, str) or not key.strip():
            raise InputError('%s: the key %r must be a non-empty string' % (field, key))
        if value is None:
            if not allow_none:
                raise InputError('%s: %s has no value' % (field, key))
            out[key] = None
        else:
            out[key] = ovsdb_scalar(value, '%s.%s' % (field, key))
    return out


def number_or_word(value, field, low, high, words=()):
    """A number that OVSDB keeps as a string in a map column (a tunnel's ttl, tos, key...):
    an int, or a string holding one in decimal or 0x hex, within [low, high]; or one of words.

    Returns the string to store, numbers in decimal. Bools are refused: str(True) is 'True'.
    """
    allowed = ' or '.join(['%d-%d' % (low, high)] + ["'%s'" % word for word in words])
    number = value
    if isinstance(value, str):
        text = value.strip()
        if text in words:
            return text
        try:
            number = int(text, 0)
        except ValueError:
            raise InputError('%s: %r is not a whole number (allowed: %s)' % (field, value, allowed))
    if isinstance(number, bool) or not isinstance(number, int):
        raise InputError('%s: %r is not a whole number (allowed: %s)' % (field, value, allowed))
    if not low <= number <= high:
        raise InputError('%s: %d is out of range (allowed: %s)' % (field, number, allowed))
    return str(number)


def readable_file(path, field):
    """A path naming an existing regular file that this process can read (key material, say)."""
    if not isinstance(path, str) or not path.strip():
        raise InputError('%s: %r is not a path' % (field, path))
    if not os.path.exists(path):
        raise InputError('%s: %s does not exist' % (field, path))
    if not os.path.isfile(path):
        raise InputError('%s: %s is not a regular file%s'
                         % (field, path, ' (it is a directory)' if os.path.isdir(path) else ''))
    if not os.access(path, os.R_OK):
        raise InputError('%s: %s is not readable by this user' % (field, path))
    return path


def ip_interface(value, field, loopback=False):
    """A host's address with its prefix length (198.18.1.11/24, 2001:db8::1/64), as 'address/prefix'.

    Refused: no prefix length, a zone index, anything ip_address(unicast=True) refuses, a loopback
    address unless loopback, and the network or broadcast address of its own subnet (they are not
    host addresses; /31, /32, /127 and /128 have none, RFC 3021 and RFC 6164).
    """
    text = str(value).strip()
    if '/' not in text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise InputError('%s: %r is not an address with a prefix length, like 198.18.1.11/24 or 2001:db8::1/64'
                             % (field, value))
        raise InputError('%s: %r has no prefix length (allowed: an address with one, like 198.18.1.11/24 '
                         'or 2001:db8::1/64; /32 or /128 for a single address)' % (field, value))
    if '%' in text:
        raise InputError('%s: %r has a zone index (%%...), which is not part of an interface address'
                         % (field, value))
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise InputError('%s: %r is not an address with a prefix length, like 198.18.1.11/24 or 2001:db8::1/64'
                         % (field, value))
    addr, net = iface.ip, iface.network
    ip_address(str(addr), field)
    shown = '%s/%d' % (addr, net.prefixlen)
    if addr.is_loopback and not loopback:
        raise InputError('%s: %s is a loopback address, which belongs on lo only' % (field, shown))
    if net.num_addresses > 2:
        if addr == net.network_address:
            raise InputError('%s: %s is the network%s address of %s, not a host address; use a host address '
                             'of the subnet, or /%d for a single address'
                             % (field, shown, ' (subnet-router anycast)' if addr.version == 6 else '', net,
                                net.max_prefixlen))
        if addr.version == 4 and addr == net.broadcast_address:
            raise InputError('%s: %s is the broadcast address of %s, not a host address' % (field, shown, net))
    return shown
