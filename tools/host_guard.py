# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lab and the tests must leave exactly as they found it on this machine.

The root network namespace (links, addresses, routes), the forwarding sysctls, the nftables and
iptables rulesets, the loaded kernel modules, and the files under /etc that the roles write on
real hosts. Labs live in namespaces of their own; none of this may change.

  python3 tools/host_guard.py snapshot FILE     write the state to FILE (JSON)
  python3 tools/host_guard.py compare FILE      exit 1 and name what differs from FILE
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

SYSCTLS = ('net/ipv4/ip_forward', 'net/ipv4/conf/all/forwarding', 'net/ipv6/conf/all/forwarding',
           'net/ipv4/conf/default/forwarding', 'net/ipv6/conf/default/forwarding')
# What the roles write on real hosts (roles/*/defaults, roles/*/tasks): the machine's own copies.
ETC_PATHS = ('/etc/openvswitch', '/etc/ovn', '/etc/netvirt-gateway', '/etc/keepalived', '/etc/systemd/system',
             '/etc/krb5.conf', '/etc/krb5.keytab', '/etc/ssh', '/etc/pf.conf', '/etc/rc.conf', '/etc/pf.anchors',
             '/etc/network', '/etc/sysctl.conf', '/etc/sysctl.d', '/etc/modules-load.d', '/etc/hosts')


def _run(argv):
    if not shutil.which(argv[0]):
        return 'not installed'
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    return '%s\n(rc %d)' % (proc.stdout, proc.returncode)


def _ip(what):
    data = json.loads(subprocess.run(['ip', '-j'] + what + ['show'], stdout=subprocess.PIPE, check=True,
                                     universal_newlines=True).stdout or '[]')
    for entry in data:
        # Counters and timers move on their own; the rest must not.
        for volatile in ('stats64', 'stats', 'addr_info_lifetimes'):
            entry.pop(volatile, None)
        for addr in entry.get('addr_info', []):
            addr.pop('valid_life_time', None)
            addr.pop('preferred_life_time', None)
    return data


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError as exc:
        return 'unreadable: %s' % exc.strerror


def _files(paths):
    out = {}
    for top in paths:
        if not os.path.lexists(top):
            continue
        walk = [(top, [], [''])] if not os.path.isdir(top) or os.path.islink(top) else os.walk(top)
        for folder, _dirs, names in walk:
            for name in names:
                path = os.path.join(folder, name) if name else folder
                st = os.lstat(path)
                if os.path.islink(path):
                    out[path] = 'link -> %s' % os.readlink(path)
                elif os.path.isfile(path):
                    with open(path, 'rb') as handle:
                        out[path] = '%o %s' % (st.st_mode & 0o7777, hashlib.sha256(handle.read()).hexdigest())
    return out


def snapshot():
    modules = _read('/proc/modules')
    return {
        'ip link': _ip(['link']), 'ip -4 address': _ip(['-4', 'address']), 'ip -6 address': _ip(['-6', 'address']),
        'ip -4 route': _ip(['-4', 'route']), 'ip -6 route': _ip(['-6', 'route']),
        'sysctl': dict((name, _read('/proc/sys/' + name)) for name in SYSCTLS),
        'nft list ruleset': _run(['nft', 'list', 'ruleset']),
        'iptables-save': _run(['iptables-save']), 'ip6tables-save': _run(['ip6tables-save']),
        # Module names only (sizes and use counts move); this kernel may have no module support.
        'kernel modules': sorted(line.split()[0] for line in modules.splitlines()) if not modules.startswith('unreadable') else modules,
        'files under /etc': _files(ETC_PATHS),
    }


def differences(before, after):
    """Names of what differs (a key per part; files by path)."""
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key == 'files under /etc':
            for path in sorted(set(old or {}) | set(new or {})):
                if (old or {}).get(path) != (new or {}).get(path):
                    out.append('%s: %s -> %s' % (path, (old or {}).get(path, 'absent'), (new or {}).get(path, 'absent')))
        elif key == 'sysctl':
            out.extend('sysctl %s: %s -> %s' % (k, old.get(k), new.get(k)) for k in sorted(old) if old.get(k) != new.get(k))
        else:
            out.append(key)
    return out


def main(argv):
    if len(argv) != 2 or argv[0] not in ('snapshot', 'compare'):
        sys.exit(__doc__)
    if argv[0] == 'snapshot':
        with open(argv[1], 'w') as handle:
            json.dump(snapshot(), handle)
        return 0
    with open(argv[1]) as handle:
        changed = differences(json.load(handle), snapshot())
    for line in changed:
        print('host guard: changed on this machine: %s' % line, file=sys.stderr)
    return 1 if changed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
