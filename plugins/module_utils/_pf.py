# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pf_rules' logic: render one pf anchor and the small file that loads it, and check them.

Pure Python (no Ansible imports) so the unit tests can drive it directly.

Layout that is rendered (the well-known approach on macOS: bypass the system pf.conf):

* the *loader* (``conf_path``) is what pf loads as its main rule set: the global
  options and queue definitions (pfctl applies ``set`` options and queues only in the
  main rule set and ignores them inside an anchor), the anchor hooks in the order pf
  demands, and ``load anchor NAME from ANCHOR_PATH``;
* the *anchor* (``anchor_path``) holds macros, tables, normalization, translation and
  filtering rules.

The static checks live in ``_pf_check``; the module still runs ``pfctl -v -n -f`` on the
candidate before anything is installed.
"""

from __future__ import annotations

import re

from ansible_collections.netvirt.overlay.plugins.module_utils._pf_check import (
    KEYWORDS, MACRO_NAME, TITLES, check_text, logical_lines)

PLATFORMS = tuple(sorted(TITLES))
SECTIONS = ('options', 'normalization', 'queueing', 'translation', 'filtering')
ANCHOR_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
TABLE_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,30}$')
_TABLE_FLAGS = ('persist', 'const', 'counters')

APPLE_ANCHOR = 'com.apple'
APPLE_ANCHOR_PATH = '/etc/pf.anchors/com.apple'


class PfError(Exception):
    """The declared rule set cannot be rendered or fails the static checks."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__('; '.join(self.errors))


# --------------------------------------------------------------------------- rendering

_FILTER_KEYS = ('action', 'direction', 'quick', 'log', 'interface', 'af', 'proto', 'from', 'from_port',
                'to', 'port', 'flags', 'state', 'nat_to', 'rdr_to', 'label')
_TRANSLATION_KEYS = ('type', 'pass', 'interface', 'af', 'proto', 'from', 'from_port', 'to', 'port',
                     'target', 'target_port')
_NORMALIZATION_KEYS = ('direction', 'interface', 'af', 'from', 'to', 'options')
_BLOCK_POLICY_WORDS = ('drop', 'return', 'return-rst', 'return-icmp', 'return-icmp6')


def _is_empty(value):
    return value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0) or \
        (isinstance(value, str) and not value.strip())


def _given(rule, key, where):
    """The value of ``key``, None when the key is absent; an empty value is refused.

    Fail closed: an empty list or string left out of the rendered rule would widen it
    (no 'from' is 'from any', no 'on' is every interface), so it stops the run here."""
    if key not in rule:
        return None
    value = rule[key]
    if _is_empty(value):
        raise PfError(["%s: '%s' is empty (%r); an empty value would widen the rule (no '%s' matches "
                       "everything) -- give at least one value or leave the key out" % (
                           where, key, value, key)])
    if isinstance(value, (list, tuple)):
        blanks = [idx for idx, item in enumerate(value, 1) if _is_empty(item)]
        if blanks:
            raise PfError(["%s: '%s' has an empty entry (item %d of the list)" % (where, key, blanks[0])])
    return value


def _listish(value):
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return str(value[0])
        return '{ %s }' % ', '.join(str(v) for v in value)
    return str(value)


def _hosts(rule, where, with_ports, collapse=True):
    src = _given(rule, 'from', where)
    dst = _given(rule, 'to', where)
    sport = _given(rule, 'from_port', where) if with_ports else None
    dport = _given(rule, 'port', where) if with_ports else None
    if collapse and src is None and dst is None and sport is None and dport is None:
        return ['all']
    words = ['from', _listish(src if src is not None else 'any')]
    if sport is not None:
        words += ['port', _listish(sport)]
    words += ['to', _listish(dst if dst is not None else 'any')]
    if dport is not None:
        words += ['port', _listish(dport)]
    return words


