# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what one more task costs a run on the control node, per host, run or skipped.

Why the roles keep their task count low: Ansible runs every task of a play on every host of it in
a worker process of its own, forked from ansible-playbook, also when the task's condition skips it.
This times playbooks of T tasks (a skipped ``debug``, a ``set_fact``, a ``debug`` that prints) on H
inventory hosts against a playbook of one skipped task, in rounds (each round runs every playbook
once, in an order rotated from round to round), and prints per kind the median time, its ratio to
the one-task playbook, and the cost of one task on one host: (median - one task's median) / ((T - 1)
* H), with the CPU time (user, system) of ansible-playbook and its workers.

No host is touched: the hosts are names with ``ansible_connection: local``, and none of these tasks
runs a module (``debug`` and ``set_fact`` are actions of the control node). Needs no root and no lab.

  python bench/task_cost.py --hosts 34 --tasks 20 --rounds 3
Not part of CI. Exit code 2 when a playbook failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# kind -> one task of that kind (YAML, indented for a play's task list).
TASKS = {
    'skipped': '    - name: Task {k}\n      ansible.builtin.debug: {{msg: x}}\n      when: false\n',
    'set_fact': '    - name: Task {k}\n      ansible.builtin.set_fact: {{bench_fact_{k}: 1}}\n',
    'debug': '    - name: Task {k}\n      ansible.builtin.debug: {{msg: x}}\n',
}


def write_playbooks(work, hosts, tasks):
    """{name: path} of the inventory and the playbooks in ``work``."""
    paths = {'inventory': os.path.join(work, 'hosts.ini')}
    with open(paths['inventory'], 'w') as out:
        out.write('[bench]\n' + ''.join('host%d ansible_connection=local\n' % i for i in range(hosts)))
    plays = dict(('%s x%d' % (kind, tasks), (kind, tasks)) for kind in TASKS)
    plays['skipped x1'] = ('skipped', 1)
    for name, (kind, count) in plays.items():
        paths[name] = os.path.join(work, name.replace(' ', '_') + '.yml')
        with open(paths[name], 'w') as out:
            out.write('- name: Bench\n  hosts: bench\n  gather_facts: false\n  tasks:\n'
                      + ''.join(TASKS[kind].format(k=k) for k in range(count)))
    return paths


def timed(paths, name, forks):
    argv = ['ansible-playbook', '-i', paths['inventory'], paths[name]] + (['--forks', str(forks)] if forks else [])
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    before, start = os.times(), time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, cwd=ROOT)
    seconds, after = time.monotonic() - start, os.times()
    if proc.returncode != 0:
        raise RuntimeError('%s failed (rc %d):\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-2000:]))
    return seconds, after.children_user - before.children_user, after.children_system - before.children_system


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--hosts', type=int, default=34, help='inventory hosts H (default 34: bench/fleet.py at N = 32)')
    parser.add_argument('--tasks', type=int, default=20, help='tasks T of each playbook (default 20)')
    parser.add_argument('--rounds', type=int, default=3, help='runs of each playbook (default 3)')
    parser.add_argument('--forks', type=int, default=0, help="ansible-playbook --forks (0: ansible.cfg's)")
    args = parser.parse_args()
    if args.tasks < 2:
        parser.error('--tasks must be 2 or more')
    work = tempfile.mkdtemp(prefix='task-cost-')
    try:
        paths = write_playbooks(work, args.hosts, args.tasks)
        names = ['skipped x1'] + ['%s x%d' % (kind, args.tasks) for kind in TASKS]
        runs = dict((name, []) for name in names)
        started = datetime.datetime.now(datetime.timezone.utc)
        load = os.getloadavg()
        for k in range(args.rounds):
            for name in names[k % len(names):] + names[:k % len(names)]:
                runs[name].append(timed(paths, name, args.forks))
                print('%s: %.2f s' % (name, runs[name][-1][0]), file=sys.stderr, flush=True)
    except RuntimeError as exc:
        print('BENCHMARK FAILED: %s' % exc)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(r[0] for r in runs['skipped x1'])
    print('task cost benchmark, %s UTC; %d hosts, forks %s, %d rounds; load average before %.2f, after %.2f\n'
          % (started.strftime('%Y-%m-%d %H:%M'), args.hosts, args.forks or "ansible.cfg's", args.rounds, load[0],
             os.getloadavg()[0]))
    print('| playbook | seconds, median (min-max) | ratio to one skipped task | ms per task per host | CPU s user / system (median) |')
    print('|---|---:|---:|---:|---:|')
    for name in names:
        secs = sorted(r[0] for r in runs[name])
        median = statistics.median(secs)
        count = int(name.rsplit('x', 1)[1])
        per = '-' if count == 1 else '%.1f' % (1000.0 * (median - base) / ((count - 1) * args.hosts))
        print('| %s | %.2f (%.2f-%.2f) | %.2f | %s | %.1f / %.1f |'
              % (name, median, secs[0], secs[-1], median / base, per, statistics.median(r[1] for r in runs[name]),
                 statistics.median(r[2] for r in runs[name])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
