# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: role_values
short_description: The values a role will see, from the inventory's values and the role's defaults
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - Pairs each of a role's variable names with the value the inventory gives it, and falls back to
    the role's default for the names the inventory leaves unset. Names that are neither set nor
    defaulted are left out, as the role would see them (undefined).
  - A default is read only for a name the inventory leaves unset. A default that cannot be evaluated
    yet (it needs facts the caller has not gathered, or another role's variable) is left out; the role
    evaluates it when it runs, and a default is the role's own, not input to check.
  - The preflight feeds it to C(ansible.builtin.validate_argument_spec) before any host is changed.
options:
  _input:
    description: The role's variable names (its argument spec's options and its defaults).
    type: list
    elements: str
    required: true
  given:
    description:
      - What the inventory gives each name, in the order of O(_input), with O(unset) for a name it
        does not set; for example C(query('ansible.builtin.vars', *names, default=unset)).
    type: list
    elements: raw
    required: true
  defaults:
    description: The role's C(defaults/main.yml).
    type: dict
    required: true
  unset:
    description: The marker O(given) holds for a name the inventory does not set.
    type: str
    default: __netvirt_unset__
'''

EXAMPLES = r'''
- name: The values role gateway will see
  ansible.builtin.set_fact:
    gateway_values: >-
      {{ names | netvirt.overlay.role_values(query('ansible.builtin.vars', *names, default='__netvirt_unset__'),
                                             gateway_defaults) }}
  vars:
    names: "{{ (gateway_spec.argument_specs.main.options | list + gateway_defaults | list) | unique }}"
'''

RETURN = r'''
_value:
  description: The role's variables by name, as the role will see them.
  type: dict
'''

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filter

role_values = lazy_filter('_roles', 'role_values')


class FilterModule(object):
    def filters(self):
        return {'role_values': role_values}
