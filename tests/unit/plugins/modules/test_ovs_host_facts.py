# -*- coding: utf-8 -*-
"""ovs_host_facts: what the ovs role decides from, read from real files, scripts and a real
ovsdb-server (test_converge's fixture), in one module run, the same in check mode; and the
distribution facts, from os-release."""

from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args
from ansible_collections.netvirt.overlay.tests.unit.plugins.module_utils.test_converge import (  # noqa: F401 pylint: disable=unused-import
    server)

from ansible_collections.netvirt.overlay.plugins.modules import ovs_host_facts


def run(capsys, **args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            ovs_host_facts.main()
    out = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0, out
    return out


def script(path, status):
    path.write_text('#!/bin/sh\n[ "$1" = status ] && exit %d\nexit 99\n' % status)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def no_systemd(tmp_path, monkeypatch):
    monkeypatch.setattr(ovs_host_facts, 'SYSTEMD_RUNTIME_DIR', str(tmp_path / 'no-systemd'))


def test_a_host_without_open_vswitch_reads_as_absent(capsys, tmp_path, no_systemd):
    out = run(capsys, ovs_ctl=str(tmp_path / 'ovs-ctl'), system_id_file=str(tmp_path / 'system-id.conf'),
              rundir=str(tmp_path / 'run'))
    assert out['changed'] is False
    assert (out['systemd'], out['ovs_ctl_running'], out['system_id_db'], out['system_id_file']) == (False, False, None, None)


def test_the_system_id_as_ovsdb_and_the_file_have_it(capsys, tmp_path, server, no_systemd):
    rundir = server[len('unix:'):].rsplit('/', 1)[0]
    conf = tmp_path / 'system-id.conf'
    args = dict(ovs_ctl=str(tmp_path / 'ovs-ctl'), system_id_file=str(conf), rundir=rundir)
    assert run(capsys, **args)['system_id_db'] is None
    subprocess.run(['ovs-vsctl', '--db=' + server, '--no-wait', 'set', 'Open_vSwitch', '.', 'external_ids:system-id=hv1'], check=True)
    conf.write_text('hv1\n')
    conf.chmod(0o600)
    out = run(capsys, **args)
    assert out['system_id_db'] == 'hv1'
    assert out['system_id_file'] == {'mode': '0600', 'content': 'hv1\n'}
    # ovs-vsctl quotes a value that reads as another type (a UUID): the module gives the string.
    uuid = '5b3a0f2e-9d1c-4e8b-a2f7-3c6d9e0b1a45'
    subprocess.run(['ovs-vsctl', '--db=' + server, '--no-wait', 'set', 'Open_vSwitch', '.', 'external_ids:system-id="%s"' % uuid], check=True)
    assert run(capsys, _ansible_check_mode=True, **args)['system_id_db'] == uuid


@pytest.mark.parametrize('status, running', [(0, True), (3, False)])
def test_ovs_ctl_status_says_whether_its_daemons_run(capsys, tmp_path, no_systemd, status, running):
    ovs_ctl = script(tmp_path / 'ovs-ctl', status)
    assert run(capsys, ovs_ctl=ovs_ctl, rundir=str(tmp_path))['ovs_ctl_running'] is running


def test_an_ovs_ctl_that_cannot_run_is_not_running(capsys, tmp_path, no_systemd):
    ovs_ctl = script(tmp_path / 'ovs-ctl', 0)
    (tmp_path / 'ovs-ctl').chmod(0o644)
    assert run(capsys, ovs_ctl=ovs_ctl, rundir=str(tmp_path))['ovs_ctl_running'] is False


def test_systemd_is_its_runtime_directory(capsys, tmp_path, monkeypatch):
    (tmp_path / 'systemd-system').mkdir()
    monkeypatch.setattr(ovs_host_facts, 'SYSTEMD_RUNTIME_DIR', str(tmp_path / 'systemd-system'))
    assert run(capsys, rundir=str(tmp_path))['systemd'] is True


def test_the_distribution_facts_of_this_machine(capsys, tmp_path, no_systemd):
    # Debian 12 here and in CI.
    with open('/etc/os-release') as handle:
        release = dict(line.rstrip('\n').split('=', 1) for line in handle if '=' in line)
    facts = run(capsys, rundir=str(tmp_path))['ansible_facts']
    assert facts['ansible_os_family'] == 'Debian'
    assert facts['ansible_distribution'] == release['NAME'].strip('"').split()[0]
    assert facts['ansible_distribution_major_version'] == release['VERSION_ID'].strip('"').split('.')[0]
    assert all(key.startswith('ansible_') for key in facts)


@pytest.mark.parametrize('text, expected', [
    # Ubuntu 24.04's file, shortened.
    ('NAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n',
     ('Ubuntu', 'Debian', '24.04', '24', 'noble')),
    ("NAME='Rocky Linux'\nVERSION_ID='9.4'\nID='rocky'\nID_LIKE='rhel centos fedora'\n",
     ('Rocky', 'RedHat', '9.4', '9', '')),
    ('NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.4"\nID="rhel"\n', ('RedHat', 'RedHat', '9.4', '9', '')),
    # An ID the table does not know: its family from ID_LIKE, else its name.
    ('NAME="Devuan GNU/Linux"\nVERSION_ID="5"\nID=devuan\nID_LIKE=debian\n# a comment\n', ('Devuan', 'Debian', '5', '5', '')),
    ('NAME="Arch Linux"\nID=arch\n', ('Arch', 'Arch', '', '', '')),
    (None, ('Unknown', 'Unknown', '', '', '')),
])
def test_the_distribution_facts_from_os_release(capsys, tmp_path, no_systemd, monkeypatch, text, expected):
    path = tmp_path / 'os-release'
    if text is not None:
        path.write_text(text)
    monkeypatch.setattr(ovs_host_facts, 'OS_RELEASE', [str(path)])
    facts = run(capsys, rundir=str(tmp_path))['ansible_facts']
    assert tuple(facts['ansible_' + key] for key in ('distribution', 'os_family', 'distribution_version',
                                                     'distribution_major_version', 'distribution_release')) == expected
