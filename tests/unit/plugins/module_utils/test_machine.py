# -*- coding: utf-8 -*-
# The parts of the machine lab that need no root and no image: what a machine is given before it
# boots, the boot loop, and the SSH client files. Booting is tested in tests/integration.
from __future__ import annotations

import os
import shlex
import stat
import subprocess

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils import _lab, _machine


def test_the_image_key_follows_every_input_and_not_the_order_of_packages():
    base = _machine.image_key('bookworm', 'http://m/debian', ['a', 'b'], ['x'])
    assert base == _machine.image_key('bookworm', 'http://m/debian', ['b', 'a'], ['x'])
    assert base != _machine.image_key('trixie', 'http://m/debian', ['a', 'b'], ['x'])
    assert base != _machine.image_key('bookworm', 'http://other/debian', ['a', 'b'], ['x'])
    assert base != _machine.image_key('bookworm', 'http://m/debian', ['a', 'b'], ['x', 'y'])


def test_the_upgrade_repository_is_mounted_read_only_only_when_asked_for():
    plain = _machine.boot_script('hv1', '/img/rootfs', '/layers/hv1', '/img/repo', 4242)
    assert _machine.UPGRADE_REPO_MOUNT not in plain
    text = _machine.boot_script('hv1', '/img/rootfs', '/layers/hv1', '/img/repo', 4242, upgrade_repo='/up/repo')
    assert "'--bind-ro=/up/repo:/srv/netvirt-lab-upgrade-repo'" in text
    # ... as an option of systemd-nspawn, before the machine's init is named (-b boots it).
    assert text.index('/srv/netvirt-lab-upgrade-repo') < text.index("'--console=read-only'")


def test_the_upgrade_repository_key_follows_the_image_release_mirror_and_packages():
    base = _machine.upgrade_repo_key('/c/machine-1', 'trixie', 'http://m/debian', ['a', 'b'])
    assert base == _machine.upgrade_repo_key('/c/machine-1', 'trixie', 'http://m/debian', ['b', 'a'])
    for other in (('/c/machine-2', 'trixie', 'http://m/debian', ['a', 'b']),
                  ('/c/machine-1', 'forky', 'http://m/debian', ['a', 'b']),
                  ('/c/machine-1', 'trixie', 'http://o/debian', ['a', 'b']),
                  ('/c/machine-1', 'trixie', 'http://m/debian', ['a'])):
        assert base != _machine.upgrade_repo_key(*other), other


# apt-get -s install's lines (apt 2.6), an upgrade, a new package, a removal and configure lines.
APT_SIMULATION = """Reading package lists...
Inst libc6 [2.36-9+deb12u14] (2.41-12+deb13u5 Debian:13.8/stable [amd64]) [libc-bin:amd64 ]
Remv libssl3 [3.0.20-1~deb12u2] [openssh-client:amd64 ]
Inst libssl3t64 (3.5.9-1~deb13u1 Debian:13.8/stable [amd64])
Inst openvswitch-common (3.1.0-2+deb12u1 localhost [amd64])
Conf openvswitch-common (3.1.0-2+deb12u1 localhost [amd64])
"""


def test_simulated_installs_are_the_inst_lines_with_their_new_version():
    assert _machine.simulated_installs(APT_SIMULATION) == {
        'libc6': '2.41-12+deb13u5', 'libssl3t64': '3.5.9-1~deb13u1', 'openvswitch-common': '3.1.0-2+deb12u1'}
    assert _machine.simulated_installs('Reading package lists...\n') == {}


PACKAGES_INDEX = """Package: openvswitch-common
Version: 3.1.0-2+deb12u1
Architecture: amd64
Depends: openssl, libc6 (>= 2.34)
Filename: ./openvswitch-common_3.1.0-2+deb12u1_amd64.deb
Size: 100
SHA256: abc
Description: Open vSwitch common components
 A multi-line description
 .
 with a paragraph.

Package: openvswitch-common
Version: 3.0.0-1
Architecture: amd64
Filename: ./openvswitch-common_3.0.0-1_amd64.deb
Description: an older one

Package: keepalived
Version: 1:2.2.7-1+b2
Architecture: amd64
Filename: ./keepalived.deb
Description: not installed
"""


