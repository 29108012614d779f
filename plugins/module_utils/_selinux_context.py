# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netvirt.overlay developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare files' SELinux contexts with the policy defaults and restore those that differ.

Private to netvirt.overlay (the leading underscore means no stability promise).

Every call into libselinux goes through one seam, :class:`SelinuxBackend`. The decision
"is SELinux enabled here?" is part of that seam too, so tests can replace the whole backend
with a fake (unit tests) or force the enabled path on top of the real bindings (tests with
real ``security.selinux`` xattrs on a machine where SELinux is not running).

This file imports nothing from Ansible, so it can also be exercised directly by a system
Python that has the ``selinux`` bindings but no Ansible installed.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import pwd
import stat

try:
    import selinux as _selinux_lib
except ImportError:  # bindings absent under this interpreter; see INSTALL_HINT
    _selinux_lib = None

HAS_SELINUX = _selinux_lib is not None

# The files of the original failure: a keytab copied from an AD domain controller kept a
# foreign label and sshd could not read it, so GSSAPI logins ended with "connection closed".
DEFAULT_PATHS = ('/etc/krb5.conf', '/etc/krb5.keytab', '/root/.k5login')
# OVS/OVN PKI material (keys, certificates, CA) kept under these directories.
DEFAULT_PKI_DIRS = ('/etc/openvswitch', '/etc/ovn')
PKI_PATTERNS = ('*.pem', '*.crt', '*.key')

INSTALL_HINT = (
    'SELinux is enabled on this host but the Python "selinux" bindings cannot be imported '
    'by any system Python. Install them: "dnf install python3-libselinux" (RHEL, CentOS '
    'Stream, Rocky, Alma, Fedora) or "apt-get install python3-selinux" (Debian, Ubuntu).'
)

STATE_ENABLED = 'enabled'
STATE_DISABLED = 'disabled'
STATE_ABSENT = 'absent'


class SelinuxError(Exception):
    """A failure the module should report with fail_json."""


class BindingsMissing(SelinuxError):
    """SELinux is enabled, but the Python bindings are not importable."""


class LabelsUnsupported(Exception):
    """The file system holding a path does not store SELinux labels."""


class SelinuxBackend(object):
    """The one seam between the restore logic and libselinux (plus the kernel's selinuxfs).

    ``lib`` is the imported ``selinux`` module, or None when it could not be imported.
    """

    def __init__(self, lib=_selinux_lib, selinuxfs='/sys/fs/selinux'):
        self._lib = lib
        self._selinuxfs = selinuxfs
        self._handle = None

    @property
    def available(self):
        """True when the Python bindings are importable."""
        return self._lib is not None

    def enabled(self):
        """True when SELinux is running on this host (enforcing or permissive)."""
        if self._lib is not None:
            return self._lib.is_selinux_enabled() == 1
        # Without the bindings, a mounted selinuxfs is what tells that SELinux is running.
        return os.path.exists(os.path.join(self._selinuxfs, 'enforce'))

    def default_context(self, path, mode):
        """The policy's file context for ``path`` (``mode`` = st_mode), or None when it has none."""
        if self._handle is None:
            self._handle = self._lib.selabel_open(self._lib.SELABEL_CTX_FILE, None, 0)
        try:
            return self._lib.selabel_lookup(self._handle, path, mode)[1]
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # "<<none>>" in file_contexts: leave unlabeled
                return None
            raise

    def file_context(self, path):
        """The context stored on ``path`` (not following a final symlink), or None if unlabeled."""
        try:
            return self._lib.lgetfilecon(path)[1]
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                return None
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                raise LabelsUnsupported(path)
            raise

    def set_file_context(self, path, context):
        """Store ``context`` on ``path`` (not following a final symlink)."""
        self._lib.lsetfilecon(path, context)

    def is_customizable(self, context):
        """True for types listed in the policy's customizable_types (restorecon leaves them)."""
        return self._lib.is_context_customizable(context) == 1


def default_backend():
    """The backend the module uses; tests replace this function or pass their own backend."""
    return SelinuxBackend()


def wanted_context(current, default, force=False, customizable=False):
    """Decide what ``current`` must become, like restorecon(8); None means leave it alone.

    - no default in the policy: leave it;
    - no label at all: the whole default;
    - ``force``: the whole default whenever any field differs (restorecon -F);
    - a customizable type: leave it unless ``force``;
    - otherwise only the type field is compared and replaced, user, role and range are kept.
    """
    if default is None:
        return None
    if current is None:
        return default
    if force:
        return None if current == default else default
    if customizable:
        return None
    cur = current.split(':', 3)
    dfl = default.split(':', 3)
    if len(cur) < 3 or len(dfl) < 3:  # not user:role:type[:range]; compare whole strings
        return None if current == default else default
    if cur[2] == dfl[2]:
        return None
    cur[2] = dfl[2]
    return ':'.join(cur)


