# -*- coding: utf-8 -*-
# role_values: what the preflight validates for a role, the inventory's value else the role's default.
# The whole preflight runs on every lab inventory in tests/integration (test_bad_input.py).
from __future__ import annotations

from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError, AnsibleUndefinedVariable
from jinja2 import Undefined
from jinja2.exceptions import UndefinedError

from ansible_collections.netvirt.overlay.plugins.filter.role_values import role_values

UNSET = '__netvirt_unset__'


class Defaults(Mapping):
    """A role's defaults as ansible-core hands them to a filter: each item is evaluated when it is
    read, and one that needs what is not known yet raises (or, on 2.19, can come back undefined)."""

    def __init__(self, items, failing=(), undefined=()):
        self.items_, self.failing, self.undefined, self.read = dict(items), dict(failing), set(undefined), []

    def __getitem__(self, name):
        self.read.append(name)
        if name in self.failing:
            raise self.failing[name]
        if name in self.undefined:
            return Undefined(name=name)
        return self.items_[name]

    def __contains__(self, name):
        # As a dict's: asking whether a name is there evaluates nothing.
        return name in list(iter(self))

    def __iter__(self):
        return iter(list(self.items_) + list(self.failing) + list(self.undefined))

    def __len__(self):
        return len(list(iter(self)))


def test_the_inventory_wins_and_defaults_fill_the_rest():
    defaults = Defaults({'mtu': 1500, 'bridge': 'br-tun'})
    got = role_values(['mtu', 'bridge', 'peers'], [9000, UNSET, ['a']], defaults)
    assert got == {'mtu': 9000, 'bridge': 'br-tun', 'peers': ['a']}
    # The default of a name the inventory sets is not read: it may need facts the preflight lacks.
    assert defaults.read == ['bridge']


def test_a_name_neither_set_nor_defaulted_is_left_out():
    assert role_values(['required_one'], [UNSET], Defaults({})) == {}


@pytest.mark.parametrize('error', [AnsibleUndefinedVariable("'ansible_facts' is undefined"),
                                   UndefinedError("object of type 'dict' has no attribute 'os_family'")])
def test_a_default_that_cannot_be_evaluated_yet_is_left_out(error):
    defaults = Defaults({'bridge': 'br-tun'}, failing={'packages': error}, undefined=['manage'])
    assert role_values(['packages', 'manage', 'bridge'], [UNSET] * 3, defaults) == {'bridge': 'br-tun'}


def test_falsy_and_empty_values_given_are_kept():
    got = role_values(['a', 'b', 'c', 'd'], [False, 0, '', []], Defaults({'a': True, 'b': 1, 'c': 'x', 'd': [1]}))
    assert got == {'a': False, 'b': 0, 'c': '', 'd': []}


@pytest.mark.parametrize('args, message', [
    (('mtu', ['x'], {}), 'the names must be a list'),
    ((['mtu'], 'x', {}), 'given must be a list'),
    ((['mtu'], ['x'], ['mtu']), 'defaults must be a dict'),
    ((['mtu', 'bridge'], ['x'], {}), '2 names but 1 values given'),
])
def test_wrong_arguments_are_refused(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        role_values(*args)
