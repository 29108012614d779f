# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab hosts made of Linux namespaces, and the underlay switches between them.

A lab host is a long-lived process started by ``unshare`` in new mount, UTS,
IPC, network and PID namespaces, with private tmpfs over the directories OVS
and OVN write to, its own hostname and /etc/hosts. The root namespace is never
changed: veth pairs are created straight inside their two target namespaces
(``ip link add ... netns A type veth peer ... netns B``), so no interface ever
exists in the root namespace, and no lab namespace has a link to it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time

from ansible_collections.netvirt.overlay.plugins.module_utils import _machine
# Part of this file's API (the lab module, the machines, the tests and the benchmark use them from here).
from ansible_collections.netvirt.overlay.plugins.module_utils._lab_enter import (  # noqa: F401 pylint: disable=unused-import
    NAMESPACES, LabError, enter, host_pid, read_pid)

STATE_ROOT = '/run/netvirt-lab'
PRIVATE_DIRS = ['/run', '/var/log', '/etc/openvswitch', '/var/lib/openvswitch', '/etc/ovn', '/var/lib/ovn']
SUBDIRS = ['/run/openvswitch', '/run/ovn', '/run/lock', '/var/log/openvswitch', '/var/log/ovn']
READY = '/run/netvirt-lab-ready'

# PID 1 of a lab host: reaps the daemons that get re-parented to it, and exits on SIGTERM.
INIT = (
    "import os, signal, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: os._exit(0))\n"
    "open('%s', 'w').close()\n"
    "while True:\n"
    "    try:\n"
    "        os.wait()\n"
    "    except ChildProcessError:\n"
    "        time.sleep(1)\n" % READY
)


def _sh_quote(value):
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$')


def check_name(value, what):
    """A lab or host name: it becomes a path under STATE_ROOT, so no slash, no dots, not empty."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise LabError("%s %r: use 1-63 letters, digits, '-' or '_', starting with a letter or digit" % (what, value))
    return value


def state_dir(lab):
    """/run/netvirt-lab/LAB; refuses a name that would lead anywhere else."""
    check_name(lab, 'lab name')
    path = os.path.realpath(os.path.join(STATE_ROOT, lab))
    if os.path.dirname(path) != os.path.realpath(STATE_ROOT):
        raise LabError('lab name %r resolves to %s, outside %s' % (lab, path, STATE_ROOT))
    return path


def is_lab_host(pid):
    """True for the init process of a lab host: it carries the ready marker and lives in network
    and mount namespaces of its own, never in this machine's (those of the caller)."""
    try:
        for ns in ('net', 'mnt'):
            if os.readlink('/proc/%d/ns/%s' % (pid, ns)) == os.readlink('/proc/self/ns/%s' % ns):
                return False
    except OSError:
        return False
    return os.path.exists('/proc/%d/root%s' % (pid, READY))


def pid_of(lab, name):
    """PID (root namespace) of a running lab host, or None."""
    sdir, name = state_dir(lab), check_name(name, 'host name')
    try:
        pid = read_pid(sdir, name)
    except LabError:
        return None
    return pid if is_lab_host(pid) else None


