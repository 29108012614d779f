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
  - Instead of declaring the rules, an existing anchor file or whole pf.conf can be given as
    I(content) or I(src) (I(content_type)); it goes through the same checks, C(pfctl -n),
    atomic install and put-back.
  - The files are first checked by the module itself, which reads them as pfctl does (macros
    expanded once and outside quotes, lists over several lines, inline anchors, include).
    It refuses only what the target platform's pfctl is known to refuse (statement order
    where the platform enforces it, undefined or empty macros, keywords used as macro names,
    empty lists, bad table entries, statements and options the platform does not have, and
    a set of rule errors from the pfctl regression tests); every error names the file line
    and the item it came from. What it does not model (newer keywords, included files) it
    leaves to C(pfctl -n) and says so in I(static_check). Then C(pfctl -v -n -f) runs on
    candidate copies written next to the targets. Only a candidate that passes both is moved
    into place with an atomic rename. A rule set that fails validation never replaces the
    installed one.
  - Declared rules fail closed - an empty list, string or macro is refused naming the item,
    never rendered as C(any) or as a rule without C(on).
  - When I(reload=true) and a file changed, the installed rule set is loaded with C(pfctl -f).
    If that load fails the previous files are put back and the module fails.
  - With I(rollback_timeout), a change loaded over SSH is undone after that many seconds
    unless a later task with I(confirm=true), run over a new SSH connection, confirms it. A
    watcher started in its own session (it outlives the module and the connection) puts the
    previous files back, loads the previous rule set (after C(pfctl -n)), or the system's
    C(/etc/pf.conf), or flushes the rules, and switches pf off again if this change had
    switched it on. So a rule set that locks the operator out undoes itself.
  - C(set block-policy) among I(options) is also written into each bare C(block) rule of the
    anchor, because pfctl does not carry the option into anchors.
  - Boot persistence (I(persist=true)) is a launchd item in C(/Library/LaunchDaemons) on macOS
    (written with plistlib, owned by I(owner):I(group), mode 0644, each argument its own array
    item, loaded with C(launchctl bootstrap)), C(pf_enable) and C(pf_rules) in rc.conf on
    FreeBSD, and an C(include) line in the system C(/etc/pf.conf) on OpenBSD.
  - On macOS pf is enabled with C(pfctl -E) and the reference token is kept in
    I(state_dir) for the anchor, so another program's C(pfctl -X) of its own reference does
    not switch pf off under these rules; I(enable=false) releases the token. Apple's
    C(com.apple.pfctl) job loads C(/etc/pf.conf) at boot and launchd does not order jobs, so
    the boot job waits (up to I(macos_boot_wait) seconds) until Apple's job has run before it
    loads this rule set.
  - The static checks model macOS pf, FreeBSD pf (scrub, nat, rdr, binat and altq statements,
    C(match) rules, FreeBSD 14 C(ether) rules and options such as C(set fail-policy),
    C(set reassemble), C(set state-defaults)) and OpenBSD 4.7+ pf (C(match) rules, C(nat-to),
    C(rdr-to), the new C(queue) syntax, no statement order). C(pfctl -n) on the target
    remains the final judge.
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
  content:
    description:
      - Raw input mode. An existing pf anchor file (I(content_type=anchor)) or a whole pf.conf
        (I(content_type=ruleset)) as text, checked, validated with C(pfctl -n) and installed
        as it is.
      - With C(anchor) it replaces the declared macros, tables, normalization, translation and
        filtering (I(options) and I(queueing) still go into the loader file, which gets the
        hooks the content needs). With C(ruleset) it is installed at I(conf_path) and loaded as
        the main rule set, and nothing else may be declared.
      - Mutually exclusive with I(src).
    type: str
  src:
    description:
      - Like I(content), read from this path on the managed host (for rules another tool or an
        earlier setup left there). For a file on the control node use I(content) with
        C(lookup('file', ...)).
    type: path
  content_type:
    description: What I(content) or I(src) holds.
    type: str
    choices: [anchor, ruleset]
    default: anchor
  macros:
    description:
      - Macros by name, rendered as C(name = "value") at the top of the anchor (and of the
        loader file when options or queues use them). A list value becomes C({ a, b }).
      - pfctl expands a macro once and never inside quotes, so a reference to another macro
        (C($other), as a list item or inside a string) is written outside the quotes, for
        example C(hosts = "{" $host1 $host2 "}").
      - An empty value is refused.
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
        description:
          - Addresses, networks, host or interface names; C(!) negates.
          - Left out, the table is written without an address list, and pf keeps the addresses
            the running table holds (added with C(pfctl -T add), by C(overload) or by sshguard)
            across reloads. Given (even as an empty list), the file's list replaces them at
            every load.
        type: list
        elements: str
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
  rollback_timeout:
    description:
      - Seconds after the load after which the change is undone unless confirmed (see
        I(confirm)). C(0) loads without a safety net. Needs I(reload=true).
      - While a change awaits confirmation, another change of the same anchor is refused.
    type: int
    default: 0
  confirm:
    description:
      - Confirm the change that awaits confirmation for I(anchor), so it is not rolled back.
        Only I(anchor) and I(state_dir) matter in this mode.
      - Run it over a new SSH connection (C(reset_connection) with M(ansible.builtin.meta) before the task), which is
        what proves that the new rules let the operator in; a confirmation over the very
        connection that loaded the rules (same C(SSH_CONNECTION)) is refused.
      - Fails when the rollback already happened.
    type: bool
    default: false
  state_dir:
    description:
      - Directory for the module's state per anchor - the macOS enable token, and while a
        change awaits confirmation, the previous files and the rollback plan. Mode 0700.
    type: path
    default: /var/db/netvirt-overlay-pf
  enable:
    description:
      - Enable pf at boot (the launchd item, C(pf_enable="YES") in rc.conf) and, with
        I(reload=true), now when C(pfctl -s info) reports it disabled.
      - On macOS with a reference token (C(pfctl -E)) kept in I(state_dir); C(false) releases
        it (C(pfctl -X)), and pf goes off if no other program holds a reference.
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
  macos_boot_wait:
    description:
      - At boot, how many seconds the launchd job waits at most for Apple's C(com.apple.pfctl)
        job to have loaded C(/etc/pf.conf) before it loads this rule set (macOS).
    type: int
    default: 120
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
    details: With I(confirm=true) there is nothing to diff.
