# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pf_rules end to end: the real module runs as a subprocess, the way Ansible runs it, with
pfctl and launchctl replaced by the recording doubles in pf_doubles/ (first on PATH).

The pfctl double refuses (exit 99) to load a rule file whose content -- including every
file it includes or loads as an anchor -- never passed 'pfctl -n -f'; the launchctl double
runs the launchd item's ProgramArguments as RunAtLoad does, so the boot path is held to
the same rule.
"""

from __future__ import annotations

import grp
import json
import os
import plistlib
import pwd
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

import ansible_collections.netvirt.overlay.plugins.modules.pf_rules as pf_rules_module
from ansible_collections.netvirt.overlay.plugins.module_utils._pf_platforms import BOOT_SCRIPT

DOUBLES = Path(__file__).resolve().parent / 'pf_doubles'
CORPUS = Path(__file__).resolve().parent / 'pf_corpus'
MODULE = 'ansible_collections.netvirt.overlay.plugins.modules.pf_rules'
COLLECTIONS_ROOT = str(Path(pf_rules_module.__file__).parents[5])
OWNER = pwd.getpwuid(os.geteuid()).pw_name
GROUP = grp.getgrgid(os.getegid()).gr_name


class Lab(object):
    """A scratch 'host': target paths in a tmp dir, doubles first on PATH, their shared state."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.etc = tmp_path / 'etc' / 'pf.anchors'
        self.etc.mkdir(parents=True)
        self.daemons = tmp_path / 'Library' / 'LaunchDaemons'
        self.daemons.mkdir(parents=True)
        self.state = tmp_path / 'state'
        self.state.mkdir()
        self.work = tmp_path / 'work'
        self.work.mkdir()
        self.anchor = self.etc / 'netvirt'
        self.conf = self.etc / 'netvirt.pf.conf'
        self.plist = self.daemons / 'org.netvirt.overlay.pf.plist'
        self.pfstate = tmp_path / 'var' / 'db' / 'netvirt-overlay-pf'
        self.token = self.pfstate / 'netvirt' / 'token'
        self.env_extra = {}
        self.runs = 0

    def args(self, **kw):
        args = dict(anchor='netvirt', platform='macos', anchor_path=str(self.anchor), conf_path=str(self.conf),
                    launchd_plist_path=str(self.plist), macos_apple_anchors=False, owner=OWNER, group=GROUP,
                    state_dir=str(self.pfstate), macos_boot_wait=3)
        args.update(kw)
        return args

    def env(self):
        env = dict(os.environ)
        env.update(PATH='%s%s%s' % (DOUBLES, os.pathsep, env.get('PATH', '/usr/bin:/bin')),
                   PF_DOUBLE_STATE=str(self.state), PF_DOUBLE_PYTHON=sys.executable,
                   PYTHONPATH=COLLECTIONS_ROOT)
        env.pop('PF_DOUBLE_REJECT', None)
        env.pop('PF_DOUBLE_FAIL_LOAD', None)
        env.update(self.env_extra)
        return env

    def run(self, args, check_mode=False):
        self.runs += 1
        tmpdir = self.work / ('run%d' % self.runs)
        tmpdir.mkdir()
        payload = dict(args, _ansible_tmpdir=str(tmpdir), _ansible_check_mode=check_mode, _ansible_diff=True,
                       _ansible_remote_tmp=str(tmpdir), _ansible_keep_remote_files=False)
        argsfile = self.work / ('args%d.json' % self.runs)
        argsfile.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': payload}))
        # Mark where this run's calls start in the doubles' log.
        self.mark = len(self.calls())
        proc = subprocess.run([sys.executable, '-m', MODULE, str(argsfile)], env=self.env(), cwd=str(self.work),
                              capture_output=True, text=True, timeout=60, check=False)
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('module printed no JSON (rc=%d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
        return result

    def calls(self):
        path = self.state / 'calls.jsonl'
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def run_calls(self):
        return self.calls()[self.mark:]

    def snapshot(self):
        """Bytes of every file under the scratch etc and LaunchDaemons dirs."""
        found = {}
        for root in (self.etc, self.daemons, self.tmp / 'etc'):
            for path in sorted(root.rglob('*')):
                if path.is_file():
                    found[str(path)] = path.read_bytes()
        return found

    def leftovers(self):
        return [p.name for p in list(self.etc.iterdir()) + list(self.daemons.iterdir()) + list((self.tmp / 'etc').iterdir())
                if p.name.endswith('.candidate')]


@pytest.fixture
def lab(tmp_path):
    return Lab(tmp_path)


WORKSTATION = dict(
    macros={'mgmt_net': '192.0.2.0/24'},
    tables=[dict(name='admins', entries=['198.51.100.7'], persist=True)],
    options=['block-policy drop', 'skip on lo0'],
    normalization=['scrub in all no-df'],
    filtering=['block in all',
               {'action': 'pass', 'direction': 'in', 'quick': True, 'proto': 'tcp',
                'from': ['$mgmt_net', '<admins>'], 'port': 22, 'state': 'keep'},
               'pass out all keep state'],
    reload=True,
)


def _pfctl_argv(calls):
    return [c for c in calls if c[:1] != ['launchctl']]


def test_macos_full_flow_render_validate_install_reload_persist(lab):
    result = lab.run(lab.args(**WORKSTATION))
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True
    assert result['validated'] is True and result['reloaded'] is True and result['enabled'] is True
    assert result['changed_files'] == [str(lab.anchor), str(lab.conf), str(lab.plist)]

    calls = lab.run_calls()
    candidate = calls[0][3]
    assert calls[0][:3] == ['-v', '-n', '-f']
    assert os.path.dirname(candidate) == str(lab.etc) and candidate.endswith('.candidate')
    assert calls[1:] == [
        ['-f', str(lab.conf)],
        ['-E'],                               # macOS: enable with a reference token
        ['launchctl', 'print', 'system/org.netvirt.overlay.pf'],
        ['launchctl', 'bootstrap', 'system', str(lab.plist)],
        # RunAtLoad, run by the launchctl double: the boot script asks whether Apple's
        # com.apple.pfctl job has run (here: there is none), then loads with a token.
        ['launchctl', 'print', 'system/com.apple.pfctl'],
        ['-E', '-f', str(lab.conf)],
        ['-X', '1000000'],                    # the module's token, replaced by the boot job's
    ]
    assert result['enable_token_file'] == str(lab.token)
    # The boot job's token replaced the first one: one reference, and the file holds it.
    assert json.loads((lab.state / 'tokens.json').read_text()) == [lab.token.read_text().strip()] == ['1000001']
    assert lab.token.stat().st_mode & 0o777 == 0o600
    assert lab.leftovers() == []

    # The installed files are exactly what the module rendered, root-style permissions.
    assert lab.anchor.read_text() == result['anchor_content']
    assert lab.conf.read_text() == result['conf_content']
    assert 'load anchor "netvirt" from "%s"\n' % lab.anchor in result['conf_content']
    assert 'pass in quick proto tcp from { $mgmt_net, <admins> } to any port 22 keep state\n' in result['anchor_content']
    for path in (lab.anchor, lab.conf, lab.plist):
        st = path.stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o644, os.geteuid(), os.getegid())

    item = plistlib.loads(lab.plist.read_bytes())
    assert item == {'Label': 'org.netvirt.overlay.pf', 'RunAtLoad': True,
                    'ProgramArguments': ['/bin/sh', '-c', BOOT_SCRIPT, 'netvirt-pf-boot', str(DOUBLES / 'pfctl'),
                                         str(DOUBLES / 'launchctl'), str(lab.conf), str(lab.token), '3']}

    # What pf "runs" is the rule set that was validated.
    validated = json.loads((lab.state / 'validated.json').read_text())
    assert (lab.state / 'loaded').read_text() == validated[-1]
    assert json.loads((lab.state / 'launchd.json').read_text()) == {'org.netvirt.overlay.pf': str(lab.plist)}