def run(argv, check=True, input_data=None):
    proc = subprocess.run(argv, input=input_data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        raise LabError('%s failed (%d): %s' % (' '.join(argv), proc.returncode, proc.stderr.strip()))
    return proc


def in_host(pid, argv, check=True, net_only=False):
    """Run argv inside a lab host (all its namespaces, or only its network namespace)."""
    return run(enter(pid, argv, net_only=net_only), check=check)


def hosts_file(name, entries):
    """/etc/hosts for one lab host: its own name on its own line, so tools report it, not localhost."""
    lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback']
    own = any(name in entry.split()[1:] for entry in entries)
    if not own:
        lines.append('127.0.1.1 %s' % name)
    lines.extend(entries)
    return '\n'.join(lines) + '\n'


def init_script(host, hosts_path):
    steps = ['set -e', 'mount --bind %s /etc/hosts' % _sh_quote(hosts_path)]
    for bind in host.get('binds') or []:
        steps.append('mount --bind %s %s' % (_sh_quote(bind['src']), _sh_quote(bind['dest'])))
    for path in PRIVATE_DIRS + list(host.get('tmpfs') or []):
        steps.append('mkdir -p %s && mount -t tmpfs -o mode=0755 tmpfs %s' % (_sh_quote(path), _sh_quote(path)))
    for path in SUBDIRS:
        steps.append('mkdir -p %s' % path)
    steps.append('hostname %s' % _sh_quote(host.get('hostname') or host['name']))
    steps.append('ip link set lo up')
    steps.append('exec python3 -c %s' % _sh_quote(INIT))
    return '\n'.join(steps) + '\n'


def start_host(lab, host, entries, timeout=10):
    """Start one lab host unless it runs; return True when it was started."""
    name = host['name']
    if pid_of(lab, name):
        return False
    sdir = state_dir(lab)
    os.makedirs(os.path.join(sdir, 'etc'), exist_ok=True)
    hosts_path = os.path.join(sdir, 'etc', '%s.hosts' % name)
    with open(hosts_path, 'w') as handle:
        handle.write(hosts_file(host.get('hostname') or name, entries))
    script = os.path.join(sdir, 'etc', '%s.init' % name)
    with open(script, 'w') as handle:
        handle.write(init_script(host, hosts_path))
    log = open(os.path.join(sdir, '%s.log' % name), 'ab')
    proc = subprocess.Popen(
        ['unshare', '--fork', '--pid', '--mount-proc', '--mount', '--net', '--uts', '--ipc',
         '--propagation', 'private', '/bin/sh', script],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True)
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child = _child_of(proc.pid)
        if child and os.path.exists('/proc/%d/root%s' % (child, READY)):
            with open(os.path.join(sdir, '%s.pid' % name), 'w') as handle:
                handle.write('%d\n' % child)
            return True
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    with open(os.path.join(sdir, '%s.log' % name)) as handle:
        raise LabError("lab host '%s' did not start: %s" % (name, handle.read()[-2000:]))


def _child_of(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as handle:
            children = handle.read().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def stop_lab(lab, timeout=10):
    """Kill every host of the lab (SIGKILL of PID 1 ends all its daemons) and forget it.
    Machines go first: their boot loop, then their systemd; then the SSH processes that served
    them; then the namespace hosts (whose network namespaces the machines used)."""
    sdir = state_dir(lab)
    stopped = []
    if os.path.isdir(sdir):
        for entry in sorted(os.listdir(sdir)):
            if entry.endswith('.boot.pid'):
                name = entry[:-len('.boot.pid')]
                if _machine.stop_machine(sdir, name, pid_of(lab, name)):
                    stopped.append('machine ' + name)
        _machine.stop_ssh_clients(sdir)
    _machine.remove_cgroups(lab)
    layers = _machine.layer_dir(lab, '')
    if os.path.isdir(layers):
        shutil.rmtree(layers, ignore_errors=True)
    if not os.path.isdir(sdir):
        return stopped
    pids = []
    for entry in sorted(os.listdir(sdir)):
        if not entry.endswith('.pid'):
            continue
        try:
            with open(os.path.join(sdir, entry)) as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            continue
        # A stale PID file may name a process that is no lab host any more (PIDs are reused).
        if not is_lab_host(pid):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            pids.append(pid)
            stopped.append(entry[:-4])
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if os.path.exists('/proc/%d' % p)]
        time.sleep(0.05)
    shutil.rmtree(sdir, ignore_errors=True)
    return stopped


def link_exists(pid, ifname):
    return in_host(pid, ['ip', 'link', 'show', 'dev', ifname], check=False, net_only=True).returncode == 0


def create_veth(pid_a, name_a, pid_b, name_b, attempts=50):
    """One veth pair, each end created directly in its namespace (never in the root one)."""
    run(['ip', 'link', 'add', 'name', name_a, 'netns', str(pid_a), 'type', 'veth',
         'peer', 'name', name_b, 'netns', str(pid_b)])
    for pid, name in ((pid_a, name_a), (pid_b, name_b)):
        for _i in range(attempts):  # the new link can take a moment to show up
            if link_exists(pid, name):
                break
            time.sleep(0.02)
        else:
            raise LabError('veth end %s did not appear in namespace of PID %d' % (name, pid))


def configure_link(pid, ifname, mtu=None, mac=None, addresses=(), master=None, vlan=None):
    """Bring a lab interface up the way the lab needs it: TX checksum offload off (TCP
    over a netdev bridge stalls otherwise), MTU, MAC, addresses, bridge port."""
    changed = False
    ip = ['ip', '-j', 'address', 'show', 'dev', ifname]
    info = json.loads(in_host(pid, ip, net_only=True).stdout)[0]
    in_host(pid, ['ethtool', '-K', ifname, 'tx', 'off'], check=False, net_only=True)
    if mtu and info.get('mtu') != mtu:
        in_host(pid, ['ip', 'link', 'set', 'dev', ifname, 'mtu', str(mtu)], net_only=True)
        changed = True
    if mac and info.get('address', '').lower() != mac.lower():
        in_host(pid, ['ip', 'link', 'set', 'dev', ifname, 'address', mac], net_only=True)
        changed = True
    have = set('%s/%s' % (a['local'], a['prefixlen']) for a in info.get('addr_info', [])
               if a.get('scope') == 'global')
    for addr in addresses:
        if addr not in have:
            in_host(pid, ['ip', 'address', 'add', addr, 'dev', ifname], net_only=True)
            changed = True
    if master and info.get('master') != master:
        in_host(pid, ['ip', 'link', 'set', 'dev', ifname, 'master', master], net_only=True)
        changed = True
    if master and vlan:
        in_host(pid, ['bridge', 'vlan', 'del', 'dev', ifname, 'vid', '1'], check=False, net_only=True)
        in_host(pid, ['bridge', 'vlan', 'add', 'dev', ifname, 'vid', str(vlan), 'pvid', 'untagged'],
                net_only=True)
    if 'UP' not in info.get('flags', []):
        in_host(pid, ['ip', 'link', 'set', 'dev', ifname, 'up'], net_only=True)
        changed = True
    return changed


def switch_name(network):
    return 'sw-%s' % network


def ensure_switch(lab, network, entries):
    """An underlay network: a lab host holding one Linux bridge, br0, that every host plugs into."""
    host = {'name': switch_name(network['name'])}
    changed = start_host(lab, host, entries)
    pid = pid_of(lab, host['name'])
    if not link_exists(pid, 'br0'):
        in_host(pid, ['ip', 'link', 'add', 'br0', 'type', 'bridge'] +
                (['vlan_filtering', '1'] if network.get('vlan_filtering') else []), net_only=True)
        changed = True
    changed |= configure_link(pid, 'br0', mtu=network.get('mtu'))
    return changed


def ensure_lab(lab, hosts, networks, links, entries):
    """Converge the lab; returns the names of things created or changed."""
    changed = []
    for network in networks:
        if ensure_switch(lab, network, entries):
            changed.append(switch_name(network['name']))
    for host in hosts:
        if start_host(lab, host, entries):
            changed.append(host['name'])
    mtu_of = dict((n['name'], n.get('mtu')) for n in networks)
    for link in links:
        pid = pid_of(lab, link['host'])
        if pid is None:
            raise LabError("link %s:%s names host '%s', which is not in hosts"
                           % (link['host'], link['interface'], link['host']))
        if link.get('network'):
            peer_pid = pid_of(lab, switch_name(link['network']))
            if peer_pid is None:
                raise LabError("link %s:%s names network '%s', which is not in networks"
                               % (link['host'], link['interface'], link['network']))
            peer_name = link.get('peer_interface') or ('%s-%s' % (link['host'], link['interface']))[-15:]
            mtu = link.get('mtu') or mtu_of.get(link['network'])
        else:
            peer_pid = pid_of(lab, link['peer_host'])
            if peer_pid is None:
                raise LabError("link %s:%s names peer host '%s', which is not in hosts"
                               % (link['host'], link['interface'], link['peer_host']))
            peer_name = link['peer_interface']
            mtu = link.get('mtu')
        label = '%s:%s' % (link['host'], link['interface'])
        if not link_exists(pid, link['interface']):
            create_veth(pid, link['interface'], peer_pid, peer_name)
            changed.append(label)
        touched = configure_link(pid, link['interface'], mtu=mtu, mac=link.get('mac'),
                                 addresses=link.get('addresses') or [])
        touched |= configure_link(peer_pid, peer_name, mtu=mtu,
                                  master='br0' if link.get('network') else None, vlan=link.get('vlan'))
        for route in link.get('routes') or []:
            words = route.split()
            shown = in_host(pid, ['ip', 'route', 'show', words[0]], net_only=True).stdout.strip()
            if not shown:
                in_host(pid, ['ip', 'route', 'add'] + words + ['dev', link['interface']], net_only=True)
                touched = True
        if touched and label not in changed:
            changed.append(label)
    # A machine's reboot keeps these addresses and clears the rest (_machine.boot_script).
    sdir = state_dir(lab)
    for host in hosts:
        if host.get('machine'):
            path = _machine.wired_path(sdir, host['name'])
            with open(path + '.tmp', 'w') as handle:
                handle.write(_machine.wired_addresses([link for link in links if link['host'] == host['name']]))
            os.rename(path + '.tmp', path)
    return changed


def ensure_machines(lab, hosts, entries, release='bookworm', mirror=None, upgrade_release=None):
    """Boot a Debian machine in the network namespace of every host with ``machine`` set (after
    ensure_lab wired it), and write the lab's SSH client files. With ``upgrade_release``, every
    machine also has the upgrade repository of that release (_machine.ensure_upgrade_repo). Returns a
    dict: machines (name -> address), started (names), image (paths and whether it was built,
    seconds), upgrade_repo (the same, or None), ssh (paths), notes (what the boot saw that the user
    should hear of: lines for warnings)."""
    machines = [h for h in hosts if h.get('machine')]
    out = {'machines': {}, 'started': [], 'image': None, 'upgrade_repo': None, 'ssh': None, 'notes': []}
    if not machines:
        return out
    sdir = state_dir(lab)
    for host in machines:
        if not host.get('ssh_address'):
            raise LabError("machine '%s' needs ssh_address (the management address sshd listens on)" % host['name'])
    paths, built, seconds = _machine.ensure_image(release=release, mirror=mirror)
    out['image'] = {'path': paths['top'], 'built': built, 'seconds': round(seconds, 1)}
    upgrade_repo = None
    if upgrade_release:
        try:
            upgrade_repo, built, seconds = _machine.ensure_upgrade_repo(paths, release=upgrade_release, mirror=mirror)
        except _machine.MachineError as exc:
            raise LabError('the %s upgrade repository: %s' % (upgrade_release, exc))
        out['upgrade_repo'] = {'path': upgrade_repo, 'release': upgrade_release, 'mount': _machine.UPGRADE_REPO_MOUNT,
                               'built': built, 'seconds': round(seconds, 1)}
    raised_from = _machine.ensure_inotify_instances()
    if raised_from is not None:
        out['notes'].append('fs.inotify.max_user_instances raised from %d to %d: booted machines take about 7 inotify '
                            'instances each, all counted against root' % (raised_from, _machine.INOTIFY_INSTANCES_FOR_LABS))
    keys = _machine.ensure_keys(sdir, [h['name'] for h in machines])
    with open(keys['admin'] + '.pub') as handle:
        admin_key = handle.read()
    booting, loops = {}, {}
    for host in machines:
        name = host['name']
        netns_pid = pid_of(lab, name)
        if netns_pid is None:
            raise LabError("machine '%s' has no lab host (network namespace) to boot in" % name)
        upper = _machine.provision(lab, name, paths['rootfs'], hosts_file(host.get('hostname') or name, entries),
                                   host['ssh_address'], keys[name], admin_key)
        script = _machine.boot_script(name, paths['rootfs'], upper, paths['repo'], netns_pid,
                                      _machine.cgroup_dirs(lab, name), upgrade_repo=upgrade_repo)
        loop = _machine.start_machine(sdir, name, script)
        if loop is not None:
            loops[name] = loop
            out['started'].append(name)
        booting[name] = netns_pid
        out['machines'][name] = host['ssh_address']
    try:
        _machine.wait_booted(sdir, booting, started=loops, notes=out['notes'])
    except _machine.MachineError as exc:
        raise LabError(str(exc))
    out['ssh'] = _machine.write_ssh_client(
        sdir, dict((h['name'], (h['ssh_address'], booting[h['name']])) for h in machines))
    return out