# YAML 1.1 reads an unquoted 'on:' key as the boolean true (and JSON then makes it 'true').
_INTERFACE_ALIASES = (True, 'true', 'True', 'on')


def _normalize(rule, where):
    rule = dict(rule)
    for alias in _INTERFACE_ALIASES:
        if alias in rule:
            if 'interface' in rule:
                raise PfError(['%s: give the interface once (interface or on)' % where])
            rule['interface'] = rule.pop(alias)
    return rule


def _check_keys(rule, allowed, where):
    unknown = sorted(set(str(k) for k in rule) - set(allowed))
    if unknown:
        raise PfError(['%s: unknown key %s; valid keys: %s' % (
            where, ', '.join(repr(k) for k in unknown), ', '.join(allowed))])


def _choice(rule, key, choices, where, default=None):
    if key in rule and rule[key] is None:
        raise PfError(["%s: %s is empty (null); give one of %s%s" % (
            where, key, ', '.join(choices), ' or leave the key out for %s' % default if default else '')])
    value = rule.get(key, default)
    if value is not None and value not in choices:
        raise PfError(["%s: %s must be one of %s, got %r" % (where, key, ', '.join(choices), value)])
    return value


def _match_words(rule, where, with_ports, collapse=True):
    """What a filtering or translation rule matches: on <interface> <af> proto <proto> from ... to ..."""
    words = []
    interface = _given(rule, 'interface', where)
    if interface is not None:
        words += ['on', _listish(interface)]
    if 'af' in rule:
        words.append(_choice(rule, 'af', ('inet', 'inet6'), where))
    proto = _given(rule, 'proto', where)
    if proto is not None:
        words += ['proto', _listish(proto)]
    return words + _hosts(rule, where, with_ports, collapse)


def render_filter_rule(rule, platform, where, block_policy=None):
    rule = _normalize(rule, where)
    _check_keys(rule, _FILTER_KEYS, where)
    action = _choice(rule, 'action', ('pass', 'block', 'match'), where, 'pass')
    direction = _choice(rule, 'direction', ('in', 'out'), where)
    words = [action]
    if action == 'block' and block_policy:
        words.append(block_policy)
    if direction:
        words.append(direction)
    if rule.get('log'):
        words.append('log')
    if rule.get('quick'):
        words.append('quick')
    words += _match_words(rule, where, with_ports=True)
    flags = _given(rule, 'flags', where)
    if flags is not None:
        words += ['flags', str(flags)]
    for key, word in (('nat_to', 'nat-to'), ('rdr_to', 'rdr-to')):
        target = _given(rule, key, where)
        if target is not None:
            if platform != 'openbsd':
                raise PfError(["%s: %s is OpenBSD pf syntax; on %s write a %s rule under translation" % (
                    where, key, TITLES[platform], 'nat' if key == 'nat_to' else 'rdr')])
            words += [word, _listish(target)]
    state = _choice(rule, 'state', ('keep', 'modulate', 'synproxy', 'no'), where)
    if state:
        words += [state, 'state']
    label = _given(rule, 'label', where)
    if label is not None:
        words += ['label', '"%s"' % str(label).replace('"', '')]
    return ' '.join(words)


def render_translation_rule(rule, platform, where, block_policy=None):
    rule = _normalize(rule, where)
    _check_keys(rule, _TRANSLATION_KEYS, where)
    if platform == 'openbsd':
        raise PfError(['%s: OpenBSD pf has no translation section; use nat_to/rdr_to on a '
                       'filtering rule' % where])
    kind = _choice(rule, 'type', ('nat', 'rdr', 'binat'), where)
    if kind is None:
        raise PfError(['%s: type (nat, rdr or binat) is required' % where])
    target = _given(rule, 'target', where)
    if target is None:
        raise PfError(['%s: target (the address after ->) is required' % where])
    if kind == 'binat':
        src = _given(rule, 'from', where)
        if src is None or isinstance(src, (list, tuple)) and len(src) != 1:
            raise PfError(["%s: a binat rule needs 'from' with exactly one address or network (the "
                           "inside address it maps one to one)" % where])
        for key in ('from_port', 'port', 'target_port'):
            if key in rule:
                raise PfError(["%s: binat maps whole addresses; '%s' is not allowed" % (where, key)])
    words = [kind]
    if rule.get('pass'):
        words.append('pass')
    words += _match_words(rule, where, with_ports=kind != 'binat', collapse=kind != 'binat')
    words += ['->', _listish(target)]
    target_port = _given(rule, 'target_port', where)
    if target_port is not None:
        words += ['port', str(target_port)]
    return ' '.join(words)


