# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check flows written in ovs-ofctl syntax before ovs-ofctl sees them.

ovs-ofctl accepts several mistakes without a word and installs another flow than the one
written: it truncates a value to its field's width (dl_vlan=5000 becomes 904, 198.18.100.300
becomes 198.18.100.44), reads a leading zero as octal (priority=010 is 8), keeps the last of two
contradicting keywords (ipv6,tcp is IPv4 TCP), drops a match field whose prerequisite is missing
(tp_dst=80 without tcp matches every packet) and puts table=255 in table 0. This checker knows
the common match fields and refuses those mistakes with a message that names the entry; syntax
it does not know (actions, other fields) is left to ovs-ofctl, which refuses what it cannot parse.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, integer

TABLE_MAX = 254  # OpenFlow's table 255 means "all tables"; a flow added there lands in table 0
PRIORITY_MAX = 65535
PRIORITY_DEFAULT = 32768

ETH_IP, ETH_IPV6, ETH_ARP, ETH_RARP, ETH_MPLS, ETH_MPLSM = 0x0800, 0x86dd, 0x0806, 0x8035, 0x8847, 0x8848
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMPV6 = 1, 6, 17, 132, 58

# ovs-ofctl's protocol keywords: (dl_type, nw_proto or None).
PROTOCOLS = {
    'ip': (ETH_IP, None), 'ipv4': (ETH_IP, None), 'ip4': (ETH_IP, None),
    'icmp': (ETH_IP, IPPROTO_ICMP), 'tcp': (ETH_IP, IPPROTO_TCP), 'udp': (ETH_IP, IPPROTO_UDP),
    'sctp': (ETH_IP, IPPROTO_SCTP),
    'ipv6': (ETH_IPV6, None), 'ip6': (ETH_IPV6, None), 'icmp6': (ETH_IPV6, IPPROTO_ICMPV6),
    'tcp6': (ETH_IPV6, IPPROTO_TCP), 'udp6': (ETH_IPV6, IPPROTO_UDP), 'sctp6': (ETH_IPV6, IPPROTO_SCTP),
    'arp': (ETH_ARP, None), 'rarp': (ETH_RARP, None), 'mpls': (ETH_MPLS, None), 'mplsm': (ETH_MPLSM, None),
}
# The IPv6 keyword a user most likely meant when an IPv4 one meets ipv6.
IPV6_KEYWORD = {'ip': 'ipv6', 'ipv4': 'ipv6', 'ip4': 'ipv6', 'icmp': 'icmp6', 'tcp': 'tcp6', 'udp': 'udp6',
                'sctp': 'sctp6'}

# Words of the match part that are flags of the flow, not match fields.
FLAGS = ('send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts', 'no_byte_counts')
# Numeric parameters of the flow itself (the match part carries them too).
FLOW_PARAMS = {'priority': PRIORITY_MAX, 'idle_timeout': 65535, 'hard_timeout': 65535, 'importance': 65535}

# Other names ovs-ofctl accepts for the same field (the key of a flow uses the first name).
ALIASES = {'eth_src': 'dl_src', 'eth_dst': 'dl_dst', 'eth_type': 'dl_type', 'ip_src': 'nw_src',
           'ip_dst': 'nw_dst', 'ip_proto': 'nw_proto', 'ip_ecn': 'nw_ecn', 'tunnel_id': 'tun_id',
           'tcp_src': 'tp_src', 'tcp_dst': 'tp_dst', 'udp_src': 'tp_src', 'udp_dst': 'tp_dst',
           'sctp_src': 'tp_src', 'sctp_dst': 'tp_dst'}


def _icmp_type(match):
    return (match.get('icmp_type') or match.get('icmpv6_type') or (None,))[0]


