# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the filter plugins: the logic in plugins/plugin_utils raises FilterInputError (MeshError,
UpgradeError, RoleValuesError, PlatformError); Ansible wants AnsibleFilterError.

The filters import that logic at their first call, not when their plugin file is imported. To find a
collection's filter, Ansible imports the collection's filter plugin files one after another until one
has it, in every worker process it forks for a task and host, and compiles each from its source (the
collection loader keeps no bytecode): every import the files made at their top was paid by every
task that templates one of the collection's filters, on every host (bench/README.md)."""

from __future__ import annotations

from importlib import import_module

from ansible.errors import AnsibleFilterError

_PLUGIN_UTILS = 'ansible_collections.netvirt.overlay.plugins.plugin_utils.'


class FilterInputError(Exception):
    """A filter's input is not what it takes: the user sees the message as an AnsibleFilterError."""


def lazy_filter(module, name):
    """The function ``name`` of plugins/plugin_utils/<module>.py as a filter that imports the module
    at its first call; a FilterInputError reaches the user as an AnsibleFilterError."""
    def call(*args, **kwargs):
        func = getattr(import_module(_PLUGIN_UTILS + module), name)
        try:
            return func(*args, **kwargs)
        except FilterInputError as exc:
            raise AnsibleFilterError(str(exc))
    call.__name__ = name
    return call


def lazy_filters(module, *names, **renamed):
    """{filter name: lazy_filter(module, function name)}: ``names`` are filters named as their
    functions, ``renamed`` maps a filter name to another function name."""
    found = dict((name, lazy_filter(module, name)) for name in names)
    found.update((name, lazy_filter(module, func)) for name, func in renamed.items())
    return found
