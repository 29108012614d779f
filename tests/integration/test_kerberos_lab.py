# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netvirt.overlay developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the kerberos role makes Kerberos (GSSAPI) SSH logins work, in a lab.

A lab of three namespace hosts (tests/integration/kerberos/inventory.yml): kdc1 runs a real
MIT KDC with the realm LAB.TEST, s1 runs sshd with GSSAPI off, c1 is a client. The role is
applied by ansible-playbook to s1 (keytab from an Ansible Vault file, root's .k5login, sshd
GSSAPIAuthentication, reload by SIGHUP) and to c1 (krb5.conf). Then alice gets a ticket on
c1 with kinit and logs in to s1 as root with ssh, gssapi-with-mic as the only method.
Also: the second role run changes nothing, and no keytab key, password or vault password
appears in any Ansible output.

SELinux is not running on this machine, so the role's context fix takes its "SELinux is
disabled" path here (the compare-and-restore logic has unit tests with real xattrs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess

import pytest

from conftest import lab_command, lab_pid

HERE = os.path.dirname(os.path.abspath(__file__))
KRB = os.path.join(HERE, 'kerberos')
VAULT_PASSWORD_FILE = os.path.join(KRB, 'vault-password.txt')
LAB_STATE = '/run/netvirt-lab/it-kerberos'  # netvirt_lab_state_dir of the inventory
KRB5_CONF = '/var/lib/krb5kdc/krb5.conf'  # lab_krb5_conf of the inventory
KEYTAB = '/var/lib/krb5kdc/krb5.keytab'  # lab_keytab of the inventory
# Files of the machine the lab must not touch (a lab host shares the machine's /etc).
MACHINE_FILES = ['/etc/krb5.conf', '/etc/krb5.keytab', '/etc/ssh/sshd_config', '/root/.k5login']
TOOLS = ['nsenter', 'unshare', 'krb5kdc', 'kdb5_util', 'kadmin.local', 'kinit', 'kdestroy', 'ssh',
         'ssh-keygen', '/usr/sbin/sshd']

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or any(shutil.which(t) is None for t in TOOLS),
    reason='needs root and krb5-kdc, krb5-admin-server, krb5-user, openssh-server, openssh-client')


def host_pid(name):
    return lab_pid(LAB_STATE, name)


def in_host(name, argv, input_data=None, env=None, timeout=30):
    """Run argv inside lab host NAME (all its namespaces)."""
    with_env = ['env'] + ['%s=%s' % kv for kv in sorted(env.items())] if env else []
    return subprocess.run(lab_command(LAB_STATE, name, with_env + list(argv)), input=input_data, capture_output=True,
                          text=True, timeout=timeout, check=False)


def host_file(name, path):
    with open('/proc/%d/root%s' % (host_pid(name), path), 'rb') as handle:
        return handle.read()


def ansible_vault(*args):
    env = dict(os.environ)
    env.pop('ANSIBLE_VAULT_PASSWORD_FILE', None)  # given here on the command line
    return subprocess.run(['ansible-vault', args[0], '--vault-password-file', VAULT_PASSWORD_FILE] + list(args[1:]),
                          check=True, capture_output=True, text=True, env=env)


def vault_secrets():
    out = ansible_vault('view', os.path.join(KRB, 'secrets.vault.yml'))
    values = {}
    for line in out.stdout.splitlines():
        if ':' in line and not line.startswith(('#', '---')):
            key, value = line.split(':', 1)
            values[key.strip()] = value.strip()
    return values


def keytab_keys(data):
    """The key blocks of an MIT keytab (format 0x0502), to look for them in outputs."""
    assert data[:2] == b'\x05\x02', 'not an MIT keytab'
    keys, pos = [], 2
    while pos + 4 <= len(data):
        size = struct.unpack('>i', data[pos:pos + 4])[0]
        pos += 4
        if size <= 0:
            pos += -size
            continue
        entry, pos = data[pos:pos + size], pos + size
        count = struct.unpack('>H', entry[:2])[0]
        off = 2
        for _component in range(count + 1):  # realm, then the components
            length = struct.unpack('>H', entry[off:off + 2])[0]
            off += 2 + length
        off += 4 + 4 + 1  # name type, timestamp, kvno
        length = struct.unpack('>H', entry[off + 2:off + 4])[0]
        keys.append(entry[off + 4:off + 4 + length])
    return keys


def leak_forms(secret):
    """How a secret could show up in text output."""
    if isinstance(secret, str):
        secret = secret.encode()
    return [secret, base64.b64encode(secret), binascii.hexlify(secret), binascii.hexlify(secret).upper()]


def sha(path):
    if not os.path.lexists(path):
        return None
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def kerberos_lab(lab_playbook, tmp_path, monkeypatch):
    """The lab's Playbook, with Vault set up; the lab hosts are always killed afterwards."""
    monkeypatch.setenv('ANSIBLE_VAULT_PASSWORD_FILE', VAULT_PASSWORD_FILE)
    machine_before = dict((p, sha(p)) for p in MACHINE_FILES)
    pb = lab_playbook(os.path.join('..', 'kerberos', 'inventory.yml'))
    out_dir = tmp_path / 'controller'
    out_dir.mkdir(mode=0o700)
    try:
        yield pb, str(out_dir)
    finally:
        try:
            pb.destroy()
        finally:
            # Whatever happened above: no lab host (PID 1 of its namespaces) survives the test.
            if os.path.isdir(LAB_STATE):
                for entry in os.listdir(LAB_STATE):
                    if entry.endswith('.pid'):
                        try:
                            os.kill(host_pid(entry[:-4]), signal.SIGKILL)
                        except (OSError, ValueError):
                            pass
    assert dict((p, sha(p)) for p in MACHINE_FILES) == machine_before, 'the lab changed files of the machine'


