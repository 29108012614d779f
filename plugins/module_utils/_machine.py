# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab machines: booted Debian systems (systemd as PID 1, journald, sshd) in lab namespaces.

A machine runs with ``systemd-nspawn -b`` inside the network namespace of a lab host (see
_lab.py), so it gets exactly the interfaces the lab wired and the root namespace stays untouched.
Every machine boots the same read-only image (mmdebstrap, built once and cached under
IMAGE_CACHE, keyed by what went into it) with a writable layer of its own (overlayfs) that
survives reboots, as a disk does. The packages the roles install come from a local Debian
repository built with the image (downloaded once) and bind-mounted read-only into every
machine: machines have no route out of the lab.

``systemctl reboot`` inside a machine makes systemd-nspawn exit with status 133; the loop that
runs it starts it again, which is a real reboot. This machine's PID 1 is not systemd, hence
``--keep-unit --register=no``.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid

# The one builder of nsenter command lines (a machine is entered as a lab host is).
from ansible_collections.netvirt.overlay.plugins.module_utils import _lab

IMAGE_CACHE = '/var/cache/netvirt-overlay'
# Writable layers: on disk (a machine's installed packages would fill a tmpfs), one per machine.
LAYER_ROOT = '/var/lib/netvirt-lab'
MARKER = '/etc/netvirt-lab-machine'
REPO_MOUNT = '/srv/netvirt-lab-repo'
ADMIN_USER = 'ansible'
# Bump when the recipe below changes, so that a new image is built.
RECIPE = 5

# What a minimal Debian server of the lab has before Ansible touches it: systemd, sshd, sudo for
# become, Python for modules, python3-apt for the package module, ifupdown (Debian's network
# configuration), and the tools the lab's verification runs on the hosts.
IMAGE_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'iproute2', 'python3', 'python3-apt',
                  'openssh-server', 'sudo', 'ifupdown', 'iputils-ping', 'ethtool', 'iperf3', 'procps']
# What the roles install with the package manager (downloaded once into the local repository,
# with everything they depend on that the image lacks).
REPO_PACKAGES = ['openvswitch-switch', 'openvswitch-common', 'python3-openvswitch', 'ovn-central',
                 'ovn-host', 'ovn-common', 'keepalived', 'nftables']
# The upgrade repository (ensure_upgrade_repo): a later release's Open vSwitch and OVN packages and
# whatever a machine of the image, with the roles' packages installed, needs to take them from there
# (on Debian 12 -> 13: libc6, OpenSSL, Python 3.13, apt...). Mounted read-only where a real host has
# its mirror; playbooks/upgrade.yml is pointed at it by an apt source, as at a mirror.
UPGRADE_PACKAGES = ['openvswitch-switch', 'openvswitch-common', 'python3-openvswitch', 'ovn-central',
                    'ovn-host', 'ovn-common']
UPGRADE_REPO_MOUNT = '/srv/netvirt-lab-upgrade-repo'
UPGRADE_RECIPE = 1
DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'


class MachineError(Exception):
    pass