# Prerequisites: name -> (test of (dl_type, nw_proto, match), what to write).
_IP_ANY = (ETH_IP, ETH_IPV6)
PREREQS = {
    'ip': (lambda d, p, m: d in _IP_ANY, 'ip or ipv6 (or a protocol such as tcp, udp6)'),
    'ipv4_or_arp': (lambda d, p, m: d in (ETH_IP, ETH_ARP, ETH_RARP), 'ip (or tcp, udp, icmp...) or arp'),
    'ip_or_arp': (lambda d, p, m: d in _IP_ANY + (ETH_ARP, ETH_RARP), 'ip, ipv6 or arp'),
    'ipv6': (lambda d, p, m: d == ETH_IPV6, 'ipv6 (or tcp6, udp6, icmp6...)'),
    'arp': (lambda d, p, m: d in (ETH_ARP, ETH_RARP), 'arp or rarp'),
    'mpls': (lambda d, p, m: d in (ETH_MPLS, ETH_MPLSM), 'mpls or mplsm'),
    # ovs-ofctl reads tp_src/tp_dst of ICMP as the ICMP type and code.
    'l4': (lambda d, p, m: d in _IP_ANY and p in (IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP, IPPROTO_ICMPV6),
           'a transport protocol: tcp, udp, sctp (tcp6, udp6, sctp6 for IPv6), or ip/ipv6 with nw_proto'),
    'tcp': (lambda d, p, m: d in _IP_ANY and p == IPPROTO_TCP, 'tcp or tcp6'),
    'udp': (lambda d, p, m: d in _IP_ANY and p == IPPROTO_UDP, 'udp or udp6'),
    'sctp': (lambda d, p, m: d in _IP_ANY and p == IPPROTO_SCTP, 'sctp or sctp6'),
    'icmp': (lambda d, p, m: (d, p) in ((ETH_IP, IPPROTO_ICMP), (ETH_IPV6, IPPROTO_ICMPV6)), 'icmp or icmp6'),
    'icmp6': (lambda d, p, m: (d, p) == (ETH_IPV6, IPPROTO_ICMPV6), 'icmp6'),
    'nd': (lambda d, p, m: (d, p) == (ETH_IPV6, IPPROTO_ICMPV6) and _icmp_type(m) in (135, 136),
           'icmp6 with icmp_type=135 (neighbour solicitation) or 136 (advertisement)'),
    'nd_sll': (lambda d, p, m: (d, p) == (ETH_IPV6, IPPROTO_ICMPV6) and _icmp_type(m) == 135,
               'icmp6 with icmp_type=135 (neighbour solicitation)'),
    'nd_tll': (lambda d, p, m: (d, p) == (ETH_IPV6, IPPROTO_ICMPV6) and _icmp_type(m) == 136,
               'icmp6 with icmp_type=136 (neighbour advertisement)'),
}

