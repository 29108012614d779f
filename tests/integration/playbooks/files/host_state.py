# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print, as one JSON object, the state of a lab host that the modules and roles may change: the
Open_vSwitch database, every bridge's OpenFlow flows and groups, the addresses, MTUs and link
states of every interface, the OVN northbound database when one runs, the network namespaces and
the nftables rules of the host and of each of them, the daemons that run (by name), and the files
under the directories given as arguments (their SHA-256; logs and PID files only by name). With
--machine first (a booted lab machine or a real host): its packages and systemd units too.

Columns that ovs-vswitchd and ovsdb-server update on their own (statistics, status, link
counters, cfg sequence numbers written by a commit are kept: a commit is a change) are left out,
so two snapshots are equal exactly when nothing was written.
"""

import hashlib
import json
import os
import subprocess
import sys

# Maintained by ovs-vswitchd itself, whatever clients do.
VOLATILE = {
    'Interface': {'statistics', 'status', 'link_resets', 'link_state', 'link_speed', 'duplex',
                  'admin_state', 'mtu', 'ifindex', 'lacp_current', 'bfd_status', 'cfm_fault',
                  'cfm_fault_status', 'cfm_health', 'cfm_remote_mpids', 'cfm_flap_count',
                  'cfm_remote_opstate', 'error', 'ofport', 'mac_in_use'},
    'Port': {'statistics', 'status', 'bond_active_slave', 'rstp_statistics', 'rstp_status'},
    'Bridge': {'status', 'datapath_id', 'datapath_version', 'rstp_status'},
    'Open_vSwitch': {'cur_cfg', 'statistics', 'dpdk_initialized', 'dpdk_version', 'iface_types',
                     'datapath_types', 'db_version', 'ovs_version', 'system_type', 'system_version'},
    'Controller': {'status', 'is_connected', 'role'},
    'Manager': {'status', 'is_connected'},
}


def run(argv):
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    except FileNotFoundError:
        # A fresh machine has no Open vSwitch, OVN or nftables yet: nothing of theirs to read.
        return 127, ''
    return proc.returncode, proc.stdout


def dump(remote, database):
    """{table: sorted rows without volatile columns}, rows keyed by content, not by _uuid order."""
    rc, out = run(['ovsdb-client', '--format=json', 'dump', remote, database])
    if rc != 0:
        return None
    tables = {}
    for line in out.splitlines():
        if not line.strip():
            continue
        # One JSON object per table: {"caption": "TABLE table", "headings": [...], "data": [...]}
        doc = json.loads(line)
        table = doc['caption'].split()[0]
        skip = VOLATILE.get(table, set())
        rows = [dict((h, v) for h, v in zip(doc['headings'], row) if h not in skip and h != '_version')
                for row in doc['data']]
        tables[table] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
    return tables


def processes():
    """{program name: how many run}, without this snapshot and what started it."""
    ours, pid = set(), os.getpid()
    while pid > 1:
        ours.add(pid)
        try:
            with open('/proc/%d/stat' % pid) as handle:
                pid = int(handle.read().rsplit(')', 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    counts = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) in ours:
            continue
        try:
            with open('/proc/%s/comm' % entry) as handle:
                name = handle.read().strip()
        except OSError:
            continue
        counts[name] = counts.get(name, 0) + 1
    return counts


def files(directories):
    """{path: sha256}; logs and PID files (written by the daemons as they run) as 'present'."""
    found = {}
    for top in directories:
        for folder, _dirs, names in os.walk(top):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.isfile(path) or os.path.islink(path):
                    found[path] = 'present'
                elif name.endswith(('.log', '.pid', '.ctl', '.sock', '~lock~')):
                    found[path] = 'present'
                else:
                    with open(path, 'rb') as handle:
                        found[path] = hashlib.sha256(handle.read()).hexdigest()
    return found


def netns_state():
    """{namespace: nftables ruleset} for the host ('') and each named network namespace."""
    names = sorted(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else []
    out = {'': run(['nft', 'list', 'ruleset'])[1]}
    for name in names:
        out[name] = run(['ip', 'netns', 'exec', name, 'nft', 'list', 'ruleset'])[1]
    return out


def machine_state():
    """A booted machine's installed packages (with versions) and its systemd units (enablement
    of every unit file, and which units are active)."""
    packages = run(['dpkg-query', '-W', '-f', '${Package} ${Version} ${db:Status-Abbrev}\\n'])[1]
    unit_files = run(['systemctl', 'list-unit-files', '--no-legend', '--no-pager'])[1]
    active = run(['systemctl', 'list-units', '--no-legend', '--no-pager', '--plain', '--state=active'])[1]
    return {'packages': sorted(packages.splitlines()),
            'unit_files': sorted(' '.join(line.split()[:2]) for line in unit_files.splitlines()),
            # (session scopes come and go with SSH logins, Ansible's among them)
            'active_units': sorted(line.split()[0] for line in active.splitlines()
                                   if line.split() and not line.split()[0].startswith('session-'))}


def main():
    args = sys.argv[1:]
    machine = args[:1] == ['--machine']
    if machine:
        args = args[1:]
    state = {'ovsdb': dump('unix:/run/openvswitch/db.sock', 'Open_vSwitch'),
             'ovn_nb': dump('unix:/run/ovn/ovnnb_db.sock', 'OVN_Northbound'),
             'flows': {}, 'groups': {}}
    rc, out = run(['ovs-vsctl', '--timeout=10', 'list-br'])
    for bridge in out.split() if rc == 0 else []:
        state['flows'][bridge] = sorted(run(['ovs-ofctl', '-O', 'OpenFlow15', 'dump-flows', '--no-stats', bridge])[1].splitlines())
        state['groups'][bridge] = sorted(run(['ovs-ofctl', '-O', 'OpenFlow15', 'dump-groups', bridge])[1].splitlines())
    links = json.loads(run(['ip', '-j', 'address', 'show'])[1] or '[]')
    state['links'] = dict((link['ifname'], {
        'mtu': link.get('mtu'), 'up': 'UP' in link.get('flags', []),
        # The kernel adds IPv6 link-local addresses on its own, some time after a link comes up.
        'addresses': sorted('%s/%s' % (a['local'], a['prefixlen']) for a in link.get('addr_info', [])
                            if not (a.get('family') == 'inet6' and a.get('scope') == 'link'))})
        for link in links)
    state['nftables'] = netns_state()
    state['processes'] = processes()
    state['files'] = files(args)
    if machine:
        state.update(machine_state())
    print(json.dumps(state, sort_keys=True))


if __name__ == '__main__':
    main()
