# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: Ansible settings side by side, on the mesh fleet of bench/fleet.py.

It builds bench/fleet.py's mesh lab of N hypervisors (one VM each, two service nodes), converges it
once, and then times no-change re-runs of site.yml under each of several Ansible settings, in
rounds: every round runs every setting once, in an order rotated from round to round, so that a
change of the machine's load during the benchmark touches every setting alike. Each re-run must
report changed=0 on every host (else the row reads FAIL). The table gives the median and the range
of each setting's re-runs, its ratio to the baseline (ansible.cfg as shipped) and its module runs
per hypervisor. With --converge it times first converges instead, in the same rounds: the lab is
made anew for each (created, converged under the setting, destroyed; a fact cache emptied first).
The lab is always destroyed, also on failure or Ctrl-C, and the machine's root namespace must be
unchanged (tools/host_guard.py).

The lab's hosts are Linux namespaces reached by the collection's namespace connection (no SSH):
forks, strategy and fact caching act as they would on real hosts; what SSH costs per task
(and so what pipelining and ControlPersist save on it) is not in these figures.

Run as root, after ``. tools/setup.sh``, under the lab lock:
  flock /run/nvo-lab.lock python bench/ansible_settings.py --hypervisors 8 --rounds 3
  flock /run/nvo-lab.lock python bench/ansible_settings.py --hypervisors 32 --converge --settings forks64
Not part of CI. Exit code 1 when a check failed, 2 when a step failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/fleet.py and bench/benchlab.py
from benchlab import guarded_run, report  # noqa: E402
from fleet import STATE, Lab, inventory, uptime  # noqa: E402


def settings(cache_dir):
    """{key: (name, forks, environment)} of each setting, in the table's order; the first is the baseline."""
    return {
        'baseline': ('ansible.cfg: forks 16, pipelining, linear strategy', 0, {}),
        'forks5': ("forks 5 (Ansible's default)", 5, {}),
        'forks64': ('forks 64 (one fork per host)', 64, {}),
        'no-pipelining': ('pipelining off', 0, {'ANSIBLE_PIPELINING': 'False'}),
        'free': ('strategy free', 0, {'ANSIBLE_STRATEGY': 'free'}),
        # The roles learn the OS family only when the facts lack it: a fact cache spares that module run.
        'fact-cache': ('fact cache (jsonfile)', 0, {'ANSIBLE_CACHE_PLUGIN': 'ansible.builtin.jsonfile',
                                                    'ANSIBLE_CACHE_PLUGIN_CONNECTION': cache_dir,
                                                    'ANSIBLE_CACHE_PLUGIN_TIMEOUT': '86400'}),
    }


def table(rows, baseline, converge=False):
    what = 'first converge' if converge else 'no-change re-run'
    out = ['| setting | %s s, median (min-max) | ratio to the baseline | changed | module runs per hypervisor |' % what,
           '|---|---:|---:|---:|---:|']
    for r in rows:
        times = r['times']
        out.append('| %s | %.1f (%.1f-%.1f) | %.2f | %s | %.1f |'
                   % (r['name'], statistics.median(times), min(times), max(times), statistics.median(times) / baseline,
                      changed_cell(r, converge), r['runs']))
    return '\n'.join(out)


def changed_cell(row, converge):
    """A re-run must change nothing; a converge must change every host (a converge that left one
    unchanged did not start from nothing)."""
    if converge:
        text = '%d-%d of %d hosts' % (min(row['changed']), max(row['changed']), row['hosts'])
        return text if all_changed(row) else 'FAIL ' + text
    return '0' if not row['changed'] else 'FAIL %d' % max(row['changed'])


def all_changed(row):
    """Whether each of a row's converges changed every host."""
    return bool(row['changed']) and min(row['changed']) == row['hosts']


def inventory_file(n):
    """A temporary file with the inventory of bench/fleet.py's mesh lab of n hypervisors (the caller removes it)."""
    handle, inv_path = tempfile.mkstemp(suffix='.json', prefix='settings-')
    with os.fdopen(handle, 'w') as out:
        json.dump(inventory('mesh', n, 0), out)
    return inv_path


def rotated(count, round_index):
    """The settings' indexes in the order of a round: each round starts one further on."""
    order = list(range(count))
    return order[round_index % count:] + order[:round_index % count]