def test_second_run_is_idempotent(lab):
    first = lab.run(lab.args(**WORKSTATION))
    assert first['changed'] is True
    before = lab.snapshot()
    mtimes = {p: os.stat(p).st_mtime_ns for p in before}
    second = lab.run(lab.args(**WORKSTATION))
    assert second['changed'] is False
    assert second['changed_files'] == [] and second['validated'] is False and second['reloaded'] is False
    assert lab.run_calls() == [['-s', 'info'], ['launchctl', 'print', 'system/org.netvirt.overlay.pf']]
    assert lab.snapshot() == before
    assert {p: os.stat(p).st_mtime_ns for p in before} == mtimes


def test_check_mode_on_a_fresh_host_changes_nothing_and_shows_the_diff(lab):
    result = lab.run(lab.args(**WORKSTATION), check_mode=True)
    assert result['changed'] is True
    assert result['validated'] is True
    assert lab.snapshot() == {}
    calls = lab.run_calls()
    assert len(calls) == 1 and calls[0][:3] == ['-v', '-n', '-f']
    assert not calls[0][3].startswith(str(lab.etc))       # candidate lived in the private tmpdir
    diffs = {d['after_header']: d for d in result['diff']}
    assert diffs[str(lab.anchor)]['before'] == ''
    assert diffs[str(lab.anchor)]['before_header'] == '%s (absent)' % lab.anchor
    assert diffs[str(lab.anchor)]['after'] == result['anchor_content']
    assert 'set block-policy drop\n' in diffs[str(lab.conf)]['after']
    assert '<string>netvirt-pf-boot</string>' in diffs[str(lab.plist)]['after']
    assert '<string>%s</string>' % lab.token in diffs[str(lab.plist)]['after']