# Known match fields: name -> (kind, low, high, maskable, prerequisite). Kinds: int, ipv4, ipv6, mac,
# text (the value is left to ovs-ofctl, only the prerequisite is checked).
FIELDS = {
    'dl_src': ('mac', 0, 0, True, None), 'dl_dst': ('mac', 0, 0, True, None),
    'dl_type': ('int', 0, 0xffff, False, None),
    'dl_vlan': ('int', 0, 4095, False, None),
    'dl_vlan_pcp': ('int', 0, 7, False, None), 'vlan_pcp': ('int', 0, 7, False, None),
    'vlan_tci': ('int', 0, 0xffff, True, None),
    'vlan_vid': ('vlan_vid', 0, 0x1fff, True, None),
    'nw_src': ('ipv4', 0, 0, True, 'ipv4_or_arp'), 'nw_dst': ('ipv4', 0, 0, True, 'ipv4_or_arp'),
    'nw_proto': ('int', 0, 255, False, 'ip_or_arp'),
    'nw_tos': ('int', 0, 255, False, 'ip'), 'ip_dscp': ('int', 0, 63, False, 'ip'),
    'nw_ecn': ('int', 0, 3, False, 'ip'), 'nw_ttl': ('int', 0, 255, False, 'ip'),
    'nw_frag': ('text', 0, 0, True, 'ip'),
    'ipv6_src': ('ipv6', 0, 0, True, 'ipv6'), 'ipv6_dst': ('ipv6', 0, 0, True, 'ipv6'),
    'ipv6_label': ('int', 0, 0xfffff, True, 'ipv6'),
    'arp_spa': ('ipv4', 0, 0, True, 'arp'), 'arp_tpa': ('ipv4', 0, 0, True, 'arp'),
    'arp_sha': ('mac', 0, 0, True, 'arp'), 'arp_tha': ('mac', 0, 0, True, 'arp'),
    'arp_op': ('int', 0, 255, False, 'arp'),  # kept in the 8-bit nw_proto: 256 would be 0
    'tp_src': ('int', 0, 65535, True, 'l4'), 'tp_dst': ('int', 0, 65535, True, 'l4'),
    'tcp_flags': ('text', 0, 0, True, 'tcp'),
    'icmp_type': ('int', 0, 255, False, 'icmp'), 'icmp_code': ('int', 0, 255, False, 'icmp'),
    'icmpv6_type': ('int', 0, 255, False, 'icmp6'), 'icmpv6_code': ('int', 0, 255, False, 'icmp6'),
    'nd_target': ('ipv6', 0, 0, True, 'nd'), 'nd_sll': ('mac', 0, 0, True, 'nd_sll'),
    'nd_tll': ('mac', 0, 0, True, 'nd_tll'),
    'mpls_label': ('int', 0, 0xfffff, False, 'mpls'), 'mpls_tc': ('int', 0, 7, False, 'mpls'),
    'mpls_bos': ('int', 0, 1, False, 'mpls'), 'mpls_ttl': ('int', 0, 255, False, 'mpls'),
    'tun_id': ('int', 0, 2 ** 64 - 1, True, None),
    'tun_src': ('ipv4', 0, 0, True, None), 'tun_dst': ('ipv4', 0, 0, True, None),
    'tun_ipv6_src': ('ipv6', 0, 0, True, None), 'tun_ipv6_dst': ('ipv6', 0, 0, True, None),
    'metadata': ('int', 0, 2 ** 64 - 1, True, None), 'pkt_mark': ('int', 0, 2 ** 32 - 1, True, None),
}
# The transport port names that say which protocol they belong to.
_PORT_PREREQ = {'tcp_src': 'tcp', 'tcp_dst': 'tcp', 'udp_src': 'udp', 'udp_dst': 'udp',
                'sctp_src': 'sctp', 'sctp_dst': 'sctp'}
for _n in range(16):
    FIELDS['reg%d' % _n] = ('int', 0, 2 ** 32 - 1, True, None)
for _n in range(8):
    FIELDS['xreg%d' % _n] = ('int', 0, 2 ** 64 - 1, True, None)

_MAC_RE = re.compile(r'^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$')
_DECIMAL_RE = re.compile(r'^(0|[1-9][0-9]*)$')
_HEX_RE = re.compile(r'^0[xX][0-9a-fA-F]+$')


class Flow(object):
    """One checked flow: its text and what identifies it in the switch (table, priority, match)."""

    def __init__(self, text, table, priority, match, actions):
        self.text = text
        self.table = table
        self.priority = priority
        self.match = match
        self.actions = actions

    def key(self):
        return (self.table, self.priority, frozenset(self.match.items()))


def split_actions(text):
    """(match part, actions) as ovs-ofctl splits them, or InputError.

    ovs-ofctl cuts a flow at the first 'action' anywhere in it and takes the actions after the next
    '=': a port called 'action1' or 'actions:drop' would be cut somewhere else than meant.
    """
    at = text.find('action')
    if at < 0:
        raise InputError('it has no actions (write actions=drop to drop the packets)')
    if at and text[at - 1] not in ', \t':
        raise InputError("'action' appears inside %r; ovs-ofctl cuts a flow at the first 'action', "
                         "so this flow would be cut there" % text[:at + 6].split(',')[-1].split()[-1])
    head = re.match(r'actions?=', text[at:])
    if head is None:
        raise InputError("write the actions as actions=... (with '='), not %r" % text[at:at + 8])
    actions = text[at + head.end():].strip()
    if not actions:
        raise InputError('actions= is empty (write actions=drop to drop the packets)')
    return text[:at], actions


def tokens(match):
    """The words of a match part: separated by commas or blanks, not inside () or quotes."""
    out, word, depth, quote = [], '', 0, None
    for char in match:
        if quote:
            word += char
            if char == quote:
                quote = None
        elif char in '"\'':
            quote = char
            word += char
        elif char == '(':
            depth += 1
            word += char
        elif char == ')':
            depth -= 1
            word += char
        elif depth <= 0 and (char == ',' or char.isspace()):
            if word:
                out.append(word)
            word = ''
        else:
            word += char
    if word:
        out.append(word)
    return out


