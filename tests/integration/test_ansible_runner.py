# -*- coding: utf-8 -*-
"""netvirt.overlay.site run the way AWX runs a job: ansible-runner (AWX's engine) on a private
data directory with a project (a playbook importing the collection's site playbook and a
collections/requirements.yml), an inventory and env/ settings, the collection installed from the
built tarball as AWX installs a project's collection requirements. Nothing of the checkout is on
the collections path or in ansible.cfg; the lab itself is built with the checkout's lab playbook.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import yaml

from conftest import HERE, ROOT, created_lab, in_lab_host

INVENTORY = os.path.join(HERE, 'inventories', 'awx_runner.yml')
BIN = os.path.dirname(sys.executable)


def job_env():
    """The environment of this test run without what points Ansible at the checkout."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    for name in list(env):
        if name.startswith('ANSIBLE_') or name == 'NVO_COLLECTIONS':
            del env[name]
    return env


def private_data_dir(tmp_path, tarball):
    """What AWX hands ansible-runner for a job: project/, inventory/, env/."""
    pdd = tmp_path / 'job'
    (pdd / 'project' / 'collections').mkdir(parents=True)
    (pdd / 'project' / 'site.yml').write_text(
        '---\n- name: Overlay network\n  ansible.builtin.import_playbook: netvirt.overlay.site\n')
    (pdd / 'project' / 'collections' / 'requirements.yml').write_text(yaml.safe_dump(
        {'collections': [{'name': str(tarball), 'type': 'file'}]}))
    (pdd / 'inventory').mkdir()
    shutil.copy(INVENTORY, str(pdd / 'inventory' / 'hosts.yml'))
    # AWX installs a project's collections/requirements.yml at project sync into a directory of
    # the job and puts it on the collections path.
    collections = pdd / 'requirements_collections'
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-r',
                    str(pdd / 'project' / 'collections' / 'requirements.yml'), '-p', str(collections)],
                   cwd=str(pdd / 'project'), env=dict(job_env(), ANSIBLE_COLLECTIONS_PATH=str(collections)),
                   check=True, stdout=subprocess.PIPE)
    (pdd / 'env').mkdir()
    (pdd / 'env' / 'envvars').write_text(yaml.safe_dump({
        'ANSIBLE_COLLECTIONS_PATH': str(collections),
        'ANSIBLE_FORCE_COLOR': 'False',
        'ANSIBLE_HOST_KEY_CHECKING': 'True',
    }))
    (pdd / 'env' / 'settings').write_text(yaml.safe_dump({'job_timeout': 900, 'pexpect_timeout': 10}))
    return pdd


def run_job(pdd, ident):
    """ansible-runner run; (rc, status, the job's events)."""
    proc = subprocess.run([os.path.join(BIN, 'ansible-runner'), 'run', str(pdd), '-p', 'site.yml', '--ident', ident],
                          env=job_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=1200, check=False)
    artifacts = pdd / 'artifacts' / ident
    status = (artifacts / 'status').read_text().strip() if (artifacts / 'status').is_file() else 'missing'
    events = []
    for path in sorted(glob.glob(str(artifacts / 'job_events' / '*.json')), key=lambda p: int(os.path.basename(p).split('-')[0])):
        with open(path) as handle:
            events.append(json.load(handle))
    return proc, status, events


def stats(events):
    found = [e['event_data'] for e in events if e['event'] == 'playbook_on_stats']
    assert len(found) == 1, 'the job recorded %d stats events' % len(found)
    return found[0]


def test_site_through_ansible_runner_as_awx_runs_it(tmp_path):
    out = tmp_path / 'build'
    out.mkdir()
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), ROOT],
                   env=job_env(), check=True, stdout=subprocess.PIPE)
    tarball = next(out.glob('netvirt-overlay-*.tar.gz'))
    pdd = private_data_dir(tmp_path, tarball)
    with created_lab(INVENTORY):
        proc, status, events = run_job(pdd, 'deploy')
        assert proc.returncode == 0 and status == 'successful', '%s (rc %d):\n%s' % (status, proc.returncode, proc.stdout[-6000:])
        first = stats(events)
        assert set(first['ok']) == {'hv1', 'hv2'}, first
        assert not first['failures'] and not first['dark'], first
        assert first['changed'].get('hv1') and first['changed'].get('hv2'), 'the first run changed nothing: %s' % first
        # The tasks came from the installed artifact, not from the checkout.
        paths = {e['event_data'].get('task_path', '') for e in events if e['event'] == 'playbook_on_task_start'}
        role_paths = [p for p in paths if '/roles/' in p]
        assert role_paths and all(p.startswith(str(pdd / 'requirements_collections')) for p in role_paths), role_paths

        # The overlay carries VM traffic across the tunnel.
        state_dir = '/run/netvirt-lab/it-awx'
        ping = in_lab_host(state_dir, 'vm1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '198.18.100.2'], check=False)
        assert ping.returncode == 0 and ' 0% packet loss' in ping.stdout, ping.stdout + ping.stderr

        # A second job, as a scheduled AWX job would be, changes nothing.
        proc, status, events = run_job(pdd, 'again')
        assert proc.returncode == 0 and status == 'successful', proc.stdout[-6000:]
        second = stats(events)
        assert not second['changed'] and not second['failures'], second
        print('first job: changed %s; second job: changed %s, ok %s' % (first['changed'], second['changed'], second['ok']))