def test_installed_stanzas_are_dpkg_status_entries_of_the_versions_asked_for():
    stanzas = _machine.installed_stanzas(PACKAGES_INDEX, {'openvswitch-common': '3.1.0-2+deb12u1'})
    assert stanzas == ['Package: openvswitch-common\nStatus: install ok installed\nVersion: 3.1.0-2+deb12u1\n'
                       'Architecture: amd64\nDepends: openssl, libc6 (>= 2.34)\n'
                       'Description: Open vSwitch common components\n A multi-line description\n .\n with a paragraph.']


def test_installed_stanzas_fail_on_a_package_the_index_does_not_have():
    with pytest.raises(_machine.MachineError, match='not in the local repository: openvswitch-common 9.9'):
        _machine.installed_stanzas(PACKAGES_INDEX, {'openvswitch-common': '9.9'})


def test_the_boot_loop_restarts_only_on_reboot_and_keeps_the_machine_in_its_namespace(tmp_path):
    text = _machine.boot_script('hv1', '/img/rootfs', '/layers/hv1', '/img/repo', 4242,
                                cgroups=['/sys/fs/cgroup/systemd/netvirt-lab/lab/hv1'])
    assert '[ "$rc" -eq 133 ] || { echo "== systemd-nspawn exited $rc' in text
    assert "'--network-namespace-path=/proc/4242/ns/net'" in text
    assert "'--overlay=/img/rootfs:/layers/hv1:/'" in text
    assert "'--bind-ro=/img/repo:/srv/netvirt-lab-repo'" in text
    assert "--keep-unit" in text and "--register=no" in text
    assert "CAP_NET_ADMIN" in text and "'--bind=/dev/net/tun'" in text
    # The machine's own cgroup comes before the loop; the loop never runs without it. The first
    # boot, too, starts from the lab's wiring alone (tests/integration/test_machine_power_cycle.py).
    assert text.index('cgroup.procs') < text.index('while :')
    assert text.index('power_cycle\n') < text.index('while :')
    # nspawn gets no network option of its own: the machine has exactly the lab's interfaces.
    assert '--network-veth' not in text and '--private-network' not in text
    path = tmp_path / 'boot'
    path.write_text(text)
    assert subprocess.run(['sh', '-n', str(path)], check=False).returncode == 0


def test_wipe_machine_removes_the_disk_and_cgroups_of_one_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(_machine, 'LAYER_ROOT', str(tmp_path / 'layers'))
    monkeypatch.setattr(_machine, 'CGROUP_ROOT', str(tmp_path / 'cgroup'))
    for name in ('hv1', 'hv2'):
        (tmp_path / 'layers' / 'lab' / name / 'etc').mkdir(parents=True)
        (tmp_path / 'layers' / 'lab' / name / 'etc' / 'machine-id').write_text(name + '\n')
        (tmp_path / 'cgroup' / 'unified' / 'netvirt-lab' / 'lab' / name / 'init.scope').mkdir(parents=True)
    # Not running (no boot loop, no namespace): nothing to stop, the disk goes all the same.
    assert _machine.wipe_machine('lab', str(tmp_path / 'state'), 'hv1', None) is False
    assert not (tmp_path / 'layers' / 'lab' / 'hv1').exists()
    assert not (tmp_path / 'cgroup' / 'unified' / 'netvirt-lab' / 'lab' / 'hv1').exists()
    # The other machine of the lab keeps its disk and cgroup.
    assert (tmp_path / 'layers' / 'lab' / 'hv2' / 'etc' / 'machine-id').read_text() == 'hv2\n'
    assert (tmp_path / 'cgroup' / 'unified' / 'netvirt-lab' / 'lab' / 'hv2' / 'init.scope').is_dir()
    # Wiping it again is no error.
    assert _machine.wipe_machine('lab', str(tmp_path / 'state'), 'hv1', None) is False


def _fake_image(root):
    for folder in ('etc/ssh', 'home/ansible'):
        (root / folder).mkdir(parents=True)
    (root / 'etc/passwd').write_text('root:x:0:0::/root:/bin/bash\nansible:x:1000:1000::/home/ansible:/bin/bash\n')
    os.chmod(root / 'home/ansible', 0o750)