def number(text, low, high, what):
    """A decimal or 0x-hex number within [low, high]; a leading zero is refused, as ovs-ofctl reads it as octal."""
    text = text.strip()
    if _DECIMAL_RE.match(text):
        value = int(text)
    elif _HEX_RE.match(text):
        value = int(text, 16)
    elif re.match(r'^0[0-9]+$', text):
        octal = ' (%d)' % int(text, 8) if re.match(r'^0[0-7]+$', text) else ''
        raise InputError('%s: %s has a leading zero, and ovs-ofctl reads it as octal%s; '
                         'write it in decimal without the zero, or in hex with 0x' % (what, text, octal))
    else:
        raise InputError('%s: %r is not a number (decimal, or hex with 0x; allowed: %d-%d)'
                         % (what, text, low, high))
    return integer(value, what, low, high)


def _ipv4(text, what):
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        raise InputError('%s: %r is not an IPv4 address' % (what, text))


def _ipv6(text, what):
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError:
        raise InputError('%s: %r is not an IPv6 address' % (what, text))


def _mac(text, what):
    if not _MAC_RE.match(text):
        raise InputError('%s: %r is not a MAC address (six hex bytes, like 02:00:00:00:00:01)' % (what, text))
    return int(''.join('%02x' % int(b, 16) for b in text.split(':')), 16)


def field_value(kind, low, high, maskable, text, what):
    """The value of a known field, normalised to (value, mask or None), or InputError."""
    value, slash, mask = text.partition('/')
    if slash and not maskable:
        raise InputError('%s: %s takes no mask (/...)' % (what, text))
    if kind == 'text':
        return (text, None)
    if kind in ('int', 'vlan_vid'):
        val = number(value, low, high, what)
        if kind == 'vlan_vid' and 0 < val < 0x1000:
            # OpenFlow 1.3 needs the "present" bit: vlan_vid=100 matches frames that have no tag.
            raise InputError('%s: %d has no OpenFlow 1.3 present bit (0x1000); write vlan_vid=0x%x, '
                             'or dl_vlan=%d' % (what, val, 0x1000 | val, val))
        return (val, number(mask, low, high, what + ' mask') if slash else None)
    if kind == 'mac':
        return (_mac(value, what), _mac(mask, what + ' mask') if slash else None)
    bits, parse = (32, _ipv4) if kind == 'ipv4' else (128, _ipv6)
    addr = parse(value, what)
    if not slash:
        return (addr, None)
    if _DECIMAL_RE.match(mask):
        prefix = int(mask)
        if prefix > bits:
            raise InputError('%s: /%s is not a prefix length (0-%d)' % (what, mask, bits))
        netmask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
    else:
        netmask = parse(mask, what + ' mask')
    # The switch keeps only the bits of the mask (198.18.1.5/24 is 198.18.1.0/24).
    return (addr & netmask, netmask)


