# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pf_rules' run: the module file is its documentation, its argument spec and ``run(module)``.

Rendering and the static checks are in ``_pf``/``_pf_check``, the files it owns in
``_managed_file``, what differs per platform (persistence at boot, the file pf loads, switching
pf on) in the backends of ``_pf_platforms``.
"""

from __future__ import annotations

import grp
import json
import os
import platform as platform_mod
import pwd
import shutil
import sys
import tempfile
import time
import uuid

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netvirt.overlay.plugins.module_utils._managed_file import (
    ManagedFile, ensure_parent, fix_attrs, install, read_bytes, read_json, restore, write_candidate)
from ansible_collections.netvirt.overlay.plugins.module_utils._pf import (
    ROLLBACK_SCRIPT, PfError, build, parse_pf_status, render_conf)
from ansible_collections.netvirt.overlay.plugins.module_utils._pf_platforms import BACKENDS

SYSTEMS = {'Darwin': 'macos', 'FreeBSD': 'freebsd', 'OpenBSD': 'openbsd'}
RULE_ROLES = ('anchor', 'conf', 'pf.conf')


class PfRules(object):
    """One run of pf_rules: render, check, validate with pfctl -n, install, load, confirm or roll back."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.commands = []
        self.result = dict(changed=False, validated=False, reloaded=False, enabled=False,
                           changed_files=[], commands=self.commands)

    # ----------------------------------------------------------------- helpers
    def fail(self, msg, **extra):
        self.result.update(extra)
        self.module.fail_json(msg=msg, **self.result)

    def run(self, argv, check_rc=False):
        self.commands.append(list(argv))
        rc, out, err = self.module.run_command(argv)
        if check_rc and rc != 0:
            self.fail('%s failed (rc=%d): %s' % (' '.join(argv), rc, (err or out).strip()),
                      rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def resolve_platform(self):
        wanted = self.params['platform']
        if wanted != 'auto':
            return wanted
        system = platform_mod.system()
        if system not in SYSTEMS:
            self.fail("platform=auto: this host runs %s, which has no pf; set platform to macos, freebsd "
                      "or openbsd to render for another system" % system)
        return SYSTEMS[system]

    def resolve_owner(self):
        try:
            uid = pwd.getpwnam(self.params['owner']).pw_uid
        except KeyError:
            self.fail("owner '%s' does not exist on this host" % self.params['owner'])
        try:
            gid = grp.getgrnam(self.params['group']).gr_gid
        except KeyError:
            self.fail("group '%s' does not exist on this host" % self.params['group'])
        return uid, gid

    def write_temp(self, directory, basename, content, like=None, owner=None, mode=None):
        """A candidate file in ``directory`` (see _managed_file.write_candidate); fails the task when it cannot."""
        try:
            return write_candidate(directory, basename, content, like=like, owner=owner, mode=mode)
        except OSError as exc:
            self.fail('cannot write a candidate file in %s: %s (does the play need become: true?)' % (
                directory, to_native(exc)))
        return None

    def install(self, managed, staged=None):
        """Atomically put ``managed.content`` in place (rename of a file in the same directory)."""
        if staged is None:
            staged = self.write_temp(os.path.dirname(managed.path), os.path.basename(managed.path), managed.content,
                                     like=managed.path, owner=managed.owner, mode=managed.mode)
        install(managed, staged)

    def restore(self, managed):
        if managed.before is None:
            restore(managed)
            return
        self.install(ManagedFile(managed.role, managed.path, managed.before, managed.owner, managed.mode))

    def state_path(self, *parts):
        return os.path.join(self.params['state_dir'], self.params['anchor'], *parts)

    def ensure_state_dir(self):
        path = self.state_path()
        if not os.path.isdir(path):
            os.makedirs(path, 0o700)
        os.chmod(path, 0o700)
        return path

    def pf_status(self, pfctl):
        rc, out, _err = self.run([pfctl, '-s', 'info'])
        return parse_pf_status(out) if rc == 0 else None

    # ----------------------------------------------------------------- input
    def raw_content(self):
        p = self.params
        if p['src'] is None:
            return p['content']
        data = read_bytes(p['src'])
        if data is None:
            self.fail('src %s does not exist on the managed host (src is read there; use content with a '
                      "lookup('file', ...) for a file of the control node)" % p['src'])
        try:
            return data.decode('utf-8')
        except UnicodeDecodeError:
            self.fail('src %s is not UTF-8 text' % p['src'])
        return None

    # ----------------------------------------------------------------- main
    def main(self):
        p = self.params
        if p['confirm']:
            self.confirm()
        platform = self.resolve_platform()
        backend = BACKENDS[platform](p)
        anchor = p['anchor']
        if p['rollback_timeout'] < 0:
            self.fail('rollback_timeout must be 0 (no rollback) or a number of seconds')
        if p['rollback_timeout'] and not p['reload']:
            self.fail('rollback_timeout only means something with reload=true (it undoes a load that is not confirmed)')
        anchor_path = p['anchor_path'] or '/etc/pf.anchors/%s' % anchor
        conf_path = p['conf_path'] or '/etc/pf.anchors/%s.pf.conf' % anchor
        ruleset_mode = p['content_type'] == 'ruleset' and (p['content'] is not None or p['src'] is not None)
        if anchor_path == conf_path and not ruleset_mode:
            self.fail('anchor_path and conf_path must differ (both are %s)' % anchor_path)
        problem = backend.check(conf_path)
        if problem:
            self.fail(problem)
        spec = dict((key, p[key]) for key in ('anchor', 'macros', 'tables', 'options', 'normalization',
                                              'queueing', 'translation', 'filtering', 'macos_apple_anchors',
                                              'content_type'))
        spec['content'] = self.raw_content()
        spec['platform'] = platform
        self.result.update(platform=platform, anchor_path=None if ruleset_mode else anchor_path, conf_path=conf_path)

        try:
            rendered = build(spec, anchor_path)
        except PfError as exc:
            self.fail('the rule set for anchor "%s" is not valid for %s pf (nothing was installed): %s' % (
                anchor, platform, '; '.join(exc.errors)), errors=exc.errors,
                static_check=dict(verdict='refuse', errors=exc.errors))
        self.result.update(anchor_content=rendered.anchor_text, conf_content=rendered.conf_text,
                           static_check=dict(verdict='defer' if rendered.deferred else 'accept',
                                             deferred=rendered.deferred))
        for note in rendered.deferred:
            self.module.warn('left to pfctl -n: %s' % note)
        for note in rendered.warnings:
            self.module.warn(note)

        owner = self.resolve_owner()
        pfctl = self.module.get_bin_path('pfctl', required=not self.module.check_mode)
        files = []
        if rendered.anchor_text is not None:
            files.append(ManagedFile('anchor', anchor_path, to_bytes(rendered.anchor_text), owner, 0o644))
        files.append(ManagedFile('conf', conf_path, to_bytes(rendered.conf_text), owner, 0o644))
        persist_file = backend.persistence(self, pfctl, conf_path, owner)
        managed = files + ([persist_file] if persist_file else [])
        rules_changed = any(f.content_changed for f in managed if f.role in RULE_ROLES)
        self.result['changed_files'] = [f.path for f in managed if f.changed]
        diffs = [f.diff() for f in managed if f.content_changed]

        staged = {}
        if rules_changed:
            staged = self.validate(spec, rendered, backend, files, persist_file, anchor_path, conf_path)
        else:
            self.result['validated'] = False

        if self.module.check_mode:
            self.result['changed'] = bool(self.result['changed_files'])
            self.module.exit_json(diff=diffs, **self.result)

        main_file = backend.main_file(conf_path)
        pf_before = None
        rollback = None
        if p['reload'] and rules_changed and p['rollback_timeout']:
            pf_before = self.pf_status(pfctl)
            rollback = self.prepare_rollback(managed, backend, pfctl, main_file, pf_before)

        if rules_changed:
            for f in managed:
                if f.role in RULE_ROLES and f.content_changed:
                    self.install(f, staged=staged.pop(f.role, None))
            for leftover in staged.values():        # validated, but that file did not change
                os.unlink(leftover)
        for f in managed:
            if f.attrs_changed:
                fix_attrs(f)
            elif f.role in ('launchd', 'rc.conf') and f.content_changed:
                ensure_parent(f.path)
                self.install(f)

        if p['reload'] and rules_changed:
            rc, out, err = self.run([pfctl, '-f', main_file])
            if rc != 0:
                for f in managed:
                    if f.role in RULE_ROLES and f.content_changed:
                        self.restore(f)
                if rollback is not None:
                    self.discard_rollback()
                self.fail('pfctl -f %s failed after the candidate had passed pfctl -n (rc=%d): %s. The previous '
                          'files were put back; pf keeps running the rule set it had.' % (
                              main_file, rc, (err or out).strip()), rc=rc, stderr=err)
            self.result['reloaded'] = True
            if rollback is not None:
                self.start_watcher(rollback)
        if p['reload']:
            backend.enable_or_release(self, pfctl)
        backend.after_install(self, persist_file)

        self.result['changed'] = bool(self.result['changed_files'] or self.result['reloaded']
                                      or self.result['enabled'] or self.result.get('launchd_loaded')
                                      or self.result.get('token_released'))
        self.module.exit_json(diff=diffs, **self.result)

    def validate(self, spec, rendered, backend, files, persist_file, anchor_path, conf_path):
        """Write candidates, run pfctl -v -n -f on the one pf would load first, clean up on failure.

        Returns {role: staged path} of the validated candidates to install (empty in check mode)."""
        p = self.params
        pfctl = self.module.get_bin_path('pfctl')
        if pfctl is None:
            self.result['pfctl_output'] = ''
            self.module.warn('pfctl was not found; in check mode only the static checks ran')
            return {}
        private = None
        if self.module.check_mode:
            private = tempfile.mkdtemp(prefix='pf_rules.', dir=self.module.tmpdir)
            anchor_dir = conf_dir = sys_dir = private
        else:
            for f in files:
                ensure_parent(f.path)
            anchor_dir = os.path.dirname(anchor_path)
            conf_dir = os.path.dirname(conf_path)
            sys_dir = os.path.dirname(p['system_conf_path'])
        staged = {}
        names = {}
        keep = {}
        try:
            by_role = dict((f.role, f) for f in files)
            if 'anchor' in by_role:
                staged['anchor'] = self.write_temp(anchor_dir, os.path.basename(anchor_path),
                                                   by_role['anchor'].content,
                                                   owner=None if private else by_role['anchor'].owner, mode=0o644)
                names[staged['anchor']] = anchor_path
                conf_text = render_conf(spec, staged['anchor'], rendered.anchor_statements)[0]
            else:
                conf_text = rendered.conf_text
            staged['conf'] = self.write_temp(conf_dir, os.path.basename(conf_path), to_bytes(conf_text),
                                             owner=None if private else by_role['conf'].owner, mode=0o644)
            names[staged['conf']] = conf_path
            main = staged['conf']
            staged_main = backend.stage_main(self, persist_file, conf_path, staged['conf'], sys_dir)
            if staged_main is not None:
                main = staged['pf.conf'] = staged_main
                names[main] = p['system_conf_path']
            rc, out, err = self.run([pfctl, '-v', '-n', '-f', main])
            self.result['pfctl_output'] = out
            if rc != 0:
                text = (err or out).strip()
                for path, final in names.items():
                    text = text.replace(path, '%s (candidate)' % final)
                self.fail('pfctl -v -n rejected the candidate rule set for anchor "%s"; nothing was installed '
                          'and the files in place are unchanged. pfctl said: %s' % (spec['anchor'], text),
                          rc=rc, stdout=out, stderr=err)
            self.result['validated'] = True
            if not private and 'anchor' in staged:
                # The loader validated above points at the staged anchor; install the anchor's
                # exact validated bytes, and the loader rendered for the final path.
                keep['anchor'] = staged['anchor']
            elif not private:
                keep['conf'] = staged['conf']
        finally:
            for path in staged.values():
                if path not in keep.values() and os.path.exists(path):
                    os.unlink(path)
            if private:
                shutil.rmtree(private, ignore_errors=True)
        return keep

    # ----------------------------------------------------------------- confirm or roll back
    def prepare_rollback(self, managed, backend, pfctl, main_file, pf_before):
        p = self.params
        state = self.ensure_state_dir()
        pending = read_json(os.path.join(state, 'pending.json'))
        if pending is not None and pending['deadline'] > time.time():
            self.fail('an earlier change of anchor "%s" still awaits confirmation (until %s); confirm it '
                      '(confirm=true over a new SSH connection) or let it roll back first' % (
                          p['anchor'], time.strftime('%H:%M:%S', time.localtime(pending['deadline']))))
        backups = os.path.join(state, 'backup')
        shutil.rmtree(backups, ignore_errors=True)
        os.makedirs(backups, 0o700)
        entries = []
        for number, f in enumerate(managed):
            if f.role not in RULE_ROLES or not f.content_changed:
                continue
            backup = None
            if f.before is not None:
                backup = os.path.join(backups, '%d-%s' % (number, os.path.basename(f.path)))
                with open(backup, 'wb') as handle:
                    handle.write(f.before)
            st = os.stat(f.path) if os.path.exists(f.path) else None
            entries.append(dict(path=f.path, backup=backup, mode=(st.st_mode & 0o7777) if st else 0o644,
                                uid=st.st_uid if st else os.geteuid(), gid=st.st_gid if st else os.getegid()))
        main_existed = any(f.path == main_file and f.before is not None for f in managed) or \
            (os.path.exists(main_file) and not any(f.path == main_file for f in managed))
        load = [main_file] if main_existed else []
        if backend.rollback_loads_system_conf and p['system_conf_path'] not in load:
            load.append(p['system_conf_path'])          # what the system loads by itself
        disable = None
        token_file = None
        if pf_before == 'Disabled' and p['enable']:
            disable, token_file = backend.rollback_enable(self, pfctl)
        plan = dict(id=uuid.uuid4().hex, anchor=p['anchor'], created=time.time(),
                    deadline=time.time() + p['rollback_timeout'], pfctl=pfctl, files=entries, load=load,
                    flush=True, disable=disable, token_file=token_file,
                    ssh_connection=os.environ.get('SSH_CONNECTION', ''))
        script = os.path.join(state, 'rollback.py')
        if read_bytes(script) != to_bytes(ROLLBACK_SCRIPT):
            with open(script + '.new', 'w') as handle:
                handle.write(ROLLBACK_SCRIPT)
            os.chmod(script + '.new', 0o600)
            os.replace(script + '.new', script)
        for stale in ('rolled-back.json', 'confirmed.json'):
            if os.path.exists(os.path.join(state, stale)):
                os.unlink(os.path.join(state, stale))
        with open(os.path.join(state, 'pending.json.new'), 'w') as handle:
            json.dump(plan, handle)
        return plan

    def start_watcher(self, plan):
        state = self.state_path()
        # The deadline counts from the load, not from when the plan was written.
        plan['deadline'] = time.time() + self.params['rollback_timeout']
        with open(os.path.join(state, 'pending.json.new'), 'w') as handle:
            json.dump(plan, handle)
        os.replace(os.path.join(state, 'pending.json.new'), os.path.join(state, 'pending.json'))
        pid = self.spawn_detached([sys.executable, os.path.join(state, 'rollback.py'), state])
        self.result['rollback'] = dict(pending=True, id=plan['id'], deadline=plan['deadline'],
                                       timeout=self.params['rollback_timeout'], watcher_pid=pid,
                                       state_dir=state)

    def spawn_detached(self, argv):
        """Start ``argv`` as a daemon and return its pid.

        Double fork, new session, standard descriptors on /dev/null, cwd /: the watcher
        outlives this module and the SSH connection that ran it (which is the point), and
        is nobody's zombie.  (module.run_command waits for its child, so it cannot do this.)"""
        read_end, write_end = os.pipe()
        first = os.fork()
        if first == 0:
            try:
                os.close(read_end)
                os.setsid()
                second = os.fork()
                if second:
                    os.write(write_end, str(second).encode())
                    os._exit(0)
                os.close(write_end)
                os.chdir('/')
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.closerange(3, 65536)
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        os.close(write_end)
        os.waitpid(first, 0)
        with os.fdopen(read_end, 'rb') as handle:
            pid = handle.read().decode() or '0'
        if not int(pid):
            self.fail('could not start the rollback watcher; the new rule set is loaded WITHOUT a rollback -- '
                      'check the host, or roll back by hand')
        return int(pid)

    def discard_rollback(self):
        path = self.state_path('pending.json.new')
        if os.path.exists(path):
            os.unlink(path)

    def confirm(self):
        p = self.params
        state = self.state_path()
        pending_path = os.path.join(state, 'pending.json')
        pending = read_json(pending_path)
        if pending is None:
            rolled = read_json(os.path.join(state, 'rolled-back.json'))
            if rolled is not None:
                self.fail('too late: the change of anchor "%s" was rolled back at %s (no confirmation by %s); '
                          'pf runs the previous rule set again' % (
                              p['anchor'], time.strftime('%H:%M:%S', time.localtime(rolled['rolled_back_at'])),
                              time.strftime('%H:%M:%S', time.localtime(rolled['deadline']))),
                          rollback=dict(pending=False, rolled_back=True, id=rolled['id']))
            if os.path.exists(os.path.join(state, 'rolling-back.json')):
                self.fail('too late: the rollback of anchor "%s" is under way' % p['anchor'])
            confirmed = read_json(os.path.join(state, 'confirmed.json'))
            if confirmed is not None:
                self.result.update(confirmed=True, rollback=dict(pending=False, confirmed=True, id=confirmed['id']))
                self.module.exit_json(msg='already confirmed', **self.result)
            self.fail('nothing to confirm for anchor "%s": no change awaits confirmation in %s' % (p['anchor'], state))
        here = os.environ.get('SSH_CONNECTION', '')
        if here and here == pending.get('ssh_connection'):
            self.fail('the confirmation came over the same SSH connection that loaded the rules (%s), so it '
                      'proves nothing about new connections; reset the connection first (meta: '
                      'reset_connection) so the confirm task logs in anew' % here,
                      rollback=dict(pending=True, id=pending['id'], deadline=pending['deadline']))
        if self.module.check_mode:
            self.result.update(changed=True, confirmed=False,
                               rollback=dict(pending=True, id=pending['id'], deadline=pending['deadline']))
            self.module.exit_json(**self.result)
        try:
            os.rename(pending_path, os.path.join(state, 'confirmed.json'))
        except OSError:
            self.fail('too late: the rollback of anchor "%s" started before the confirmation' % p['anchor'])
        self.result.update(changed=True, confirmed=True, rollback=dict(pending=False, confirmed=True, id=pending['id']))
        self.module.exit_json(**self.result)


def run(module):
    """The whole module run (exits or fails the module)."""
    PfRules(module).main()
