# -*- coding: utf-8 -*-
"""The CA rotation's preflight refuses, on the control node and before any host is contacted, a phase
that cannot be safe: any phase with --limit (a node left out would lose its connections), sign before
trust has made the new CA, a phase that does not exist. The three phases themselves, on the OVN lab:
tests/integration/test_ovn_lab.py (test_the_ca_is_rotated_in_three_runs_without_loss)."""

from __future__ import annotations

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REAL_HOSTS = os.path.join(ROOT, 'tests', 'inventories', 'real_hosts')


def site(pki, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    argv = ['ansible-playbook', '-i', REAL_HOSTS, 'playbooks/site.yml', '-e', 'overlay_control_plane=ovn',
            '-e', 'overlay_encapsulation=geneve', '-e', 'overlay_ovn_pki_dir=%s' % pki] + list(extra)
    return subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False, timeout=600)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """An ovs-pki CA in ca/ (no ca-next/) and a certificate of it for ctl1.example.net."""
    root = tmp_path_factory.mktemp('pki')
    log = '--log=%s' % (root / 'ovs-pki.log')
    subprocess.run(['ovs-pki', log, '--dir=%s/ca' % root, 'init'], check=True, stdout=subprocess.PIPE, timeout=120)
    nodes = root / 'nodes' / 'controllers'
    nodes.mkdir(parents=True)
    subprocess.run(['ovs-pki', log, '--dir=%s/ca' % root, '-u', 'req+sign', 'ctl1.example.net', 'controller'],
                   cwd=str(nodes), check=True, stdout=subprocess.PIPE, timeout=120)
    return root


def files(root):
    return sorted(os.path.relpath(os.path.join(d, n), str(root)) for d, _s, names in os.walk(str(root)) for n in names)


def refused_before_any_host(proc):
    """Returns the output's words joined by single spaces: the YAML result format wraps a long
    message at places that differ between ansible-core versions (2.16 broke the path's line)."""
    assert proc.returncode == 2, proc.stdout
    assert 'UNREACHABLE' not in proc.stdout and 'unreachable=1' not in proc.stdout, proc.stdout
    assert 'PLAY [OVN controllers' not in proc.stdout, proc.stdout
    return ' '.join(proc.stdout.split())


def test_a_phase_with_limit_is_refused(pki):
    # One assert refuses --limit for every phase (roles/overlay/tasks/preflight.yml); trust is the
    # phase that no later check of the preflight would stop. (One phase: each run here is run again
    # under every older ansible-core of the unit-test matrix.)
    before = files(pki)
    proc = site(pki, '-e', 'overlay_ovn_ca_rotation=trust', '--limit', 'ctl1.example.net')
    said = refused_before_any_host(proc)
    assert 'run it without --limit (ctl1.example.net)' in said, proc.stdout
    assert files(pki) == before


def test_sign_before_trust_is_refused(pki):
    before = files(pki)
    proc = site(pki, '-e', 'overlay_ovn_ca_rotation=sign')
    said = refused_before_any_host(proc)
    assert 'there is no new CA in %s/ca-next to sign with' % pki in said, proc.stdout
    assert 'overlay_ovn_ca_rotation=trust first' in said, proc.stdout
    assert files(pki) == before


def test_an_unknown_phase_is_refused(pki):
    proc = site(pki, '-e', 'overlay_ovn_ca_rotation=rotate')
    said = refused_before_any_host(proc)
    assert 'overlay_ovn_ca_rotation must be one of: none, trust, sign, finish, got: rotate' in said, proc.stdout
