# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What netvirt.overlay.ovs_host_facts reads on a host: one POSIX shell command (``probe_command``),
and what the control node makes of its output (``read_probe``).

A shell command and not a Python module: the ovs role reads this on every Open vSwitch host of
every play, and a Python module run costs the host a Python start and the compilation of Ansible's
module code (about 0.25 s of CPU for a module that does nothing), ten times what these few tests and
reads cost. The command needs ``test``, ``stat -L -c`` and ``base64 -w0`` (GNU coreutils or BusyBox).
"""

from __future__ import annotations

import base64
import binascii
import json
import shlex

SYSTEMD_RUNTIME_DIR = '/run/systemd/system'
OS_RELEASE = ('/etc/os-release', '/usr/lib/os-release')
# os-release's ID -> (setup's ansible_distribution, its os_family), for the families the roles know
# (plugins/plugin_utils/_platform.py); any other ID takes its family from ID_LIKE (FAMILY_LIKE).
DISTRIBUTIONS = {
    'debian': ('Debian', 'Debian'), 'ubuntu': ('Ubuntu', 'Debian'),
    'linuxmint': ('Linux Mint', 'Debian'), 'pop': ('Pop!_OS', 'Debian'), 'kali': ('Kali', 'Debian'),
    'rhel': ('RedHat', 'RedHat'), 'centos': ('CentOS', 'RedHat'), 'fedora': ('Fedora', 'RedHat'),
    'rocky': ('Rocky', 'RedHat'), 'almalinux': ('AlmaLinux', 'RedHat'), 'ol': ('OracleLinux', 'RedHat'),
    'amzn': ('Amazon', 'RedHat'), 'cloudlinux': ('CloudLinux', 'RedHat'),
}
FAMILY_LIKE = (('debian', 'Debian'), ('ubuntu', 'Debian'), ('rhel', 'RedHat'), ('fedora', 'RedHat'), ('centos', 'RedHat'))

# Every line the command prints is NAME=VALUE; the three yes/no answers always come (1 or 0), the
# others only when there is something to read. File contents travel in base64: a line of their own
# whatever they hold. printf, not echo: dash's echo would read backslashes in a value.
_SCRIPT = '''\
ovs_ctl={ovs_ctl}; id_file={id_file}; rundir={rundir}
PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin"
answer() {{ name=$1; shift; if "$@"; then printf '%s=1\\n' "$name"; else printf '%s=0\\n' "$name"; fi; }}
answer systemd test -d {systemd_dir}
ovs_ctl_status() {{ test -f "$ovs_ctl" && test -x "$ovs_ctl" && "$ovs_ctl" status >/dev/null 2>&1; }}
answer ovs_ctl_running ovs_ctl_status
kernel_module() {{ test -d /sys/module/openvswitch || modinfo -F filename openvswitch >/dev/null 2>&1; }}
answer kernel_datapath kernel_module
if test -S "$rundir/db.sock" && value=$(ovs-vsctl --db="unix:$rundir/db.sock" --timeout=5 --if-exists \\
        get Open_vSwitch . external_ids:system-id 2>/dev/null); then
    printf 'system_id_db=%s\\n' "$value"
fi
if test -f "$id_file" && mode=$(stat -L -c %a "$id_file" 2>/dev/null) \\
        && content=$(base64 -w0 "$id_file" 2>/dev/null); then
    printf 'system_id_file=%s %s\\n' "$mode" "$content"
fi
for file in {os_release}; do
    if test -f "$file" && content=$(base64 -w0 "$file" 2>/dev/null); then
        printf 'os_release=%s\\n' "$content"
        break
    fi
done
'''

_ANSWERS = ('systemd', 'ovs_ctl_running', 'kernel_datapath')


class ProbeError(Exception):
    """The command's output is not what it prints: the message says what is missing."""


def probe_command(ovs_ctl, system_id_file, rundir, systemd_dir=SYSTEMD_RUNTIME_DIR, os_release=OS_RELEASE):
    """The shell command that reads a host (every path quoted for the shell): one brace group, since
    Ansible appends '&& sleep 0' to a command it runs with the default shell."""
    script = _SCRIPT.format(ovs_ctl=shlex.quote(ovs_ctl), id_file=shlex.quote(system_id_file),
                            rundir=shlex.quote(rundir), systemd_dir=shlex.quote(systemd_dir),
                            os_release=' '.join(shlex.quote(path) for path in os_release))
    return '{\n' + script + '}'


def _text(encoded):
    """A file's content sent in base64, or None when it is not UTF-8 text."""
    try:
        return base64.b64decode(encoded, validate=True).decode('utf-8')
    except (binascii.Error, ValueError):
        return None


def os_release_values(text):
    """The KEY=value lines of an os-release file (quotes taken off); {} for None."""
    values = {}
    for line in (text or '').splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key and not key.startswith('#'):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                value = value[1:-1]
            values[key] = value
    return values


def distribution_facts(release):
    """The distribution facts named as ansible.builtin.setup names them, from os-release's values."""
    name, family = DISTRIBUTIONS.get(release.get('ID', '').lower(), (None, None))
    if name is None:
        name = (release.get('NAME') or 'Unknown').split()[0]
        like = release.get('ID_LIKE', '').lower().split()
        family = next((fam for key, fam in FAMILY_LIKE if key in like), name)
    version = release.get('VERSION_ID', '')
    return {
        'ansible_distribution': name,
        'ansible_os_family': family,
        'ansible_distribution_version': version,
        'ansible_distribution_major_version': version.split('.')[0],
        'ansible_distribution_release': release.get('VERSION_CODENAME', ''),
    }


def read_probe(stdout):
    """The module's result (without ``changed``) from the command's output; ProbeError when one of
    the answers it always prints is missing (a shell that did not run it to the end)."""
    lines = {}
    for line in stdout.splitlines():
        name, sep, value = line.partition('=')
        if sep:
            lines[name] = value
    missing = [name for name in _ANSWERS if lines.get(name) not in ('0', '1')]
    if missing:
        raise ProbeError('the probe printed no answer for %s; its output was: %r' % (', '.join(missing), stdout[-500:]))
    system_id_db = lines.get('system_id_db', '').strip() or None
    # ovs-vsctl prints a string that could be read as another type (a UUID) in double quotes.
    if system_id_db and system_id_db.startswith('"'):
        try:
            system_id_db = json.loads(system_id_db)
        except ValueError:
            raise ProbeError('ovs-vsctl printed a system-id that is not a quoted string: %s' % system_id_db)
    system_id_file = None
    if 'system_id_file' in lines:
        mode, _sep, encoded = lines['system_id_file'].partition(' ')
        content = _text(encoded)
        if content is not None and mode.isdigit():
            system_id_file = {'mode': '%04o' % int(mode, 8), 'content': content}
    result = dict((name, lines[name] == '1') for name in _ANSWERS)
    result.update(system_id_db=system_id_db, system_id_file=system_id_file,
                  ansible_facts=distribution_facts(os_release_values(_text(lines.get('os_release', '')))))
    return result
