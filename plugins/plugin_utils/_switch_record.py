# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What netvirt.overlay.ovs_bridges' action plugin reads and keeps on a host, so that a run in which
nothing changed needs no module run.

The module costs a host a Python module run (a Python start and the compilation of Ansible's module
code and ours: about 0.45 s of CPU under load), and the hypervisor role runs it on every hypervisor in
every play. One POSIX shell command (``state_command``, the reads of ``module_utils._switch_state``)
reads instead everything the module's plan is made from: the Open vSwitch version, the rows of
Bridge, Port, Interface and Controller in the columns the module compares (the constants of
``module_utils._vswitch``, which its snapshot reads) and the port numbers, and for each ``openflow``
item the flows of the item's cookie and the groups, for each ``interfaces`` item the device's link
and global addresses (``ip -j``), its TX checksum offload and arp_ignore when asked; and the record
the plugin kept on the host after the module's last run: that run's request, a digest of the state
and the result of a run that changes nothing on it.

The same request (the task's arguments, with the digest of the module's code), the same state: the
module would plan nothing again, and the task returns the kept result without running it. Anything
else runs the module as before: no record, another request or module code, any difference in what is
read (what changes at run time, such as learned flows and link states, is not read; one that is
only costs a module run), a read that fails, an OVSDB that is not a local socket. The record is
written outside check mode only, after a module run that changed nothing, when the state read again
after it is still the one read before it (nothing changed it meanwhile); or after a run that changed
the switch, from what the module did then (``_bridges.Bridges.settle``): it read the state it left with
the same commands (``module_utils._switch_state``) and ran the request again in check mode on it, and
that changed nothing; the state read after the module must be the one it read. It lives in the
OVSDB socket's directory (a run-time directory: a reboot forgets it), mode 0600, written with
``base64 -d`` and ``gzip -dc`` and read with ``base64 -w0`` (GNU coreutils or BusyBox).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import os
import shlex

from ansible.release import __version__ as ANSIBLE_VERSION

from ansible_collections.netvirt.overlay.plugins.module_utils._switch_state import (
    local_socket, state_digest, state_script)

RECORD_VERSION = 1
# The record's line, last of the command's output: the marker, then the record in base64 (or -).
RECORD_MARK = 'netvirt-overlay-record '

_HERE = os.path.dirname(os.path.abspath(__file__))


def code_digest(plugins_dir=os.path.dirname(_HERE)):
    """sha256 of the module's file and every file of the collection's module_utils: another version of
    the module may plan otherwise on the same state."""
    digest = hashlib.sha256()
    paths = [os.path.join(plugins_dir, 'modules', 'ovs_bridges.py')]
    utils = os.path.join(plugins_dir, 'module_utils')
    paths += sorted(os.path.join(utils, name) for name in os.listdir(utils) if name.endswith('.py'))
    for path in paths:
        with open(path, 'rb') as handle:
            digest.update(path[len(plugins_dir):].encode() + b'\0' + handle.read() + b'\0')
    return digest.hexdigest()


def _bridges(args):
    names = set()
    for option in ('bridges', 'tunnels', 'openflow', 'forget_learned'):
        for item in args.get(option) or []:
            if isinstance(item, dict) and isinstance(item.get('bridge'), str):
                names.add(item['bridge'])
    return sorted(names)


def record_path(args):
    """Where the record of this request's bridges is kept; None when no record is kept for it."""
    socket = local_socket(args)
    if socket is None:
        return None
    key = hashlib.sha256('\0'.join(_bridges(args)).encode()).hexdigest()[:16]
    return os.path.join(os.path.dirname(socket), 'netvirt-overlay-ovs_bridges-%s.json' % key)


def request_digest(args, code):
    """sha256 of the task's arguments, the module's code digest and ansible-core's version (whose
    module code, argument checks among it, runs with the module's)."""
    text = json.dumps(dict(args=args, code=code, version=RECORD_VERSION, ansible=ANSIBLE_VERSION), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def state_command(args):
    """The shell command that prints the state (module_utils._switch_state: each read with its exit
    status) and then the record's line; None when no record is kept for this request (see record_path)."""
    path = record_path(args)
    if path is None:
        return None
    path = shlex.quote(path)
    return ("{ %s; if test -f %s; then printf '%s'; base64 -w0 %s; printf '\\n'; else printf '%s-\\n'; fi; }"
            % (state_script(args), path, RECORD_MARK, path, RECORD_MARK))


def read_state(stdout):
    """(digest of the state, the record or None, whether every read succeeded) from the command's output."""
    text = stdout if isinstance(stdout, str) else stdout.decode('utf-8', 'replace')
    state, mark, tail = text.rpartition('\n' + RECORD_MARK)
    if not mark:
        return None, None, False
    digest, complete = state_digest(state)
    record = None
    encoded = tail.strip()
    if encoded != '-':
        try:
            record = json.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            record = None
    return digest, record, complete


def kept_result(record, request, state):
    """The kept result when ``record`` was made for ``request`` on ``state``; else None."""
    if (isinstance(record, dict) and record.get('version') == RECORD_VERSION and record.get('request') == request
            and record.get('state') == state and isinstance(record.get('result'), dict)):
        return record['result']
    return None


# What a module result keeps in the record: what it returns, not how it ran.
_NOT_KEPT = ('changed', 'diff', 'invocation', 'failed')


# The record travels in the command line, which is one argument of sh -c: Linux takes 128 KiB at most
# for one. A hypervisor's record at N = 32 (34 tunnel peers) is 24 KiB of JSON, 1.7 KiB gzipped.
MAX_COMMAND = 96 * 1024


def write_command(args, request, state, result):
    """The shell command that keeps the record (mode 0600, written whole or not at all); None when it
    would be too long a command line (no record: the module runs every time)."""
    kept = dict((key, value) for key, value in result.items() if key not in _NOT_KEPT and not key.startswith('_ansible'))
    data = json.dumps(dict(version=RECORD_VERSION, request=request, state=state, result=kept), sort_keys=True, default=str)
    path = record_path(args)
    encoded = base64.b64encode(gzip.compress(data.encode(), mtime=0)).decode()
    command = ("{ umask 077; tmp=%s.$$; printf '%%s' '%s' | base64 -d | gzip -dc > \"$tmp\" && mv -f \"$tmp\" %s; }"
               % (shlex.quote(path), encoded, shlex.quote(path)))
    return command if len(command) <= MAX_COMMAND else None