def render_normalization_rule(rule, platform, where, block_policy=None):
    rule = _normalize(rule, where)
    _check_keys(rule, _NORMALIZATION_KEYS, where)
    direction = _choice(rule, 'direction', ('in', 'out'), where)
    words = ['scrub']
    if direction:
        words.append(direction)
    interface = _given(rule, 'interface', where)
    if interface is not None:
        words += ['on', _listish(interface)]
    if 'af' in rule:
        words.append(_choice(rule, 'af', ('inet', 'inet6'), where))
    words += _hosts(rule, where, False)
    options = _given(rule, 'options', where)
    if options is not None:
        words.append(str(options))
    return ' '.join(words)


_RENDERERS = {
    'normalization': render_normalization_rule,
    'translation': render_translation_rule,
    'filtering': render_filter_rule,
}


def apply_block_policy(line, policy):
    """'block ...' without its own drop/return gets ``policy`` written out.

    pfctl applies 'set block-policy' only to the file it parses: an anchor loaded with
    'load anchor' or 'pfctl -a' starts again from 'drop'.  Writing the policy into each
    bare block rule of the anchor makes the option mean what it says there too."""
    if not policy:
        return line
    words = line.split()
    if not words or words[0] != 'block' or (len(words) > 1 and words[1] in _BLOCK_POLICY_WORDS):
        return line
    return ' '.join(['block', policy] + words[1:])


def block_policy_of(options):
    """The policy of the last 'block-policy drop|return' among the options, or None."""
    policy = None
    for item in options or []:
        words = str(item).split()
        if words[:1] == ['set']:
            words = words[1:]
        if len(words) == 2 and words[0] == 'block-policy' and words[1] in ('drop', 'return'):
            policy = words[1]
    return policy


def _render_items(section, items, platform, block_policy=None):
    """Render one section's items to (line, origin) pairs; raise PfError listing every bad item."""
    lines, errors = [], []
    for number, item in enumerate(items or [], 1):
        where = '%s item %d' % (section, number)
        try:
            if isinstance(item, dict):
                renderer = _RENDERERS.get(section)
                if renderer is None:
                    raise PfError(['%s: %s takes rule lines (strings), not mappings' % (where, section)])
                line = renderer(item, platform, where, block_policy)
            elif isinstance(item, str):
                line = item.strip()
                if section == 'filtering':
                    line = apply_block_policy(line, block_policy)
                if '\n' in line:
                    raise PfError(['%s: one rule per item, without line breaks' % where])
                if not line:
                    raise PfError(['%s: empty rule' % where])
                if section == 'options' and not line.startswith('set '):
                    line = 'set ' + line
            else:
                raise PfError(['%s: expected a rule line or a mapping, got %s' % (where, type(item).__name__)])
        except PfError as exc:
            errors.extend(exc.errors)
            continue
        lines.append((line, where))
    if errors:
        raise PfError(errors)
    return lines


