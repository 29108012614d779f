# -*- coding: utf-8 -*-
"""The lab never reaches outside itself: names stay under /run/netvirt-lab, and only lab hosts
are killed or entered."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.netvirt.overlay.plugins.connection.namespace import Connection
from ansible_collections.netvirt.overlay.plugins.module_utils import _lab


@pytest.mark.parametrize('name', ['', '.', '..', '../etc', 'a/b', 'lab.old', '/run', '-x', 'a b', None, 'x' * 64])
def test_a_lab_name_that_could_leave_the_state_root_is_refused(name):
    with pytest.raises(_lab.LabError):
        _lab.state_dir(name)


def test_a_plain_name_is_a_folder_of_the_state_root():
    assert _lab.state_dir('it-mesh_2') == os.path.join(os.path.realpath(_lab.STATE_ROOT), 'it-mesh_2')


@pytest.fixture
def bystander(tmp_path, monkeypatch):
    """A process of this machine's own namespaces, named by a lab's PID file."""
    monkeypatch.setattr(_lab, 'STATE_ROOT', str(tmp_path))
    proc = subprocess.Popen(['sleep', '60'])
    (tmp_path / 'lab1').mkdir()
    (tmp_path / 'lab1' / 'hv1.pid').write_text('%d\n' % proc.pid)
    yield proc
    proc.kill()
    proc.wait()


def test_removing_a_lab_never_kills_a_process_that_is_no_lab_host(bystander):
    assert not _lab.is_lab_host(bystander.pid)
    assert _lab.pid_of('lab1', 'hv1') is None
    assert _lab.stop_lab('lab1') == []
    assert bystander.poll() is None, 'a process outside the lab was killed'


def test_the_connection_refuses_a_process_in_the_machines_own_namespaces(bystander, tmp_path):
    conn = Connection.__new__(Connection)
    options = {'remote_addr': 'hv1', 'lab_state_dir': str(tmp_path / 'lab1')}
    conn.get_option = options.get
    with pytest.raises(AnsibleConnectionFailure, match="own net namespace"):
        conn._host_pid()


def test_a_command_for_a_lab_host_is_refused_for_a_process_in_the_machines_own_namespaces(bystander, tmp_path):
    # The tests, the benchmarks and the Molecule checks enter lab hosts through host_pid, as the
    # connection does: none of them may run a command on the machine itself.
    with pytest.raises(_lab.LabError, match="own net namespace"):
        _lab.host_pid(str(tmp_path / 'lab1'), 'hv1')


def test_a_lab_host_without_a_pid_file_is_reported_as_not_running(tmp_path):
    with pytest.raises(_lab.LabError, match=r"lab host 'hv9' is not running \(no PID in .*hv9.pid\); create the lab first"):
        _lab.host_pid(str(tmp_path), 'hv9')


def test_a_lab_host_that_died_is_reported_as_gone(tmp_path):
    proc = subprocess.Popen(['true'])
    proc.wait()
    (tmp_path / 'hv1.pid').write_text('%d\n' % proc.pid)
    assert _lab.read_pid(str(tmp_path), 'hv1') == proc.pid
    with pytest.raises(_lab.LabError, match='is gone'):
        _lab.host_pid(str(tmp_path), 'hv1')


def test_a_command_enters_every_namespace_of_the_host_or_only_its_network():
    assert _lab.enter(42, ['ip', 'link']) == ['nsenter', '--target', '42', '--mount', '--uts', '--ipc', '--net', '--pid',
                                              '--', 'ip', 'link']
    assert _lab.enter(42, ['ip', 'link'], net_only=True) == ['nsenter', '--target', '42', '--net', '--', 'ip', 'link']


def test_a_booted_machine_is_entered_in_every_namespace_its_systemd_has():
    # nsenter --all: also the cgroup (and any user or time) namespace of the machine's systemd.
    assert _lab.enter(7, ['systemctl', 'is-system-running'], all_namespaces=True) == [
        'nsenter', '--target', '7', '--all', '--', 'systemctl', 'is-system-running']
    with pytest.raises(_lab.LabError, match='exclude each other'):
        _lab.enter(7, ['true'], net_only=True, all_namespaces=True)
