#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netvirt.overlay developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: selinux_restorecon
short_description: Restore the policy's default SELinux contexts on Kerberos, SSH and PKI files
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Compares the SELinux context stored on each file with the default context the loaded
    policy gives its path, and restores only the files that differ, like C(restorecon).
  - The default file set is the one behind a classic failure of Kerberos SSH logins to hosts
    joined to Active Directory, where a keytab copied from the domain controller kept a foreign
    label and C(sshd) closed the connection - V(/etc/krb5.conf), V(/etc/krb5.keytab) and
    V(/root/.k5login) - plus the OVS and OVN PKI files (C(*.pem), C(*.crt), C(*.key)) under
    V(/etc/openvswitch) and V(/etc/ovn).
  - As C(restorecon) does without C(-F), a labeled file only gets its type field replaced, and a
    file whose type is customizable is left alone; an unlabeled file gets the whole default
    context. O(force=true) compares and replaces the whole context.
  - Where SELinux is disabled or not present the module reports that and changes nothing.
  - Needs the Python C(selinux) bindings on SELinux hosts. When the interpreter running the
    module cannot import them, the module re-runs itself under a system Python that can.
options:
  paths:
    description:
      - Absolute paths of the files or directories to check.
      - Paths that do not exist are listed in RV(missing_files) and are not an error.
      - Parent directories are resolved; a final symlink is relabeled itself, not followed.
    type: list
    elements: path
    default: [/etc/krb5.conf, /etc/krb5.keytab, /root/.k5login]
  k5login_users:
    description:
      - Users whose C(~/.k5login) is checked too (their home directory is looked up on the host).
    type: list
    elements: str
    default: []
  pki_dirs:
    description:
      - Directories searched recursively for PKI files (C(*.pem), C(*.crt), C(*.key)), which
        are checked too.
      - Set to V([]) to check only O(paths) and O(k5login_users).
    type: list
    elements: path
    default: [/etc/openvswitch, /etc/ovn]
  recurse:
    description:
      - Also check everything below the directories given in O(paths) (symlinks are not
        followed).
    type: bool
    default: false
  force:
    description:
      - Compare and restore the whole context (user, role, type and range) and also reset
        customizable types, like C(restorecon -F).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and predict what a real run would change, without changing anything.
    support: full
    details: Reports exactly the files that would change and their new contexts.
  diff_mode:
    description: Shows what changed (or would change) with C(--diff).
    support: full
    details: Shows the context of each changed file before and after.
  platform:
    description: Target operating systems.
    support: full
    platforms: posix
notes:
  - Works on hosts where SELinux is disabled (nothing to do) and on hosts without SELinux.
  - On RHEL-family hosts the bindings are in C(python3-libselinux), on Debian and Ubuntu in
    C(python3-selinux).
requirements:
  - Python C(selinux) bindings (only where SELinux is enabled).
seealso:
  - name: restorecon(8)
    description: The command this module mirrors.
    link: https://man7.org/linux/man-pages/man8/restorecon.8.html
"""

EXAMPLES = r"""
- name: Restore the contexts of the Kerberos files and of the OVS/OVN PKI files
  netvirt.overlay.selinux_restorecon:

- name: Also check alice's ~/.k5login, and nothing under /etc/openvswitch or /etc/ovn
  netvirt.overlay.selinux_restorecon:
    k5login_users: [alice]
    pki_dirs: []

- name: Restore everything below a directory, replacing whole contexts
  netvirt.overlay.selinux_restorecon:
    paths: [/etc/ovn]
    recurse: true
    force: true
"""

RETURN = r"""
selinux:
  description: The SELinux state of the host.
  returned: always
  type: str
  choices: [enabled, disabled, absent]
  sample: enabled
changed_files:
  description: The files whose context was restored (or would be, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
      returned: always
    before:
      description: Its context before; V(null) when it had no label.
      type: str
      returned: always
    after:
      description: Its context after.
      type: str
      returned: always
  sample:
    - path: /etc/krb5.keytab
      before: unconfined_u:object_r:user_home_t:s0
      after: unconfined_u:object_r:krb5_keytab_t:s0
checked_files:
  description: Every file whose context was compared with the policy.
  returned: always
  type: list
  elements: str
  sample: [/etc/krb5.conf, /etc/krb5.keytab]
missing_files:
  description: Requested paths that do not exist.
  returned: always
  type: list
  elements: str
  sample: [/root/.k5login]
skipped_files:
  description: Files left alone, with the reason (no default in the policy, customizable type,
    file system without labels).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file, as found under the paths given.
      type: str
      returned: always
    reason:
      description: Why it was left alone.
      type: str
      returned: always
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._selinux_context import DEFAULT_PATHS, DEFAULT_PKI_DIRS
from ansible_collections.netvirt.overlay.plugins.module_utils._selinux_restorecon import run

ARGUMENT_SPEC = dict(
    paths=dict(type='list', elements='path', default=list(DEFAULT_PATHS)),
    k5login_users=dict(type='list', elements='str', default=[]),
    pki_dirs=dict(type='list', elements='path', default=list(DEFAULT_PKI_DIRS)),
    recurse=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
)


def main():
    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == '__main__':
    main()
