# -*- coding: utf-8 -*-
"""Integration tests run real ansible-playbook against lab hosts made of namespaces.

Every test session checks that the machine's root network namespace (links, addresses,
routes) is exactly as it was before, whatever the tests did.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The controllers of inventories/lab_ovn, and how a lab host reaches their databases over SSL.
OVN_CONTROLLERS = {'ctl1': '198.18.0.21', 'ctl2': '198.18.0.22', 'ctl3': '198.18.0.23'}
OVN_NB = ','.join('ssl:%s:6641' % a for a in OVN_CONTROLLERS.values())
OVN_SB = ','.join('ssl:%s:6642' % a for a in OVN_CONTROLLERS.values())
OVN_SSL = ['-p', '/etc/ovn/ovn-privkey.pem', '-c', '/etc/ovn/ovn-cert.pem', '-C', '/etc/ovn/cacert.pem']


def root_netns_state():
    """What the safety rule protects: the root namespace's links, addresses and routes."""
    out = {}
    for what in (['link'], ['-4', 'address'], ['-6', 'address'], ['-4', 'route'], ['-6', 'route']):
        proc = subprocess.run(['ip', '-j'] + what + ['show'], stdout=subprocess.PIPE, check=True,
                              universal_newlines=True)
        data = json.loads(proc.stdout or '[]')
        for entry in data:
            # Counters and timers move on their own; the rest must not.
            for volatile in ('stats64', 'stats', 'addr_info_lifetimes'):
                entry.pop(volatile, None)
            for addr in entry.get('addr_info', []):
                addr.pop('valid_life_time', None)
                addr.pop('preferred_life_time', None)
        out[' '.join(what)] = data
    return out


@pytest.fixture(scope='session', autouse=True)
def root_namespace_untouched():
    before = root_netns_state()
    yield
    assert root_netns_state() == before, 'the tests changed the root network namespace'


def lab_pid(state_dir, host):
    """The PID that holds a lab host's namespaces (playbooks/lab_create.yml writes it)."""
    with open(os.path.join(state_dir, '%s.pid' % host)) as handle:
        return int(handle.read().strip())


def in_lab_host(state_dir, host, argv, check=True, timeout=60):
    """Run argv in every namespace of a lab host (never in the machine's own); its CompletedProcess."""
    proc = subprocess.run(['nsenter', '-t', str(lab_pid(state_dir, host)), '-a'] + list(argv), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('%s: %s failed (%d): %s%s' % (host, ' '.join(argv), proc.returncode, proc.stdout, proc.stderr))
    return proc


def start_in_lab_host(state_dir, host, argv, **popen):
    """Start argv in a lab host without waiting for it; its stdout is a pipe (text)."""
    return subprocess.Popen(['nsenter', '-t', str(lab_pid(state_dir, host)), '-a'] + list(argv),
                            stdout=subprocess.PIPE, universal_newlines=True, **popen)


def eventually(predicate, timeout=20, step=0.5):
    """True as soon as predicate() is, False if it still is not after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


class Playbook(object):
    """ansible-playbook with the JSON callback, so tests can assert on every task result."""

    def __init__(self, inventory):
        self.inventory = inventory

    def run(self, playbook, check=False, diff=False, extra_vars=None, expect_rc=0, limit=None):
        argv = ['ansible-playbook', '-i', self.inventory, playbook]
        if limit:
            argv += ['--limit', limit]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        if extra_vars:
            argv += ['-e', json.dumps(extra_vars)]
        with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as handle:
            results_path = handle.name
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'callback_plugins'),
                   ANSIBLE_CALLBACKS_ENABLED='results_file', NVO_RESULTS_FILE=results_path)
        proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        self.last_output = proc.stdout
        try:
            with open(results_path) as handle:
                data = json.load(handle)
        except ValueError:
            raise AssertionError('ansible-playbook wrote no results (rc %d):\n%s'
                                 % (proc.returncode, proc.stdout[-4000:]))
        finally:
            os.unlink(results_path)
        if expect_rc is not None and proc.returncode != expect_rc:
            raise AssertionError('ansible-playbook rc %d (expected %d): %s\n%s'
                                 % (proc.returncode, expect_rc, failures(data), proc.stdout[-4000:]))
        return data

    def verify(self, playbook, extra_vars, label):
        """Run a verification playbook; print and return its table.

        The table carries timing figures (failovers, throughput) measured on a shared 2-core
        machine; one busy moment can spoil a row, so a failed verification is measured once more.
        """
        data = self.run(playbook, extra_vars=extra_vars, expect_rc=None)
        if failures(data):
            print('\n%s, first verification failed, measuring again:\n%s' % (label, self.last_output[-3000:]))
            data = self.run(playbook, extra_vars=extra_vars)
        table = results(data, 'Print the table')['localhost']['msg']
        print('\n%s\n%s' % (label, table))
        return table

    def destroy(self, extra_vars=None, expect_rc=0):
        self.run(os.path.join(ROOT, 'playbooks', 'lab_destroy.yml'), extra_vars=extra_vars, expect_rc=expect_rc)


def results(data, task_name):
    """{host: result} of the tasks with this name (a later task's result wins for a host)."""
    found = None
    for play in data['plays']:
        for task in play['tasks']:
            name = task['task']['name']
            # Role tasks are named "role : task"; two roles may share a task name.
            if name == task_name or name.endswith(' : ' + task_name):
                found = dict(found or {}, **task['hosts'])
    if found is None:
        raise AssertionError('no task named %r ran' % task_name)
    return found


def failures(data):
    out = []
    for play in data.get('plays', []):
        for task in play['tasks']:
            for host, res in task['hosts'].items():
                if res.get('failed') or res.get('unreachable'):
                    out.append('%s / %s: %s' % (host, task['task']['name'], res.get('msg')))
    return out


def changed_hosts(data):
    return dict((host, stats['changed']) for host, stats in data['stats'].items() if stats['changed'])


@pytest.fixture
def lab_playbook():
    """Factory: a Playbook on an inventory of tests/integration/inventories; its lab is removed after."""
    made = []

    def make(inventory_name):
        pb = Playbook(os.path.join(HERE, 'inventories', inventory_name))
        made.append(pb)
        return pb

    yield make
    for pb in made:
        pb.destroy()


@contextlib.contextmanager
def created_lab(inventory, extra_vars=None):
    """The lab of an inventory, built with lab_create.yml: its Playbook. The lab is removed
    afterwards, also when what ran in it failed."""
    pb = Playbook(inventory)
    try:
        pb.run(os.path.join(ROOT, 'playbooks', 'lab_create.yml'), extra_vars=extra_vars)
        yield pb
    finally:
        pb.destroy(extra_vars=extra_vars, expect_rc=None)


@contextlib.contextmanager
def deployed_lab(inventory_name):
    """The lab of an inventory of tests/integration/inventories, created and deployed with site.yml:
    (Playbook, results of the deployment)."""
    with created_lab(os.path.join(HERE, 'inventories', inventory_name)) as pb:
        yield pb, pb.run(os.path.join(ROOT, 'playbooks', 'site.yml'))