def parse_flow(text, where):
    """One flow in ovs-ofctl syntax -> Flow, or InputError naming where it is (flows[3] ...)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError('%s: the entry is empty; every entry must be a flow (write actions=drop to drop)' % where)
    text = text.strip()
    label = "%s '%s'" % (where, text)
    if '\n' in text or '\r' in text:
        raise InputError('%s: it has a line break; give one flow per entry' % label)
    if '#' in text:
        raise InputError("%s: ovs-ofctl reads everything after '#' as a comment; remove it" % label)
    if text.endswith('\\'):
        raise InputError("%s: a trailing '\\' joins the next line to this flow; remove it" % label)
    try:
        match_part, actions = split_actions(text)
        return _parse_match(text, match_part, actions)
    except InputError as exc:
        raise InputError('%s: %s' % (label, exc))


def _parse_match(text, match_part, actions):
    table, priority = 0, PRIORITY_DEFAULT
    match, seen, protocols = {}, {}, []
    for word in tokens(match_part):
        # ovs-ofctl takes key=value and key:value alike.
        sep = min([i for i in (word.find('='), word.find(':')) if i >= 0] or [-1])
        if sep < 0:
            if word in PROTOCOLS:
                protocols.append(word)
            elif word not in FLAGS:
                match[word] = (None, None)  # unknown: left to ovs-ofctl
            continue
        key, value = word[:sep], word[sep + 1:]
        name = ALIASES.get(key, key)
        if name in seen:
            raise InputError('%s is given twice (%s and %s); ovs-ofctl would keep only the last'
                             % (name, seen[name][1], word))
        seen[name] = (key, word)
        if name == 'cookie':
            raise InputError('it sets a cookie; the module adds its own (option cookie)')
        if name == 'table':
            # A number (ovs-ofctl reads it in decimal, leading zero or not) or a table's name.
            if re.match(r'^[0-9]+$', value):
                table = int(value)
                if table > TABLE_MAX:
                    raise InputError('table: %d is outside 0-%d (table=255 means all tables in OpenFlow, '
                                     'and ovs-ofctl would put the flow in table 0)' % (table, TABLE_MAX))
            else:
                table = value
        elif name in FLOW_PARAMS:
            val = number(value, 0, FLOW_PARAMS[name], name)
            if name == 'priority':
                priority = val
        elif name == 'dl_vlan' and value.lower() == '0xffff':
            match[name] = (0xffff, None)  # OpenFlow 1.0's "no VLAN tag", documented in ovs-fields(7)
        elif name in FIELDS:
            kind, low, high, maskable, _prereq = FIELDS[name]
            match[name] = field_value(kind, low, high, maskable, value, key)
        else:
            match[name] = (value, None)
    dl_type, nw_proto = _protocol(protocols, match)
    for name, (key, word) in seen.items():
        prereq = _PORT_PREREQ.get(key) or FIELDS.get(name, (None,) * 5)[4]
        if prereq and not PREREQS[prereq][0](dl_type, nw_proto, match):
            raise InputError('%s needs %s in the same flow; without it ovs-ofctl drops the field without a '
                             'word and the flow matches more than written' % (key, PREREQS[prereq][1]))
    if 'nw_tos' in match and match['nw_tos'][0] % 4:
        raise InputError('nw_tos: %d has the ECN bits (the low 2) set, which ovs-ofctl clears; write a '
                         'multiple of 4 (DSCP x 4) or use ip_dscp' % match['nw_tos'][0])
    if dl_type is not None:
        match['dl_type'] = (dl_type, None)
    if nw_proto is not None:
        match['nw_proto'] = (nw_proto, None)
    return Flow(text, table, priority, match, actions)


def _ipv6_hint(first, second):
    """'; for tcp over IPv6 write tcp6' when an IPv4 transport keyword meets IPv6."""
    words = (first, second)
    v4 = [w for w in words if w in IPV6_KEYWORD and PROTOCOLS[w][1] is not None]
    v6 = [w for w in words if PROTOCOLS.get(w, (None,))[0] == ETH_IPV6 or w == 'dl_type=0x86dd']
    return '; for %s over IPv6 write %s' % (v4[0], IPV6_KEYWORD[v4[0]]) if v4 and v6 else ''


def _protocol(protocols, match):
    """(dl_type, nw_proto) from the protocol keywords and the dl_type/nw_proto fields; InputError
    when two of them contradict each other (ovs-ofctl keeps the last one without a word)."""
    have = {'dl_type': match.pop('dl_type', (None, None))[0], 'nw_proto': match.pop('nw_proto', (None, None))[0]}
    said = {'dl_type': 'dl_type=0x%04x' % have['dl_type'] if have['dl_type'] is not None else None,
            'nw_proto': 'nw_proto=%d' % have['nw_proto'] if have['nw_proto'] is not None else None}
    for word in protocols:
        want = dict(zip(('dl_type', 'nw_proto'), PROTOCOLS[word]))
        for attr in ('dl_type', 'nw_proto'):
            if want[attr] is None:
                continue
            if have[attr] is None:
                have[attr], said[attr] = want[attr], word
            elif have[attr] != want[attr]:
                raise InputError('%s and %s contradict each other (ovs-ofctl would keep only the last)%s'
                                 % (said[attr], word, _ipv6_hint(said[attr], word)))
    return have['dl_type'], have['nw_proto']


def check_flows(flows, field='flows'):
    """Every flow of a list checked -> [Flow]; InputError for the first wrong one, or for two flows
    with the same table, priority and match (the switch keeps one flow per match: one would be lost)."""
    out, keys = [], {}
    for index, text in enumerate(flows):
        flow = parse_flow(text, '%s[%d]' % (field, index))
        key = flow.key()
        if key in keys:
            raise InputError("%s[%d] '%s': same table (%s), priority (%d) and match as %s[%d] '%s'; a switch keeps "
                             "one flow per match, so one of them would be lost: merge their actions or change "
                             "the priority" % (field, index, flow.text, flow.table, flow.priority, field,
                                               keys[key], flows[keys[key]].strip()))
        keys[key] = index
        out.append(flow)
    return out


# OpenFlow's highest group id for a group of its own (0xffffff00 and up are reserved: OFPG_MAX, ALL, ANY).
GROUP_ID_MAX = 0xffffff00
_GROUP_ID_RE = re.compile(r'(?:^|[,\s])group_id=([^,\s]+)')
_GROUP_TYPE_RE = re.compile(r'(?:^|[,\s])type=([a-z_]+)(?=[,\s]|$)')
# OpenFlow 1.5 dumps number the buckets; the specs the module is given do not.
_BUCKET_ID_RE = re.compile(r'bucket_id:\d+,')


def group_text(text):
    """A group as dump-groups prints it, for comparison: no quotes around names, no bucket ids."""
    return _BUCKET_ID_RE.sub('', text.strip().replace('"', ''))


def check_groups(groups, field='groups'):
    """Group specs in ovs-ofctl syntax -> {group_id: text}; InputError naming the entry for an empty
    one, line syntax, a missing or repeated group_id, an id outside 0-0xffffff00 or no type."""
    out = {}
    for index, text in enumerate(groups):
        where = '%s[%d]' % (field, index)
        if not isinstance(text, str) or not text.strip():
            raise InputError('%s: the entry is empty; every entry must be a group (group_id=N,type=...,bucket=...)' % where)
        label = "%s '%s'" % (where, text.strip())
        if '\n' in text or '\r' in text or '#' in text or text.strip().endswith('\\'):
            raise InputError('%s: a line break, a # or a trailing backslash; give one group per entry, '
                             'without comments' % label)
        ids = _GROUP_ID_RE.findall(text)
        if len(ids) != 1:
            raise InputError('%s: it must name its group_id=N once (it names it %d times)' % (label, len(ids)))
        try:
            group_id = number(ids[0], 0, GROUP_ID_MAX, 'group_id')
        except InputError as exc:
            raise InputError('%s: %s' % (label, exc))
        if not _GROUP_TYPE_RE.search(text):
            raise InputError('%s: it has no type= (all, select, indirect or ff); the switch would make it '
                             'type=all' % label)
        if group_id in out:
            raise InputError('%s: group_id %d is also given by another entry; a switch keeps one group per id'
                             % (label, group_id))
        out[group_id] = group_text(text)
    return out


def parse_group_dump(output):
    """dump-groups output -> {group_id: text as group_text() gives it}."""
    out = {}
    for line in output.splitlines():
        found = _GROUP_ID_RE.search(line)
        if found and found.group(1).isdigit():
            out[int(found.group(1))] = group_text(line)
    return out


def plan_groups(want, have):
    """{group_id: text} wanted and on the switch -> (removed, added, bundle lines).

    removed: the groups that go or change, added: the ones that come or change, as texts. The
    bundle lines come in two parts: what must precede the flows (groups added or changed, so that
    a new flow can point at them) and what must follow them (groups deleted, once no flow of the
    bundle points at them any more)."""
    removed = [have[i] for i in sorted(have) if want.get(i) != have[i]]
    added = [want[i] for i in sorted(want) if have.get(i) != want[i]]
    before = ['group add_or_mod %s' % want[i] for i in sorted(want) if have.get(i) != want[i]]
    after = ['group delete group_id=%d' % i for i in sorted(have) if i not in want]
    return removed, added, (before, after)