def _macro_value(name, value, where):
    """The right-hand side of 'name = ...' for a macro value (a string or a list).

    pfctl expands '$other' only outside quotes and only once, so a reference to another
    macro is written outside the quotes: ["$a", "10.0.0.1"] becomes "{" $a "10.0.0.1" "}".
    """
    if _is_empty(value):
        raise PfError(["%s: the macro is empty; a rule that uses it would lose that part and widen -- "
                       "give it a value or remove it" % where])
    if isinstance(value, (list, tuple)):
        blanks = [idx for idx, item in enumerate(value, 1) if _is_empty(item)]
        if blanks:
            raise PfError(['%s: item %d of the list is empty' % (where, blanks[0])])
        if not any(re.match(r'^\$[A-Za-z0-9_]+$', str(item)) for item in value):
            return '"{ %s }"' % ', '.join(str(item) for item in value)
        parts = ['"{"']
        for item in value:
            item = str(item)
            parts.append(item if re.match(r'^\$[A-Za-z0-9_]+$', item) else '"%s"' % item)
        return ' '.join(parts + ['"}"'])
    value = str(value)
    if '"' in value or '\n' in value:
        raise PfError(["%s: the value cannot contain '\"' or a line break" % where])
    pieces = re.split(r'(\$[A-Za-z0-9_]+)', value)
    if len(pieces) == 1:
        return '"%s"' % value
    return ' '.join(piece if piece.startswith('$') else '"%s"' % piece.strip()
                    for piece in pieces if piece.strip())


def _render_macros(macros):
    lines, errors = [], []
    for name, value in (macros or {}).items():
        where = 'macros.%s' % name
        try:
            lines.append(('%s = %s' % (name, _macro_value(name, value, where)), where))
        except PfError as exc:
            errors.extend(exc.errors)
    if errors:
        raise PfError(errors)
    return lines


def _render_tables(tables):
    """Table definitions.  A table given no entries (entries left out) is written without
    an address list: pfctl then keeps the addresses the running table holds (filled by
    'pfctl -T add', overload or sshguard) across reloads; an explicit empty list empties it."""
    lines, errors = [], []
    for number, table in enumerate(tables or [], 1):
        where = 'tables item %d' % number
        name = table.get('name') or ''
        if not TABLE_NAME.match(name):
            errors.append("%s: bad table name %r: up to 31 letters, digits, '_', '.', ':' or '-'" % (where, name))
            continue
        words = ['table', '<%s>' % name]
        words += [flag for flag in _TABLE_FLAGS if table.get(flag)]
        for path in table.get('files') or []:
            words += ['file', '"%s"' % path]
        entries = table.get('entries')
        if entries is not None:
            blanks = [idx for idx, item in enumerate(entries, 1) if _is_empty(item)]
            if blanks:
                errors.append('%s: entry %d of table <%s> is empty' % (where, blanks[0], name))
                continue
            words.append('{ %s }' % ', '.join(str(e) for e in entries) if entries else '{ }')
        lines.append((' '.join(words), where))
    if errors:
        raise PfError(errors)
    return lines


def _assemble(header, blocks):
    """Join (title, [(line, origin)]) blocks; return (text, {line number: origin})."""
    out = list(header)
    origins = {}
    for title, lines in blocks:
        if not lines:
            continue
        out += ['', '# %s' % title]
        for line, origin in lines:
            out.append(line)
            if origin:
                origins[len(out)] = origin
    return '\n'.join(out) + '\n', origins


_STRUCTURED = ('macros', 'tables', 'options', 'normalization', 'queueing', 'translation', 'filtering')


