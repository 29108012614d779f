# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netvirt.overlay developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the compare-and-restore logic behind netvirt.overlay.selinux_restorecon.

Most tests replace libselinux at its one seam (the backend object). The last test uses the
real bindings, the real policy and real ``security.selinux`` xattrs on disk, with only the
"is SELinux enabled" answer forced (SELinux cannot run on the CI machine).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils import _selinux_context as sc

FOREIGN = 'unconfined_u:object_r:user_home_t:s0'  # what a keytab copied from elsewhere carries
KEYTAB_T = 'system_u:object_r:krb5_keytab_t:s0'
CONF_T = 'system_u:object_r:krb5_conf_t:s0'


class FakeBackend(object):
    """Stands in for SelinuxBackend: contexts live in dicts, writes are recorded."""

    def __init__(self, enabled=True, available=True, labels=None, defaults=None, customizable=()):
        self._enabled = enabled
        self.available = available
        self.labels = dict(labels or {})
        self.defaults = dict(defaults or {})
        self.customizable = set(customizable)
        self.writes = []
        self.reads = []

    def enabled(self):
        return self._enabled

    def default_context(self, path, mode):
        assert mode & 0o170000, 'the file type bits must be passed to the policy lookup'
        return self.defaults.get(path)

    def file_context(self, path):
        self.reads.append(path)
        return self.labels.get(path)

    def set_file_context(self, path, context):
        self.writes.append((path, context))
        self.labels[path] = context

    def is_customizable(self, context):
        return context.split(':')[2] in self.customizable


@pytest.fixture
def files(tmp_path):
    """A keytab and a krb5.conf as real files (the logic stats them), keyed by name."""
    out = {}
    for name in ('krb5.keytab', 'krb5.conf'):
        path = tmp_path / name
        path.write_text('x')
        out[name] = str(path)
    return out


def _run(backend, paths, **kwargs):
    kwargs.setdefault('pki_dirs', [])
    return sc.restore_contexts(backend, paths=paths, **kwargs)


# --- the four cases -----------------------------------------------------------------------

def test_mismatch_is_found_and_fixed(files):
    keytab, conf = files['krb5.keytab'], files['krb5.conf']
    backend = FakeBackend(labels={keytab: FOREIGN, conf: CONF_T},
                          defaults={keytab: KEYTAB_T, conf: CONF_T})
    result = _run(backend, [keytab, conf])
    assert result['selinux'] == 'enabled'
    assert result['changed'] is True
    # like restorecon without -F: only the type changes, user/role/range are kept
    want = 'unconfined_u:object_r:krb5_keytab_t:s0'
    assert result['changed_files'] == [dict(path=keytab, before=FOREIGN, after=want)]
    assert backend.writes == [(keytab, want)]
    assert result['checked_files'] == [keytab, conf]
    # and the fix sticks: a second pass finds nothing to do
    again = _run(backend, [keytab, conf])
    assert again['changed'] is False and again['changed_files'] == []
    assert backend.writes == [(keytab, want)]


def test_match_is_left_alone(files):
    keytab, conf = files['krb5.keytab'], files['krb5.conf']
    backend = FakeBackend(labels={keytab: 'unconfined_u:object_r:krb5_keytab_t:s0', conf: CONF_T},
                          defaults={keytab: KEYTAB_T, conf: CONF_T})
    result = _run(backend, [keytab, conf])
    assert result['changed'] is False
    assert result['changed_files'] == []
    assert backend.writes == []
    assert result['checked_files'] == [keytab, conf]


@pytest.mark.parametrize('available, state', [(True, 'disabled'), (False, 'absent')])
def test_disabled_or_absent_selinux_changes_nothing(files, available, state):
    keytab = files['krb5.keytab']
    backend = FakeBackend(enabled=False, available=available,
                          labels={keytab: FOREIGN}, defaults={keytab: KEYTAB_T})
    result = _run(backend, [keytab])
    assert result['selinux'] == state
    assert result['changed'] is False
    assert result['changed_files'] == [] and result['checked_files'] == []
    assert 'no file contexts to restore' in result['msg']
    assert backend.reads == [] and backend.writes == []


def test_missing_bindings_on_selinux_host_fail_with_install_hint(files):
    backend = FakeBackend(enabled=True, available=False)
    with pytest.raises(sc.BindingsMissing) as err:
        _run(backend, [files['krb5.keytab']])
    assert 'python3-libselinux' in str(err.value)
    assert 'python3-selinux' in str(err.value)
    assert backend.reads == [] and backend.writes == []


# --- check mode, diff data, restorecon semantics ------------------------------------------

