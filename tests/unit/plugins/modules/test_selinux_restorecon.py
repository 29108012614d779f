# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netvirt.overlay developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the netvirt.overlay.selinux_restorecon module around its one seam.

The backend (libselinux plus the "is SELinux enabled" answer) is replaced by a fake; the
module's own work is checked: options, check mode, --diff output, failure with an install
hint, and the respawn under a system Python when the bindings are missing. The last test
runs the module for real through ansible, under an interpreter without the bindings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args

from ansible_collections.netvirt.overlay.plugins.module_utils import _selinux_context as sc, _selinux_restorecon
from ansible_collections.netvirt.overlay.plugins.module_utils._constants import SYSTEM_PYTHONS
from ansible_collections.netvirt.overlay.plugins.modules import selinux_restorecon

FOREIGN = 'unconfined_u:object_r:user_home_t:s0'
KEYTAB_T = 'system_u:object_r:krb5_keytab_t:s0'


class FakeBackend(object):
    def __init__(self, enabled=True, available=True, labels=None, defaults=None):
        self._enabled = enabled
        self.available = available
        self.labels = dict(labels or {})
        self.defaults = dict(defaults or {})
        self.writes = []

    def enabled(self):
        return self._enabled

    def default_context(self, path, mode):
        return self.defaults.get(path)

    def file_context(self, path):
        return self.labels.get(path)

    def set_file_context(self, path, context):
        self.writes.append((path, context))
        self.labels[path] = context

    def is_customizable(self, context):
        return False


class Respawned(Exception):
    pass


@pytest.fixture
def keytab(tmp_path):
    path = tmp_path / 'krb5.keytab'
    path.write_bytes(b'\x05\x02')
    return str(path)


@pytest.fixture
def no_respawn(monkeypatch):
    """No system Python with the bindings; record any attempt to respawn."""
    calls = []
    monkeypatch.setattr(_selinux_restorecon, 'probe_interpreters_for_module',
                        lambda paths, name: calls.append((tuple(paths), name)))
    return calls


def run_module(monkeypatch, capsys, backend, args):
    monkeypatch.setattr(sc, 'default_backend', lambda: backend)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            selinux_restorecon.main()
    out = json.loads(capsys.readouterr().out)
    return exc.value.code, out


def test_mismatch_fixed_with_diff(monkeypatch, capsys, keytab, no_respawn):
    backend = FakeBackend(labels={keytab: FOREIGN}, defaults={keytab: KEYTAB_T})
    rc, out = run_module(monkeypatch, capsys, backend,
                         dict(paths=[keytab], pki_dirs=[], _ansible_diff=True))
    want = 'unconfined_u:object_r:krb5_keytab_t:s0'
    assert rc == 0
    assert out['changed'] is True and out['selinux'] == 'enabled'
    assert out['changed_files'] == [dict(path=keytab, before=FOREIGN, after=want)]
    assert out['diff'] == [dict(before_header=keytab, after_header=keytab,
                                before=FOREIGN + '\n', after=want + '\n')]
    assert backend.writes == [(keytab, want)]
    assert no_respawn == []  # bindings "available": no probing


def test_check_mode_predicts_and_writes_nothing(monkeypatch, capsys, keytab, no_respawn):
    backend = FakeBackend(labels={keytab: FOREIGN}, defaults={keytab: KEYTAB_T})
    rc, out = run_module(monkeypatch, capsys, backend,
                         dict(paths=[keytab], pki_dirs=[], _ansible_check_mode=True))
    assert rc == 0 and out['changed'] is True
    assert out['changed_files'][0]['after'] == 'unconfined_u:object_r:krb5_keytab_t:s0'
    assert 'diff' not in out  # --diff not asked
    assert backend.writes == []


def test_match_left_alone(monkeypatch, capsys, keytab, no_respawn):
    backend = FakeBackend(labels={keytab: KEYTAB_T}, defaults={keytab: KEYTAB_T})
    rc, out = run_module(monkeypatch, capsys, backend,
                         dict(paths=[keytab], pki_dirs=[], _ansible_diff=True))
    assert rc == 0 and out['changed'] is False
    assert out['checked_files'] == [keytab] and out['changed_files'] == []
    assert 'diff' not in out and backend.writes == []


def test_disabled_selinux_reports_and_changes_nothing(monkeypatch, capsys, keytab, no_respawn):
    backend = FakeBackend(enabled=False, labels={keytab: FOREIGN}, defaults={keytab: KEYTAB_T})
    rc, out = run_module(monkeypatch, capsys, backend, dict(paths=[keytab]))
    assert rc == 0 and out['changed'] is False
    assert out['selinux'] == 'disabled'
    assert 'SELinux is disabled' in out['msg']
    assert backend.writes == []


