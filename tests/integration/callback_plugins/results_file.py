# -*- coding: utf-8 -*-
# Test and benchmark helper, not part of the collection: records every task result as JSON in the
# file named by NVO_RESULTS_FILE, so tests can assert on changed/failed per task and host and
# bench/fleet.py can count the module runs per host.

from __future__ import annotations

DOCUMENTATION = r'''
name: results_file
type: aggregate
short_description: Write task results to a JSON file (integration tests and benchmarks only)
description:
  - Writes plays, tasks (name, action and when each started), per-host results and stats to the file in
    NVO_RESULTS_FILE.
    A result of a task delegated to another host carries that host as C(_delegated_to).
requirements:
  - enabled through ANSIBLE_CALLBACKS_ENABLED
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'results_file'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        if not self.plays:
            self.plays.append({'play': {'name': ''}, 'tasks': []})
        started = time.time()
        self.plays[-1]['tasks'].append({'task': {'name': task.get_name(), 'action': task.action, 'started': started},
                                        'hosts': {}})

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _record(self, result, **extra):
        host = result._host.get_name()
        res = dict(result._result)
        res.update(extra)
        delegate = result._task.delegate_to
        if delegate and delegate != host:
            res['_delegated_to'] = delegate
        if self.plays and self.plays[-1]['tasks']:
            self.plays[-1]['tasks'][-1]['hosts'][host] = res

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((h, stats.summarize(h)) for h in sorted(stats.processed))
        with open(os.environ['NVO_RESULTS_FILE'], 'w') as handle:
            json.dump({'plays': self.plays, 'stats': summary, 'ended': time.time()}, handle, default=str)