def test_check_mode_predicts_exactly(files):
    keytab, conf = files['krb5.keytab'], files['krb5.conf']
    labels = {keytab: FOREIGN}  # conf has no label at all
    defaults = {keytab: KEYTAB_T, conf: CONF_T}
    predicted_backend = FakeBackend(labels=labels, defaults=defaults)
    predicted = _run(predicted_backend, [keytab, conf], check_mode=True)
    assert predicted_backend.writes == []
    assert predicted_backend.labels == labels
    applied = _run(FakeBackend(labels=labels, defaults=defaults), [keytab, conf])
    assert predicted['changed_files'] == applied['changed_files']
    assert predicted['changed'] is applied['changed'] is True
    assert predicted['msg'].startswith('would restore')
    assert applied['msg'].startswith('restored')


def test_unlabeled_file_gets_the_whole_default(files):
    conf = files['krb5.conf']
    backend = FakeBackend(labels={}, defaults={conf: CONF_T})
    result = _run(backend, [conf])
    assert result['changed_files'] == [dict(path=conf, before=None, after=CONF_T)]


def test_force_replaces_the_whole_context_and_customizable_types(files):
    keytab, conf = files['krb5.keytab'], files['krb5.conf']
    labels = {keytab: 'unconfined_u:object_r:krb5_keytab_t:s0', conf: 'system_u:object_r:public_content_t:s0'}
    defaults = {keytab: KEYTAB_T, conf: CONF_T}
    plain = _run(FakeBackend(labels=labels, defaults=defaults, customizable={'public_content_t'}), [keytab, conf])
    assert plain['changed'] is False
    assert plain['skipped_files'] == [dict(path=conf, reason='customizable type %s kept' % labels[conf])]
    forced = _run(FakeBackend(labels=labels, defaults=defaults, customizable={'public_content_t'}),
                  [keytab, conf], force=True)
    assert [c['after'] for c in forced['changed_files']] == [KEYTAB_T, CONF_T]


def test_no_policy_default_is_skipped(files):
    keytab = files['krb5.keytab']
    backend = FakeBackend(labels={keytab: FOREIGN}, defaults={})
    result = _run(backend, [keytab])
    assert result['changed'] is False and backend.writes == []
    assert result['skipped_files'] == [dict(path=keytab, reason='no default context in the policy')]


@pytest.mark.parametrize('current, default, force, customizable, want', [
    (FOREIGN, KEYTAB_T, False, False, 'unconfined_u:object_r:krb5_keytab_t:s0'),
    ('u:r:krb5_keytab_t:s0', KEYTAB_T, False, False, None),
    ('u:r:krb5_keytab_t:s0', KEYTAB_T, True, False, KEYTAB_T),
    (KEYTAB_T, KEYTAB_T, True, False, None),
    (None, KEYTAB_T, False, False, KEYTAB_T),
    (FOREIGN, None, True, False, None),
    ('u:r:public_content_t:s0', KEYTAB_T, False, True, None),
    ('u:r:user_home_t:s0:c0.c1023', 'system_u:object_r:krb5_keytab_t:s0', False, False,
     'u:r:krb5_keytab_t:s0:c0.c1023'),
    ('garbage', KEYTAB_T, False, False, KEYTAB_T),
])
def test_wanted_context(current, default, force, customizable, want):
    assert sc.wanted_context(current, default, force=force, customizable=customizable) == want


# --- which files are looked at -------------------------------------------------------------

def test_targets_recurse_pki_k5login_and_missing(tmp_path, monkeypatch):
    etc_ovn = tmp_path / 'ovn'
    (etc_ovn / 'sub').mkdir(parents=True)
    for name in ('ovnnb-privkey.pem', 'sub/cacert.pem', 'ovn.key', 'ovnsb_db.db', 'cert.crt'):
        (etc_ovn / name).write_text('x')
    tree = tmp_path / 'tree'
    (tree / 'a').mkdir(parents=True)
    (tree / 'a' / 'f').write_text('x')
    os.symlink(str(etc_ovn), str(tree / 'link'))  # never followed
    home = tmp_path / 'home-alice'
    home.mkdir()
    (home / '.k5login').write_text('alice@LAB.TEST\n')

    class Pw(object):
        pw_dir = str(home)

    def getpwnam(user):
        if user != 'alice':
            raise KeyError(user)
        return Pw()

    monkeypatch.setattr(sc.pwd, 'getpwnam', getpwnam)
    found, missing = sc.collect_targets(
        [str(tree), str(tmp_path / 'nope'), str(tree)], k5login_users=['alice'],
        pki_dirs=[str(etc_ovn), str(tmp_path / 'no-such-dir')], recurse=True)
    assert found == [str(tree), str(tree / 'a'), str(tree / 'link'), str(tree / 'a' / 'f'),
                     str(home / '.k5login'), str(etc_ovn / 'cert.crt'), str(etc_ovn / 'ovn.key'),
                     str(etc_ovn / 'ovnnb-privkey.pem'), str(etc_ovn / 'sub' / 'cacert.pem')]
    assert missing == [str(tmp_path / 'nope')]

    flat, _missing = sc.collect_targets([str(tree)], pki_dirs=[])
    assert flat == [str(tree)]
    with pytest.raises(sc.SelinuxError, match='no such user: bob'):
        sc.collect_targets([], k5login_users=['bob'], pki_dirs=[])
    with pytest.raises(sc.SelinuxError, match='must be absolute'):
        sc.collect_targets(['etc/krb5.conf'], pki_dirs=[])