def _canonical(path):
    """Absolute path with the parent directories resolved but the last component kept."""
    if not os.path.isabs(path):
        raise SelinuxError('path must be absolute: %s' % path)
    path = os.path.normpath(path)
    parent, name = os.path.split(path)
    if not name:  # "/"
        return path
    return os.path.join(os.path.realpath(parent), name)


def _home_of(user):
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        raise SelinuxError('k5login_users: no such user: %s' % user)


def _walk(top):
    """``top`` then everything below it, never following symlinks to directories."""
    yield top
    for root, dirs, files in os.walk(top, followlinks=False):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            yield os.path.join(root, name)


def collect_targets(paths, k5login_users=(), pki_dirs=DEFAULT_PKI_DIRS, recurse=False):
    """Expand the requested paths into (existing paths in order, missing paths).

    ``recurse`` applies to directories named in ``paths``; ``pki_dirs`` are always searched
    recursively, for PKI files only.
    """
    found = {}
    missing = []

    def add(path):
        if path not in found:
            found[path] = True

    requested = [_canonical(p) for p in paths]
    requested.extend(_canonical(os.path.join(_home_of(u), '.k5login')) for u in k5login_users)
    for path in requested:
        if not os.path.lexists(path):
            if path not in missing:
                missing.append(path)
            continue
        if recurse and os.path.isdir(path) and not os.path.islink(path):
            for sub in _walk(path):
                add(sub)
        else:
            add(path)
    for top in pki_dirs:
        top = _canonical(top)
        if not os.path.isdir(top):
            continue
        for sub in _walk(top):
            if os.path.isfile(sub) and not os.path.islink(sub) and any(
                    fnmatch.fnmatch(os.path.basename(sub), pat) for pat in PKI_PATTERNS):
                add(sub)
    return list(found), missing


def restore_contexts(backend, paths=DEFAULT_PATHS, k5login_users=(), pki_dirs=DEFAULT_PKI_DIRS,
                     recurse=False, force=False, check_mode=False):
    """Compare and (unless ``check_mode``) restore; returns a result dict for exit_json.

    Raises BindingsMissing when SELinux is enabled but the bindings are absent, and
    SelinuxError for bad input.
    """
    result = dict(changed=False, selinux=None, changed_files=[], checked_files=[],
                  missing_files=[], skipped_files=[])
    if not backend.enabled():
        result['selinux'] = STATE_DISABLED if backend.available else STATE_ABSENT
        result['msg'] = ('SELinux is %s on this host: no file contexts to restore'
                         % ('disabled' if backend.available else 'not present'))
        return result
    if not backend.available:
        raise BindingsMissing(INSTALL_HINT)
    result['selinux'] = STATE_ENABLED

    targets, missing = collect_targets(paths, k5login_users, pki_dirs, recurse)
    result['missing_files'] = missing
    for path in targets:
        try:
            mode = os.lstat(path).st_mode
            current = backend.file_context(path)
        except LabelsUnsupported:
            result['skipped_files'].append(dict(path=path, reason='file system stores no SELinux labels'))
            continue
        except OSError as exc:
            raise SelinuxError('cannot read the context of %s: %s' % (path, exc))
        try:
            default = backend.default_context(path, stat.S_IFMT(mode) | stat.S_IMODE(mode))
        except OSError as exc:
            raise SelinuxError('cannot look up the policy context of %s: %s' % (path, exc))
        result['checked_files'].append(path)
        if default is None:
            result['skipped_files'].append(dict(path=path, reason='no default context in the policy'))
            continue
        customizable = current is not None and not force and backend.is_customizable(current)
        target = wanted_context(current, default, force=force, customizable=customizable)
        if target is None:
            if customizable:
                result['skipped_files'].append(dict(path=path, reason='customizable type %s kept' % current))
            continue
        if not check_mode:
            try:
                backend.set_file_context(path, target)
            except OSError as exc:
                raise SelinuxError('cannot set the context of %s to %s: %s' % (path, target, exc))
        result['changed_files'].append(dict(path=path, before=current, after=target))
    result['changed'] = bool(result['changed_files'])
    verb = 'would restore' if check_mode else 'restored'
    result['msg'] = '%s the context of %d of %d file(s)' % (
        verb, len(result['changed_files']), len(result['checked_files']))
    return result
