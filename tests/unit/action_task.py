# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One task of the collection's action plugins, run by ansible-playbook on this machine as a play
runs it (host1, a local connection, the checkout's ansible.cfg), and its registered result: the
action plugins are Ansible's code as much as ours, so their tests run them through it."""

from __future__ import annotations

import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_task(tmp_path, action, args, host_vars=None):
    """(exit code, ansible-playbook's output, the task's result) of ``action`` with ``args`` on host1,
    with ignore_errors (a failed result is returned, not raised)."""
    host = dict(host_vars or {}, ansible_connection='local', ansible_python_interpreter='/usr/bin/python3')
    (tmp_path / 'inventory.yml').write_text(json.dumps({'all': {'hosts': {'host1': host}}}))
    out = tmp_path / 'result.json'
    # JSON is YAML: the playbook is written as JSON, so that no argument needs quoting.
    play = {'name': 'Run one task', 'hosts': 'host1', 'gather_facts': False, 'tasks': [
        {'name': 'The task', action: args, 'register': 'result', 'ignore_errors': True},
        {'name': 'Keep the result', 'ansible.builtin.copy': {'content': '{{ result | to_json }}', 'dest': str(out),
                                                             'mode': '0600'}}]}
    (tmp_path / 'playbook.yml').write_text(json.dumps([play]))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    proc = subprocess.run(['ansible-playbook', '-i', str(tmp_path / 'inventory.yml'), str(tmp_path / 'playbook.yml')],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)
    assert out.exists(), proc.stdout
    return proc.returncode, proc.stdout, json.loads(out.read_text())