# --- the real backend's wrapper, with a fake library ----------------------------------------

class FakeLib(object):
    SELABEL_CTX_FILE = 0

    def __init__(self):
        self.opened = 0
        self.set = []

    def is_selinux_enabled(self):
        return 1

    def selabel_open(self, backend, opts, nopts):
        self.opened += 1
        return 'handle'

    def selabel_lookup(self, handle, path, mode):
        if path == '/none':
            raise OSError(errno.ENOENT, 'no entry')
        return [0, 'system_u:object_r:etc_t:s0']

    def lgetfilecon(self, path):
        if path == '/unlabeled':
            raise OSError(errno.ENODATA, 'No data available')
        if path == '/nolabels':
            raise OSError(errno.EOPNOTSUPP, 'Operation not supported')
        if path == '/gone':
            raise OSError(errno.ENOENT, 'gone')
        return [27, 'system_u:object_r:etc_t:s0']

    def lsetfilecon(self, path, context):
        self.set.append((path, context))

    def is_context_customizable(self, context):
        return 1 if 'public_content' in context else 0


def test_backend_wrapper_maps_library_answers(tmp_path):
    lib = FakeLib()
    backend = sc.SelinuxBackend(lib=lib)
    assert backend.available and backend.enabled()
    assert backend.default_context('/etc/x', 0o100644) == 'system_u:object_r:etc_t:s0'
    assert backend.default_context('/none', 0o100644) is None
    assert lib.opened == 1  # one label handle for all lookups
    assert backend.file_context('/etc/x') == 'system_u:object_r:etc_t:s0'
    assert backend.file_context('/unlabeled') is None
    with pytest.raises(sc.LabelsUnsupported):
        backend.file_context('/nolabels')
    with pytest.raises(OSError):
        backend.file_context('/gone')
    backend.set_file_context('/etc/x', KEYTAB_T)
    assert lib.set == [('/etc/x', KEYTAB_T)]
    assert backend.is_customizable('u:r:public_content_t:s0')
    assert not backend.is_customizable(KEYTAB_T)


def test_backend_without_bindings_asks_selinuxfs(tmp_path):
    backend = sc.SelinuxBackend(lib=None, selinuxfs=str(tmp_path))
    assert not backend.available
    assert not backend.enabled()
    (tmp_path / 'enforce').write_text('1')
    assert backend.enabled()


def test_unsupported_file_system_is_skipped(files):
    class NoLabels(FakeBackend):
        def file_context(self, path):
            raise sc.LabelsUnsupported(path)

    result = _run(NoLabels(defaults={files['krb5.conf']: CONF_T}), [files['krb5.conf']])
    assert result['changed'] is False
    assert result['skipped_files'][0]['reason'] == 'file system stores no SELinux labels'


# --- real bindings, real policy, real xattrs ------------------------------------------------

SYSTEM_PYTHON = '/usr/bin/python3'

# Runs under the system Python (the one with the "selinux" bindings). It loads the logic file
# by path (it imports nothing from Ansible), forces only the "enabled" answer of the real
# backend, and prints the results as JSON.
REAL_SCRIPT = r'''
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('_selinux_context', sys.argv[1])
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
import selinux

class ForcedOn(sc.SelinuxBackend):
    def enabled(self):
        return True

paths = json.loads(sys.argv[2])
out = {'policy': {p: selinux.matchpathcon(p, 0)[1] for p in paths}}
if sys.argv[3] == 'restore':
    out['check'] = sc.restore_contexts(ForcedOn(), paths=paths, pki_dirs=[], check_mode=True)
    out['apply'] = sc.restore_contexts(ForcedOn(), paths=paths, pki_dirs=[])
    out['again'] = sc.restore_contexts(ForcedOn(), paths=paths, pki_dirs=[])
else:
    out['forced'] = sc.restore_contexts(ForcedOn(), paths=paths, pki_dirs=[], force=True)
print(json.dumps(out))
'''