def check_spec(spec):
    errors = []
    platform = spec['platform']
    if platform not in PLATFORMS:
        raise PfError(['platform must be one of %s' % ', '.join(PLATFORMS)])
    if not ANCHOR_NAME.match(spec['anchor'] or '') or spec['anchor'] == APPLE_ANCHOR:
        errors.append("anchor %r: use letters, digits, '_', '.' and '-', starting with a letter or "
                      "digit, and not Apple's 'com.apple'" % spec['anchor'])
    for name in spec.get('macros') or {}:
        if not MACRO_NAME.match(name):
            errors.append("macros: bad macro name '%s': letters, digits and '_', not starting with a digit" % name)
        elif name in KEYWORDS[platform]:
            errors.append("macros: macro name '%s' is a pf keyword; pfctl cannot define a macro by that "
                          "name -- pick another" % name)
    if platform == 'openbsd':
        for section in ('normalization', 'translation'):
            if spec.get(section):
                errors.append("%s: OpenBSD pf has no %s section; use 'match' rules with scrub (...), "
                              "nat-to or rdr-to under filtering" % (section, section))
    if spec.get('content') is not None:
        given = [key for key in _STRUCTURED if spec.get(key)]
        if spec.get('content_type') == 'ruleset' and given:
            errors.append('content is a whole rule set (content_type=ruleset); it cannot be combined with %s'
                          % ', '.join(given))
        elif spec.get('content_type') != 'ruleset':
            anchor_parts = [key for key in given if key not in ('options', 'queueing')]
            if anchor_parts:
                errors.append('content is the anchor file (content_type=anchor); it cannot be combined with %s '
                              '(options and queueing, which go into the loader file, can)' % ', '.join(anchor_parts))
        if not spec['content'].strip():
            errors.append('content is empty; an empty rule set would pass everything -- give the rules, or '
                          'use pfctl yourself to flush them')
    if errors:
        raise PfError(errors)


def _loader_normalization(spec):
    # FreeBSD pf has no scrub-anchor: its scrub rules only act in the main rule set.
    return spec['platform'] == 'freebsd' and spec.get('content') is None


def render_anchor(spec):
    """Render the anchor file: (text, origins)."""
    platform = spec['platform']
    errors = []
    blocks = []
    policy = block_policy_of(spec.get('options'))
    parts = [('Macros', lambda: _render_macros(spec.get('macros'))),
             ('Tables', lambda: _render_tables(spec.get('tables')))]
    sections = ('translation', 'filtering') if _loader_normalization(spec) else \
        ('normalization', 'translation', 'filtering')
    for section in sections:
        parts.append((section.capitalize(), lambda s=section: _render_items(s, spec.get(s), platform, policy)))
    for title, make in parts:
        try:
            blocks.append((title, make()))
        except PfError as exc:
            errors.extend(exc.errors)
    if errors:
        raise PfError(errors)
    header = ['# Managed by Ansible (netvirt.overlay.pf_rules): pf anchor "%s" for %s.' % (
        spec['anchor'], TITLES[platform]),
        '# Edits are overwritten.  Options and queues live in the loader file.']
    if policy:
        header.append("# 'set block-policy %s' is written into each bare block rule: pfctl does not carry "
                      "it into anchors." % policy)
    return _assemble(header, blocks)


def _uses_macros(lines):
    return any('$' in line for line, _origin in lines)