def converges(n, rounds, cache_dir, variants):
    """Each setting's first converges: per measurement a new lab, converged under the setting, destroyed."""
    inv_path = inventory_file(n)
    rows = [{'name': name, 'times': [], 'changed': [], 'runs': 0.0, 'hosts': n + 2} for name, _forks, _env in variants]
    try:
        for r in range(rounds):
            for i in rotated(len(variants), r):
                name, forks, env = variants[i]
                for entry in os.listdir(cache_dir):
                    os.unlink(os.path.join(cache_dir, entry))
                lab = Lab(inv_path, forks, env)
                try:
                    lab.playbook('lab/create.yml')
                    seconds, changed, runs, _slowest = lab.playbook('site.yml', count_runs=True)
                finally:
                    lab.playbook('lab/destroy.yml')
                hosts_changed = sum(1 for count in changed.values() if count)
                rows[i]['times'].append(seconds)
                rows[i]['changed'].append(hosts_changed)
                rows[i]['runs'] = sum(runs.get('hv%d' % k, 0) for k in range(1, n + 1)) / float(n)
                print('round %d: %s %.1f s (%d hosts changed)' % (r + 1, name, seconds, hosts_changed),
                      file=sys.stderr, flush=True)
    finally:
        os.unlink(inv_path)
    return rows


def measure(n, rounds, cache_dir, variants, cache_env):
    inv_path = inventory_file(n)
    rows = [{'name': name, 'times': [], 'changed': [], 'runs': 0.0} for name, _forks, _env in variants]
    # The first converge runs with the fact cache on: it fills the cache the fact cache setting reads.
    setup = Lab(inv_path, 0, cache_env)
    try:
        create = setup.playbook('lab/create.yml')[0]
        first = setup.playbook('site.yml')[0]
        print('lab create %.1f s, first converge %.1f s' % (create, first), file=sys.stderr, flush=True)
        for r in range(rounds):
            for i in rotated(len(variants), r):
                name, forks, env = variants[i]
                seconds, changed, runs, _slowest = Lab(inv_path, forks, env).playbook('site.yml', count_runs=True)
                changed_total = sum(changed.values())
                rows[i]['times'].append(seconds)
                if changed_total:
                    rows[i]['changed'].append(changed_total)
                rows[i]['runs'] = sum(runs.get('hv%d' % k, 0) for k in range(1, n + 1)) / float(n)
                print('round %d: %s %.1f s (changed %d)' % (r + 1, name, seconds, changed_total), file=sys.stderr, flush=True)
    finally:
        try:
            setup.playbook('lab/destroy.yml')
        finally:
            os.unlink(inv_path)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--hypervisors', type=int, default=8, help='hypervisors N of the mesh fleet')
    parser.add_argument('--rounds', type=int, default=3, help='runs of each setting (re-runs, or converges with --converge)')
    parser.add_argument('--converge', action='store_true',
                        help='time first converges (a new lab for each) instead of no-change re-runs')
    parser.add_argument('--settings', default='',
                        help='the settings to measure besides the baseline, comma separated (default: all): %s'
                        % ', '.join(list(settings(''))[1:]))
    parser.add_argument('--output', help='also write the table (markdown) to this file')
    args = parser.parse_args()
    known = list(settings(''))
    chosen = [key for key in args.settings.split(',') if key]
    unknown = [key for key in chosen if key not in known]
    if unknown:
        parser.error('unknown settings %s (known: %s)' % (', '.join(unknown), ', '.join(known[1:])))
    keys = ['baseline'] + [key for key in known[1:] if not chosen or key in chosen]
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = uptime()
    rows = []

    def work():
        cache_dir = tempfile.mkdtemp(prefix='settings-facts-')
        every = settings(cache_dir)
        variants = [every[key] for key in keys]
        try:
            if args.converge:
                rows.extend(converges(args.hypervisors, args.rounds, cache_dir, variants))
            else:
                rows.extend(measure(args.hypervisors, args.rounds, cache_dir, variants, every['fact-cache'][2]))
        finally:
            shutil.rmtree(cache_dir)

    failure, changed = guarded_run(STATE, work)
    text = ('Ansible settings benchmark, %s UTC; mesh, %d hypervisors, %d rounds of %s\nload before: %s\nload after:  %s\n'
            % (started.strftime('%Y-%m-%d %H:%M'), args.hypervisors, args.rounds,
               'first converges' if args.converge else 'no-change re-runs', load_before, uptime()))
    if rows and all(r['times'] for r in rows):
        text += '\n' + table(rows, statistics.median(rows[0]['times']), args.converge) + '\n'
    verdict = report(text, args.output, failure, changed)
    if verdict:
        return verdict
    if args.converge:
        bad = [r for r in rows if not all_changed(r)]
        for r in bad:
            print('FAIL: %s: a first converge left hosts unchanged (hosts changed: %s of %d)'
                  % (r['name'], r['changed'], r['hosts']))
    else:
        bad = [r for r in rows if r['changed']]
        for r in bad:
            print('FAIL: %s: a no-change re-run changed %s' % (r['name'], r['changed']))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
