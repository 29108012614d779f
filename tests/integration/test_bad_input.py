# -*- coding: utf-8 -*-
"""Bad input is refused before anything changes, in every module that changes a host.

The cases are in bad_input/<module>.yml: plausible mistakes, each with the field its message
must name, and good controls (``good: true``) that must pass. playbooks/bad_input.yml runs them
all against one real lab host (ovsdb-server, ovs-vswitchd, an OVN northbound database) and takes
a snapshot of the host after each; a refused case must leave the snapshot exactly as the one
before it.
"""

from __future__ import annotations

import difflib
import glob
import json
import os

import pytest
import yaml

from conftest import HERE, created_lab

PLAYBOOK = os.path.join(HERE, 'playbooks', 'bad_input.yml')
CASE_FILES = sorted(glob.glob(os.path.join(HERE, 'bad_input', '*.yml')))


def load_cases():
    # NVO_BAD_INPUT_ONLY=ovs_flows,ovs_bridge runs only those modules' cases (while developing).
    only = set(filter(None, os.environ.get('NVO_BAD_INPUT_ONLY', '').split(',')))
    cases = []
    for path in CASE_FILES:
        module = os.path.splitext(os.path.basename(path))[0]
        if only and module not in only:
            continue
        with open(path) as handle:
            for case in yaml.safe_load(handle):
                cases.append(dict(case, module=module))
    return cases


CASES = load_cases()


def case_id(case):
    return '%s: %s' % (case['module'], case['name'])


def outcomes(data):
    """[(module result, snapshot after it)] in the order the cases ran, after the baseline snapshot."""
    baseline, runs, pending = None, [], None
    for play in data['plays']:
        for task in play['tasks']:
            res = task['hosts'].get('bad1')
            if res is None:
                continue
            name = task['task']['name']
            if name == 'Snapshot before the first case':
                baseline = json.loads(res['stdout'])
            elif name == 'Case':
                pending = res
            elif name == 'Snapshot after the case':
                runs.append((pending, json.loads(res['stdout'])))
                pending = None
    return baseline, runs


@pytest.fixture(scope='module')
def suite_run():
    # NVO_BAD_INPUT_LAB names the lab, so that two runs can share the machine.
    lab = os.environ.get('NVO_BAD_INPUT_LAB', 'it-bad')
    lab_vars = {'netvirt_lab_name': lab, 'netvirt_lab_state_dir': '/run/netvirt-lab/' + lab}
    with created_lab(os.path.join(HERE, 'inventories', 'bad_input.yml'), extra_vars=lab_vars) as pb:
        data = pb.run(PLAYBOOK, extra_vars=dict(lab_vars, bad_input_cases=CASES))
        yield outcomes(data)


@pytest.mark.skipif(bool(os.environ.get('NVO_BAD_INPUT_ONLY')), reason='only some modules asked for')
def test_every_module_has_its_cases():
    per_module = {}
    for case in CASES:
        kind = 'good' if case.get('good') else 'bad'
        per_module.setdefault(case['module'], {'bad': 0, 'good': 0})[kind] += 1
    assert set(per_module) == {'interface_address', 'ovn_topology', 'ovs_bridge', 'ovs_flows',
                               'ovs_settings', 'ovs_tunnels'}
    for module, counts in per_module.items():
        assert counts['bad'] >= 15, '%s has %d bad inputs' % (module, counts['bad'])
        assert counts['good'] >= 1, '%s has no good control' % module
    names = [case_id(c) for c in CASES]
    assert len(names) == len(set(names)), 'two cases share a name'


@pytest.mark.parametrize('index', range(len(CASES)), ids=[case_id(c) for c in CASES])
def test_case(suite_run, index):
    baseline, runs = suite_run
    assert baseline is not None, 'no snapshot was taken before the first case'
    assert len(runs) == len(CASES), 'ran %d cases of %d' % (len(runs), len(CASES))
    case = CASES[index]
    result, after = runs[index]
    before = runs[index - 1][1] if index else baseline
    assert result is not None, 'the case left no result'
    msg = str(result.get('msg', ''))
    # A Python exception is never an answer, for good or bad input. ansible-core 2.19 puts
    # 'exception: (traceback unavailable)' on every failed result, fail_json included; an
    # unhandled exception shows as 'Module failed: ...', 'MODULE FAILURE' or a traceback.
    assert not any(mark in msg for mark in ('Traceback', 'MODULE FAILURE', 'Module failed')), msg
    assert result.get('exception', '(traceback unavailable)') == '(traceback unavailable)', result['exception']
    if case.get('good'):
        assert not result.get('failed'), 'a good control failed: %s' % msg
        return
    assert result.get('failed'), 'accepted: %s' % json.dumps(result.get('changes', result.get('diff')))[:2000]
    assert not result.get('changed'), 'failed, but reported a change'
    for needle in [case['field']] + list(case.get('msg', [])):
        assert needle in msg, 'the message does not name %r: %s' % (needle, msg)
    if after != before:
        diff = difflib.unified_diff(json.dumps(before, indent=1, sort_keys=True).splitlines(),
                                    json.dumps(after, indent=1, sort_keys=True).splitlines(), lineterm='', n=2)
        pytest.fail('the host changed:\n' + '\n'.join(list(diff)[:80]))
