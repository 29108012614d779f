# -*- coding: utf-8 -*-
# Benchmark helper, not part of the collection: counts, per host, the task runs that executed a
# module on that host, and writes them as JSON to the file named by NVO_MODULE_RUNS_FILE.

from __future__ import annotations

DOCUMENTATION = r'''
name: module_runs
type: aggregate
short_description: Count module runs per host (bench/fleet.py only)
description:
  - Counts every task result (each loop item apart) that was not skipped, per host, leaving out
    actions that run on the control node only (set_fact, assert, include_*, ...) and tasks
    delegated to another host. An action plugin that runs several modules (copy) counts once.
requirements:
  - enabled through ANSIBLE_CALLBACKS_ENABLED
'''

import collections
import json
import os

from ansible.plugins.callback import CallbackBase

CONTROL_NODE_ONLY = frozenset([
    'set_fact', 'assert', 'fail', 'debug', 'meta', 'include_tasks', 'import_tasks', 'include_role',
    'import_role', 'include_vars', 'validate_argument_spec', 'add_host', 'group_by', 'set_stats', 'pause'])


def _short(action):
    return action.rsplit('.', 1)[-1]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'module_runs'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.runs = collections.Counter()

    def _count(self, result):
        task = result._task
        if _short(task.action) in CONTROL_NODE_ONLY:
            return
        host = result._host.get_name()
        if task.delegate_to and task.delegate_to != host:
            return
        items = result._result.get('results')
        if isinstance(items, list):
            self.runs[host] += sum(1 for item in items if not item.get('skipped'))
        else:
            self.runs[host] += 1

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ['NVO_MODULE_RUNS_FILE'], 'w') as handle:
            json.dump(dict(self.runs), handle)
