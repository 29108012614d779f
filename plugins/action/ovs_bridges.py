# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netvirt.overlay.ovs_bridges: the module runs on the host unless one shell command shows that the
host's switch and the request are those of the module's last run that changed nothing; then that
run's result is the task's (plugins/plugin_utils/_switch_record.py says what is read and kept)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.netvirt.overlay.plugins.plugin_utils._switch_record import (
    code_digest, kept_result, read_state, request_digest, state_command, write_command)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def _read_state(self, command):
        """(state digest, record, complete) of the host; (None, None, False) when the command failed."""
        answer = self._low_level_execute_command(command)
        if answer.get('rc') != 0:
            return None, None, False
        return read_state(answer.get('stdout', ''))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._task.args
        command = state_command(args) if isinstance(args, dict) else None
        request = state = None
        if command is not None:
            request = request_digest(args, code_digest())
            state, record, complete = self._read_state(command)
            kept = kept_result(record, request, state) if complete else None
            if kept is not None:
                result.update(kept)
                result.update(changed=False, recorded=True)
                return result
            if not complete:
                state = None
        outcome = self._execute_module(module_name='netvirt.overlay.ovs_bridges', module_args=args, task_vars=task_vars)
        # After a run that changed the switch, the module read the state it left and ran the request
        # again in check mode on it (_bridges.Bridges.settle): what the next run would find and return.
        settled = outcome.pop('settled', None)
        result.update(outcome)
        result['recorded'] = False
        if self._task.check_mode or outcome.get('failed') or command is None:
            return result
        keep = None
        if not outcome.get('changed'):
            # Kept after a run that changed nothing, on the state it saw: read again, still the same.
            if state is not None:
                after, _record, complete = self._read_state(command)
                keep = write_command(args, request, state, outcome) if complete and after == state else None
        elif isinstance(settled, dict) and isinstance(settled.get('result'), dict):
            # Kept after a run that changed it, when the state read now is the one the module's check ran on.
            after, _record, complete = self._read_state(command)
            if complete and after == settled.get('state'):
                keep = write_command(args, request, after, settled['result'])
        if keep is not None:
            answer = self._low_level_execute_command(keep)
            if answer.get('rc') != 0:
                self._display.warning('ovs_bridges: the record of this run could not be kept on the host '
                                      '(the next run runs the module again): %s'
                                      % (answer.get('stderr') or answer.get('stdout') or '').strip()[-300:])
        return result
