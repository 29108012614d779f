#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pf_rules
short_description: Manage one pf anchor and the file that loads it, validated before it is installed
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Declares one pf anchor (macros, tables, normalization, translation and filtering rules) and
    the small configuration file that pf loads as its main rule set (global options, queues,
    the anchor hooks and C(load anchor)). On macOS the system C(/etc/pf.conf) is bypassed and
    left untouched, as in the seed recipe C(03-pf-on-os-x.md).
  - pfctl applies C(set) options and queue definitions only in the main rule set and ignores
    them inside an anchor, so I(options) and I(queueing) are rendered into the loader file and
    everything else into the anchor file.
  - The rendered files are first checked by the module itself (statement order, macros and
    tables used before they are defined, table syntax, statements and keywords the target
    platform's pf does not know; every error names the file line and the item it came from),
    then by C(pfctl -v -n -f) on candidate copies written next to the targets. Only a candidate
    that passes both is moved into place with an atomic rename. A rule set that fails
    validation never replaces the installed one.
  - When I(reload=true) and a file changed, the installed rule set is loaded with C(pfctl -f).
    If that load fails the previous files are put back and the module fails.
  - Boot persistence (I(persist=true)) is a launchd item in C(/Library/LaunchDaemons) on macOS
    (written with plistlib, owned by I(owner):I(group), mode 0644, each pfctl argument its own
    array item, loaded with C(launchctl bootstrap)), C(pf_enable) and C(pf_rules) in rc.conf on
    FreeBSD, and an C(include) line in the system C(/etc/pf.conf) on OpenBSD.
  - The static checks model macOS and FreeBSD pf (the older grammar with scrub, nat, rdr, binat
    and altq statements) and OpenBSD 4.7+ pf (C(match) rules, C(nat-to), C(rdr-to), the new
    C(queue) syntax). C(pfctl -n) on the target remains the final judge.
options:
  anchor:
    description:
      - Name of the anchor, for example C(netvirt). Letters, digits, C(_), C(.) and C(-).
        C(com.apple) is Apple's and is refused.
    type: str
    required: true
  platform:
    description:
      - Whose pf grammar to render and validate for.
      - C(auto) derives it from the managed host's operating system (Darwin, FreeBSD, OpenBSD)
        and fails elsewhere.
    type: str
    choices: [auto, macos, freebsd, openbsd]
    default: auto
  anchor_path:
    description:
      - Where the anchor file is installed. Default is C(/etc/pf.anchors/ANCHOR).
    type: path
  conf_path:
    description:
      - Where the loader file is installed. Default is C(/etc/pf.anchors/ANCHOR.pf.conf).
      - On macOS and FreeBSD pf loads this file as its whole main rule set; on OpenBSD it is
        included from I(system_conf_path).
    type: path
  macros:
    description:
      - Macros by name, rendered as C(name = "value") at the top of the anchor (and of the
        loader file when options or queues use them). A list value becomes C({ a, b }).
    type: dict
    default: {}
  tables:
    description: Tables defined in the anchor.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Table name, used in rules as C(<name>).
        type: str
        required: true
      entries:
        description: Addresses, networks, host or interface names; C(!) negates.
        type: list
        elements: str
        default: []
      files:
        description: Files to read more addresses from.
        type: list
        elements: str
        default: []
      persist:
        description: Keep the table when no rule refers to it.
        type: bool
        default: false
      const:
        description: Make the table read-only.
        type: bool
        default: false
      counters:
        description: Keep per-address packet counters.
        type: bool
        default: false
  options:
    description:
      - Global options, one per item, with or without the leading C(set), for example
        C(block-policy drop) or C(skip on lo0). Rendered into the loader file.
    type: list
    elements: str
    default: []
  normalization:
    description:
      - Scrub rules (macOS and FreeBSD only). Each item is a rule line, or a mapping with the
        keys C(direction), C(interface), C(af), C(from), C(to) and C(options) (for example
        C(no-df random-id)).
    type: list
    elements: raw
    default: []
  queueing:
    description:
      - Queue definitions as rule lines (C(altq on ...) and C(queue ...) on macOS and FreeBSD,
        C(queue NAME on IF bandwidth ...) on OpenBSD). Rendered into the loader file.
    type: list
    elements: str
    default: []
  translation:
    description:
      - nat, rdr and binat rules (macOS and FreeBSD only; on OpenBSD use C(nat_to) or C(rdr_to)
        on a filtering rule). Each item is a rule line, or a mapping with the keys C(type)
        (nat, rdr or binat, required), C(pass), C(interface), C(af), C(proto), C(from), C(from_port),
        C(to), C(port), C(target) (the address after C(->), required) and C(target_port).
    type: list
    elements: raw
    default: []
  filtering:
    description:
      - Filter rules. Each item is a rule line, or a mapping with the keys C(action) (pass,
        block or match; default pass), C(direction) (in or out), C(quick), C(log),
        C(interface), C(af), C(proto), C(from), C(from_port), C(to), C(port), C(flags), C(state) (keep,
        modulate, synproxy or no), C(label), and on OpenBSD C(nat_to) and C(rdr_to).
      - Values of C(interface), C(proto), C(from), C(to) and the ports may be lists.
      - In these mappings C(on) is accepted for C(interface); an unquoted C(on:) key, which YAML
        reads as the boolean true, is understood too.
    type: list
    elements: raw
    default: []
  reload:
    description:
      - Load the installed rule set with C(pfctl -f) when a file changed.
    type: bool
    default: false
  enable:
    description:
      - Enable pf at boot (C(-e) in the launchd item, C(pf_enable="YES") in rc.conf) and, with
        I(reload=true), now when C(pfctl -s info) reports it disabled.
    type: bool
    default: true
  persist:
    description:
      - Make the rule set load at boot (launchd item, rc.conf or pf.conf include, by platform).
    type: bool
    default: true
  launchd_label:
    description: Label of the launchd item (macOS).
    type: str
    default: org.netvirt.overlay.pf
  launchd_plist_path:
    description:
      - Path of the launchd item (macOS). Default is C(/Library/LaunchDaemons/LABEL.plist).
    type: path
  rc_conf_path:
    description: The rc.conf file that gets C(pf_enable) and C(pf_rules) (FreeBSD).
    type: path
    default: /etc/rc.conf
  system_conf_path:
    description:
      - The pf.conf that OpenBSD loads at boot; it gets an C(include) of I(conf_path), and
        with I(reload=true) it is what gets loaded. Never touched on macOS or FreeBSD.
    type: path
    default: /etc/pf.conf
  macos_apple_anchors:
    description:
      - On macOS, keep Apple's C(com.apple) anchors hooked in the loader file, as the stock
        C(/etc/pf.conf) does, so system features that add pf rules keep working.
    type: bool
    default: true
  owner:
    description: Owner of the anchor, loader and launchd files.
    type: str
    default: root
  group:
    description: Group of the anchor, loader and launchd files (C(wheel) is gid 0 on macOS and the BSDs).
    type: str
    default: wheel
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Renders, checks and runs C(pfctl -v -n) on copies in a private temporary directory; installs nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
notes:
  - The module writes candidate files next to the installed ones (same directory) and renames
    them into place, so a reader never sees a half-written file.
  - pf loads one main rule set. On macOS and FreeBSD the loader file becomes that rule set, so
    manage one anchor per host with this module.
requirements:
  - pfctl on the managed host; launchctl on macOS.
seealso:
  - name: pf.conf(5) on OpenBSD
    description: The OpenBSD pf grammar.
    link: https://man.openbsd.org/pf.conf.5
  - name: pf.conf(5) on FreeBSD
    description: The FreeBSD pf grammar, which macOS pf follows.
    link: https://man.freebsd.org/pf.conf(5)
'''

EXAMPLES = r'''
- name: Admin workstation (macOS) - SSH from the management network, everything else inbound dropped
  netvirt.overlay.pf_rules:
    anchor: netvirt
    platform: macos
    macros:
      mgmt_net: 192.0.2.0/24
    options:
      - block-policy drop
      - skip on lo0
    normalization:
      - scrub in all no-df
    filtering:
      - block in all
      - action: pass
        direction: in
        quick: true
        proto: tcp
        from: $mgmt_net
        port: 22
        state: keep
      - pass out all keep state
    reload: true
  become: true

- name: Host in front of the controller cluster (FreeBSD) - OVN northbound and southbound over SSL
  netvirt.overlay.pf_rules:
    anchor: netvirt
    platform: freebsd
    macros:
      ext_if: vtnet0
    tables:
      - name: ovn_clients
        entries: [198.51.100.0/24, 203.0.113.10]
        persist: true
    translation:
      - type: rdr
        interface: $ext_if
        proto: tcp
        port: [6641, 6642]
        target: 10.20.0.10
    filtering:
      - block in on $ext_if all
      - pass in quick on $ext_if proto tcp from <ovn_clients> to any port { 6641, 6642 } keep state
      - pass out all keep state
    reload: true
  become: true

- name: The same on OpenBSD, with rdr-to on the pass rule
  netvirt.overlay.pf_rules:
    anchor: netvirt
    platform: openbsd
    filtering:
      - action: pass
        direction: in
        interface: em0
        proto: tcp
        port: [6641, 6642]
        rdr_to: 10.20.0.10
    reload: true
  become: true

- name: Show what would change, without installing
  netvirt.overlay.pf_rules:
    anchor: netvirt
    filtering:
      - pass out all keep state
  check_mode: true
  diff: true
'''

RETURN = r'''
platform:
  description: The pf grammar the rule set was rendered and validated for.
  returned: always
  type: str
  sample: macos
anchor_path:
  description: Path of the anchor file.
  returned: always
  type: str
  sample: /etc/pf.anchors/netvirt
conf_path:
  description: Path of the loader file.
  returned: always
  type: str
  sample: /etc/pf.anchors/netvirt.pf.conf
anchor_content:
  description: The rendered anchor file.
  returned: always
  type: str
conf_content:
  description: The rendered loader file.
  returned: always
  type: str
changed_files:
  description: Files that were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
validated:
  description: Whether C(pfctl -v -n -f) accepted the candidate in this run.
  returned: always
  type: bool
pfctl_output:
  description: What C(pfctl -v -n -f) printed for the candidate.
  returned: when pfctl ran
  type: str
reloaded:
  description: Whether the rule set was loaded with C(pfctl -f).
  returned: always
  type: bool
enabled:
  description: Whether pf was enabled by this run.
  returned: always
  type: bool
launchd_loaded:
  description: Whether the launchd item was (re)loaded with C(launchctl bootstrap) (macOS).
  returned: when it was
  type: bool
commands:
  description: The commands run, each as its argument list.
  returned: always
  type: list
  elements: list
errors:
  description: Every problem the static checks found, each naming the file line and the item.
  returned: on failure of the static checks
  type: list
  elements: str
  sample:
    - "anchor file line 21 (filtering item 4): translation rule after filter rule at line 20;
      macOS pf requires the order options, normalization, queueing, translation, filtering"
'''

import grp
import os
import platform as platform_mod
import pwd
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netvirt.overlay.plugins.module_utils._pf import (
    PfError, build, launchd_plist, parse_pf_status, render_conf, set_include, set_rc_vars)

SYSTEMS = {'Darwin': 'macos', 'FreeBSD': 'freebsd', 'OpenBSD': 'openbsd'}

TABLE_SPEC = dict(
    name=dict(type='str', required=True),
    entries=dict(type='list', elements='str', default=[]),
    files=dict(type='list', elements='str', default=[]),
    persist=dict(type='bool', default=False),
    const=dict(type='bool', default=False),
    counters=dict(type='bool', default=False),
)

ARGUMENT_SPEC = dict(
    anchor=dict(type='str', required=True),
    platform=dict(type='str', default='auto', choices=['auto', 'macos', 'freebsd', 'openbsd']),
    anchor_path=dict(type='path'),
    conf_path=dict(type='path'),
    macros=dict(type='dict', default={}),
    tables=dict(type='list', elements='dict', default=[], options=TABLE_SPEC),
    options=dict(type='list', elements='str', default=[]),
    normalization=dict(type='list', elements='raw', default=[]),
    queueing=dict(type='list', elements='str', default=[]),
    translation=dict(type='list', elements='raw', default=[]),
    filtering=dict(type='list', elements='raw', default=[]),
    reload=dict(type='bool', default=False),
    enable=dict(type='bool', default=True),
    persist=dict(type='bool', default=True),
    launchd_label=dict(type='str', default='org.netvirt.overlay.pf'),
    launchd_plist_path=dict(type='path'),
    rc_conf_path=dict(type='path', default='/etc/rc.conf'),
    system_conf_path=dict(type='path', default='/etc/pf.conf'),
    macos_apple_anchors=dict(type='bool', default=True),
    owner=dict(type='str', default='root'),
    group=dict(type='str', default='wheel'),
)


class ManagedFile(object):
    """One file the module writes: its wanted bytes, current bytes and ownership."""

    def __init__(self, role, path, content, owner=None, mode=None):
        self.role = role
        self.path = path
        self.content = content
        self.owner = owner      # (uid, gid) or None to keep what is there
        self.mode = mode        # int or None to keep what is there
        self.before = read_bytes(path)
        self.content_changed = self.before != content
        self.attrs_changed = not self.content_changed and self._attrs_differ()

    def _attrs_differ(self):
        st = os.stat(self.path)
        if self.mode is not None and (st.st_mode & 0o7777) != self.mode:
            return True
        return self.owner is not None and (st.st_uid, st.st_gid) != self.owner

    @property
    def changed(self):
        return self.content_changed or self.attrs_changed

    def diff(self):
        return dict(before_header=self.path if self.before is not None else '%s (absent)' % self.path,
                    after_header=self.path,
                    before=to_native(self.before or b'', errors='surrogate_or_strict'),
                    after=to_native(self.content, errors='surrogate_or_strict'))


def read_bytes(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


class PfRules(object):

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
        """Write a new file in ``directory`` (fsync'd, owner and mode set) and return its path."""
        fd, path = tempfile.mkstemp(dir=directory, prefix='.%s.' % basename, suffix='.candidate')
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            if like is not None and os.path.exists(like):
                st = os.stat(like)
                mode = st.st_mode & 0o7777 if mode is None else mode
                owner = (st.st_uid, st.st_gid) if owner is None else owner
            os.chmod(path, 0o644 if mode is None else mode)
            if owner is not None:
                os.chown(path, owner[0], owner[1])
        except OSError as exc:
            os.unlink(path)
            self.fail('cannot write a candidate file in %s: %s (does the play need become: true?)' % (
                directory, to_native(exc)))
        return path

    def install(self, managed, staged=None):
        """Atomically put ``managed.content`` in place (rename of a file in the same directory)."""
        directory = os.path.dirname(managed.path)
        if staged is None:
            staged = self.write_temp(directory, os.path.basename(managed.path), managed.content,
                                     like=managed.path, owner=managed.owner, mode=managed.mode)
        os.replace(staged, managed.path)

    def fix_attrs(self, managed):
        if managed.mode is not None:
            os.chmod(managed.path, managed.mode)
        if managed.owner is not None:
            os.chown(managed.path, managed.owner[0], managed.owner[1])

    def restore(self, managed):
        if managed.before is None:
            if os.path.exists(managed.path):
                os.unlink(managed.path)
            return
        restored = ManagedFile(managed.role, managed.path, managed.before, managed.owner, managed.mode)
        self.install(restored)

    # ----------------------------------------------------------------- main
    def main(self):
        p = self.params
        platform = self.resolve_platform()
        anchor = p['anchor']
        anchor_path = p['anchor_path'] or '/etc/pf.anchors/%s' % anchor
        conf_path = p['conf_path'] or '/etc/pf.anchors/%s.pf.conf' % anchor
        plist_path = p['launchd_plist_path'] or '/Library/LaunchDaemons/%s.plist' % p['launchd_label']
        if anchor_path == conf_path:
            self.fail('anchor_path and conf_path must differ (both are %s)' % anchor_path)
        if platform == 'openbsd' and p['reload'] and not p['persist']:
            self.fail('on OpenBSD pf loads %s, and reload=true loads that file; set persist=true so it '
                      'includes %s, or load the anchor yourself' % (p['system_conf_path'], conf_path))
        spec = dict((key, p[key]) for key in ('anchor', 'macros', 'tables', 'options', 'normalization',
                                              'queueing', 'translation', 'filtering', 'macos_apple_anchors'))
        spec['platform'] = platform
        self.result.update(platform=platform, anchor_path=anchor_path, conf_path=conf_path)

        try:
            rendered = build(spec, anchor_path)
        except PfError as exc:
            self.fail('the declared rule set for anchor "%s" is not valid for %s pf (nothing was installed): %s' % (
                anchor, platform, '; '.join(exc.errors)), errors=exc.errors)
        self.result.update(anchor_content=rendered.anchor_text, conf_content=rendered.conf_text)

        owner = self.resolve_owner()
        pfctl = self.module.get_bin_path('pfctl', required=not self.module.check_mode)
        files = [ManagedFile('anchor', anchor_path, to_bytes(rendered.anchor_text), owner, 0o644),
                 ManagedFile('conf', conf_path, to_bytes(rendered.conf_text), owner, 0o644)]
        persist_file = None
        if p['persist']:
            if platform == 'macos':
                args = [pfctl or '/sbin/pfctl'] + (['-e'] if p['enable'] else []) + ['-f', conf_path]
                persist_file = ManagedFile('launchd', plist_path, launchd_plist(p['launchd_label'], args),
                                           owner, 0o644)
            elif platform == 'freebsd':
                current = read_bytes(p['rc_conf_path'])
                text = set_rc_vars(to_native(current or b''), [
                    ('pf_enable', 'YES' if p['enable'] else 'NO'), ('pf_rules', conf_path)])
                persist_file = ManagedFile('rc.conf', p['rc_conf_path'], to_bytes(text),
                                           None if current is not None else owner,
                                           None if current is not None else 0o644)
            else:
                current = read_bytes(p['system_conf_path'])
                text = set_include(to_native(current or b''), conf_path, conf_path, anchor)
                persist_file = ManagedFile('pf.conf', p['system_conf_path'], to_bytes(text),
                                           None if current is not None else owner,
                                           None if current is not None else 0o644)
        managed = files + ([persist_file] if persist_file else [])
        rules_changed = any(f.content_changed for f in managed if f.role in ('anchor', 'conf', 'pf.conf'))
        self.result['changed_files'] = [f.path for f in managed if f.changed]
        diffs = [f.diff() for f in managed if f.content_changed]

        if rules_changed:
            self.validate(spec, platform, files, persist_file, anchor_path, conf_path)

        if self.module.check_mode:
            self.result['changed'] = bool(self.result['changed_files'])
            self.module.exit_json(diff=diffs, **self.result)

        if rules_changed:
            # validate() staged and checked the anchor; install the exact validated bytes.
            self.install(files[0], staged=self._staged_anchor)
            for f in managed[1:]:
                if f.role in ('conf', 'pf.conf') and f.content_changed:
                    self.install(f)
        for f in managed:
            if f.attrs_changed:
                self.fix_attrs(f)
            elif f.role in ('launchd', 'rc.conf') and f.content_changed:
                self._ensure_dir(f.path)
                self.install(f)

        if p['reload'] and rules_changed:
            main_file = p['system_conf_path'] if platform == 'openbsd' else conf_path
            rc, out, err = self.run([pfctl, '-f', main_file])
            if rc != 0:
                for f in managed:
                    if f.role in ('anchor', 'conf', 'pf.conf') and f.content_changed:
                        self.restore(f)
                self.fail('pfctl -f %s failed after the candidate had passed pfctl -n (rc=%d): %s. The previous '
                          'files were put back; pf keeps running the rule set it had.' % (
                              main_file, rc, (err or out).strip()), rc=rc, stderr=err)
            self.result['reloaded'] = True
        if p['reload'] and p['enable']:
            rc, out, err = self.run([pfctl, '-s', 'info'])
            if parse_pf_status(out) == 'Disabled':
                self.run([pfctl, '-e'], check_rc=True)
                self.result['enabled'] = True
        if platform == 'macos' and persist_file is not None:
            self.launchd(persist_file)

        self.result['changed'] = bool(self.result['changed_files'] or self.result['reloaded']
                                      or self.result['enabled'] or self.result.get('launchd_loaded'))
        self.module.exit_json(diff=diffs, **self.result)

    _staged_anchor = None

    def _ensure_dir(self, path):
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)

    def validate(self, spec, platform, files, persist_file, anchor_path, conf_path):
        """Write candidates, run pfctl -v -n -f on the one pf would load first, clean up on failure."""
        p = self.params
        pfctl = self.module.get_bin_path('pfctl')
        if pfctl is None:
            self.result['pfctl_output'] = ''
            self.module.warn('pfctl was not found; in check mode only the static checks ran')
            return
        private = None
        if self.module.check_mode:
            private = tempfile.mkdtemp(prefix='pf_rules.', dir=self.module.tmpdir)
            anchor_dir = conf_dir = sys_dir = private
        else:
            for f in files:
                self._ensure_dir(f.path)
            anchor_dir = os.path.dirname(anchor_path)
            conf_dir = os.path.dirname(conf_path)
            sys_dir = os.path.dirname(p['system_conf_path'])
        staged = []
        try:
            anchor_file = files[0]
            staged_anchor = self.write_temp(anchor_dir, os.path.basename(anchor_path), anchor_file.content,
                                            owner=None if private else anchor_file.owner, mode=0o644)
            staged.append(staged_anchor)
            conf_text = render_conf(spec, staged_anchor)[0]
            staged_conf = self.write_temp(conf_dir, os.path.basename(conf_path), to_bytes(conf_text), mode=0o644)
            staged.append(staged_conf)
            main = staged_conf
            if platform == 'openbsd' and persist_file is not None:
                current = to_native(persist_file.before or b'')
                sys_text = set_include(current, conf_path, staged_conf, spec['anchor'])
                main = self.write_temp(sys_dir, os.path.basename(p['system_conf_path']), to_bytes(sys_text),
                                       mode=0o644)
                staged.append(main)
            rc, out, err = self.run([pfctl, '-v', '-n', '-f', main])
            self.result['pfctl_output'] = out
            if rc != 0:
                names = {staged_anchor: anchor_path, staged_conf: conf_path, main: p['system_conf_path']}
                text = (err or out).strip()
                for path, final in names.items():
                    text = text.replace(path, '%s (candidate)' % final)
                self.fail('pfctl -v -n rejected the candidate rule set for anchor "%s"; nothing was installed '
                          'and the files in place are unchanged. pfctl said: %s' % (spec['anchor'], text),
                          rc=rc, stdout=out, stderr=err)
            self.result['validated'] = True
            if not private:
                staged.remove(staged_anchor)
                self._staged_anchor = staged_anchor
        finally:
            for path in staged:
                if os.path.exists(path):
                    os.unlink(path)
            if private:
                shutil.rmtree(private, ignore_errors=True)

    def launchd(self, plist):
        launchctl = self.module.get_bin_path('launchctl', required=True)
        label = self.params['launchd_label']
        rc, out, err = self.run([launchctl, 'print', 'system/%s' % label])
        loaded = rc == 0
        if loaded and not plist.content_changed:
            return
        if loaded:
            self.run([launchctl, 'bootout', 'system/%s' % label], check_rc=True)
        self.run([launchctl, 'bootstrap', 'system', plist.path], check_rc=True)
        self.result['launchd_loaded'] = True


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    PfRules(module).main()


if __name__ == '__main__':
    main()