def render_conf(spec, anchor_path, anchor_statements=None):
    """Render the loader file that pf loads as its main rule set: (text, origins).

    ``anchor_statements`` (raw anchor mode) are the statement keywords found in the
    anchor, which decide the translation and normalization hooks."""
    platform = spec['platform']
    name = spec['anchor']
    options = _render_items('options', spec.get('options'), platform)
    queueing = _render_items('queueing', spec.get('queueing'), platform)
    normalization = _render_items('normalization', spec.get('normalization'), platform) \
        if _loader_normalization(spec) else []
    if anchor_statements is None:
        has_scrub = bool(spec.get('normalization')) and not _loader_normalization(spec)
        has_nat = bool(spec.get('translation'))
    else:
        has_scrub = 'scrub' in anchor_statements
        has_nat = bool({'nat', 'rdr', 'binat'} & set(anchor_statements))
    apple = platform == 'macos' and spec.get('macos_apple_anchors', True)
    hooks_scrub, hooks_nat, hooks_filter, loads = [], [], [], []
    if apple:
        hooks_scrub.append(('scrub-anchor "%s/*"' % APPLE_ANCHOR, None))
        hooks_nat += [('nat-anchor "%s/*"' % APPLE_ANCHOR, None), ('rdr-anchor "%s/*"' % APPLE_ANCHOR, None)]
        hooks_filter += [('dummynet-anchor "%s/*"' % APPLE_ANCHOR, None), ('anchor "%s/*"' % APPLE_ANCHOR, None)]
        loads.append(('load anchor "%s" from "%s"' % (APPLE_ANCHOR, APPLE_ANCHOR_PATH), None))
    if platform == 'macos' and has_scrub:
        hooks_scrub.append(('scrub-anchor "%s"' % name, None))
    if platform != 'openbsd' and has_nat:
        hooks_nat += [('nat-anchor "%s"' % name, None), ('rdr-anchor "%s"' % name, None),
                      ('binat-anchor "%s"' % name, None)]
    hooks_filter.append(('anchor "%s"' % name, None))
    loads.append(('load anchor "%s" from "%s"' % (name, anchor_path), None))
    macros = _render_macros(spec.get('macros')) if _uses_macros(options + queueing + normalization) else []
    header = ['# Managed by Ansible (netvirt.overlay.pf_rules): the %s rule set that loads' % TITLES[platform],
              '# anchor "%s".  Check any edit with: pfctl -v -n -f THIS_FILE' % name]
    blocks = [('Macros used by options and queues', macros), ('Options', options),
              ('Normalization', normalization), ('Normalization hooks', hooks_scrub), ('Queueing', queueing),
              ('Translation hooks', hooks_nat), ('Filtering hooks', hooks_filter),
              ('Anchor contents', loads)]
    return _assemble(header, blocks)


class Rendered(object):
    """The anchor and loader texts (anchor None for a whole raw rule set), where each line
    came from, and what the static check left to pfctl."""

    def __init__(self, anchor_text, anchor_origins, conf_text, conf_origins, deferred=(), anchor_statements=None,
                 warnings=()):
        self.anchor_text = anchor_text
        self.anchor_origins = anchor_origins
        self.conf_text = conf_text
        self.conf_origins = conf_origins
        self.deferred = list(deferred)
        self.anchor_statements = anchor_statements
        self.warnings = list(warnings)


def build(spec, anchor_path):
    """Render and statically check both files.  Raises PfError with every problem found."""
    check_spec(spec)
    platform = spec['platform']
    content = spec.get('content')
    if content is not None and not content.endswith('\n'):
        content += '\n'
    if content is not None and spec.get('content_type') == 'ruleset':
        verdict = check_text(content, platform, None, 'content', kind='ruleset')
        if verdict.errors:
            raise PfError(verdict.errors)
        return Rendered(None, {}, content, {}, verdict.deferred)
    errors = []
    anchor = conf = None
    statements = None
    try:
        if content is not None:
            first = check_text(content, platform, None, 'content', kind='anchor')
            statements = sorted(first.statements)
            anchor = (content, {})
        else:
            anchor = render_anchor(spec)
    except PfError as exc:
        errors.extend(exc.errors)
    try:
        conf = render_conf(spec, anchor_path, statements)
    except PfError as exc:
        errors.extend(exc.errors)
    if errors:
        raise PfError(errors)
    anchor_verdict = check_text(anchor[0], platform, anchor[1], 'content' if content is not None else 'anchor file',
                                kind='anchor')
    conf_verdict = check_text(conf[0], platform, conf[1], 'loader file', kind='ruleset')
    errors = anchor_verdict.errors + conf_verdict.errors
    if errors:
        raise PfError(errors)
    warnings = []
    policy = block_policy_of(spec.get('options'))
    if content is not None and policy:
        bare = [number for number, line in logical_lines(content) if apply_block_policy(line, policy) != line]
        if bare:
            warnings.append("'set block-policy %s' does not reach the anchor's own block rules (pfctl does not carry "
                            "it into anchors): content line%s %s block%s with pf's default, drop -- write 'block %s' "
                            "there" % (policy, 's' if len(bare) > 1 else '', ', '.join(str(n) for n in bare),
                                       '' if len(bare) > 1 else 's', policy))
    return Rendered(anchor[0], anchor[1], conf[0], conf[1], anchor_verdict.deferred + conf_verdict.deferred,
                    statements, warnings)


