# -*- coding: utf-8 -*-
"""What the project ships for running Ansible stays safe: Python packages only from the hashed lock
files (which keep the top-level pins), and SSH host key checking left on."""

from __future__ import annotations

import configparser
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TOOLS = os.path.join(ROOT, 'tools')


def norm(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def entries(path):
    """{name: (version, [hashes])} of a requirements file with continuation lines."""
    with open(path) as handle:
        text = re.sub(r'\\\n', ' ', handle.read())
    out = {}
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            name, version = re.match(r'^([A-Za-z0-9_.-]+)==(\S+)', line).groups()
            out[norm(name)] = (version, re.findall(r'--hash=sha256:([0-9a-f]{64})', line))
    return out


@pytest.mark.parametrize('name', ['requirements', 'requirements-lab', 'requirements-sanity'])
def test_every_locked_package_has_hashes_and_the_top_level_pins_hold(name):
    top, lock = entries(os.path.join(TOOLS, name + '.txt')), entries(os.path.join(TOOLS, name + '.lock'))
    for package, (version, hashes) in lock.items():
        assert hashes, '%s has no hash in %s.lock' % (package, name)
    for package, (version, _hashes) in top.items():
        assert lock.get(package, (None,))[0] == version, '%s==%s of %s.txt is not what the lock pins' % (package, version, name)


def test_the_main_jobs_packages_are_the_tests_packages_at_the_same_versions():
    """tools/lab.sh on a fresh machine installs requirements-lab.lock only: the lab it deploys must
    run the same Ansible the tests run."""
    lab, full = entries(os.path.join(TOOLS, 'requirements-lab.lock')), entries(os.path.join(TOOLS, 'requirements.lock'))
    assert lab
    for package, (version, hashes) in lab.items():
        assert full.get(package, (None,))[0] == version, '%s==%s of requirements-lab.lock differs from requirements.lock' % (package, version)
        assert set(hashes) <= set(full[package][1]), package


def test_every_pip_install_of_the_tools_checks_hashes():
    installs = []
    for script in ('setup.sh', 'test.sh'):
        with open(os.path.join(TOOLS, script)) as handle:
            text = re.sub(r'\\\n', ' ', handle.read())
        installs += [line for line in text.splitlines() if re.search(r'pip"? install', line)]
    assert len(installs) == 2, installs
    with open(os.path.join(TOOLS, 'setup.sh')) as handle:
        locks = re.findall(r'^\s*NVO_LOCK=(\S+)', handle.read(), re.M)
    assert len(locks) == 2 and all(lock.endswith('.lock"') for lock in locks), locks
    for line in installs:
        assert '--require-hashes' in line and re.search(r'-r \S*(\.lock|\$NVO_LOCK)', line), line


def test_the_shipped_ansible_cfg_keeps_ssh_host_key_checking():
    """Real hosts are reached over SSH: the project's ansible.cfg must not turn host key checking off."""
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, 'ansible.cfg'))
    assert cfg.get('defaults', 'host_key_checking', fallback='True').lower() not in ('false', 'no', '0')