@pytest.mark.skipif(os.geteuid() != 0, reason='sets file owners')
def test_provision_gives_the_machine_its_name_keys_and_sshd_on_one_address(tmp_path, monkeypatch):
    rootfs = tmp_path / 'rootfs'
    _fake_image(rootfs)
    monkeypatch.setattr(_machine, 'LAYER_ROOT', str(tmp_path / 'layers'))
    key = tmp_path / 'hostkey'
    key.write_text('PRIVATE')
    (tmp_path / 'hostkey.pub').write_text('ssh-ed25519 AAAAkey root@hv1\n')
    upper = _machine.provision('lab', 'hv1', str(rootfs), '127.0.0.1 localhost\n198.18.0.11 hv1\n',
                               '198.18.0.11', str(key), 'ssh-ed25519 AAAAadmin admin\n')
    up = tmp_path / 'layers' / 'lab' / 'hv1'
    assert upper == str(up)
    assert (up / 'etc/hostname').read_text() == 'hv1\n'
    assert 'ListenAddress 198.18.0.11\n' in (up / 'etc/ssh/sshd_config.d/netvirt-lab.conf').read_text()
    assert 'PasswordAuthentication no' in (up / 'etc/ssh/sshd_config.d/netvirt-lab.conf').read_text()
    assert stat.S_IMODE(os.stat(up / 'etc/ssh/ssh_host_ed25519_key').st_mode) == 0o600
    auth = up / 'home/ansible/.ssh/authorized_keys'
    assert auth.read_text() == 'ssh-ed25519 AAAAadmin admin\n'
    assert (os.stat(auth).st_uid, stat.S_IMODE(os.stat(auth).st_mode)) == (1000, 0o600)
    assert stat.S_IMODE(os.stat(up / 'home/ansible/.ssh').st_mode) == 0o700
    # A directory of the layer hides the image's: it keeps the image's mode.
    assert stat.S_IMODE(os.stat(up / 'home/ansible').st_mode) == 0o750
    machine_id = (up / 'etc/machine-id').read_text()
    assert len(machine_id.strip()) == 32
    # Provisioning again (the next lab_create) keeps the machine's identity.
    _machine.provision('lab', 'hv1', str(rootfs), '127.0.0.1 localhost\n', '198.18.0.11', str(key), 'k\n')
    assert (up / 'etc/machine-id').read_text() == machine_id


def test_ssh_client_files_check_host_keys_and_enter_the_machines_namespace(tmp_path):
    hostkeys = tmp_path / 'ssh' / 'hostkeys'
    hostkeys.mkdir(parents=True)
    for name in ('hv1', 'gw1'):
        (hostkeys / (name + '.pub')).write_text('ssh-ed25519 AAAA%s root@%s\n' % (name, name))
    out = _machine.write_ssh_client(str(tmp_path), {'hv1': ('198.18.0.11', 101), 'gw1': ('198.18.0.31', 131)})
    known = open(out['known_hosts']).read().splitlines()
    assert known == ['198.18.0.31,gw1 ssh-ed25519 AAAAgw1', '198.18.0.11,hv1 ssh-ed25519 AAAAhv1']
    config = open(out['config']).read()
    assert 'StrictHostKeyChecking yes' in config and 'UserKnownHostsFile %s' % out['known_hosts'] in config
    assert 'GlobalKnownHostsFile /dev/null' in config
    relay = os.path.join(str(tmp_path), 'ssh', 'relay.py')
    assert ('Host 198.18.0.11 hv1\n    HostName 198.18.0.11\n'
            '    ProxyCommand nsenter --target 101 --net -- /usr/bin/python3 %s %%h %%p\n' % relay) in config
    # The catch-all block comes last: ssh takes the first value it finds for each option.
    assert config.index('Host *') > config.index('Host 198.18.0.11')


def test_the_proxy_command_is_the_lab_entry_into_the_network_namespace_quoted_for_the_shell():
    relay = "/run/netvirt-lab/it's here/ssh/relay.py"
    entry = _lab.enter(101, ['/usr/bin/python3', relay, '%h', '%p'], net_only=True)
    assert shlex.split(_machine.proxy_command(101, relay)) == entry