def _system_selinux_ready():
    if not os.access(SYSTEM_PYTHON, os.X_OK) or not shutil.which('setfattr') or not shutil.which('getfattr'):
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, '-c', 'import selinux; selinux.selabel_open(selinux.SELABEL_CTX_FILE, None, 0)'],
        capture_output=True, check=False)
    return probe.returncode == 0


def _label_dir(tmp_path):
    """A directory on a file system that stores security.selinux xattrs (ext4, not tmpfs) and
    whose files have a default context in the policy (/tmp has none: "<<none>>")."""
    repo_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))
    candidates = [os.environ.get('NVO_XATTR_TMPDIR'), '/work', repo_parent, '/var/tmp', str(tmp_path)]
    for parent in candidates:
        if not parent or not os.path.isdir(parent):
            continue
        try:
            d = tempfile.mkdtemp(prefix='nvo-xattr-', dir=parent)
        except OSError:
            continue
        probe = os.path.join(d, 'probe')
        open(probe, 'w').close()
        labels = subprocess.run(['setfattr', '-n', 'security.selinux', '-v', FOREIGN, probe],
                                capture_output=True, check=False).returncode == 0
        has_default = subprocess.run([SYSTEM_PYTHON, '-c', 'import selinux, sys; selinux.matchpathcon(sys.argv[1], 0)',
                                      probe], capture_output=True, check=False).returncode == 0
        shutil.rmtree(d)
        if labels and has_default:
            return tempfile.mkdtemp(prefix='nvo-xattr-', dir=parent)
    return None


def _getfattr(path):
    out = subprocess.run(['getfattr', '--absolute-names', '--only-values', '-n', 'security.selinux', path],
                         capture_output=True, text=True, check=False)
    return out.stdout.rstrip('\0') if out.returncode == 0 else None


@pytest.mark.skipif(not _system_selinux_ready(),
                    reason='needs /usr/bin/python3 with python3-selinux, selinux-policy-default and attr')
def test_real_xattrs_against_real_policy(tmp_path):
    d = _label_dir(tmp_path)
    if d is None:
        pytest.skip('no file system here stores security.selinux xattrs')
    try:
        keytab, good, bare = (os.path.join(d, n) for n in ('krb5.keytab', 'good.conf', 'bare.conf'))
        for p in (keytab, good, bare):
            with open(p, 'w') as f:
                f.write('x')
        policy = json.loads(subprocess.run(
            [SYSTEM_PYTHON, '-c', 'import json, selinux, sys; '
             'print(json.dumps({p: selinux.matchpathcon(p, 0)[1] for p in sys.argv[1:]}))', keytab, good],
            check=True, capture_output=True, text=True).stdout)
        # the reported failure (sshd denied the keytab): a keytab carrying a home-directory label; one file already right;
        # one with no label at all
        subprocess.run(['setfattr', '-n', 'security.selinux', '-v', FOREIGN, keytab], check=True)
        subprocess.run(['setfattr', '-n', 'security.selinux', '-v', policy[good], good], check=True)
        assert _getfattr(keytab) == FOREIGN and _getfattr(bare) is None

        def run(paths, stage):
            proc = subprocess.run([SYSTEM_PYTHON, '-c', REAL_SCRIPT, os.path.abspath(sc.__file__),
                                   json.dumps(paths), stage], capture_output=True, text=True, check=False)
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout)

        out = run([keytab, good, bare], 'restore')

        default_type = policy[keytab].split(':')[2]
        want_keytab = 'unconfined_u:object_r:%s:s0' % default_type
        assert out['check']['changed_files'] == [
            dict(path=keytab, before=FOREIGN, after=want_keytab),
            dict(path=bare, before=None, after=out['policy'][bare]),
        ]
        assert out['apply']['changed_files'] == out['check']['changed_files']
        assert out['again']['changed'] is False
        # what is on disk now, read by an independent tool
        assert _getfattr(keytab) == want_keytab
        assert _getfattr(good) == policy[good]
        assert _getfattr(bare) == out['policy'][bare]
        # -F semantics restore the whole policy context
        out = run([keytab], 'force')
        assert out['forced']['changed_files'] == [dict(path=keytab, before=want_keytab, after=policy[keytab])]
        assert _getfattr(keytab) == policy[keytab]
    finally:
        shutil.rmtree(d, ignore_errors=True)