# --------------------------------------------------------------------------- status and rollback

def parse_pf_status(output):
    """'Enabled', 'Disabled' or None from the output of 'pfctl -s info'."""
    match = re.search(r'^Status:\s*(Enabled|Disabled)', output or '', re.MULTILINE)
    return match.group(1) if match else None


# The confirm-or-rollback watcher, written into the state directory and started detached
# (its own session), so it outlives the module and the SSH connection that ran it.
# Argument: the state directory.  At the deadline it claims pending.json by renaming it
# (a confirmation renames the same file to confirmed.json; the first rename wins), puts
# the previous files back, loads the previous rule set (pfctl -n first), and when pf was
# off before the change, switches it off again.
ROLLBACK_SCRIPT = r'''# -*- coding: utf-8 -*-
# Written by netvirt.overlay.pf_rules; safe to delete when no change awaits confirmation.
import json
import os
import subprocess
import sys
import time


def run(argv, log):
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                              check=False)
        log.append(dict(argv=argv, rc=proc.returncode, stderr=proc.stderr.strip()[-2000:]))
        return proc.returncode
    except (OSError, subprocess.SubprocessError) as exc:
        log.append(dict(argv=argv, rc=None, stderr=str(exc)))
        return None


def restore(item):
    path = item['path']
    if item['backup'] is None:
        if os.path.exists(path):
            os.unlink(path)
        return
    with open(item['backup'], 'rb') as handle:
        data = handle.read()
    staged = '%s.rollback.%d' % (path, os.getpid())
    with open(staged, 'wb') as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(staged, item['mode'])
    try:
        os.chown(staged, item['uid'], item['gid'])
    except OSError:
        pass
    os.replace(staged, path)


def main(state):
    with open(os.path.join(state, 'pending.json')) as handle:
        plan = json.load(handle)
    delay = plan['deadline'] - time.time()
    if delay > 0:
        time.sleep(delay)
    claimed = os.path.join(state, 'rolling-back.json')
    try:
        os.rename(os.path.join(state, 'pending.json'), claimed)
    except OSError:
        return 0        # confirmed (or superseded) in time
    log = []
    for item in plan['files']:
        try:
            restore(item)
            log.append(dict(restored=item['path']))
        except OSError as exc:
            log.append(dict(restored=item['path'], error=str(exc)))
    loaded = None
    for path in plan['load']:
        if os.path.exists(path) and run([plan['pfctl'], '-n', '-f', path], log) == 0 \
                and run([plan['pfctl'], '-f', path], log) == 0:
            loaded = path
            break
    if loaded is None and plan.get('flush'):
        run([plan['pfctl'], '-F', 'rules'], log)
    if plan.get('disable'):
        run(plan['disable'], log)
    if plan.get('token_file') and os.path.exists(plan['token_file']):
        # macOS: pf was off before and on by our reference only; releasing it switches pf off.
        with open(plan['token_file']) as handle:
            token = handle.read().strip()
        if token:
            run([plan['pfctl'], '-X', token], log)
        os.unlink(plan['token_file'])
    outcome = dict(plan, rolled_back_at=time.time(), loaded=loaded, log=log)
    with open(os.path.join(state, 'rolled-back.json.new'), 'w') as handle:
        json.dump(outcome, handle)
    os.replace(os.path.join(state, 'rolled-back.json.new'), os.path.join(state, 'rolled-back.json'))
    os.unlink(claimed)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
'''