notes:
  - The module writes candidate files next to the installed ones (same directory) and renames
    them into place, so a reader never sees a half-written file.
  - The rollback watcher is a small Python program written into I(state_dir) and run with the
    module's interpreter; it needs no Ansible on the host.
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

- name: Rules that already exist on the host, managed as they are (an existing pf.conf)
  netvirt.overlay.pf_rules:
    anchor: site
    platform: freebsd
    src: /usr/local/etc/pf.site.conf
    content_type: ruleset
    conf_path: /etc/pf.conf
    reload: true
  become: true

- name: An anchor file kept in the IaC repository, loaded with a safety net of 120 seconds
  netvirt.overlay.pf_rules:
    anchor: netvirt
    platform: macos
    content: "{{ lookup('ansible.builtin.file', 'files/pf/netvirt.anchor') }}"
    options:
      - skip on lo0
    reload: true
    rollback_timeout: 120
  become: true
  register: pf_load

- name: Log in anew, so the confirmation proves that new SSH connections get through
  ansible.builtin.meta: reset_connection

- name: Keep the new rules (without this task they are undone after 120 seconds)
  netvirt.overlay.pf_rules:
    anchor: netvirt
    confirm: true
  become: true
  when: pf_load.rollback.pending | default(false)

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
  returned: unless confirm=true
  type: str
  sample: macos
anchor_path:
  description: Path of the anchor file; null when I(content_type=ruleset) (no anchor file).
  returned: unless confirm=true
  type: str
  sample: /etc/pf.anchors/netvirt
conf_path:
  description: Path of the loader file.
  returned: unless confirm=true
  type: str
  sample: /etc/pf.anchors/netvirt.pf.conf
anchor_content:
  description: The rendered (or given) anchor file; null when I(content_type=ruleset).
  returned: unless confirm=true
  type: str
static_check:
  description:
    - What the module's own check concluded before pfctl ran. C(verdict) is C(accept),
      C(defer) (it met something it does not model, listed in C(deferred); C(pfctl -n)
      decided) or C(refuse) (with C(errors); pfctl was not run).
  returned: unless confirm=true
  type: dict
  sample: {verdict: defer, deferred: ["content line 5: include \"/etc/pf.local.conf\": the included file is checked by pfctl -n only"]}
rollback:
  description:
    - The confirm-or-rollback state. After a load with I(rollback_timeout) - C(pending),
      C(id), C(deadline) (epoch seconds), C(timeout), C(watcher_pid), C(state_dir). After
      I(confirm=true) - C(pending=false), C(confirmed), C(id).
  returned: when rollback_timeout was used or confirm=true
  type: dict
  sample: {pending: true, id: 0f2c9d..., deadline: 1764604800.5, timeout: 120, watcher_pid: 4242, state_dir: /var/db/netvirt-overlay-pf/netvirt}
