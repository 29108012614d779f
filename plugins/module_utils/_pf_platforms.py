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

Each backend's persistence pieces (the launchd item and its boot script, the rc.conf variables,
the pf.conf include) sit next to it. ``BACKENDS[platform](params)`` gives the backend; ``runner``
arguments are the ``_pf_rules.PfRules`` that drives the module (its ``run``/``fail``/``result``).
"""

from __future__ import annotations

import os
import plistlib
import re

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netvirt.overlay.plugins.module_utils._managed_file import ManagedFile, read_bytes


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


# The launchd job that loads the rule set at boot on macOS (run as /bin/sh -c SCRIPT NAME
# PFCTL LAUNCHCTL CONF TOKEN_FILE MAX_WAIT).  Apple's com.apple.pfctl job loads
# /etc/pf.conf at boot too and launchd does not order the two jobs, so this one waits
# (up to MAX_WAIT seconds) until Apple's job has run, which makes ours the last load.
# With a TOKEN_FILE it enables pf with 'pfctl -E' and keeps the reference token there
# (releasing the one it replaces), so another program's 'pfctl -X' cannot switch pf off
# under the managed rules.
BOOT_SCRIPT = r'''pfctl=$1 launchctl=$2 conf=$3 token=$4 wait=$5
i=0
while [ "$i" -lt "$wait" ]; do
    out=$("$launchctl" print system/com.apple.pfctl 2>/dev/null) || break
    case "$out" in
        *"state = running"*|*"runs = 0"*) ;;
        *) break ;;
    esac
    sleep 1
    i=$((i + 1))
done
if [ -z "$token" ]; then
    exec "$pfctl" -f "$conf"
fi
old=$(cat "$token" 2>/dev/null)
out=$("$pfctl" -E -f "$conf" 2>&1)
rc=$?
printf '%s\n' "$out"
value=$(printf '%s\n' "$out" | sed -n 's/^Token[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p')
if [ -n "$value" ]; then
    umask 077
    printf '%s\n' "$value" > "$token.new" && mv -f "$token.new" "$token"
    # One reference per managed anchor: drop the one taken before (after a reboot it is
    # already gone and -X just fails).
    if [ -n "$old" ] && [ "$old" != "$value" ]; then
        "$pfctl" -X "$old" >/dev/null 2>&1
    fi
fi
exit "$rc"
'''


def launchd_plist(label, program_arguments):
    """The launchd item that loads the rule set at boot, as XML plist bytes."""
    return plistlib.dumps({
        'Label': label,
        'ProgramArguments': [str(arg) for arg in program_arguments],
        'RunAtLoad': True,
    }, fmt=plistlib.FMT_XML, sort_keys=True)


def parse_token(output):
    """The reference token 'pfctl -E' prints (macOS: 'Token : 1234567890'), or None."""
    match = re.search(r'^Token\s*:\s*(\d+)\s*$', output or '', re.MULTILINE)
    return match.group(1) if match else None


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


def set_rc_vars(text, values):
    """Set rc.conf variables: replace the first assignment, drop later ones, append if absent."""
    lines = text.split('\n') if text else []
    if lines and lines[-1] == '':
        lines.pop()
    for var, value in values:
        wanted = '%s="%s"' % (var, value)
        pattern = re.compile(r'^\s*%s=' % re.escape(var))
        seen = False
        out = []
        for line in lines:
            if pattern.match(line):
                if not seen:
                    out.append(wanted)
                    seen = True
                continue
            out.append(line)
        if not seen:
            out.append(wanted)
        lines = out
    return '\n'.join(lines) + '\n'


class FreeBSD(Platform):

    def _persistence(self, runner, pfctl, conf_path, owner):
        p = self.params
        current = read_bytes(p['rc_conf_path'])
        text = set_rc_vars(to_native(current or b''), [
            ('pf_enable', 'YES' if p['enable'] else 'NO'), ('pf_rules', conf_path)])
        return ManagedFile('rc.conf', p['rc_conf_path'], to_bytes(text),
                           None if current is not None else owner, None if current is not None else 0o644)


def set_include(text, conf_path, target_path, anchor):
    """Make pf.conf include ``target_path`` where it includes ``conf_path`` (append if absent)."""
    lines = text.split('\n') if text else []
    if lines and lines[-1] == '':
        lines.pop()
    pattern = re.compile(r'^\s*include\s+"%s"\s*$' % re.escape(conf_path))
    found = False
    for idx, line in enumerate(lines):
        if pattern.match(line):
            lines[idx] = 'include "%s"' % target_path
            found = True
    if not found:
        lines += ['# netvirt.overlay.pf_rules: anchor "%s"' % anchor, 'include "%s"' % target_path]
    return '\n'.join(lines) + '\n'


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