def test_a_machine_is_asked_for_its_state_inside_every_namespace_of_its_systemd(monkeypatch):
    # A stand-in for subprocess.run: no machine is booted by the unit tests (test_machine_lab.py boots them).
    seen = []
    monkeypatch.setattr(_machine.subprocess, 'run', lambda argv, **kw: seen.append(argv) or subprocess.CompletedProcess(
        argv, 0, 'running\n', ''))
    assert _machine.system_state(4242) == 'running'
    assert seen == [_lab.enter(4242, ['systemctl', 'is-system-running'], all_namespaces=True)]
    assert seen[0][:5] == ['nsenter', '--target', '4242', '--all', '--']


def test_the_mirror_comes_from_the_machines_own_sources(tmp_path, monkeypatch):
    deb822 = tmp_path / 'debian.sources'
    deb822.write_text('Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n\n'
                      'Types: deb\nURIs: http://security.example/debian-security\n')
    real_open = open
    monkeypatch.setattr('builtins.open', lambda path, *a, **k: real_open(
        str(deb822) if path == '/etc/apt/sources.list.d/debian.sources' else path, *a, **k))
    assert _machine.default_mirror() == 'http://mirror.example/debian'


def test_a_boot_loop_that_ends_at_once_says_how_and_what_its_console_holds(tmp_path):
    # A CI run (2026-12-06) lost a machine whose boot loop ended before anything reached its
    # console: the message said nothing more. Now it says how the loop ended.
    killed = subprocess.Popen(['sh', '-c', 'kill -9 $$'])
    killed.wait()
    (tmp_path / 'hv1.console').write_text('')
    with pytest.raises(_machine.MachineError) as info:
        _machine.wait_booted(str(tmp_path), {'hv1': killed.pid}, timeout=5, started={'hv1': killed})
    assert str(info.value) == 'machine hv1 stopped while booting (its boot loop was killed by SIGKILL); its console: (empty)'
    exited = subprocess.Popen(['sh', '-c', 'exit 3'])
    exited.wait()
    (tmp_path / 'hv1.console').write_text('== systemd-nspawn exited 3 1.0\n')
    with pytest.raises(_machine.MachineError, match=r'exited with status 3\); its console: == systemd-nspawn exited 3'):
        _machine.wait_booted(str(tmp_path), {'hv1': exited.pid}, timeout=5, started={'hv1': exited})
    # A loop some other run started: what its PID file names.
    assert _machine.how_it_ended(str(tmp_path), 'hv1', None).startswith(' (no boot loop PID in ')
    (tmp_path / 'hv1.boot.pid').write_text('%d\n' % exited.pid)
    assert _machine.how_it_ended(str(tmp_path), 'hv1', None) == ' (its boot loop, PID %d, is gone)' % exited.pid


def test_a_boot_loop_started_here_is_alive_while_its_process_runs_whatever_proc_says(tmp_path):
    # Its PID file is missing, so the check by PID file says "not running": the process this run
    # started says otherwise, the machine is waited for (here until the timeout), and a note says so.
    loop = subprocess.Popen(['sleep', '30'])
    try:
        notes = []
        with pytest.raises(_machine.MachineError, match='did not finish booting in 1 s: hv1'):
            _machine.wait_booted(str(tmp_path), {'hv1': loop.pid}, timeout=1, started={'hv1': loop}, notes=notes)
        assert len(notes) == 1 and notes[0].startswith('machine hv1: its boot loop (PID %d) runs, but' % loop.pid), notes
    finally:
        loop.kill()
        loop.wait()


def test_the_inotify_instance_limit_is_raised_only_when_lower(tmp_path):
    limit = tmp_path / 'max_user_instances'
    limit.write_text('128\n')
    assert _machine.ensure_inotify_instances(str(limit), 1024) == 128
    assert limit.read_text() == '1024\n'
    assert _machine.ensure_inotify_instances(str(limit), 1024) is None
    limit.write_text('8192\n')
    assert _machine.ensure_inotify_instances(str(limit), 1024) is None and limit.read_text() == '8192\n'