confirmed:
  description: Whether the pending change is now confirmed (I(confirm=true)).
  returned: when confirm=true
  type: bool
enable_token_file:
  description: Where the macOS pf enable reference token is kept.
  returned: when a token was taken (macOS)
  type: str
token_released:
  description: Whether the macOS enable token was released (I(enable=false)).
  returned: when it was
  type: bool
conf_content:
  description: The rendered loader file (or the given rule set with I(content_type=ruleset)).
  returned: unless confirm=true
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
import json
import os
import platform as platform_mod
import pwd
import shutil
import sys
import tempfile
import time
import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.netvirt.overlay.plugins.module_utils._pf import (
    BOOT_SCRIPT, ROLLBACK_SCRIPT, PfError, build, launchd_plist, parse_pf_status, parse_token, render_conf,
    set_include, set_rc_vars)

SYSTEMS = {'Darwin': 'macos', 'FreeBSD': 'freebsd', 'OpenBSD': 'openbsd'}
RULE_ROLES = ('anchor', 'conf', 'pf.conf')

TABLE_SPEC = dict(
    name=dict(type='str', required=True),
    entries=dict(type='list', elements='str'),
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
    content=dict(type='str'),
    src=dict(type='path'),
    content_type=dict(type='str', default='anchor', choices=['anchor', 'ruleset']),
    macros=dict(type='dict', default={}),
    tables=dict(type='list', elements='dict', default=[], options=TABLE_SPEC),
    options=dict(type='list', elements='str', default=[]),
    normalization=dict(type='list', elements='raw', default=[]),
    queueing=dict(type='list', elements='str', default=[]),
    translation=dict(type='list', elements='raw', default=[]),
    filtering=dict(type='list', elements='raw', default=[]),
    reload=dict(type='bool', default=False),
    rollback_timeout=dict(type='int', default=0),
    confirm=dict(type='bool', default=False),
    state_dir=dict(type='path', default='/var/db/netvirt-overlay-pf'),
    enable=dict(type='bool', default=True),
    persist=dict(type='bool', default=True),
    launchd_label=dict(type='str', default='org.netvirt.overlay.pf'),
    launchd_plist_path=dict(type='path'),
    macos_boot_wait=dict(type='int', default=120),
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


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
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
        anchor = p['anchor']
        if p['rollback_timeout'] < 0:
            self.fail('rollback_timeout must be 0 (no rollback) or a number of seconds')
        if p['rollback_timeout'] and not p['reload']:
            self.fail('rollback_timeout only means something with reload=true (it undoes a load that is not confirmed)')
        anchor_path = p['anchor_path'] or '/etc/pf.anchors/%s' % anchor
        conf_path = p['conf_path'] or '/etc/pf.anchors/%s.pf.conf' % anchor
        plist_path = p['launchd_plist_path'] or '/Library/LaunchDaemons/%s.plist' % p['launchd_label']
        ruleset_mode = p['content_type'] == 'ruleset' and (p['content'] is not None or p['src'] is not None)
        if anchor_path == conf_path and not ruleset_mode:
            self.fail('anchor_path and conf_path must differ (both are %s)' % anchor_path)
        if platform == 'openbsd' and p['reload'] and not p['persist'] and conf_path != p['system_conf_path']:
            self.fail('on OpenBSD pf loads %s, and reload=true loads that file; set persist=true so it '
                      'includes %s, or load the anchor yourself' % (p['system_conf_path'], conf_path))
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
        persist_file = self.persist_file(platform, pfctl, conf_path, plist_path, owner)
        managed = files + ([persist_file] if persist_file else [])
        rules_changed = any(f.content_changed for f in managed if f.role in RULE_ROLES)
        self.result['changed_files'] = [f.path for f in managed if f.changed]
        diffs = [f.diff() for f in managed if f.content_changed]

        staged = {}
        if rules_changed:
            staged = self.validate(spec, rendered, platform, files, persist_file, anchor_path, conf_path)
        else:
            self.result['validated'] = False

        if self.module.check_mode:
            self.result['changed'] = bool(self.result['changed_files'])
            self.module.exit_json(diff=diffs, **self.result)

        main_file = p['system_conf_path'] if platform == 'openbsd' and conf_path != p['system_conf_path'] \
            else conf_path
        pf_before = None
        rollback = None
        if p['reload'] and rules_changed and p['rollback_timeout']:
            pf_before = self.pf_status(pfctl)
            rollback = self.prepare_rollback(managed, platform, pfctl, main_file, pf_before)

        if rules_changed:
            for f in managed:
                if f.role in RULE_ROLES and f.content_changed:
                    self.install(f, staged=staged.pop(f.role, None))
            for leftover in staged.values():        # validated, but that file did not change
                os.unlink(leftover)
        for f in managed:
            if f.attrs_changed:
                self.fix_attrs(f)
            elif f.role in ('launchd', 'rc.conf') and f.content_changed:
                self._ensure_dir(f.path)
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
            self.enable_or_release(platform, pfctl)
        if platform == 'macos' and persist_file is not None:
            self.launchd(persist_file)

        self.result['changed'] = bool(self.result['changed_files'] or self.result['reloaded']
                                      or self.result['enabled'] or self.result.get('launchd_loaded')
                                      or self.result.get('token_released'))
        self.module.exit_json(diff=diffs, **self.result)

    def _ensure_dir(self, path):
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)

    def persist_file(self, platform, pfctl, conf_path, plist_path, owner):
        p = self.params
        if not p['persist']:
            return None
        if platform == 'macos':
            launchctl = self.module.get_bin_path('launchctl') or '/bin/launchctl'
            token = self.state_path('token') if p['enable'] else ''
            args = ['/bin/sh', '-c', BOOT_SCRIPT, 'netvirt-pf-boot', pfctl or '/sbin/pfctl', launchctl, conf_path,
                    token, str(p['macos_boot_wait'])]
            return ManagedFile('launchd', plist_path, launchd_plist(p['launchd_label'], args), owner, 0o644)
        if platform == 'freebsd':
            current = read_bytes(p['rc_conf_path'])
            text = set_rc_vars(to_native(current or b''), [
                ('pf_enable', 'YES' if p['enable'] else 'NO'), ('pf_rules', conf_path)])
            return ManagedFile('rc.conf', p['rc_conf_path'], to_bytes(text),
                               None if current is not None else owner, None if current is not None else 0o644)
        if conf_path == p['system_conf_path']:
            return None         # the rule set is the system pf.conf itself
        current = read_bytes(p['system_conf_path'])
        text = set_include(to_native(current or b''), conf_path, conf_path, p['anchor'])
        return ManagedFile('pf.conf', p['system_conf_path'], to_bytes(text),
                           None if current is not None else owner, None if current is not None else 0o644)

    def validate(self, spec, rendered, platform, files, persist_file, anchor_path, conf_path):
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
                self._ensure_dir(f.path)
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
            if platform == 'openbsd' and persist_file is not None:
                current = to_native(persist_file.before or b'')
                sys_text = set_include(current, conf_path, staged['conf'], spec['anchor'])
                main = self.write_temp(sys_dir, os.path.basename(p['system_conf_path']), to_bytes(sys_text),
                                       mode=0o644)
                staged['pf.conf'] = main
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

    # ----------------------------------------------------------------- enable (macOS: reference token)
    def enable_or_release(self, platform, pfctl):
        p = self.params
        if platform != 'macos':
            if p['enable'] and self.pf_status(pfctl) == 'Disabled':
                self.run([pfctl, '-e'], check_rc=True)
                self.result['enabled'] = True
            return
        token_path = self.state_path('token')
        token = (to_native(read_bytes(token_path) or b'')).strip()
        if p['enable']:
            if token and self.pf_status(pfctl) == 'Enabled':
                return          # our reference is held; another program's -X cannot switch pf off
            rc, out, err = self.run([pfctl, '-E'], check_rc=True)
            value = parse_token(err) or parse_token(out)
            if value is None:
                self.fail('pfctl -E enabled pf but printed no reference token: %s' % (err or out).strip())
            self.ensure_state_dir()
            fd = os.open(token_path + '.new', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(value + '\n')
            os.replace(token_path + '.new', token_path)
            if token and token != value:
                self.run([pfctl, '-X', token])      # a stale reference (pf was switched off): may fail
            self.result['enabled'] = True
            self.result['enable_token_file'] = token_path
        elif token:
            self.run([pfctl, '-X', token], check_rc=True)
            os.unlink(token_path)
            self.result['token_released'] = True

    # ----------------------------------------------------------------- confirm or roll back
    def prepare_rollback(self, managed, platform, pfctl, main_file, pf_before):
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
        if platform != 'openbsd' and p['system_conf_path'] not in load:
            load.append(p['system_conf_path'])          # what the system loads by itself
        disable = None
        token_file = None
        if pf_before == 'Disabled' and p['enable']:
            if platform == 'macos':
                token_file = self.state_path('token')     # the watcher releases that token (-X)
            else:
                disable = [pfctl, '-d']
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
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=[('content', 'src')])
    PfRules(module).main()


if __name__ == '__main__':
    main()