def test_gssapi_ssh_login_with_the_role(kerberos_lab):
    from conftest import changed_hosts, failures, results  # the lead's helpers (tests/integration)

    pb, out_dir = kerberos_lab
    secrets = vault_secrets()
    with open(VAULT_PASSWORD_FILE) as handle:
        vault_password = handle.read().strip()
    outputs = []

    # Lab, realm, principals, host keytab fetched to the controller, sshd with GSSAPI off.
    data = pb.run(os.path.join(KRB, 'prepare.yml'), extra_vars={'lab_out_dir': out_dir})
    outputs += [pb.last_output, json.dumps(data)]
    plain = os.path.join(out_dir, 's1.keytab')
    with open(plain, 'rb') as handle:
        keytab = handle.read()
    keys = keytab_keys(keytab)
    assert keys and all(len(k) >= 16 for k in keys)
    # The keytab reaches the role only as an Ansible Vault file.
    ansible_vault('encrypt', '--output', plain + '.vault', plain)
    os.unlink(plain)
    with open(plain + '.vault', 'rb') as handle:
        assert handle.read().startswith(b'$ANSIBLE_VAULT;')

    # Before the role: sshd runs without GSSAPI (and c1 has no Kerberos configuration).
    assert b'\nGSSAPIAuthentication' not in host_file('s1', '/etc/ssh/sshd_config')

    # The role, with --diff and -v so that as much as possible is printed.
    os.environ['ANSIBLE_VERBOSITY'] = '1'
    try:
        first = pb.run(os.path.join(KRB, 'site.yml'), diff=True, extra_vars={'lab_out_dir': out_dir})
        outputs += [pb.last_output, json.dumps(first)]
        assert failures(first) == []
        assert set(changed_hosts(first)) == {'s1', 'c1'}
        keytab_task = results(first, 'netvirt.overlay.kerberos : Install the keytab')
        assert keytab_task['s1'].get('changed') is True
        assert 'censored' in keytab_task['s1'], 'the keytab task must run with no_log'
        assert keytab_task['c1'].get('skipped') is True
        # The context fix ran and found SELinux off. (Only c1's result is looked at: the
        # results_file helper does not record handler tasks, so on s1 the handler's result
        # lands on the role's last task.)
        restore = results(first, 'netvirt.overlay.kerberos : Restore the SELinux contexts of the Kerberos files')
        assert restore['c1'].get('selinux') in ('disabled', 'absent'), restore['c1']
        assert restore['c1']['changed'] is False

        # What the role left on s1.
        assert host_file('s1', KEYTAB) == keytab
        st = os.stat('/proc/%d/root%s' % (host_pid('s1'), KEYTAB))
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o600, 0, 0)
        assert host_file('s1', '/root/.k5login') == b'alice@LAB.TEST\n'
        assert b'\nGSSAPIAuthentication yes\n' in host_file('s1', '/etc/ssh/sshd_config')
        assert b'kdc = kdc1\n' in host_file('c1', KRB5_CONF)

        # alice gets a ticket on c1 and logs in to s1 as root with it: gssapi-with-mic only,
        # BatchMode (no password prompt possible).
        env = {'KRB5_CONFIG': KRB5_CONF, 'KRB5CCNAME': 'FILE:/tmp/krb5cc_alice'}
        kinit = in_host('c1', ['kinit', 'alice@LAB.TEST'], input_data=secrets['lab_alice_password'] + '\n', env=env)
        assert kinit.returncode == 0, kinit.stderr
        ssh = ['ssh', '-o', 'GSSAPIAuthentication=yes', '-o', 'PreferredAuthentications=gssapi-with-mic',
               '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
               '-o', 'ConnectTimeout=10', 'root@s1', 'echo logged-in-as-$(id -un)-on-$(hostname)']
        login = in_host('c1', ssh, env=env)
        assert login.returncode == 0, login.stderr
        assert login.stdout.strip() == 'logged-in-as-root-on-s1'
        sshd_log = host_file('s1', '/var/log/sshd.log').decode()
        assert 'Authorized to root, krb5 principal alice@LAB.TEST' in sshd_log
        assert 'Accepted gssapi-with-mic for root' in sshd_log
        # the role's handler reloaded the running sshd (SIGHUP) after changing its config
        assert 'Received SIGHUP; restarting.' in sshd_log

        # Without the ticket the same login is refused: the ticket is what let alice in.
        assert in_host('c1', ['kdestroy'], env=env).returncode == 0
        refused = in_host('c1', ssh, env=env)
        assert refused.returncode == 255 and 'Permission denied' in refused.stderr

        # Second run: nothing to change.
        second = pb.run(os.path.join(KRB, 'site.yml'), diff=True, extra_vars={'lab_out_dir': out_dir})
        outputs += [pb.last_output, json.dumps(second)]
        assert failures(second) == []
        assert changed_hosts(second) == {}, 'the role is not idempotent: %s' % changed_hosts(second)
    finally:
        del os.environ['ANSIBLE_VERBOSITY']

    # No key of the keytab, no password, no vault password in any Ansible output.
    text = '\n'.join(outputs).encode()
    secrets_to_hide = keys + [secrets['lab_alice_password'], secrets['lab_kdc_master_password'], vault_password]
    for secret in secrets_to_hide:
        for form in leak_forms(secret):
            assert form not in text, 'a secret leaked into the Ansible output'
