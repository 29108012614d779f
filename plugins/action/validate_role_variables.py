# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of site.yml in one task per host: every role the host will run, its variables as
the role will see them (the inventory's value, else the role's default) checked against the role's
argument spec, on the control node. One task instead of five per role: a no-change run of the mesh
lab spent 10 of its 52 s in the preflight's task blocks (docs/run-times.md)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.netvirt.overlay.plugins.plugin_utils._roles import role_values

UNSET = '__netvirt_unset__'


class TemplatedDefaults(Mapping):
    """A role's defaults, each templated when it is read: only the defaults of names the inventory
    leaves unset are evaluated, and one that needs what is not known yet raises (role_values skips it)."""

    def __init__(self, raw, templar):
        self._raw, self._templar = raw, templar

    def __getitem__(self, name):
        return self._templar.template(self._raw[name])

    def __contains__(self, name):
        # Mapping's own would evaluate the default to answer.
        return name in self._raw

    def __iter__(self):
        return iter(self._raw)

    def __len__(self):
        return len(self._raw)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(('roles', 'roles_path', 'that'))

    def _load(self, path, what):
        if not os.path.isfile(path):
            return None
        # ansible-core 2.19 templates only what it trusts: a role's own defaults are trusted, as when
        # the role runs. Older versions template every string and have no such parameter.
        # unsafe: the parsed file as the loader caches it, not a deep copy (this plugin only reads
        # it). The copy was 60 % of the task's CPU: ansible-playbook has parsed these files when it
        # loaded the roles, and each host's worker copied them again (bench/README.md).
        kwargs = dict(unsafe=True)
        if 'trusted_as_template' in inspect.signature(self._loader.load_from_file).parameters:
            kwargs['trusted_as_template'] = True
        try:
            return self._loader.load_from_file(path, **kwargs) or {}
        except AnsibleError as exc:
            raise AnsibleError('cannot read the %s (%s): %s' % (what, path, exc))

    def _holds(self, condition, task_vars):
        """Whether ``condition`` (a conditional, as assert's that) is true on this host; a template
        error (a filter that refuses a value) is raised, as assert raises it."""
        if hasattr(self._templar, 'evaluate_conditional'):  # ansible-core 2.19
            return self._templar.evaluate_conditional(conditional=condition)
        from ansible.playbook.conditional import Conditional  # before 2.19, as assert evaluates it
        check = Conditional(loader=self._loader)
        check.when = [condition]
        return check.evaluate_conditional(templar=self._templar, all_vars=task_vars)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._task.args
        roles, roles_path, that = args.get('roles'), args.get('roles_path'), args.get('that', [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            return dict(result, failed=True, msg='roles must be a list of role names, got %r' % (roles,))
        if not isinstance(roles_path, str) or not os.path.isdir(roles_path):
            return dict(result, failed=True, msg='roles_path must be the directory that holds the roles, got %r' % (roles_path,))
        if isinstance(that, str):
            that = [that]
        if not isinstance(that, list) or not all(isinstance(condition, str) for condition in that):
            return dict(result, failed=True, msg='that must be a list of conditions, got %r' % (that,))

        values, errors = {}, {}
        for role in roles:
            spec_file = os.path.join(roles_path, role, 'meta', 'argument_specs.yml')
            spec = self._load(spec_file, 'argument spec of role %s' % role)
            if spec is None:
                return dict(result, failed=True, msg='role %s has no argument spec (%s)' % (role, spec_file))
            options = (spec.get('argument_specs') or {}).get('main', {}).get('options') or {}
            defaults = self._load(os.path.join(roles_path, role, 'defaults', 'main.yml'), 'defaults of role %s' % role) or {}
            names = list(options) + [name for name in defaults if name not in options]
            given = [self._templar.template(task_vars[name]) if name in task_vars else UNSET for name in names]
            seen = role_values(names, given, TemplatedDefaults(defaults, self._templar), unset=UNSET)
            checked = dict((name, value) for name, value in seen.items() if name in options)
            outcome = ArgumentSpecValidator(options).validate(checked)
            if outcome.error_messages:
                errors[role] = outcome.error_messages
            # A secret the spec marks no_log is checked but never returned.
            values[role] = dict((name, value) for name, value in seen.items() if not options.get(name, {}).get('no_log'))

        if errors:
            result['failed'] = True
            result['argument_errors'] = errors
            result['msg'] = '\n'.join('The variables of role %s are not valid: %s' % (role, '; '.join(messages))
                                      for role, messages in errors.items())
            return result
        # The checks of the variables together, once each has the type its spec says.
        for condition in that:
            if not self._holds(condition, task_vars):
                return dict(result, failed=True, condition=condition, msg='This does not hold: %s' % condition)
        result['changed'] = False
        result['values'] = values
        result['msg'] = 'The variables of role%s %s are valid' % ('s' if len(roles) > 1 else '', ', '.join(roles))
        return result
