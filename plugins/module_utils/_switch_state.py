# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state of a host's switch that netvirt.overlay.ovs_bridges plans from, as one POSIX shell
script and the digest of its output: read by the module's action plugin before it decides whether
the module must run (plugins/plugin_utils/_switch_record.py), and by the module after a run that
changed the switch, so that the action can keep that state's no-change result (_bridges.Bridges.settle).
Both must print the same text for the same state: one script for both.

Private (``_`` prefix): modules import it, users do not.
"""

from __future__ import annotations

import hashlib
import os
import shlex

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import (
    DEFAULT_DB, DEFAULT_OPENFLOW_PROTOCOL, FLOW_COOKIES)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    BRIDGE_COLUMNS, INTERFACE_COLUMNS, PORT_COLUMNS)


def local_socket(args):
    """The OVSDB socket's path, or None when the module connects otherwise (TCP, SSL): no state read then."""
    db = args.get('db') or DEFAULT_DB
    if not isinstance(db, str) or not db.startswith('unix:') or any(args.get(name) for name in (
            'ssl_private_key', 'ssl_certificate', 'ssl_ca_cert')):
        return None
    path = db[len('unix:'):]
    return path if os.path.isabs(path) else None


def state_reads(args, socket):
    """[(label, argv)] of what the module's plan is made from, in a fixed order."""
    db = 'unix:' + socket
    dump = ['ovsdb-client', '--timeout=10', '-f', 'csv', '--no-headings', 'dump', db, 'Open_vSwitch']
    bridge_columns = sorted('controller' if c == 'controllers' else c for c in BRIDGE_COLUMNS)
    reads = [
        ('version', ['ovs-vswitchd', '--version']),
        ('Bridge', dump + ['Bridge', '_uuid', 'name', 'ports'] + bridge_columns),
        ('Port', dump + ['Port', '_uuid', 'name', 'interfaces'] + sorted(PORT_COLUMNS)),
        # ofport: the port numbers behind the port names that flows use (not ovs-ofctl's port
        # descriptions, whose link state BFD turns over under load).
        ('Interface', dump + ['Interface', '_uuid', 'name', 'error', 'ofport'] + sorted(INTERFACE_COLUMNS)),
        ('Controller', dump + ['Controller', '_uuid', 'target']),
    ]
    for item in args.get('openflow') or []:
        bridge, protocol = item.get('bridge'), item.get('protocol') or DEFAULT_OPENFLOW_PROTOCOL
        ofctl = ['ovs-ofctl', '--timeout=10', '-O', str(protocol)]
        # The flows of the item's cookie only: the module compares no others (learned flows come and go).
        cookie = item.get('cookie')
        match = ['cookie=%#x/-1' % int(FLOW_COOKIES['overlay'] if cookie is None else cookie)]
        reads.append(('flows %s' % bridge, ofctl + ['--names', '--no-stats', 'dump-flows', str(bridge)] + match))
        if item.get('groups') is not None:
            reads.append(('groups %s' % bridge, ofctl + ['--names', 'dump-groups', str(bridge)]))
    for item in args.get('interfaces') or []:
        name = str(item.get('interface'))
        # The link (MTU, flags, MAC address) and its global addresses: what the module reads of them. Not
        # the link-local ones, which are tentative for a while after the link comes up.
        reads += [('link %s' % name, ['ip', '-d', '-j', 'link', 'show', 'dev', name]),
                  ('addresses %s' % name, ['ip', '-j', 'address', 'show', 'dev', name, 'scope', 'global'])]
        if item.get('tx_checksum_offload') is not None:
            reads.append(('offload %s' % name, ['ethtool', '-k', name]))
        if item.get('arp_ignore') is not None:
            reads.append(('arp_ignore %s' % name, ['cat', '/proc/sys/net/ipv4/conf/%s/arp_ignore' % name]))
    return reads


def state_script(args):
    """The shell commands (one line, ``;``-separated) that print the state, each read framed by its label
    and exit status; None when the OVSDB is not a local socket."""
    socket = local_socket(args)
    if socket is None:
        return None
    lines = ['PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin"', 'export LC_ALL=C']
    for label, argv in state_reads(args, socket):
        lines.append("printf '== %%s\\n' %s; %s 2>&1; printf '== rc %%s\\n' \"$?\""
                     % (shlex.quote(label), ' '.join(shlex.quote(a) for a in argv)))
    return '; '.join(lines)


def state_digest(text):
    """(sha256 of the script's output without its last newline, whether every read succeeded)."""
    text = text[:-1] if text.endswith('\n') else text
    complete = all(line == '== rc 0' for line in text.splitlines() if line.startswith('== rc '))
    return hashlib.sha256(text.encode()).hexdigest(), complete