def test_missing_bindings_on_selinux_host_fail(monkeypatch, capsys, keytab, no_respawn):
    backend = FakeBackend(enabled=True, available=False)
    rc, out = run_module(monkeypatch, capsys, backend, dict(paths=[keytab]))
    assert rc == 1 and out['failed'] is True
    assert 'python3-libselinux' in out['msg'] and 'python3-selinux' in out['msg']
    # it looked for a system Python with the bindings before giving up
    assert no_respawn == [(SYSTEM_PYTHONS, 'selinux')]


def test_missing_bindings_respawn_under_system_python(monkeypatch, capsys, keytab):
    monkeypatch.setattr(_selinux_restorecon, 'probe_interpreters_for_module', lambda paths, name: '/usr/bin/python3')

    def respawn(interpreter):
        raise Respawned(interpreter)

    monkeypatch.setattr(_selinux_restorecon, 'respawn_module', respawn)
    monkeypatch.setattr(sc, 'default_backend', lambda: FakeBackend(available=False))
    with patch_module_args(dict(paths=[keytab])):
        with pytest.raises(Respawned, match='/usr/bin/python3'):
            selinux_restorecon.main()


def test_bad_path_fails_cleanly(monkeypatch, capsys, no_respawn):
    rc, out = run_module(monkeypatch, capsys, FakeBackend(), dict(paths=['etc/krb5.keytab']))
    assert rc == 1 and 'must be absolute' in out['msg']


def test_defaults_are_the_kerberos_files_and_pki_dirs(monkeypatch, capsys, no_respawn):
    seen = {}

    def fake_restore(backend, **kwargs):
        seen.update(kwargs)
        return dict(changed=False, selinux='enabled', changed_files=[], checked_files=[],
                    missing_files=[], skipped_files=[], msg='')

    monkeypatch.setattr(sc, 'restore_contexts', fake_restore)
    rc, out = run_module(monkeypatch, capsys, FakeBackend(), {})
    assert rc == 0
    assert seen['paths'] == ['/etc/krb5.conf', '/etc/krb5.keytab', '/root/.k5login']
    assert seen['pki_dirs'] == ['/etc/openvswitch', '/etc/ovn']
    assert seen['k5login_users'] == [] and seen['recurse'] is False and seen['force'] is False


# --- the real module, through ansible ---------------------------------------------------------

def _system_answer():
    """What /usr/bin/python3's bindings say about this host, or None without them."""
    if not os.access('/usr/bin/python3', os.X_OK):
        return None
    proc = subprocess.run(['/usr/bin/python3', '-c', 'import selinux; print(selinux.is_selinux_enabled())'],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None
    return 'enabled' if proc.stdout.strip() == '1' else 'disabled'


def _interpreter_without_bindings():
    proc = subprocess.run([sys.executable, '-c', 'import selinux'], capture_output=True, check=False)
    return sys.executable if proc.returncode != 0 else None


@pytest.mark.skipif(_system_answer() is None or _interpreter_without_bindings() is None
                    or shutil.which('ansible') is None and not os.path.exists(
                        os.path.join(os.path.dirname(sys.executable), 'ansible')),
                    reason='needs /usr/bin/python3 with python3-selinux and a test Python without it')
def test_module_respawns_under_system_python_for_real(tmp_path):
    """Run under the test's Python (no bindings): the module must re-run itself under
    /usr/bin/python3 and answer from the real bindings ("absent" would mean no respawn)."""
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    if not os.path.exists(ansible):
        ansible = shutil.which('ansible')
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal',
               ANSIBLE_CALLBACK_RESULT_FORMAT='json', ANSIBLE_NOCOLOR='1')
    env.setdefault('ANSIBLE_COLLECTIONS_PATH', os.pathsep.join(p for p in sys.path if os.path.isdir(
        os.path.join(p, 'ansible_collections'))))
    proc = subprocess.run(
        [ansible, 'localhost', '-c', 'local', '-i', 'localhost,', '-m', 'netvirt.overlay.selinux_restorecon',
         '-a', json.dumps(dict(paths=[str(tmp_path)], pki_dirs=[])),
         '-e', 'ansible_python_interpreter=%s' % sys.executable],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # minimal callback: "localhost | SUCCESS => {...}"
    result = json.loads(proc.stdout.split('=>', 1)[1])
    assert result['selinux'] == _system_answer()
    assert result['changed'] is False if result['selinux'] == 'disabled' else True
