# -*- coding: utf-8 -*-
"""apply_command: check mode reports the change and runs nothing; a real run runs the command once,
without a shell, and fails with its error when it exits non-zero. Real commands, no doubles."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netvirt.overlay.tests.unit.module_args import patch_module_args

from ansible_collections.netvirt.overlay.plugins.modules import apply_command


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            apply_command.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


def test_check_mode_reports_the_change_and_runs_nothing(capsys, tmp_path):
    made = tmp_path / 'made'
    rc, out = run(capsys, {'argv': ['touch', str(made)], '_ansible_check_mode': True})
    assert rc == 0 and out['changed'] and not out.get('skipped') and 'rc' not in out
    assert not made.exists()


def test_a_real_run_runs_it_without_a_shell(capsys, tmp_path):
    made = tmp_path / 'made; echo'
    rc, out = run(capsys, {'argv': ['touch', str(made)]})
    assert rc == 0 and out['changed'] and out['rc'] == 0
    assert made.exists()


def test_a_failing_command_fails_the_task_with_its_error(capsys, tmp_path):
    rc, out = run(capsys, {'argv': ['ls', str(tmp_path / 'nothing-here')]})
    assert rc == 1 and out['failed'] and out['rc'] != 0
    assert 'nothing-here' in out['msg'] and 'No such file' in out['msg']


def test_an_empty_command_is_refused(capsys):
    rc, out = run(capsys, {'argv': []})
    assert rc == 1 and 'argv' in out['msg']