def test_check_mode_with_a_change_reports_before_and_after(lab):
    lab.run(lab.args(**WORKSTATION))
    before = lab.snapshot()
    changed = dict(WORKSTATION, filtering=WORKSTATION['filtering'] + ['pass in proto tcp to port 6641'])
    result = lab.run(lab.args(**changed), check_mode=True)
    assert result['changed'] is True
    assert result['changed_files'] == [str(lab.anchor)]
    assert [d['after_header'] for d in result['diff']] == [str(lab.anchor)]
    assert result['diff'][0]['before'] == before[str(lab.anchor)].decode()
    assert result['diff'][0]['after'].endswith('pass out all keep state\npass in proto tcp to port 6641\n')
    assert lab.snapshot() == before
    assert [c[:3] for c in lab.run_calls()] == [['-v', '-n', '-f']]      # read-only, nothing loaded


def test_failing_pfctl_n_leaves_installed_files_byte_for_byte(lab):
    lab.run(lab.args(**WORKSTATION))
    before = lab.snapshot()
    assert set(before) == {str(lab.anchor), str(lab.conf), str(lab.plist)}
    lab.env_extra['PF_DOUBLE_REJECT'] = 'port 6642'
    changed = dict(WORKSTATION, options=['block-policy return'],
                   filtering=WORKSTATION['filtering'] + ['pass in proto tcp to port 6642'])
    result = lab.run(lab.args(**changed))
    assert result['failed'] is True
    assert result['msg'].startswith('pfctl -v -n rejected the candidate rule set for anchor "netvirt"; nothing was '
                                    'installed and the files in place are unchanged. pfctl said: ')
    assert result['msg'].endswith('%s (candidate):18: syntax error' % lab.anchor)
    assert lab.snapshot() == before
    assert lab.leftovers() == []
    assert [c[:3] for c in lab.run_calls()] == [['-v', '-n', '-f']]     # no load, no launchctl


def test_static_errors_fail_before_pfctl_runs_and_name_the_line(lab):
    bad = dict(WORKSTATION, filtering=['block in all', 'nat on en0 from 10.0.0.0/8 to any -> (en0)'])
    result = lab.run(lab.args(**bad))
    assert result['failed'] is True
    assert result['errors'] == [
        'anchor file line 16 (filtering item 2): translation rule after filter rule at line 15; macOS pf requires '
        'the order options, normalization, queueing, translation, filtering (or set require-order no)']
    assert result['msg'] == ('the rule set for anchor "netvirt" is not valid for macos pf (nothing was '
                             'installed): ' + result['errors'][0])
    assert result['static_check'] == dict(verdict='refuse', errors=result['errors'])
    assert lab.calls() == []
    assert lab.snapshot() == {}


def test_openbsd_syntax_for_macos_is_refused(lab):
    bad = dict(filtering=[dict(direction='out', on='en0', nat_to='(en0)')])
    result = lab.run(lab.args(**bad))
    assert result['failed'] is True
    assert result['errors'] == [
        'filtering item 1: nat_to is OpenBSD pf syntax; on macOS pf write a nat rule under translation']
    assert lab.calls() == []


def test_failed_reload_puts_the_previous_files_back(lab):
    lab.run(lab.args(**WORKSTATION))
    before = lab.snapshot()
    lab.env_extra['PF_DOUBLE_FAIL_LOAD'] = '1'
    changed = dict(WORKSTATION, filtering=WORKSTATION['filtering'] + ['pass in proto udp to port 53'])
    result = lab.run(lab.args(**changed))
    assert result['failed'] is True
    assert result['msg'] == ('pfctl -f %s failed after the candidate had passed pfctl -n (rc=1): pfctl: DIOCADDRULE: '
                             'Invalid argument. The previous files were put back; pf keeps running the rule set it '
                             'had.' % lab.conf)
    assert lab.snapshot() == before
    assert lab.leftovers() == []


