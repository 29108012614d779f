# -*- coding: utf-8 -*-
"""validate_role_variables, run by ansible-playbook as site.yml's preflight runs it: roles made up
here (argument spec and defaults), variables from an inventory. Under every ansible-core version the
collection supports (tools/version_matrix.sh runs these tests too), since each templates differently."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netvirt.overlay.tests.unit.action_task import run_task

SPEC = '''---
argument_specs:
  main:
    options:
      demo_mtu: {type: int, default: 1500}
      demo_mode: {type: str, choices: [fast, safe], default: safe}
      demo_packages: {type: list, elements: str}
      demo_secret: {type: str, no_log: true}
      demo_port: {type: int}
'''

DEFAULTS = '''---
demo_mtu: 1500
demo_mode: safe
# Needs facts the preflight has not gathered: the role evaluates it when it runs.
demo_packages: "{{ ansible_facts['os_family'] | lower }}"
# Derived from the inventory: checked like the inventory's own values.
demo_port: "{{ demo_base_port | default(4000) }}"
demo_internal: "{{ undefined_thing }}"
'''


def run(tmp_path, host_vars, roles=('demo',), that=None):
    """(exit code, output, the task's result) of the check on one host with these variables."""
    role = tmp_path / 'roles' / 'demo'
    (role / 'meta').mkdir(parents=True, exist_ok=True)
    (role / 'defaults').mkdir(exist_ok=True)
    (role / 'meta' / 'argument_specs.yml').write_text(SPEC)
    (role / 'defaults' / 'main.yml').write_text(DEFAULTS)
    args = {'roles': list(roles), 'roles_path': str(tmp_path / 'roles')}
    if that is not None:
        args['that'] = that
    return run_task(tmp_path, 'netvirt.overlay.validate_role_variables', args, host_vars)


def test_the_values_the_role_will_see_pass(tmp_path):
    rc, output, result = run(tmp_path, {'demo_mtu': '9000', 'demo_secret': 's3cret-value', 'demo_base_port': 4789})
    assert rc == 0 and not result.get('failed'), output
    # The inventory's values, else the defaults; a default that needs facts is left to the role.
    values = result['values']['demo']
    assert sorted(values) == ['demo_mode', 'demo_mtu', 'demo_port'], result
    # Templated values are strings before ansible-core 2.19 (the validator converts them).
    assert (values['demo_mtu'], values['demo_mode'], str(values['demo_port'])) == ('9000', 'safe', '4789'), result
    assert 's3cret-value' not in output and 's3cret-value' not in json.dumps(result)


@pytest.mark.parametrize('host_vars, named', [
    ({'demo_mtu': 'big'}, "argument 'demo_mtu' is of type"),
    ({'demo_mode': 'reckless'}, "demo_mode must be one of: fast, safe"),
    # A default computed from the inventory is checked as well.
    ({'demo_base_port': 'http'}, "argument 'demo_port' is of type"),
])
def test_a_bad_value_is_refused_naming_the_role_and_the_variable(tmp_path, host_vars, named):
    rc, output, result = run(tmp_path, host_vars)
    assert rc == 0, output  # ignore_errors: the playbook goes on to keep the result
    assert result.get('failed') is True, result
    assert result['msg'].startswith('The variables of role demo are not valid: '), result['msg']
    assert named in result['msg'], result['msg']
    assert list(result['argument_errors']) == ['demo']


def test_a_role_without_an_argument_spec_is_an_error(tmp_path):
    rc, output, result = run(tmp_path, {}, roles=('demo', 'nosuchrole'))
    assert result.get('failed') is True, output
    assert 'role nosuchrole has no argument spec' in result['msg'], result['msg']


# The preflight's checks of the variables together (roles/overlay/tasks/preflight.yml), in the same task.
# They see the task's variables, as assert would (here the inventory's: this task is in no role).
THAT = ['demo_mtu | int >= 1280', "demo_mode | default('safe') == 'safe' or demo_secret is defined"]


def test_conditions_that_hold_pass(tmp_path):
    rc, output, result = run(tmp_path, {'demo_mtu': 9000}, that=THAT)
    assert rc == 0 and not result.get('failed'), output
    assert result['values']['demo']['demo_mtu'] == 9000, result


@pytest.mark.parametrize('host_vars, condition', [
    ({'demo_mtu': 1000}, THAT[0]),
    ({'demo_mtu': 9000, 'demo_mode': 'fast'}, THAT[1]),
])
def test_the_first_condition_that_is_false_fails_the_task_naming_it(tmp_path, host_vars, condition):
    rc, output, result = run(tmp_path, host_vars, that=THAT)
    assert result.get('failed') is True, output
    assert result['condition'] == condition and result['msg'] == 'This does not hold: ' + condition, result


def test_conditions_wait_for_the_argument_specs(tmp_path):
    # A value of the wrong type is reported by its spec, not by a condition that would compare it.
    rc, output, result = run(tmp_path, {'demo_mtu': 'big'}, that=THAT)
    assert result.get('failed') is True, output
    assert "argument 'demo_mtu' is of type" in result['msg'] and 'condition' not in result, result


def test_a_condition_that_cannot_be_evaluated_fails_with_the_error(tmp_path):
    # As assert: the error of a filter that refuses a value (here the preflight's check of the
    # tunnel endpoint's MAC address) is the task's message.
    that = ["demo_mtu | int > 0 and '198.18.0.1/24' | netvirt.overlay.tep_mac(given='02:zz') is string"]
    rc, output, result = run(tmp_path, {'demo_mtu': 9000}, that=that)
    assert result.get('failed') is True, output
    assert 'condition' not in result and 'Leave it unset to derive one from overlay_tep_address' in result['msg'], result


def test_that_must_be_a_list_of_conditions(tmp_path):
    rc, output, result = run(tmp_path, {}, that=[{'not': 'a condition'}])
    assert result.get('failed') is True, output
    assert result['msg'].startswith('that must be a list of conditions'), result
