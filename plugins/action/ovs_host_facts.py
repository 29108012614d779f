# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netvirt.overlay.ovs_host_facts: one shell command on the host (as ansible.builtin.raw runs one),
read on the control node; no Python module runs on the host (plugins/plugin_utils/_ovs_host_probe.py
says why and what the command reads)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.netvirt.overlay.plugins.plugin_utils._ovs_host_probe import ProbeError, probe_command, read_probe

# Paths on the host: taken as they are (type str), since the control node's expansion of ~ or $HOME
# would name its own.
ARGUMENT_SPEC = dict(
    ovs_ctl=dict(type='str', default='/usr/share/openvswitch/scripts/ovs-ctl'),
    system_id_file=dict(type='str', default='/etc/openvswitch/system-id.conf'),
    rundir=dict(type='str', default='/var/run/openvswitch'),
)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True  # it reads and changes nothing

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no temporary directory: nothing is copied to the host
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        relative = sorted(name for name in ARGUMENT_SPEC if not args[name].startswith('/'))
        if relative:
            result.update(failed=True, msg='%s: give an absolute path on the host (got %s)'
                          % (', '.join(relative), ', '.join(repr(args[name]) for name in relative)))
            return result
        command = probe_command(args['ovs_ctl'], args['system_id_file'], args['rundir'])
        answer = self._low_level_execute_command(command)
        result['changed'] = False
        if answer.get('rc') != 0:
            result.update(failed=True, rc=answer.get('rc'), stderr=answer.get('stderr', ''),
                          msg='the probe of Open vSwitch failed on the host (rc %s): %s'
                          % (answer.get('rc'), (answer.get('stderr') or answer.get('stdout') or '').strip()[-500:]))
            return result
        try:
            result.update(read_probe(answer.get('stdout', '')))
        except ProbeError as exc:
            result.update(failed=True, msg=str(exc))
        return result
