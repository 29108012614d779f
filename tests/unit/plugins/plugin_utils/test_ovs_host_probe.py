# -*- coding: utf-8 -*-
"""ovs_host_facts' probe: the shell command run by /bin/sh here against real files, scripts and a real
ovsdb-server (test_converge's fixture), its output read as the action plugin reads it; the
distribution facts from os-release; and the action plugin run by ansible-playbook on this machine."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.netvirt.overlay.plugins.plugin_utils._ovs_host_probe import (
    ProbeError, probe_command, read_probe)
from ansible_collections.netvirt.overlay.tests.unit.action_task import run_task
from ansible_collections.netvirt.overlay.tests.unit.plugins.module_utils.test_converge import (  # noqa: F401 pylint: disable=unused-import
    server)


def probe(tmp_path, systemd_dir=None, os_release=None, **paths):
    """What the action plugin makes of the command, run by /bin/sh on this machine."""
    args = dict(ovs_ctl=str(tmp_path / 'ovs-ctl'), system_id_file=str(tmp_path / 'system-id.conf'),
                rundir=str(tmp_path / 'run'))
    args.update(paths)
    command = probe_command(systemd_dir=systemd_dir or str(tmp_path / 'no-systemd'),
                            os_release=os_release or ['/etc/os-release', '/usr/lib/os-release'], **args)
    done = subprocess.run(['/bin/sh', '-c', command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True)
    assert done.stderr == ''
    return read_probe(done.stdout)


def script(path, status):
    path.write_text('#!/bin/sh\n[ "$1" = status ] && exit %d\nexit 99\n' % status)
    path.chmod(0o755)
    return str(path)


def test_a_host_without_open_vswitch_reads_as_absent(tmp_path):
    out = probe(tmp_path)
    assert (out['systemd'], out['ovs_ctl_running'], out['system_id_db'], out['system_id_file']) == (False, False, None, None)


def test_the_system_id_as_ovsdb_and_the_file_have_it(tmp_path, server):
    rundir = server[len('unix:'):].rsplit('/', 1)[0]
    conf = tmp_path / 'system-id.conf'
    assert probe(tmp_path, rundir=rundir)['system_id_db'] is None
    subprocess.run(['ovs-vsctl', '--db=' + server, '--no-wait', 'set', 'Open_vSwitch', '.', 'external_ids:system-id=hv1'], check=True)
    conf.write_text('hv1\n')
    conf.chmod(0o600)
    out = probe(tmp_path, rundir=rundir)
    assert out['system_id_db'] == 'hv1'
    assert out['system_id_file'] == {'mode': '0600', 'content': 'hv1\n'}
    # ovs-vsctl quotes a value that reads as another type (a UUID): the probe gives the string.
    uuid = '5b3a0f2e-9d1c-4e8b-a2f7-3c6d9e0b1a45'
    subprocess.run(['ovs-vsctl', '--db=' + server, '--no-wait', 'set', 'Open_vSwitch', '.', 'external_ids:system-id="%s"' % uuid], check=True)
    assert probe(tmp_path, rundir=rundir)['system_id_db'] == uuid


def test_the_system_id_file_exactly_as_it_is(tmp_path):
    # Its mode and every byte (no trailing newline, a backslash, spaces): the role compares them.
    conf = tmp_path / 'id with space.conf'
    conf.write_text('a\\tb  c')
    conf.chmod(0o644)
    assert probe(tmp_path, system_id_file=str(conf))['system_id_file'] == {'mode': '0644', 'content': 'a\\tb  c'}
    conf.write_text('')
    assert probe(tmp_path, system_id_file=str(conf))['system_id_file'] == {'mode': '0644', 'content': ''}
    # A directory is no system-id file.
    assert probe(tmp_path, system_id_file=str(tmp_path))['system_id_file'] is None


@pytest.mark.parametrize('status, running', [(0, True), (3, False)])
def test_ovs_ctl_status_says_whether_its_daemons_run(tmp_path, status, running):
    ovs_ctl = script(tmp_path / 'ovs-ctl', status)
    assert probe(tmp_path, ovs_ctl=ovs_ctl)['ovs_ctl_running'] is running


def test_an_ovs_ctl_that_cannot_run_is_not_running(tmp_path):
    ovs_ctl = script(tmp_path / 'ovs-ctl', 0)
    (tmp_path / 'ovs-ctl').chmod(0o644)
    assert probe(tmp_path, ovs_ctl=ovs_ctl)['ovs_ctl_running'] is False


def test_a_path_is_one_word_for_the_shell(tmp_path):
    # Quoted: a path with a space or a ; is a path, never a second command.
    odd = tmp_path / 'ovs ctl; touch pwned'
    script(odd, 0)
    assert probe(tmp_path, ovs_ctl=str(odd))['ovs_ctl_running'] is True
    assert not (tmp_path / 'pwned').exists() and not os.path.exists('pwned')


def test_systemd_is_its_runtime_directory(tmp_path):
    (tmp_path / 'systemd-system').mkdir()
    assert probe(tmp_path, systemd_dir=str(tmp_path / 'systemd-system'))['systemd'] is True


def test_the_distribution_facts_of_this_machine(tmp_path):
    # Debian 12 here and in CI.
    with open('/etc/os-release') as handle:
        release = dict(line.rstrip('\n').split('=', 1) for line in handle if '=' in line)
    facts = probe(tmp_path)['ansible_facts']
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
def test_the_distribution_facts_from_os_release(tmp_path, text, expected):
    path = tmp_path / 'os-release'
    if text is not None:
        path.write_text(text)
    facts = probe(tmp_path, os_release=[str(path)])['ansible_facts']
    assert tuple(facts['ansible_' + key] for key in ('distribution', 'os_family', 'distribution_version',
                                                     'distribution_major_version', 'distribution_release')) == expected


def test_the_second_os_release_file_when_the_first_is_not_there(tmp_path):
    second = tmp_path / 'os-release'
    second.write_text('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n')
    facts = probe(tmp_path, os_release=[str(tmp_path / 'none'), str(second)])['ansible_facts']
    assert facts['ansible_distribution'] == 'Ubuntu'


@pytest.mark.parametrize('output', ['', 'systemd=1\novs_ctl_running=0\n', 'systemd=1\novs_ctl_running=0\nkernel_datapath=\n'])
def test_an_output_without_every_answer_is_refused(output):
    with pytest.raises(ProbeError, match='no answer for'):
        read_probe(output)


def test_the_action_sets_the_facts_and_runs_no_module(tmp_path):
    ovs_ctl = script(tmp_path / 'ovs-ctl', 0)
    rc, _output, result = run_task(tmp_path, 'netvirt.overlay.ovs_host_facts', {'ovs_ctl': ovs_ctl, 'rundir': str(tmp_path)})
    assert rc == 0 and not result.get('failed'), result
    assert result['changed'] is False and result['ovs_ctl_running'] is True
    assert result['ansible_facts']['ansible_os_family'] == 'Debian'
    # A module run would show its invocation; the action ran one shell command.
    assert 'invocation' not in result


def test_the_action_refuses_a_relative_path_before_running_anything(tmp_path):
    _rc, _output, result = run_task(tmp_path, 'netvirt.overlay.ovs_host_facts', {'ovs_ctl': 'ovs-ctl', 'rundir': 'run'})
    assert result['failed'] is True
    assert result['msg'] == "ovs_ctl, rundir: give an absolute path on the host (got 'ovs-ctl', 'run')"
    assert 'ovs_ctl_running' not in result