def test_the_pfctl_double_refuses_a_rule_file_that_was_never_validated(lab):
    lab.run(lab.args(**WORKSTATION))
    env = lab.env()
    pfctl = str(DOUBLES / 'pfctl')
    ok = subprocess.run([pfctl, '-f', str(lab.conf)], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    with lab.anchor.open('a') as handle:          # a hand edit of the anchor the conf loads
        handle.write('pass in all\n')
    refused = subprocess.run([pfctl, '-f', str(lab.conf)], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 99
    assert 'never passed pfctl -n -f' in refused.stderr


def test_drift_is_repaired_through_validation(lab):
    lab.run(lab.args(**WORKSTATION))
    good = lab.anchor.read_bytes()
    lab.anchor.write_bytes(good + b'pass in all\n')
    result = lab.run(lab.args(**WORKSTATION))
    assert result['changed'] is True and result['changed_files'] == [str(lab.anchor)]
    assert lab.anchor.read_bytes() == good
    assert [c[:3] for c in lab.run_calls()][:2] == [['-v', '-n', '-f'], ['-f', str(lab.conf)]]


def test_changed_plist_is_reloaded_in_launchd_and_enable_false_releases_the_token(lab):
    lab.run(lab.args(**WORKSTATION))
    token = lab.token.read_text().strip()
    result = lab.run(lab.args(enable=False, **WORKSTATION))
    assert result['changed'] is True and result['token_released'] is True
    assert result['changed_files'] == [str(lab.plist)]
    assert plistlib.loads(lab.plist.read_bytes())['ProgramArguments'][4:] == [
        str(DOUBLES / 'pfctl'), str(DOUBLES / 'launchctl'), str(lab.conf), '', '3']
    assert lab.run_calls() == [
        ['-X', token],
        ['launchctl', 'print', 'system/org.netvirt.overlay.pf'],
        ['launchctl', 'bootout', 'system/org.netvirt.overlay.pf'],
        ['launchctl', 'bootstrap', 'system', str(lab.plist)],
        ['launchctl', 'print', 'system/com.apple.pfctl'],
        ['-f', str(lab.conf)]]
    assert not lab.token.exists()
    assert json.loads((lab.state / 'tokens.json').read_text()) == []
    assert not (lab.state / 'enabled').exists()      # ours was the last reference


def test_freebsd_sets_rc_conf_and_keeps_the_rest(lab):
    rc_conf = lab.tmp / 'etc' / 'rc.conf'
    rc_conf.write_text('hostname="fw1"\npf_enable="NO"\nsshd_enable="YES"\n')
    os.chmod(rc_conf, 0o600)
    args = lab.args(platform='freebsd', rc_conf_path=str(rc_conf), macros={'ext_if': 'vtnet0'},
                    translation=[dict(type='rdr', on='$ext_if', proto='tcp', port=[6641, 6642], target='10.20.0.10')],
                    filtering=['block in on $ext_if all', 'pass in on $ext_if proto tcp to port { 6641, 6642 }'],
                    reload=True, enable=False)
    result = lab.run(args)
    assert result['changed'] is True, result.get('msg')
    assert rc_conf.read_text() == 'hostname="fw1"\npf_enable="NO"\nsshd_enable="YES"\npf_rules="%s"\n' % lab.conf
    assert rc_conf.stat().st_mode & 0o7777 == 0o600
    assert 'rdr on $ext_if proto tcp from any to any port { 6641, 6642 } -> 10.20.0.10\n' in lab.anchor.read_text()
    assert not any(c[0] == 'launchctl' for c in lab.run_calls())
    assert lab.run_calls()[1:] == [['-f', str(lab.conf)]]
    assert not lab.plist.exists()
    again = lab.run(dict(args, enable=True))
    assert again['changed_files'] == [str(rc_conf)]
    assert 'pf_enable="YES"\n' in rc_conf.read_text()


def test_openbsd_includes_the_loader_from_pf_conf_and_reloads_it(lab):
    pf_conf = lab.tmp / 'etc' / 'pf.conf'
    original = 'set skip on lo\nblock return\npass\n'
    pf_conf.write_text(original)
    args = lab.args(platform='openbsd', system_conf_path=str(pf_conf),
                    filtering=[dict(action='match', direction='out', on='em0', nat_to='(em0)'),
                               dict(direction='in', on='em0', proto='tcp', port=[6641, 6642], rdr_to='10.20.0.10')],
                    reload=True)
    result = lab.run(args)
    assert result['changed'] is True, result.get('msg')
    assert pf_conf.read_text() == original + '# netvirt.overlay.pf_rules: anchor "netvirt"\ninclude "%s"\n' % lab.conf
    calls = lab.run_calls()
    assert calls[0][:3] == ['-v', '-n', '-f'] and os.path.basename(calls[0][3]).startswith('.pf.conf.')
    assert calls[1:] == [['-f', str(pf_conf)], ['-s', 'info'], ['-e']]
    assert 'pass in on em0 proto tcp from any to any port { 6641, 6642 } rdr-to 10.20.0.10\n' in lab.anchor.read_text()
    assert 'nat-anchor' not in lab.conf.read_text()
    assert lab.leftovers() == []
    assert lab.run(args)['changed'] is False


def test_openbsd_reload_without_persist_is_refused(lab):
    result = lab.run(lab.args(platform='openbsd', persist=False, reload=True, filtering=['pass']))
    assert result['failed'] is True
    assert 'set persist=true' in result['msg']
    assert lab.calls() == []


def test_platform_auto_on_linux_says_what_to_do(lab):
    result = lab.run(lab.args(platform='auto', filtering=['pass']))
    assert result['failed'] is True
    assert result['msg'] == ('platform=auto: this host runs Linux, which has no pf; set platform to macos, freebsd or '
                             'openbsd to render for another system')


# --------------------------------------------------------------------------- the role, via ansible-playbook

PLAYBOOK = '''
- name: Front the controller northbound API
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: %(python)s
  roles:
    - role: netvirt.overlay.pf_firewall
      vars:
        pf_firewall_platform: macos
        pf_firewall_anchor_path: %(anchor)s
        pf_firewall_conf_path: %(conf)s
        pf_firewall_launchd_plist_path: %(plist)s
        pf_firewall_file_owner: %(owner)s
        pf_firewall_file_group: %(group)s
        pf_firewall_macos_apple_anchors: false
        pf_firewall_state_dir: %(state_dir)s
        pf_firewall_rollback_timeout: %(rollback)d
        pf_firewall_macos_boot_wait: 3
        pf_firewall_ssh_sources: [192.0.2.0/24]
        pf_firewall_default_deny_inbound: true
        pf_firewall_tables:
          - name: ovn_clients
            entries: [198.51.100.0/24]
            persist: true
        pf_firewall_filtering:
          - pass in quick proto tcp from <ovn_clients> to any port { 6641, 6642 } keep state
          - action: pass
            direction: in
            on: lo0
            proto: udp
            port: 53
'''


def _playbook(lab, check=False, rollback=0):
    ansible_playbook = Path(sys.executable).parent / 'ansible-playbook'
    if not ansible_playbook.exists():
        pytest.skip('ansible-playbook is not next to %s' % sys.executable)
    book = lab.work / 'site.yml'
    book.write_text(PLAYBOOK % dict(python=sys.executable, anchor=lab.anchor, conf=lab.conf, plist=lab.plist,
                                    owner=OWNER, group=GROUP, state_dir=lab.pfstate, rollback=rollback))
    env = lab.env()
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_LOCAL_TEMP=str(lab.work / 'ltmp'),
               ANSIBLE_REMOTE_TEMP=str(lab.work / 'rtmp'), ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_CONFIG', None)
    lab.mark = len(lab.calls())
    argv = [str(ansible_playbook), '-i', 'localhost,', str(book)] + (['--check'] if check else [])
    return subprocess.run(argv, env=env, cwd=str(lab.work), capture_output=True, text=True, timeout=120, check=False)


def test_role_default_deny_keeps_ssh_first_and_is_idempotent(lab):
    first = _playbook(lab)
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'changed=1' in first.stdout
    filtering = lab.anchor.read_text().split('# Filtering\n', 1)[1]
    assert filtering == (
        'block in all\n'
        'pass in quick proto tcp from 192.0.2.0/24 to any port 22 flags any keep state label "ansible-ssh"\n'
        'pass in quick proto tcp from <ovn_clients> to any port { 6641, 6642 } keep state\n'
        'pass in on lo0 proto udp from any to any port 53\n'      # YAML read 'on:' as true
        'pass out all keep state\n')
    assert [c[:2] for c in lab.run_calls()][:2] == [['-v', '-n'], ['-f', str(lab.conf)]]
    second = _playbook(lab)
    assert second.returncode == 0, second.stdout + second.stderr
    assert 'changed=0' in second.stdout


# --------------------------------------------------------------------------- persist tables

def test_persist_table_keeps_runtime_entries_across_reloads_unless_entries_are_given(lab):
    tables = [dict(name='sshguard', persist=True), dict(name='static', persist=True, entries=['192.0.2.1'])]
    args = lab.args(tables=tables, filtering=['block in quick from { <sshguard>, <static> }', 'pass out all'],
                    reload=True)
    assert lab.run(args)['changed'] is True
    pfctl = str(DOUBLES / 'pfctl')
    for table, address in (('sshguard', '203.0.113.66'), ('static', '203.0.113.67')):
        subprocess.run([pfctl, '-t', table, '-T', 'add', address], env=lab.env(), check=True)
    # Something else in the anchor changes, so the rule set is reloaded.
    changed = dict(args, filtering=args['filtering'] + ['pass in proto tcp to port 22'])
    result = lab.run(changed)
    assert result['reloaded'] is True
    assert 'table <sshguard> persist\n' in lab.anchor.read_text()
    state = json.loads((lab.state / 'tables.json').read_text())
    assert state['sshguard'] == ['203.0.113.66']          # runtime entry kept
    assert state['static'] == ['192.0.2.1']               # entries given: the file wins


# --------------------------------------------------------------------------- confirm or roll back

ROLLBACK_V1 = dict(WORKSTATION, filtering=['block in all', 'pass in quick proto tcp to port 22', 'pass out all'])
ROLLBACK_V2 = dict(WORKSTATION, filtering=['block in all', 'pass in quick proto tcp from 192.0.2.0/24 to port 2222',
                                           'pass out all'])


def _wait_for(path, seconds=20.0):
    """Wait for a file the detached watcher writes; a missing outcome fails the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        time.sleep(0.1)
    raise AssertionError('%s never appeared' % path)


def _watcher_gone(pid, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return False


def test_reconnect_that_never_comes_rolls_back_to_the_previous_rule_set(lab):
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50001 192.0.2.1 22'
    first = lab.run(lab.args(**ROLLBACK_V1))
    assert first['changed'] is True
    before = lab.snapshot()
    loaded_before = (lab.state / 'loaded').read_text()
    result = lab.run(lab.args(rollback_timeout=2, **ROLLBACK_V2))
    assert result['reloaded'] is True, result.get('msg')
    rollback = result['rollback']
    assert rollback['pending'] is True and rollback['timeout'] == 2
    assert (lab.state / 'loaded').read_text() != loaded_before          # the new rules are live ...
    assert 'port 2222' in lab.anchor.read_text()
    # ... and no confirmation ever arrives (the new rules locked the operator out).
    outcome = _wait_for(lab.pfstate / 'netvirt' / 'rolled-back.json')
    assert outcome['id'] == rollback['id'] and outcome['loaded'] == str(lab.conf)
    assert lab.snapshot() == before                                     # files back, byte for byte
    assert (lab.state / 'loaded').read_text() == loaded_before          # pf runs the previous rule set
    pfctl = str(DOUBLES / 'pfctl')
    assert lab.calls()[-2:] == [['-n', '-f', str(lab.conf)], ['-f', str(lab.conf)]]
    assert pfctl == outcome['pfctl']
    assert not (lab.pfstate / 'netvirt' / 'pending.json').exists()
    assert _watcher_gone(rollback['watcher_pid'])
    # A confirmation that comes too late says so.
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50002 192.0.2.1 22'
    late = lab.run(dict(anchor='netvirt', confirm=True, state_dir=str(lab.pfstate)))
    assert late['failed'] is True and late['msg'].startswith('too late: the change of anchor "netvirt" was rolled back')


def test_confirm_over_a_new_connection_keeps_the_new_rule_set(lab):
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50001 192.0.2.1 22'
    lab.run(lab.args(**ROLLBACK_V1))
    result = lab.run(lab.args(rollback_timeout=3, **ROLLBACK_V2))
    after = lab.snapshot()
    loaded = (lab.state / 'loaded').read_text()
    # The same connection (ControlPersist) proves nothing about new ones: refused.
    same = lab.run(dict(anchor='netvirt', confirm=True, state_dir=str(lab.pfstate)))
    assert same['failed'] is True and 'same SSH connection' in same['msg']
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50002 192.0.2.1 22'     # meta: reset_connection, new login
    check = lab.run(dict(anchor='netvirt', confirm=True, state_dir=str(lab.pfstate)), check_mode=True)
    assert check['changed'] is True and check['confirmed'] is False
    confirmed = lab.run(dict(anchor='netvirt', confirm=True, state_dir=str(lab.pfstate)))
    assert confirmed['changed'] is True and confirmed['confirmed'] is True
    assert confirmed['rollback'] == dict(pending=False, confirmed=True, id=result['rollback']['id'])
    assert _watcher_gone(result['rollback']['watcher_pid'])             # it woke up, saw the confirmation, left
    assert lab.snapshot() == after and (lab.state / 'loaded').read_text() == loaded
    assert not (lab.pfstate / 'netvirt' / 'rolled-back.json').exists()
    again = lab.run(dict(anchor='netvirt', confirm=True, state_dir=str(lab.pfstate)))
    assert again['changed'] is False and again['msg'] == 'already confirmed'


def test_rollback_of_a_first_install_switches_pf_off_again(lab):
    """pf was off and no earlier rule set of ours existed: the rollback releases the
    token it took (macOS) and loads the system rule set, which here does not exist."""
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50001 192.0.2.1 22'
    # pf must still be on when the run returns: a timeout of 1 s once fired first on a loaded machine.
    result = lab.run(lab.args(rollback_timeout=5, system_conf_path=str(lab.tmp / 'etc' / 'pf.conf'), **ROLLBACK_V2))
    assert result['enabled'] is True and (lab.state / 'enabled').exists()
    outcome = _wait_for(lab.pfstate / 'netvirt' / 'rolled-back.json')
    assert outcome['loaded'] is None
    assert not lab.anchor.exists() and not lab.conf.exists()
    assert (lab.state / 'loaded').read_text() == 'flushed'
    assert not (lab.state / 'enabled').exists()
    assert json.loads((lab.state / 'tokens.json').read_text()) == []
    assert not lab.token.exists()


def test_freebsd_rollback_disables_pf_it_enabled(lab):
    rc_conf = lab.tmp / 'etc' / 'rc.conf'
    rc_conf.write_text('hostname="fw1"\n')
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50001 192.0.2.1 22'
    result = lab.run(lab.args(platform='freebsd', rc_conf_path=str(rc_conf), reload=True, rollback_timeout=1,
                              system_conf_path=str(lab.tmp / 'etc' / 'pf.conf'), filtering=['block in all']))
    assert result['enabled'] is True
    _wait_for(lab.pfstate / 'netvirt' / 'rolled-back.json')
    assert not (lab.state / 'enabled').exists()
    assert lab.calls()[-2:] == [['-F', 'rules'], ['-d']]
    # rc.conf is boot persistence, not the rule set: it stays, and boots load nothing of ours
    # until the next run writes the files again.
    assert 'pf_rules="%s"' % lab.conf in rc_conf.read_text()


def test_rollback_timeout_needs_reload_and_a_pending_change_blocks_the_next(lab):
    result = lab.run(lab.args(rollback_timeout=5, filtering=['pass']))
    assert result['failed'] is True and 'reload=true' in result['msg']
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50001 192.0.2.1 22'
    lab.run(lab.args(**ROLLBACK_V1))
    pending = lab.run(lab.args(rollback_timeout=2, **ROLLBACK_V2))
    assert pending['rollback']['pending'] is True
    blocked = lab.run(lab.args(rollback_timeout=2, **ROLLBACK_V1))
    assert blocked['failed'] is True and 'still awaits confirmation' in blocked['msg']
    _wait_for(lab.pfstate / 'netvirt' / 'rolled-back.json')


# --------------------------------------------------------------------------- raw content

def test_raw_anchor_content_is_checked_validated_installed_and_idempotent(lab):
    content = (CORPUS / 'good' / 'macos-blog-anchor.conf').read_text()
    args = lab.args(content=content, content_type='anchor', options=['skip on lo0'], reload=True)
    result = lab.run(args)
    assert result['changed'] is True, result.get('msg')
    assert result['static_check'] == dict(verdict='accept', deferred=[])
    assert lab.anchor.read_text() == content
    assert 'set skip on lo0\n' in lab.conf.read_text() and 'anchor "netvirt"\n' in lab.conf.read_text()
    assert [c[:3] for c in lab.run_calls()[:2]] == [['-v', '-n', '-f'], ['-f', str(lab.conf)]]
    assert lab.leftovers() == []
    assert lab.run(args)['changed'] is False


def test_raw_ruleset_from_src_on_the_host(lab):
    src = lab.tmp / 'existing-pf.conf'
    src.write_text((CORPUS / 'good' / 'macos-options-anywhere.conf').read_text())
    result = lab.run(lab.args(src=str(src), content_type='ruleset', reload=True, persist=False))
    assert result['changed'] is True, result.get('msg')
    assert result['anchor_path'] is None and not lab.anchor.exists()
    assert lab.conf.read_bytes() == src.read_bytes()
    assert [c[:3] for c in lab.run_calls()[:2]] == [['-v', '-n', '-f'], ['-f', str(lab.conf)]]
    missing = lab.run(lab.args(src=str(lab.tmp / 'nope'), content_type='ruleset'))
    assert missing['failed'] is True and 'does not exist on the managed host' in missing['msg']


def test_raw_content_refused_statically_touches_nothing(lab):
    content = (CORPUS / 'bad' / 'macos-nat-appended-after-apple-anchors.conf').read_text()
    result = lab.run(lab.args(content=content, content_type='ruleset', reload=True))
    assert result['failed'] is True
    assert result['errors'] == ['content line 11: translation rule after filter rule at line 9; macOS pf requires '
                                'the order options, normalization, queueing, translation, filtering (or set '
                                'require-order no)']
    assert lab.calls() == [] and lab.snapshot() == {}


def test_raw_content_failed_load_puts_the_previous_files_back(lab):
    first = (CORPUS / 'good' / 'macos-blog-anchor.conf').read_text()
    args = lab.args(content=first, content_type='anchor', reload=True)
    assert lab.run(args)['changed'] is True
    before = lab.snapshot()
    lab.env_extra['PF_DOUBLE_FAIL_LOAD'] = '1'
    result = lab.run(dict(args, content=first + 'pass in proto udp to port 53\n'))
    assert result['failed'] is True and 'The previous files were put back' in result['msg']
    assert lab.snapshot() == before and lab.leftovers() == []


def test_raw_content_is_rolled_back_when_no_confirmation_comes(lab):
    lab.env_extra['SSH_CONNECTION'] = '192.0.2.50 50001 192.0.2.1 22'
    ruleset = (CORPUS / 'good' / 'macos-options-anywhere.conf').read_text()
    args = lab.args(content=ruleset, content_type='ruleset', reload=True, persist=False)
    lab.run(args)
    before, loaded = lab.snapshot(), (lab.state / 'loaded').read_text()
    result = lab.run(dict(args, content=ruleset.replace('pass out all keep state', 'pass out quick all'),
                          rollback_timeout=1))
    assert result['rollback']['pending'] is True
    _wait_for(lab.pfstate / 'netvirt' / 'rolled-back.json')
    assert lab.snapshot() == before and (lab.state / 'loaded').read_text() == loaded


BAD_FOR_PFCTL = [p for p in sorted((CORPUS / 'bad').glob('*.conf')) if '# verdict: pfctl' in p.read_text()]


@pytest.mark.parametrize('path', BAD_FOR_PFCTL, ids=lambda p: p.name)
def test_what_the_checker_cannot_decide_is_refused_by_pfctl_n(lab, path):
    """The invalid corpus files the static check passes on: the module hands them to
    pfctl -n (here the double, told to reject the offending line as pfctl does), and a
    refusal there installs nothing."""
    text = path.read_text()
    platform = re.search(r'^# platform: (\S+)$', text, re.MULTILINE).group(1)
    says = re.search(r'^# pfctl-says: (.*)$', text, re.MULTILINE).group(1)
    offending = [line for line in text.splitlines() if line and not line.startswith('#')][-1]
    lab.env_extra['PF_DOUBLE_REJECT'] = '^%s$' % re.escape(offending)
    rc_conf = lab.tmp / 'etc' / 'rc.conf'
    result = lab.run(lab.args(platform=platform, content=text, content_type='ruleset', reload=True, persist=False,
                              rc_conf_path=str(rc_conf), system_conf_path=str(lab.conf)))
    assert result['failed'] is True, 'pfctl -n was not asked'
    assert result['static_check']['verdict'] in ('accept', 'defer')
    assert result['msg'].startswith('pfctl -v -n rejected the candidate rule set')
    assert 'syntax error' in result['msg'], says
    assert [c[:3] for c in lab.run_calls()] == [['-v', '-n', '-f']]
    assert lab.snapshot() == {} and lab.leftovers() == []


# --------------------------------------------------------------------------- macOS boot order

@pytest.mark.parametrize('apple_job, waits', [
    (None, 0),                                                   # no com.apple.pfctl job: load at once
    ({'path': '/System/Library/LaunchDaemons/com.apple.pfctl.plist', 'state': 'not running', 'runs': 1}, 0),
    ({'path': '/System/Library/LaunchDaemons/com.apple.pfctl.plist', 'state': 'running', 'runs': 0}, 2),
])
def test_boot_job_loads_after_apples_pfctl_job(lab, apple_job, waits):
    """launchd does not order our job and com.apple.pfctl (which loads /etc/pf.conf): the
    boot script waits while Apple's job has not run yet, so our load comes last."""
    lab.conf.write_text('pass all\n')
    env = lab.env()
    pfctl, launchctl = str(DOUBLES / 'pfctl'), str(DOUBLES / 'launchctl')
    subprocess.run([pfctl, '-n', '-f', str(lab.conf)], env=env, check=True)
    if apple_job:
        (lab.state / 'launchd.json').write_text(json.dumps({'com.apple.pfctl': apple_job}))
    lab.token.parent.mkdir(parents=True)
    lab.mark = len(lab.calls())
    started = time.monotonic()
    proc = subprocess.run(['/bin/sh', '-c', BOOT_SCRIPT, 'netvirt-pf-boot', pfctl, launchctl, str(lab.conf),
                           str(lab.token), '2'], env=env, capture_output=True, text=True, timeout=30, check=False)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    calls = lab.run_calls()
    assert calls[-1] == ['-E', '-f', str(lab.conf)]
    assert calls[:-1] == [['launchctl', 'print', 'system/com.apple.pfctl']] * (waits or 1)
    assert (elapsed >= waits) if waits else (elapsed < 2)
    assert lab.token.read_text().strip() in json.loads((lab.state / 'tokens.json').read_text())


def test_role_confirms_a_change_from_a_new_connection_and_nothing_rolls_back(lab):
    first = _playbook(lab, rollback=3)
    assert first.returncode == 0, first.stdout + first.stderr
    assert 'TASK [netvirt.overlay.pf_firewall : Confirm the new rule set (without this' in first.stdout
    assert 'changed=2' in first.stdout           # the load and the confirmation
    output = first.stdout + first.stderr
    if tuple(int(part) for part in ANSIBLE_CORE_VERSION.split('.')[:2]) < (2, 19):
        # The local connection of this test cannot reset before ansible-core 2.19 and says so
        # (tools/version_matrix.sh); over SSH, as on real hosts, the reset is a new login.
        output = output.replace('[WARNING]: Reset is not implemented for this connection', '')
    assert 'WARNING' not in output, first.stdout + first.stderr
    confirmed = json.loads((lab.pfstate / 'netvirt' / 'confirmed.json').read_text())
    assert not (lab.pfstate / 'netvirt' / 'pending.json').exists()
    anchor = lab.anchor.read_bytes()
    time.sleep(max(0.0, confirmed['deadline'] - time.time()) + 1.5)    # past the deadline
    assert not (lab.pfstate / 'netvirt' / 'rolled-back.json').exists()
    assert lab.anchor.read_bytes() == anchor
    assert lab.token.exists()
    second = _playbook(lab, rollback=3)          # nothing changed: nothing to confirm
    assert second.returncode == 0, second.stdout + second.stderr
    assert 'changed=0' in second.stdout
