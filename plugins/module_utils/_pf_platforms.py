# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pf_rules' backends, one per platform: how pf finds the rule set at boot, which file
``pfctl -f`` loads, and how pf is switched on.

* macOS: a launchd job loads the loader at boot (Apple's own job loads /etc/pf.conf, which
  Apple rewrites on upgrades); pf is switched on with a reference token (``pfctl -E``) so that
  another program's ``pfctl -X`` cannot switch it off under us.
* FreeBSD: rc.conf's ``pf_enable`` and ``pf_rules`` point the rc script at the loader.
* OpenBSD: pf loads /etc/pf.conf and nothing else, so that file includes the loader.

``BACKENDS[platform](params)`` gives the backend; ``runner`` arguments are the ``_pf_rules.PfRules``
that drives the module (its ``run``/``fail``/``result``).
"""

from __future__ import annotations

import os

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netvirt.overlay.plugins.module_utils._managed_file import ManagedFile, read_bytes
from ansible_collections.netvirt.overlay.plugins.module_utils._pf import (
    BOOT_SCRIPT, launchd_plist, parse_token, set_include, set_rc_vars)


class Platform(object):
    """What is the same on every platform; subclasses say what differs."""

    # After a rollback, pf loads the system pf.conf too: the rule set the system would load by itself.
    rollback_loads_system_conf = True

    def __init__(self, params):
        self.params = params

    def check(self, conf_path):
        """A problem with the request on this platform (a message), or None."""
        return None

    def persistence(self, runner, pfctl, conf_path, owner):
        """The ManagedFile that makes pf load the rule set at boot, or None (persist=false)."""
        return None if not self.params['persist'] else self._persistence(runner, pfctl, conf_path, owner)

    def _persistence(self, runner, pfctl, conf_path, owner):
        raise NotImplementedError

    def main_file(self, conf_path):
        """The file ``pfctl -f`` loads to apply the rule set."""
        return conf_path

    def stage_main(self, runner, persistence, conf_path, staged_conf, directory):
        """A candidate of the file pf loads first that leads to the staged loader, written in
        ``directory`` for ``pfctl -n``; None when the staged loader is that file."""
        return None

    def after_install(self, runner, persistence):
        """What the persistence needs once its file is in place."""

    def rollback_enable(self, runner, pfctl):
        """(argv to switch pf off again, token file to release) when a rollback undoes a first enable."""
        return [pfctl, '-d'], None

    def enable_or_release(self, runner, pfctl):
        """Switch pf on (enable=true) when it is off."""
        if self.params['enable'] and runner.pf_status(pfctl) == 'Disabled':
            runner.run([pfctl, '-e'], check_rc=True)
            runner.result['enabled'] = True


class MacOS(Platform):

    def _persistence(self, runner, pfctl, conf_path, owner):
        p = self.params
        launchctl = runner.module.get_bin_path('launchctl') or '/bin/launchctl'
        token = runner.state_path('token') if p['enable'] else ''
        args = ['/bin/sh', '-c', BOOT_SCRIPT, 'netvirt-pf-boot', pfctl or '/sbin/pfctl', launchctl, conf_path,
                token, str(p['macos_boot_wait'])]
        plist_path = p['launchd_plist_path'] or '/Library/LaunchDaemons/%s.plist' % p['launchd_label']
        return ManagedFile('launchd', plist_path, launchd_plist(p['launchd_label'], args), owner, 0o644)

    def after_install(self, runner, persistence):
        """(Re)load the launchd job when it is not loaded or its plist changed."""
        if persistence is None:
            return
        launchctl = runner.module.get_bin_path('launchctl', required=True)
        label = self.params['launchd_label']
        rc, _out, _err = runner.run([launchctl, 'print', 'system/%s' % label])
        loaded = rc == 0
        if loaded and not persistence.content_changed:
            return
        if loaded:
            runner.run([launchctl, 'bootout', 'system/%s' % label], check_rc=True)
        runner.run([launchctl, 'bootstrap', 'system', persistence.path], check_rc=True)
        runner.result['launchd_loaded'] = True

    def rollback_enable(self, runner, pfctl):
        return None, runner.state_path('token')     # the watcher releases that token (-X)

    def enable_or_release(self, runner, pfctl):
        """pf on by a reference token of ours (enable=true), or our token released (enable=false)."""
        token_path = runner.state_path('token')
        token = (to_native(read_bytes(token_path) or b'')).strip()
        if self.params['enable']:
            if token and runner.pf_status(pfctl) == 'Enabled':
                return          # our reference is held; another program's -X cannot switch pf off
            rc, out, err = runner.run([pfctl, '-E'], check_rc=True)
            value = parse_token(err) or parse_token(out)
            if value is None:
                runner.fail('pfctl -E enabled pf but printed no reference token: %s' % (err or out).strip())
            runner.ensure_state_dir()
            fd = os.open(token_path + '.new', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(value + '\n')
            os.replace(token_path + '.new', token_path)
            if token and token != value:
                runner.run([pfctl, '-X', token])      # a stale reference (pf was switched off): may fail
            runner.result['enabled'] = True
            runner.result['enable_token_file'] = token_path
        elif token:
            runner.run([pfctl, '-X', token], check_rc=True)
            os.unlink(token_path)
            runner.result['token_released'] = True


class FreeBSD(Platform):

    def _persistence(self, runner, pfctl, conf_path, owner):
        p = self.params
        current = read_bytes(p['rc_conf_path'])
        text = set_rc_vars(to_native(current or b''), [
            ('pf_enable', 'YES' if p['enable'] else 'NO'), ('pf_rules', conf_path)])
        return ManagedFile('rc.conf', p['rc_conf_path'], to_bytes(text),
                           None if current is not None else owner, None if current is not None else 0o644)


class OpenBSD(Platform):

    rollback_loads_system_conf = False   # the system pf.conf is the main file already

    def check(self, conf_path):
        p = self.params
        if p['reload'] and not p['persist'] and conf_path != p['system_conf_path']:
            return ('on OpenBSD pf loads %s, and reload=true loads that file; set persist=true so it '
                    'includes %s, or load the anchor yourself' % (p['system_conf_path'], conf_path))
        return None

    def _persistence(self, runner, pfctl, conf_path, owner):
        p = self.params
        if conf_path == p['system_conf_path']:
            return None         # the rule set is the system pf.conf itself
        current = read_bytes(p['system_conf_path'])
        text = set_include(to_native(current or b''), conf_path, conf_path, p['anchor'])
        return ManagedFile('pf.conf', p['system_conf_path'], to_bytes(text),
                           None if current is not None else owner, None if current is not None else 0o644)

    def main_file(self, conf_path):
        return self.params['system_conf_path']

    def stage_main(self, runner, persistence, conf_path, staged_conf, directory):
        if persistence is None:
            return None
        system_conf = self.params['system_conf_path']
        text = set_include(to_native(persistence.before or b''), conf_path, staged_conf, self.params['anchor'])
        return runner.write_temp(directory, os.path.basename(system_conf), to_bytes(text), mode=0o644)


BACKENDS = {'macos': MacOS, 'freebsd': FreeBSD, 'openbsd': OpenBSD}
