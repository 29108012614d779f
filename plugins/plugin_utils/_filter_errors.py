# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the filter plugins: the mesh logic raises MeshError, the upgrade logic UpgradeError,
role_values RoleValuesError; Ansible wants AnsibleFilterError."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import MeshError
from ansible_collections.netvirt.overlay.plugins.plugin_utils._roles import RoleValuesError
from ansible_collections.netvirt.overlay.plugins.plugin_utils._upgrade import UpgradeError


def as_filter_errors(func):
    """Wrap a function so that a MeshError, UpgradeError or RoleValuesError reaches the user as an
    AnsibleFilterError."""
    def call(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (MeshError, UpgradeError, RoleValuesError) as exc:
            raise AnsibleFilterError(str(exc))
    return call


def filters_named_as(*funcs):
    """{function name: the function wrapped by as_filter_errors}, for a FilterModule whose filters
    are named as the functions that compute them."""
    return dict((func.__name__, as_filter_errors(func)) for func in funcs)
