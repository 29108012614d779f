# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The values a role will see, computed on the control node before any host is changed: the
inventory's value of each of the role's variables, else the role's default (read lazily, since
ansible-core evaluates a default when it is read)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleUndefinedVariable
from jinja2 import Undefined
from jinja2.exceptions import UndefinedError

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import FilterInputError


class RoleValuesError(FilterInputError):
    """The filter's input is not what it takes; _filter_errors reports it as AnsibleFilterError."""


def role_values(names, given, defaults, unset='__netvirt_unset__'):
    """{name: value} as the role will see it: the inventory's value of each name, else the role's
    default when one can be evaluated now; names neither set nor defaulted are left out."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise RoleValuesError('role_values: the names must be a list, got %s' % type(names).__name__)
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise RoleValuesError('role_values: given must be a list, got %s' % type(given).__name__)
    if not isinstance(defaults, Mapping):
        raise RoleValuesError('role_values: defaults must be a dict, got %s' % type(defaults).__name__)
    if len(names) != len(given):
        raise RoleValuesError('role_values: %d names but %d values given' % (len(names), len(given)))
    values = {}
    for name, value in zip(names, given):
        if not (isinstance(value, str) and value == unset):
            values[name] = value
        elif name in defaults:
            # Read here, not before: only the defaults of unset names are evaluated (ansible-core
            # templates a variable's items when they are read). One that cannot be evaluated yet
            # raises, or comes back undefined.
            try:
                value = defaults[name]
            except (AnsibleUndefinedVariable, UndefinedError):
                continue
            if not isinstance(value, Undefined):
                values[name] = value
    return values
