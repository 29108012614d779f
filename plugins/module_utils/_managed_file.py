# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files a module owns on the managed host: compare, stage, install atomically, put back.

A ``ManagedFile`` knows the bytes it wants, the bytes that are there (``before``) and the owner
and mode it wants; ``install`` renames a fully written, fsync'd candidate in the same directory
over the file (readers see the old file or the new one, never a part), and ``restore`` puts
``before`` back (or removes a file that did not exist). Used by pf_rules.
"""

from __future__ import annotations

import json
import os
import tempfile

from ansible.module_utils.common.text.converters import to_native


def read_bytes(path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_json(path):
    """The file's JSON, or None when it does not exist or is not JSON."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return None


class ManagedFile(object):
    """One file the module writes: its wanted bytes, current bytes and ownership.

    ``role`` says what the file is to the module (pf_rules: anchor, conf, pf.conf, launchd, rc.conf).
    """

    def __init__(self, role, path, content, owner=None, mode=None):
        self.role = role
        self.path = path
        self.content = content
        self.owner = owner      # (uid, gid) or None to keep what is there
        self.mode = mode        # int or None to keep what is there
        self.before = read_bytes(path)
        self.content_changed = self.before != content
        self.attrs_changed = not self.content_changed and self._attrs_differ()

    def _attrs_differ(self):
        st = os.stat(self.path)
        if self.mode is not None and (st.st_mode & 0o7777) != self.mode:
            return True
        return self.owner is not None and (st.st_uid, st.st_gid) != self.owner

    @property
    def changed(self):
        return self.content_changed or self.attrs_changed

    def diff(self):
        return dict(before_header=self.path if self.before is not None else '%s (absent)' % self.path,
                    after_header=self.path,
                    before=to_native(self.before or b'', errors='surrogate_or_strict'),
                    after=to_native(self.content, errors='surrogate_or_strict'))


def write_candidate(directory, basename, content, like=None, owner=None, mode=None):
    """Write a new file in ``directory`` (fsync'd, owner and mode set, or those of ``like``) and
    return its path. OSError when it cannot, with nothing left behind."""
    fd, path = tempfile.mkstemp(dir=directory, prefix='.%s.' % basename, suffix='.candidate')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if like is not None and os.path.exists(like):
            st = os.stat(like)
            mode = st.st_mode & 0o7777 if mode is None else mode
            owner = (st.st_uid, st.st_gid) if owner is None else owner
        os.chmod(path, 0o644 if mode is None else mode)
        if owner is not None:
            os.chown(path, owner[0], owner[1])
    except OSError:
        os.unlink(path)
        raise
    return path


def install(managed, staged=None):
    """Atomically put ``managed.content`` in place (rename of a file in the same directory);
    ``staged`` is a candidate already written (and validated) to rename instead."""
    if staged is None:
        staged = write_candidate(os.path.dirname(managed.path), os.path.basename(managed.path), managed.content,
                                 like=managed.path, owner=managed.owner, mode=managed.mode)
    os.replace(staged, managed.path)


def fix_attrs(managed):
    """Owner and mode as wanted (the content is already right)."""
    if managed.mode is not None:
        os.chmod(managed.path, managed.mode)
    if managed.owner is not None:
        os.chown(managed.path, managed.owner[0], managed.owner[1])


def restore(managed):
    """Put back what was there before (remove the file if there was none)."""
    if managed.before is None:
        if os.path.exists(managed.path):
            os.unlink(managed.path)
        return
    install(ManagedFile(managed.role, managed.path, managed.before, managed.owner, managed.mode))


def ensure_parent(path):
    """Create the directory ``path`` goes in, when missing."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
