# -*- coding: utf-8 -*-
"""The Molecule scenarios (molecule/*/), each as one ``molecule test`` run.

Each scenario builds a lab of its own (lab hosts made of namespaces), converges it, checks
idempotence, verifies it with testinfra and destroys it. The last test runs a scenario whose
converge (or idempotence) fails, to show that such a run fails and still removes its lab.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

SCENARIOS = sorted(os.path.basename(os.path.dirname(path))
                   for path in glob.glob(os.path.join(ROOT, 'molecule', '*', 'molecule.yml')))
LAB_STATE = '/run/netvirt-lab'
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


def molecule(*args, **env):
    """Run molecule from the repository root; (exit code, output without colours)."""
    run_env = dict(os.environ, NO_COLOR='1', ANSIBLE_NOCOLOR='1', **env)
    # The venv that runs pytest has molecule, ansible-playbook and pytest-testinfra.
    run_env['PATH'] = os.pathsep.join([os.path.dirname(sys.executable), run_env.get('PATH', '')])
    proc = subprocess.run(['molecule'] + list(args), cwd=ROOT, env=run_env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=900, check=False)
    return proc.returncode, ANSI.sub('', proc.stdout)


def step_result(output, scenario, step):
    """What Molecule reported for a step: 'Successful', 'Failed', ... or None if it did not run."""
    found = re.findall(r'%s \S+ %s: Executed: (\w+)' % (re.escape(scenario), step), output)
    return found[-1] if found else None


def test_scenarios_found():
    assert {'default', 'ovn', 'ovs'} <= set(SCENARIOS)


@pytest.mark.parametrize('scenario', SCENARIOS)
def test_molecule_scenario(scenario):
    rc, output = molecule('test', '-s', scenario)
    tail = output[-6000:]
    assert rc == 0, 'molecule test -s %s failed (rc %d):\n%s' % (scenario, rc, tail)
    # Molecule 26.10 reports the idempotence step 'Successful' once its converge run passed, even
    # when the check then finds changed tasks; the check's own message tells.
    assert step_result(output, scenario, 'idempotence') == 'Successful', tail
    assert 'Idempotence test failed' not in output, tail
    assert step_result(output, scenario, 'verify') == 'Successful', tail
    # testinfra ran and every check passed: nothing skipped, nothing deselected.
    assert re.search(r'=+ \d+ passed in ', output), tail
    assert not os.path.exists(os.path.join(LAB_STATE, 'molecule-' + scenario)), 'the lab was not destroyed'


BROKEN_MOLECULE_YML = '''---
ansible:
  playbooks:
    create: {root}/molecule/resources/create.yml
    destroy: {root}/molecule/resources/destroy.yml
provisioner:
  name: ansible
  inventory:
    hosts:
      all:
        hosts:
          broken1:
        vars:
          netvirt_lab_name: {lab}
          netvirt_lab_state_dir: {state}
          ansible_connection: netvirt.overlay.namespace
          ansible_python_interpreter: /usr/bin/python3
'''

BROKEN_CONVERGE = {
    'converge': '''---
- name: Reach the lab host, then fail
  hosts: all
  gather_facts: false
  tasks:
    - name: The lab host is there
      ansible.builtin.command: ip link show lo
      changed_when: false
    - name: Fail
      ansible.builtin.fail:
        msg: converge fails on purpose
''',
    'idempotence': '''---
- name: A converge that always changes something
  hosts: all
  gather_facts: false
  tasks:
    - name: Always changed
      ansible.builtin.command: ip link show lo
      changed_when: true
''',
}


@pytest.mark.parametrize('failing_step', sorted(BROKEN_CONVERGE))
def test_failing_scenario_fails_and_removes_its_lab(tmp_path, failing_step):
    """A scenario that fails makes ``molecule test`` fail, and its lab is destroyed all the same."""
    name = 'broken-' + failing_step
    lab = 'molecule-' + name
    state = os.path.join(LAB_STATE, lab)
    scenario = tmp_path / 'molecule' / name
    scenario.mkdir(parents=True)
    (scenario / 'molecule.yml').write_text(BROKEN_MOLECULE_YML.format(root=ROOT, lab=lab, state=state))
    (scenario / 'converge.yml').write_text(BROKEN_CONVERGE[failing_step])
    try:
        rc, output = molecule('test', '-s', name, MOLECULE_GLOB=str(tmp_path / 'molecule' / '*' / 'molecule.yml'))
        tail = output[-6000:]
        assert rc != 0, 'molecule test passed although %s fails:\n%s' % (failing_step, tail)
        assert step_result(output, name, 'create') == 'Successful', tail
        if failing_step == 'idempotence':
            assert 'Idempotence test failed because of the following tasks' in output, tail
        else:
            assert step_result(output, name, failing_step) == 'Failed', tail
        assert step_result(output, name, 'verify') is None, tail
        assert step_result(output, name, 'destroy') == 'Successful', tail
        assert not os.path.exists(state), 'the lab of a failed scenario was left behind:\n' + tail
    finally:
        if os.path.exists(state):
            molecule('destroy', '-s', name, MOLECULE_GLOB=str(tmp_path / 'molecule' / '*' / 'molecule.yml'))
