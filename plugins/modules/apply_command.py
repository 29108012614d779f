#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: apply_command
short_description: Run a command that makes a change the play has already decided is needed
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - For the steps that only a command does (start a daemon with its control script, load an
    nftables file, add an OpenFlow group), where the play reads the state first and runs this
    task only when the change is needed (its C(when)).
  - Unlike M(ansible.builtin.command), which check mode skips (a skipped task hides the change
    it would make), this module reports C(changed) in check mode without running anything, and
    C(changed) after running the command in a real run. A non-zero exit fails the task.
  - The command runs without a shell; O(argv) is the program and its arguments.
options:
  argv:
    description: The program and its arguments, one list item each.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    description: Reports the change the command would make (changed), and runs nothing.
    support: full
  diff_mode:
    description: Not supported; the command is shown in RV(cmd).
    support: none
seealso:
  - module: ansible.builtin.command
'''

EXAMPLES = r'''
- name: Look for the running daemon
  ansible.builtin.command: /usr/share/openvswitch/scripts/ovs-ctl status
  register: ovs_status
  changed_when: false
  failed_when: false
  check_mode: false

- name: Start it when it does not run (check mode reports this as a change)
  netvirt.overlay.apply_command:
    argv: [/usr/share/openvswitch/scripts/ovs-ctl, start]
  when: ovs_status.rc != 0
'''

RETURN = r'''
cmd:
  description: The command run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
rc:
  description: Its exit status.
  returned: when the command ran (not in check mode)
  type: int
stdout:
  description: What it printed (empty in check mode).
  returned: always
  type: str
stderr:
  description: What it printed on standard error (empty in check mode).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(argv=dict(type='list', elements='str', required=True)),
                           supports_check_mode=True)
    argv = module.params['argv']
    if not argv or not argv[0]:
        module.fail_json(msg='argv: give the program and its arguments (the list is empty)')
    if module.check_mode:
        # No rc: Ansible reads any rc but 0 as a failure.
        module.exit_json(changed=True, cmd=argv, stdout='', stderr='')
    rc, out, err = module.run_command(argv)
    result = dict(cmd=argv, rc=rc, stdout=out, stderr=err)
    if rc != 0:
        module.fail_json(msg="'%s' failed (exit status %d): %s" % (' '.join(argv), rc, err.strip() or out.strip()),
                         **result)
    module.exit_json(changed=True, **result)


if __name__ == '__main__':
    main()
