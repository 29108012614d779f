#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation of an action plugin (plugins/action/validate_role_variables.py): it runs on the
# control node and no module runs on the host.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: validate_role_variables
short_description: Check the variables of the roles a host will run, before any play changes it
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - For each role in O(roles), the values the role will see on this host (the inventory's value of
    each variable, else the role's default) are checked against the role's argument spec
    (C(meta/argument_specs.yml), entry point C(main)), on the control node. No module runs on the host.
  - A default is evaluated only for a variable the inventory leaves unset; one that cannot be
    evaluated yet (it needs facts or another role's variable) is left out, as the role evaluates it
    when it runs.
  - Then each condition of O(that) on the host's variables, as M(ansible.builtin.assert) checks it.
  - The preflight play of C(netvirt.overlay.site) runs it once per host for all the host's roles
    and the checks of the variables together (one task instead of several).
options:
  roles:
    description: Names of the roles to check, each a directory under O(roles_path).
    type: list
    elements: str
    required: true
  roles_path:
    description: The directory that holds the roles, for example C({{ role_path | dirname }}) from a role of this collection.
    type: path
    required: true
  that:
    description:
      - Conditions on this host's variables, each an expression as in C(when) (no braces), checked in order once
        the variables of every role pass their argument specs. They see the task's variables, as
        M(ansible.builtin.assert) would (in a role's tasks, its defaults and vars too), not RV(values). The first that is false fails the task and is
        returned in RV(condition); one whose evaluation fails (for example a filter that refuses a value) fails
        the task with that error.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reads only, in check mode as in a real run.
    support: full
  diff_mode:
    description: Nothing to show; it changes nothing.
    support: none
notes:
  - Options whose spec says C(no_log) are checked but left out of RV(values).
seealso:
  - module: ansible.builtin.validate_argument_spec
'''

EXAMPLES = r'''
- name: Check the variables of the roles this hypervisor runs
  netvirt.overlay.validate_role_variables:
    roles: [overlay, hypervisor, ovs]
    roles_path: "{{ role_path | dirname }}"
    that:
      - overlay_networks | length <= 16
  register: checked

- name: The tunnel endpoint address the hypervisor role will use
  ansible.builtin.debug:
    msg: "{{ checked['values']['hypervisor']['hypervisor_tep_address'] | default('not set') }}"
'''

RETURN = r'''
values:
  description: For each role, its variables as the role will see them (without the no_log ones).
  returned: success
  type: dict
argument_errors:
  description: For each role whose variables are not valid, the argument spec's messages.
  returned: failure
  type: dict
condition:
  description: The condition of O(that) that is false.
  returned: when one of O(that) is false
  type: str
'''