def _run(argv, check=True, timeout=None, env=None):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise MachineError('%s failed (%d): %s' % (' '.join(argv), proc.returncode,
                                                   (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc


def default_mirror():
    """The Debian mirror of this machine's own apt sources (deb822 or one-line format)."""
    for path in ('/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'):
        try:
            with open(path) as handle:
                for line in handle:
                    words = line.split()
                    if words[:1] == ['URIs:'] and len(words) > 1 and 'security' not in words[1]:
                        return words[1]
                    if words[:1] == ['deb'] and len(words) > 2 and 'security' not in line:
                        return [w for w in words[1:] if not w.startswith('[')][0]
        except OSError:
            continue
    return 'http://deb.debian.org/debian'


def image_key(release, mirror, image_packages, repo_packages):
    data = json.dumps([RECIPE, release, mirror, sorted(image_packages), sorted(repo_packages)])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def image_paths(key):
    top = os.path.join(IMAGE_CACHE, 'machine-%s' % key)
    return {'top': top, 'rootfs': os.path.join(top, 'rootfs'), 'repo': os.path.join(top, 'repo')}


def _nspawn_build(rootfs, script, binds=()):
    """Run a shell script in the image being built (the machine's network: only the build
    downloads anything, and no booted machine shares it)."""
    argv = ['systemd-nspawn', '-q', '-D', rootfs, '--keep-unit', '--register=no']
    for src, dest in binds:
        argv.append('--bind=%s:%s' % (src, dest))
    argv += ['/bin/sh', '-ec', script]
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive', SYSTEMD_NSPAWN_TMPFS_TMP='1')
    return _run(argv, env=env)


def _write_packages_index(repo):
    _run(['sh', '-ec', 'cd %s && dpkg-scanpackages --multiversion . /dev/null > Packages.new 2>/dev/null'
          ' && mv Packages.new Packages' % _q(repo)])


def _q(value):
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


def ensure_image(release='bookworm', mirror=None, image_packages=None, repo_packages=None, log=None):
    """Build the image and the local repository unless a cached build with the same inputs
    exists. Returns (paths, built, seconds)."""
    mirror = mirror or default_mirror()
    image_packages = list(image_packages or IMAGE_PACKAGES)
    repo_packages = list(repo_packages or REPO_PACKAGES)
    key = image_key(release, mirror, image_packages, repo_packages)
    paths = image_paths(key)
    if os.path.isfile(os.path.join(paths['top'], 'complete')):
        return paths, False, 0.0
    os.makedirs(IMAGE_CACHE, exist_ok=True)
    started = time.monotonic()
    # One builder at a time on this machine; the others wait and then find it built.
    with open(os.path.join(IMAGE_CACHE, 'build.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(paths['top'], 'complete')):
            return paths, False, time.monotonic() - started
        shutil.rmtree(paths['top'], ignore_errors=True)
        work = paths['top'] + '.build'
        shutil.rmtree(work, ignore_errors=True)
        rootfs, repo = os.path.join(work, 'rootfs'), os.path.join(work, 'repo')
        os.makedirs(os.path.join(repo, 'partial'))
        # mmdebstrap: apt resolves and dpkg installs the whole set in a few calls (debootstrap took
        # twice its time here, 84 s against 48 s, most of it in dpkg). dpkg without an fsync per
        # file, as Debian's container images have it: the machines' disks are files of this host,
        # which a machine's crash or reboot does not lose; written first, so the build reads it too.
        unsafe_io = os.path.join('etc', 'dpkg', 'dpkg.cfg.d', 'netvirt-lab-unsafe-io')
        _run(['mmdebstrap', '--quiet', '--variant=minbase', '--include=' + ','.join(image_packages),
              '--setup-hook=mkdir -p "$1/etc/dpkg/dpkg.cfg.d" && echo force-unsafe-io > "$1/%s"' % unsafe_io,
              release, rootfs, mirror])
        # Download what the roles will install (and what that depends on) into the repository.
        _nspawn_build(rootfs, 'apt-get update -qq\n'
                      'apt-get install -y -qq --download-only -o Dir::Cache::archives=/repo %s\n'
                      % ' '.join(repo_packages), binds=[(repo, '/repo')])
        shutil.rmtree(os.path.join(repo, 'partial'), ignore_errors=True)
        for name in os.listdir(repo):
            if name.endswith('.bin') or name == 'lock':
                os.unlink(os.path.join(repo, name))
        _write_packages_index(repo)
        # The machine's apt knows only the lab repository; an admin user for SSH with sudo (become),
        # no SSH host keys and no machine-id of its own (each machine gets its own), the lab marker.
        _nspawn_build(rootfs, (
            'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*\n'
            'echo "deb [trusted=yes] file:%(repo)s ./" > /etc/apt/sources.list.d/netvirt-lab.list\n'
            'apt-get update -qq\n'
            'apt-get clean\n'
            'useradd -m -s /bin/bash %(user)s\n'
            'echo "%(user)s ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/%(user)s\n'
            'chmod 0440 /etc/sudoers.d/%(user)s\n'
            'rm -f /etc/ssh/ssh_host_*\n'
            ': > /etc/machine-id\n'
            # Nothing in the lab may reach the internet; these would only try.
            'systemctl mask apt-daily.timer apt-daily-upgrade.timer console-getty.service >/dev/null 2>&1 || true\n'
            'echo "netvirt lab machine image" > %(marker)s\n'
        ) % {'repo': REPO_MOUNT, 'user': ADMIN_USER, 'marker': MARKER}, binds=[(repo, REPO_MOUNT)])
        with open(os.path.join(work, 'inputs.json'), 'w') as handle:
            json.dump({'release': release, 'mirror': mirror, 'image_packages': image_packages,
                       'repo_packages': repo_packages, 'recipe': RECIPE}, handle, indent=1)
        open(os.path.join(work, 'complete'), 'w').close()
        os.rename(work, paths['top'])
    return paths, True, time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# The upgrade repository: packages of another release for a rehearsed upgrade


def simulated_installs(apt_output):
    """{package: version} of the 'Inst' lines of ``apt-get -s install`` (what apt would install)."""
    found = {}
    for line in apt_output.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == 'Inst':
            # "Inst name [old version] (new version suite [arch])" or "Inst name (version ...)"
            rest = line.split('(', 1)
            if len(rest) == 2:
                found[words[1]] = rest[1].split()[0]
    return found


_INDEX_ONLY_FIELDS = ('Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512', 'Description-md5')


def installed_stanzas(packages_index, installed):
    """dpkg status stanzas ("install ok installed") for the {package: version} of a Packages index
    (dpkg-scanpackages' output): what dpkg's status would hold once they are installed. Fails when
    one of them is not in the index."""
    wanted = dict(installed)
    out = []
    for stanza in packages_index.strip().split('\n\n'):
        fields, name, version = [], None, None
        for line in stanza.splitlines():
            if line[:1] in (' ', '\t') and fields:
                fields[-1] += '\n' + line
                continue
            key = line.split(':', 1)[0]
            if key == 'Package':
                name = line.split(':', 1)[1].strip()
            elif key == 'Version':
                version = line.split(':', 1)[1].strip()
            fields.append(line)
        if name is None or wanted.get(name) != version:
            continue
        kept = [f for f in fields if f.split(':', 1)[0] not in _INDEX_ONLY_FIELDS]
        kept.insert(1, 'Status: install ok installed')
        out.append('\n'.join(kept))
        del wanted[name]
    if wanted:
        raise MachineError('not in the local repository: %s' % ', '.join('%s %s' % kv for kv in sorted(wanted.items())))
    return out


def upgrade_repo_key(image_top, release, mirror, packages):
    data = json.dumps([UPGRADE_RECIPE, os.path.basename(image_top), release, mirror, sorted(packages)])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def _host_apt(config, argv):
    env = dict(os.environ, APT_CONFIG=config, DEBIAN_FRONTEND='noninteractive')
    return _run(['apt-get'] + argv, env=env)


def ensure_upgrade_repo(image, release='trixie', mirror=None, packages=None, repo_packages=None):
    """A local repository (flat, like the image's) with ``release``'s ``packages`` and everything
    a machine of ``image`` (image_paths()) needs to upgrade to them once the roles have installed
    ``repo_packages`` from the image's repository. apt on this machine works that out with a dpkg
    status of its own (the image's, plus those packages as installed): nothing is installed and no
    machine is involved. Built once, cached next to the image. Returns (path, built, seconds)."""
    mirror = mirror or default_mirror()
    packages = list(packages or UPGRADE_PACKAGES)
    repo_packages = list(repo_packages or REPO_PACKAGES)
    top = os.path.join(IMAGE_CACHE, 'upgrade-%s' % upgrade_repo_key(image['top'], release, mirror, packages))
    repo = os.path.join(top, 'repo')
    if os.path.isfile(os.path.join(top, 'complete')):
        return repo, False, 0.0
    if not os.path.isfile(DEBIAN_KEYRING):
        raise MachineError('%s is missing (package debian-archive-keyring): the %s packages could not be verified'
                           % (DEBIAN_KEYRING, release))
    started = time.monotonic()
    with open(os.path.join(IMAGE_CACHE, 'build.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(os.path.join(top, 'complete')):
            return repo, False, time.monotonic() - started
        work = top + '.build'
        shutil.rmtree(work, ignore_errors=True)
        for sub in ('lists/partial', 'cache/archives/partial', 'repo/partial', 'empty'):
            os.makedirs(os.path.join(work, sub))
        status = os.path.join(work, 'status')
        sources = os.path.join(work, 'sources.list')
        config = os.path.join(work, 'apt.conf')
        arch = _run(['dpkg', '--print-architecture']).stdout.strip()
        with open(config, 'w') as handle:
            handle.write(''.join('%s "%s";\n' % kv for kv in (
                ('Dir::State', work), ('Dir::State::Lists', os.path.join(work, 'lists')),
                ('Dir::State::status', status), ('Dir::Cache', os.path.join(work, 'cache')),
                ('Dir::Etc::SourceList', sources), ('Dir::Etc::SourceParts', os.path.join(work, 'empty')),
                ('Dir::Etc::Preferences', os.path.join(work, 'empty', 'none')),
                ('Dir::Etc::PreferencesParts', os.path.join(work, 'empty')),
                ('APT::Architecture', arch), ('Debug::NoLocking', 'true'))))
            handle.write('APT::Architectures { "%s"; };\n' % arch)
        shutil.copyfile(os.path.join(image['rootfs'], 'var/lib/dpkg/status'), status)
        # 1. What the roles install from the image's repository, written into the status as installed.
        with open(sources, 'w') as handle:
            handle.write('deb [trusted=yes] file:%s ./\n' % image['repo'])
        _host_apt(config, ['update', '-qq'])
        installs = simulated_installs(_host_apt(config, ['-s', 'install'] + repo_packages).stdout)
        with open(os.path.join(image['repo'], 'Packages')) as handle:
            stanzas = installed_stanzas(handle.read(), installs)
        with open(status, 'a') as handle:
            handle.write('\n' + '\n\n'.join(stanzas) + '\n')
        # 2. The upgrade from the release's mirror, downloaded only.
        with open(sources, 'w') as handle:
            handle.write('deb [signed-by=%s] %s %s main\n' % (DEBIAN_KEYRING, mirror, release))
        _host_apt(config, ['update', '-qq'])
        _host_apt(config, ['install', '-y', '-qq', '--download-only',
                           '-o', 'Dir::Cache::archives=%s' % os.path.join(work, 'repo')] + packages)
        shutil.rmtree(os.path.join(work, 'repo', 'partial'), ignore_errors=True)
        for name in os.listdir(os.path.join(work, 'repo')):
            if not name.endswith('.deb'):
                os.unlink(os.path.join(work, 'repo', name))
        _write_packages_index(os.path.join(work, 'repo'))
        with open(os.path.join(work, 'inputs.json'), 'w') as handle:
            json.dump({'image': os.path.basename(image['top']), 'release': release, 'mirror': mirror,
                       'packages': packages, 'repo_packages': repo_packages, 'recipe': UPGRADE_RECIPE,
                       'installed_first': installs}, handle, indent=1)
        for sub in ('lists', 'cache', 'empty', 'status', 'sources.list', 'apt.conf'):
            path = os.path.join(work, sub)
            shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        open(os.path.join(work, 'complete'), 'w').close()
        shutil.rmtree(top, ignore_errors=True)
        os.rename(work, top)
    return repo, True, time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# One machine


def layer_dir(lab, name):
    return os.path.join(LAYER_ROOT, lab, name)


def _copy_dir_meta(lower, upper, relpath):
    """Create relpath's directories in the writable layer with the image's owner and mode (an
    upper directory hides the lower one's attributes)."""
    parts = relpath.strip('/').split('/')
    for i in range(1, len(parts) + 1):
        sub = '/'.join(parts[:i])
        src, dest = os.path.join(lower, sub), os.path.join(upper, sub)
        if os.path.isdir(dest):
            continue
        os.mkdir(dest)
        if os.path.isdir(src):
            st = os.stat(src)
            os.chown(dest, st.st_uid, st.st_gid)
            os.chmod(dest, st.st_mode & 0o7777)


def _user_ids(rootfs, user):
    with open(os.path.join(rootfs, 'etc/passwd')) as handle:
        for line in handle:
            fields = line.split(':')
            if fields[0] == user:
                return int(fields[2]), int(fields[3])
    raise MachineError('user %s is missing from the image %s' % (user, rootfs))


def _put(upper, rootfs, relpath, content, mode=0o644, owner=(0, 0)):
    _copy_dir_meta(rootfs, upper, os.path.dirname(relpath))
    path = os.path.join(upper, relpath.lstrip('/'))
    tmp = path + '.tmp'
    with open(tmp, 'w') as handle:
        handle.write(content)
    os.chown(tmp, *owner)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def provision(lab, name, rootfs, hosts_text, address, host_key, authorized_key):
    """What a real machine has before Ansible reaches it: its name, /etc/hosts, a machine-id,
    an SSH host key, sshd listening on its management address only, the admin's key."""
    upper = layer_dir(lab, name)
    os.makedirs(upper, exist_ok=True)
    machine_id = os.path.join(upper, 'etc/machine-id')
    if not os.path.exists(machine_id):
        _put(upper, rootfs, '/etc/machine-id', uuid.uuid4().hex + '\n', 0o444)
    _put(upper, rootfs, '/etc/hostname', name + '\n')
    _put(upper, rootfs, '/etc/hosts', hosts_text)
    with open(host_key) as handle:
        _put(upper, rootfs, '/etc/ssh/ssh_host_ed25519_key', handle.read(), 0o600)
    with open(host_key + '.pub') as handle:
        _put(upper, rootfs, '/etc/ssh/ssh_host_ed25519_key.pub', handle.read(), 0o644)
    _put(upper, rootfs, '/etc/ssh/sshd_config.d/netvirt-lab.conf',
         '# Written by the netvirt lab: only the management address, keys only.\n'
         'ListenAddress %s\nHostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n'
         'KbdInteractiveAuthentication no\n' % address)
    uid_gid = _user_ids(rootfs, ADMIN_USER)
    _put(upper, rootfs, '/home/%s/.ssh/authorized_keys' % ADMIN_USER, authorized_key, 0o600, uid_gid)
    os.chmod(os.path.join(upper, 'home', ADMIN_USER, '.ssh'), 0o700)
    os.chown(os.path.join(upper, 'home', ADMIN_USER, '.ssh'), *uid_gid)
    return upper


CGROUP_ROOT = '/sys/fs/cgroup'
# This machine's PID 1 is not systemd: every process sits in the root cgroup. Each machine gets a
# cgroup of its own in the hierarchies its systemd manages (two machines' systemd in one cgroup
# fail each other's units with status 219/CGROUP).
CGROUP_HIERARCHIES = ('systemd', 'unified')


def cgroup_dirs(lab, name):
    """The machine's own cgroup in each hierarchy this machine has (v1 name=systemd and unified,
    or a single v2 tree)."""
    if os.path.exists(os.path.join(CGROUP_ROOT, 'cgroup.controllers')):
        return [os.path.join(CGROUP_ROOT, 'netvirt-lab', lab, name)]
    return [os.path.join(CGROUP_ROOT, h, 'netvirt-lab', lab, name) for h in CGROUP_HIERARCHIES
            if os.path.isdir(os.path.join(CGROUP_ROOT, h))]


def remove_cgroups(lab, name=None):
    """Remove the (empty) cgroups of a machine, or of every machine of the lab, deepest first."""
    tops = cgroup_dirs(lab, name) if name else [os.path.dirname(d) for d in cgroup_dirs(lab, 'x')]
    for top in tops:
        if not os.path.isdir(top):
            continue
        for folder, _dirs, _files in sorted(os.walk(top), key=lambda w: -w[0].count('/')):
            try:
                os.rmdir(folder)
            except OSError:
                pass
        if not name:
            try:  # the labs' common parent, once no lab has machines any more
                os.rmdir(os.path.dirname(top))
            except OSError:
                pass


# Every booted machine's systemd, logind and dbus hold about 7 inotify instances, all counted against
# root's limit on this machine (the kernel's default, 128): .ci/run's three machine labs side by side
# (about 23 machines) went past it, and units that need one failed at boot ("failed units" of a drill).
INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances'
INOTIFY_INSTANCES_FOR_LABS = 1024


def ensure_inotify_instances(path=INOTIFY_INSTANCES, wanted=INOTIFY_INSTANCES_FOR_LABS):
    """Raise root's inotify instance limit to ``wanted`` when it is lower; the old value when it
    was raised, else None. (A kernel setting of this machine, not of its network: the lab never
    touches those.)"""
    with open(path) as handle:
        current = int(handle.read().strip())
    if current >= wanted:
        return None
    with open(path, 'w') as handle:
        handle.write('%d\n' % wanted)
    return current


def boot_script_path(sdir, name):
    return os.path.join(sdir, 'etc', '%s.boot' % name)


def wired_path(sdir, name):
    """The file, beside a machine's boot script ("$0.wired" in it), of the addresses the lab gave its links."""
    return boot_script_path(sdir, name) + '.wired'


def wired_addresses(links):
    """Lines 'interface address' of the addresses the lab puts on one host's links, written the way
    ``ip -o address`` prints them, for the power cycle of boot_script."""
    out = []
    for link in links:
        for address in link.get('addresses') or []:
            out.append('%s %s' % (link['interface'], ipaddress.ip_interface(address).with_prefixlen))
    return ''.join(line + '\n' for line in sorted(set(out)))


# What a reboot clears, in the loop of boot_script. A real host's links and addresses are gone at
# a reboot; a machine's network namespace is the lab's and outlives it: without this, OVS's tap
# devices (tep0, br-*) and the addresses the machine set (keepalived's, tep0's) are still there when
# it boots again, and the boot is not a real host's (networking.service fails on "address already
# assigned"). So the machine's links (anything but the veths the lab wires, and lo) are deleted
# and every address but the lab's (the .wired file), lo's own and link-local ones; nftables is
# flushed; the veths lose their link for a second, as a host's NICs do. Only in the namespace the
# machine booted in, never in the root namespace.
_POWER_CYCLE = r'''power_cycle() {
    [ "$(readlink /proc/%(pid)d/ns/net)" = "$netns" ] || { echo "== namespace of %(pid)d changed: not booting"; exit 1; }
    in_lab() { nsenter --net=/proc/%(pid)d/ns/net "$@"; }
    in_lab ip -o link show | sed 's/^[0-9]*: \([^:@]*\).*/\1/' | sort >"$0.links"
    in_lab ip -o link show type veth | sed 's/^[0-9]*: \([^:@]*\).*/\1/' | sort >"$0.veths"
    # Its NICs lose their link while it is down: the switch at their other end forgets their MACs.
    while read -r link; do in_lab ip link set dev "$link" down; done <"$0.veths"
    grep -vx lo "$0.links" | comm -23 - "$0.veths" | while read -r link; do
        in_lab ip link delete "$link" 2>/dev/null || in_lab ip tuntap del dev "$link" mode tap 2>/dev/null ||
            in_lab ip tuntap del dev "$link" mode tun || echo "== $link: not deleted"
    done
    in_lab ip -o address show | awk '!/ scope link / {print $2, $4}' | sort |
        grep -vx -e 'lo 127.0.0.1/8' -e 'lo ::1/128' | comm -23 - "$0.wired" | while read -r link address; do
        in_lab ip address delete "$address" dev "$link" || echo "== $link $address: not deleted"
    done
    if command -v nft >/dev/null; then in_lab nft flush ruleset; fi
    sleep 1
    while read -r link; do in_lab ip link set dev "$link" up; done <"$0.veths"
}
'''


def boot_script(name, rootfs, upper, repo, netns_pid, cgroups=(), upgrade_repo=None):
    argv = ['systemd-nspawn', '-q', '-D', rootfs, '--overlay=%s:%s:/' % (rootfs, upper), '-M', name, '-b',
            '--network-namespace-path=/proc/%d/ns/net' % netns_pid, '--keep-unit', '--register=no',
            '--bind=/dev/net/tun', '--capability=CAP_NET_ADMIN,CAP_IPC_LOCK',
            '--bind-ro=%s:%s' % (repo, REPO_MOUNT), '--console=read-only']
    if upgrade_repo:
        # Where a real host has its mirror; nothing points the machine's apt at it until a playbook does.
        argv.insert(-1, '--bind-ro=%s:%s' % (upgrade_repo, UPGRADE_REPO_MOUNT))
    # Exit status 133 is "reboot": start it again, as the machine's firmware would.
    enter = ''.join('mkdir -p %s && echo $$ > %s/cgroup.procs\n' % (_q(d), _q(d)) for d in cgroups)
    return ('#!/bin/sh\n'
            '%s'
            # /proc/sys/net writable, as on a host (forwarding in router namespaces): nspawn leaves
            # it read-only when it is handed a network namespace rather than making one.
            'export SYSTEMD_NSPAWN_API_VFS_WRITABLE=network\n'
            'netns=$(readlink /proc/%d/ns/net)\n'
            # This script's own namespace is the one it must never touch (/proc/1 may not be readable).
            '[ -n "$netns" ] && [ "$netns" != "$(readlink /proc/$$/ns/net)" ] || { echo "== no lab namespace"; exit 1; }\n'
            '%s'
            # Booting from power-off: what a machine that died here left on the links goes first
            # (its replacement, after wipe_machine, starts from the lab's wiring alone).
            'power_cycle\n'
            'while :; do\n'
            '    %s\n'
            '    rc=$?\n'
            # Its console says how the machine ended (a boot that ends at once prints nothing else).
            '    [ "$rc" -eq 133 ] || { echo "== systemd-nspawn exited $rc $(date +%%s.%%N)"; exit "$rc"; }\n'
            '    echo "== reboot $(date +%%s.%%N)"\n'
            '    power_cycle\n'
            'done\n') % (enter, netns_pid, _POWER_CYCLE % {'pid': netns_pid}, ' '.join(_q(a) for a in argv))


def _netns(pid):
    try:
        return os.readlink('/proc/%d/ns/net' % pid)
    except OSError:
        return None


def _nspid_is_one(pid):
    try:
        with open('/proc/%d/status' % pid) as handle:
            for line in handle:
                if line.startswith('NSpid:'):
                    ids = line.split()[1:]
                    return len(ids) > 1 and ids[-1] == '1'
    except OSError:
        pass
    return False


def machine_init(netns_pid):
    """PID (root namespace) of the systemd of the machine booted in netns_pid's network
    namespace: PID 1 of its own PID namespace, in that network namespace, with the image marker."""
    want = _netns(netns_pid)
    if want is None:
        return None
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == netns_pid or _netns(pid) != want or not _nspid_is_one(pid):
            continue
        if os.path.exists('/proc/%d/root%s' % (pid, MARKER)):
            return pid
    return None


def boot_pid_path(sdir, name):
    return os.path.join(sdir, '%s.boot.pid' % name)


def boot_pid(sdir, name):
    """The PID in a machine's boot loop PID file (OSError, ValueError when there is none)."""
    with open(boot_pid_path(sdir, name)) as handle:
        return int(handle.read().strip())


def supervisor_pid(sdir, name):
    try:
        pid = boot_pid(sdir, name)
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            cmdline = handle.read().split(b'\0')
    except (OSError, ValueError):
        return None
    script = boot_script_path(sdir, name).encode()
    return pid if script in cmdline else None


def start_machine(sdir, name, script_text):
    """Start the boot loop of a machine unless it runs: its Popen, None when it was running."""
    if supervisor_pid(sdir, name):
        return None
    script = boot_script_path(sdir, name)
    with open(script, 'w') as handle:
        handle.write(script_text)
    log = open(os.path.join(sdir, '%s.console' % name), 'ab')
    proc = subprocess.Popen(['/bin/sh', script], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, close_fds=True)
    log.close()
    with open(boot_pid_path(sdir, name), 'w') as handle:
        handle.write('%d\n' % proc.pid)
    return proc


def system_state(init_pid):
    proc = subprocess.run(_lab.enter(init_pid, ['systemctl', 'is-system-running'], all_namespaces=True),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
    return proc.stdout.strip()


def how_it_ended(sdir, name, proc):
    """How a boot loop ended, for an error message: its exit when this process started it, else
    what its PID file names."""
    status = proc.poll() if proc is not None else None
    if status is not None and status < 0:
        return ' (its boot loop was killed by %s)' % signal.Signals(-status).name
    if status is not None:
        return ' (its boot loop exited with status %d)' % status
    try:
        pid = boot_pid(sdir, name)
    except (OSError, ValueError) as exc:
        return ' (no boot loop PID in %s: %s)' % (boot_pid_path(sdir, name), exc)
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            cmdline = handle.read().replace(b'\0', b' ').decode(errors='replace').strip()
        with open('/proc/%d/stat' % pid) as handle:
            state = handle.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return ' (its boot loop, PID %d, is gone%s)' % (pid, '' if proc is None else ', started by this run')
    return ' (its boot loop PID %d is in state %s, command line %r%s)' % (
        pid, state, cmdline, '' if proc is None else ', started by this run')


def wait_booted(sdir, machines, timeout=120, started=None, notes=None):
    """Wait until every machine (name -> netns pid) is up; returns {name: init pid}.
    'degraded' counts as up: a unit that failed is for the checks to report, not the boot.
    started: name -> the Popen of start_machine. A boot loop this run started is alive while its
    Popen has not ended (which /proc cannot fool); one an earlier run started, while the PID in its
    PID file runs it. When the two disagree on a loop started here, a line goes to ``notes``."""
    started = started or {}
    pending = dict(machines)
    done, noted = {}, set()
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, netns_pid in list(pending.items()):
            init = machine_init(netns_pid)
            if init and system_state(init) in ('running', 'degraded'):
                done[name] = init
                del pending[name]
                continue
            loop = started.get(name)
            by_pid_file = bool(supervisor_pid(sdir, name))
            if loop is None and by_pid_file or loop is not None and loop.poll() is None:
                if loop is not None and not by_pid_file and notes is not None and name not in noted:
                    noted.add(name)
                    notes.append('machine %s: its boot loop (PID %d) runs, but the check of its PID file found it not '
                                 'running%s' % (name, loop.pid, how_it_ended(sdir, name, None)))
                continue
            raise MachineError('machine %s stopped while booting%s; its console: %s'
                               % (name, how_it_ended(sdir, name, loop), console_tail(sdir, name) or '(empty)'))
        time.sleep(0.2)
    if pending:
        raise MachineError('machines did not finish booting in %d s: %s; last console lines of %s: %s'
                           % (timeout, ', '.join(sorted(pending)), sorted(pending)[0],
                              console_tail(sdir, sorted(pending)[0])))
    return done


def console_tail(sdir, name, chars=1500):
    try:
        with open(os.path.join(sdir, '%s.console' % name), errors='replace') as handle:
            return handle.read()[-chars:]
    except OSError:
        return '(no console log)'


def stop_machine(sdir, name, netns_pid, timeout=15):
    """Stop the boot loop first (so that it does not start the machine again), then kill the
    machine's systemd: SIGKILL of a PID namespace's init ends every process in it."""
    stopped = False
    sup = supervisor_pid(sdir, name)
    if sup:
        os.killpg(sup, signal.SIGKILL) if os.getpgid(sup) == sup else os.kill(sup, signal.SIGKILL)
        stopped = True
    init = machine_init(netns_pid) if netns_pid else None
    if init:
        os.kill(init, signal.SIGKILL)
        stopped = True
        deadline = time.monotonic() + timeout
        while os.path.exists('/proc/%d' % init) and time.monotonic() < deadline:
            time.sleep(0.05)
    return stopped


def wipe_machine(lab, sdir, name, netns_pid):
    """A machine that died for good and whose disk is replaced: switched off (its systemd killed, no
    shutdown), its writable layer and cgroups removed. Its lab host (network namespace and links)
    stays, as the cables stay for the server that replaces it: ensure_machines then boots a fresh
    machine from the image there. Returns whether it was running."""
    stopped = stop_machine(sdir, name, netns_pid)
    layer = layer_dir(lab, name)
    if os.path.isdir(layer):
        shutil.rmtree(layer)
    remove_cgroups(lab, name)
    return stopped


# ---------------------------------------------------------------------------------------------
# SSH: keys made for the lab, host keys recorded in a known_hosts the lab writes


# Relay between SSH's stdin/stdout and the machine's sshd, run inside the machine's network
# namespace: the root namespace has no route into the lab, and must not get one.
RELAY = '''import os, select, socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
sock.settimeout(None)
fds = {0: sock.fileno(), sock.fileno(): 1}
while fds:
    ready = select.select(list(fds), [], [])[0]
    for fd in ready:
        data = os.read(fd, 65536) if fd == 0 else sock.recv(65536)
        if not data:
            if fd == 0:
                sock.shutdown(socket.SHUT_WR)
                del fds[0]
            else:
                sys.exit(0)
            continue
        if fd == 0:
            sock.sendall(data)
        else:
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]
'''


def ssh_dir(sdir):
    return os.path.join(sdir, 'ssh')


def ensure_keys(sdir, names):
    """The admin key pair of the lab and one host key per machine (made once per lab)."""
    sshd = ssh_dir(sdir)
    os.makedirs(os.path.join(sshd, 'hostkeys'), mode=0o700, exist_ok=True)
    os.chmod(sshd, 0o700)
    keys = {'admin': os.path.join(sshd, 'id_ed25519')}
    if not os.path.exists(keys['admin']):
        _run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'netvirt-lab-admin', '-f', keys['admin']])
    for name in names:
        path = os.path.join(sshd, 'hostkeys', name)
        if not os.path.exists(path):
            _run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'root@%s' % name, '-f', path])
        keys[name] = path
    return keys


def proxy_command(netns_pid, relay):
    """The ssh_config ProxyCommand that relays a connection from inside the network namespace of
    lab host netns_pid (ssh expands %h and %p, which shlex leaves unquoted)."""
    argv = _lab.enter(netns_pid, ['/usr/bin/python3', relay, '%h', '%p'], net_only=True)
    return ' '.join(shlex.quote(arg) for arg in argv)


def write_ssh_client(sdir, machines):
    """known_hosts (each machine's host key under its address and name) and an ssh_config whose
    ProxyCommand reaches each address from inside its machine's network namespace.
    machines: name -> (address, netns pid)."""
    sshd = ssh_dir(sdir)
    relay = os.path.join(sshd, 'relay.py')
    with open(relay, 'w') as handle:
        handle.write(RELAY)
    known = []
    config = ['# Written by the netvirt lab for the machines of this lab.']
    for name in sorted(machines):
        address, pid = machines[name]
        with open(os.path.join(sshd, 'hostkeys', name + '.pub')) as handle:
            kind, blob = handle.read().split()[:2]
        known.append('%s,%s %s %s' % (address, name, kind, blob))
        config += ['Host %s %s' % (address, name),
                   '    HostName %s' % address,
                   '    ProxyCommand ' + proxy_command(pid, relay)]
    config += ['Host *',
               '    User %s' % ADMIN_USER,
               '    IdentityFile %s' % os.path.join(sshd, 'id_ed25519'),
               '    IdentitiesOnly yes',
               '    UserKnownHostsFile %s' % os.path.join(sshd, 'known_hosts'),
               '    GlobalKnownHostsFile /dev/null',
               '    StrictHostKeyChecking yes',
               '    PasswordAuthentication no',
               '    BatchMode yes']
    for path, lines in ((os.path.join(sshd, 'known_hosts'), known), (os.path.join(sshd, 'config'), config)):
        with open(path + '.tmp', 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        os.rename(path + '.tmp', path)
    return {'known_hosts': os.path.join(sshd, 'known_hosts'), 'config': os.path.join(sshd, 'config')}


def stop_ssh_clients(sdir):
    """SSH connection masters and relays that served this lab's machines (their command line names
    the lab's SSH directory); they would otherwise outlive the machines."""
    marker = ssh_dir(sdir).encode()
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                cmdline = handle.read()
        except OSError:
            continue
        argv = cmdline.split(b'\0')
        # An SSH master renames itself "ssh: <control path> [mux]".
        if marker in cmdline and (os.path.basename(argv[0]) in (b'ssh', b'python3') or argv[0].startswith(b'ssh: ')):
            try:
                os.kill(int(entry), signal.SIGTERM)
            except OSError:
                pass
