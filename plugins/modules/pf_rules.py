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
    left untouched, as in the well-known recipe for pf on OS X Mountain Lion.
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._pf_rules import run

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


def main():
    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[('content', 'src')]))


if __name__ == '__main__':
    main()
