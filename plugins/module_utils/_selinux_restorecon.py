# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""selinux_restorecon's run: the module file is its documentation, its argument spec and ``run(module)``.

The comparison and restore are in ``_selinux_context``, which imports nothing from Ansible (a
system Python with the bindings loads it on its own); the respawn under such a Python and the
result are here.
"""

from __future__ import annotations

from ansible.module_utils.common.respawn import has_respawned, probe_interpreters_for_module, respawn_module

from ansible_collections.netvirt.overlay.plugins.module_utils import _selinux_context as sc
from ansible_collections.netvirt.overlay.plugins.module_utils._constants import SYSTEM_PYTHONS


def _diff(changes):
    return [dict(before_header=c['path'], after_header=c['path'],
                 before='%s\n' % (c['before'] or '(no SELinux label)'), after='%s\n' % c['after'])
            for c in changes]


def run(module):
    """The whole module run (exits or fails the module); respawns under a system Python that has the bindings."""
    backend = sc.default_backend()
    if not backend.available and not has_respawned():
        interpreter = probe_interpreters_for_module(SYSTEM_PYTHONS, 'selinux')
        if interpreter:
            respawn_module(interpreter)  # exits with the respawned module's result

    try:
        result = sc.restore_contexts(
            backend,
            paths=module.params['paths'],
            k5login_users=module.params['k5login_users'],
            pki_dirs=module.params['pki_dirs'],
            recurse=module.params['recurse'],
            force=module.params['force'],
            check_mode=module.check_mode,
        )
    except sc.SelinuxError as exc:
        module.fail_json(msg=str(exc))
    if module._diff and result['changed_files']:
        result['diff'] = _diff(result['changed_files'])
    module.exit_json(**result)
