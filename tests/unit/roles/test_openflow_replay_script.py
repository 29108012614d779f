# -*- coding: utf-8 -*-
"""roles/ovs/templates/netvirt-openflow-replay.sh.j2, the script netvirt-openflow.service runs at
every start of ovs-vswitchd: rendered as the role renders it and run with /bin/sh. ovs-ofctl,
ovs-vsctl and ethtool are small stand-ins on PATH that log their arguments (the script's own logic
is under test here; the machine lab drills run it against real Open vSwitch)."""

from __future__ import annotations

import os
import stat
import subprocess

import jinja2
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEMPLATE = os.path.join(ROOT, 'roles', 'ovs', 'templates', 'netvirt-openflow-replay.sh.j2')

# ovs-vsctl answers the device's ofport from a file of answers, one per call ("[]" until the
# device is open); the last answer repeats.
STANDINS = {
    'ovs-ofctl': 'echo "ovs-ofctl $*" >> "$LOG"\n',
    'ethtool': 'echo "ethtool $*" >> "$LOG"\n',
    'ovs-vsctl': ('echo "ovs-vsctl $*" >> "$LOG"\n'
                  'n=$(grep -c "^ovs-vsctl" "$LOG")\n'
                  'answer=$(sed -n "${n}p" "$ANSWERS")\n'
                  '[ -n "$answer" ] || answer=$(tail -n 1 "$ANSWERS")\n'
                  'echo "$answer"\n'),
}


def render(state_dir, attempts):
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters['comment'] = lambda text: '# ' + text
    env.filters['quote'] = lambda text: "'%s'" % text
    with open(TEMPLATE) as handle:
        return env.from_string(handle.read()).render(ansible_managed='managed by Ansible', ovs_openflow_state_dir=state_dir,
                                                     ovs_openflow_replay_attempts=attempts)


@pytest.fixture
def replay(tmp_path):
    """run(files, ofports, attempts) -> (exit code, stdout, stderr, the stand-ins' calls)."""
    bin_dir, state_dir = tmp_path / 'bin', tmp_path / 'state'
    bin_dir.mkdir()
    state_dir.mkdir()
    for name, body in STANDINS.items():
        path = bin_dir / name
        path.write_text('#!/bin/sh\n' + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def run(files, ofports=('5',), attempts=20):
        for name, content in files.items():
            (state_dir / name).write_text(content)
        script = tmp_path / 'replay.sh'
        script.write_text(render(str(state_dir), attempts))
        log, answers = tmp_path / 'calls.log', tmp_path / 'ofports'
        log.write_text('')
        answers.write_text('\n'.join(ofports) + '\n')
        env = dict(os.environ, PATH='%s:/usr/bin:/bin' % bin_dir, LOG=str(log), ANSWERS=str(answers))
        proc = subprocess.run(['/bin/sh', str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60, check=False)
        return proc.returncode, proc.stdout, proc.stderr, log.read_text().splitlines()
    return run


def test_the_offload_is_set_once_the_device_has_an_openflow_port(replay):
    code, out, err, calls = replay({'tep0.offload': 'tx off\n'}, ofports=('[]', '[]', '-1', '7'))
    assert code == 0, err
    assert 'tep0: offload set again (tx off)' in out
    # Asked until ovs-vswitchd had opened it, then set, once.
    assert calls == ['ovs-vsctl --timeout=5 get Interface tep0 ofport'] * 4 + ['ethtool -K tep0 tx off']


def test_a_device_that_never_opens_fails_the_unit(replay):
    code, _out, err, calls = replay({'tep0.offload': 'tx off\n'}, ofports=('[]',), attempts=3)
    assert code == 1
    assert 'tep0: could not set the offload' in err
    assert not [call for call in calls if call.startswith('ethtool')]


def test_flows_first_then_the_offload(replay):
    code, out, err, calls = replay({'br-tun.openflow': 'group group_id=1,type=all,bucket=output:1\nflow table=0,priority=0,actions=drop\n',
                                    'tep0.offload': 'tx off\n'})
    assert code == 0, err
    assert 'br-tun: OpenFlow state installed again (1 groups, 1 flows)' in out
    programs = [call.split()[0] for call in calls]
    assert programs.index('ethtool') > max(i for i, program in enumerate(programs) if program == 'ovs-ofctl')
    assert 'ovs-ofctl -O OpenFlow13 mod-group --may-create br-tun group_id=1,type=all,bucket=output:1' in calls


def test_nothing_kept_nothing_done(replay):
    code, out, err, calls = replay({})
    assert (code, out, err, calls) == (0, '', '', [])
