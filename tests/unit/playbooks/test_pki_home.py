# -*- coding: utf-8 -*-
"""The OVN PKI has the home the user chooses: with OVN over SSL and no overlay_ovn_pki_dir,
site.yml's preflight stops before any host is contacted and says what to set, instead of making
a CA under the control node's home directory (which AWX jobs and CI runners lose after every run).
The run from a fresh control node with the same directory is tests/integration/test_ovn_lab.py."""

from __future__ import annotations

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REAL_HOSTS = os.path.join(ROOT, 'tests', 'inventories', 'real_hosts')


def site(*extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    argv = ['ansible-playbook', '-i', REAL_HOSTS, 'playbooks/site.yml', '-e', 'overlay_control_plane=ovn',
            '-e', 'overlay_encapsulation=geneve'] + list(extra)
    return subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


@pytest.mark.parametrize('setting, said', [
    ([], 'overlay_ovn_pki_dir is not set'),
    (['-e', 'overlay_ovn_pki_dir=pki'], 'overlay_ovn_pki_dir is pki, not an absolute path'),
])
def test_ovn_over_ssl_needs_a_pki_dir_before_any_host_is_touched(setting, said):
    proc = site(*setting)
    assert proc.returncode == 2, proc.stdout
    assert said in proc.stdout, proc.stdout
    assert 'persistent storage' in proc.stdout and 'secret store' in proc.stdout, proc.stdout
    # Refused by the preflight play, on the control node: no host was contacted.
    assert 'UNREACHABLE' not in proc.stdout and 'unreachable=1' not in proc.stdout, proc.stdout
    assert 'PLAY [OVN controllers' not in proc.stdout, proc.stdout
