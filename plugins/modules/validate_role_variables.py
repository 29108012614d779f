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
  - The preflight play of C(netvirt.overlay.site) runs it once per host for all the host's roles
    (one task instead of several per role).
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
'''
