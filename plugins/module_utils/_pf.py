# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pf_rules' logic: render one pf anchor and the small file that loads it, and check them.

Pure Python (no Ansible imports) so the unit tests can drive it directly.

Layout that is rendered (the approach of the seed recipe: bypass the system pf.conf):

* the *loader* (``conf_path``) is what pf loads as its main rule set: the global
  options and queue definitions (pfctl applies ``set`` options and queues only in the
  main rule set and ignores them inside an anchor), the anchor hooks in the order pf
  demands, and ``load anchor NAME from ANCHOR_PATH``;
* the *anchor* (``anchor_path``) holds macros, tables, normalization, translation and
  filtering rules.

``validate_text`` checks a rendered (or hand-written) file line by line: statement
order, macros and tables used before they are defined, table syntax, sections and
keywords the target platform's pf does not know.  It is a static pre-check; the
module still runs ``pfctl -v -n -f`` on the candidate before anything is installed.
"""

from __future__ import annotations

import ipaddress
import plistlib
import re

SECTIONS = ('options', 'normalization', 'queueing', 'translation', 'filtering')
SECTION_NOUN = {
    'options': 'option',
    'normalization': 'normalization rule',
    'queueing': 'queueing rule',
    'translation': 'translation rule',
    'filtering': 'filter rule',
}

_COMMON_OPTIONS = ('block-policy', 'debug', 'fingerprints', 'hostid', 'limit', 'loginterface',
                   'optimization', 'ruleset-optimization', 'skip', 'state-policy', 'timeout')

# Grammar tables.  ``order`` is the statement order pfctl enforces (OpenBSD dropped the
# scrub and nat/rdr/binat statements, so only three groups remain there).
PLATFORMS = {
    'macos': dict(
        title='macOS pf',
        order=('options', 'normalization', 'queueing', 'translation', 'filtering'),
        options=_COMMON_OPTIONS + ('require-order',),
        statements={
            'set': 'options',
            'scrub': 'normalization', 'scrub-anchor': 'normalization',
            'altq': 'queueing', 'queue': 'queueing',
            'nat': 'translation', 'rdr': 'translation', 'binat': 'translation',
            'nat-anchor': 'translation', 'rdr-anchor': 'translation', 'binat-anchor': 'translation',
            'pass': 'filtering', 'block': 'filtering', 'antispoof': 'filtering', 'anchor': 'filtering',
            'dummynet': 'filtering', 'dummynet-anchor': 'filtering',
        },
        openbsd_only_words=('nat-to', 'rdr-to', 'binat-to', 'af-to', 'divert-packet'),
    ),
    'freebsd': dict(
        title='FreeBSD pf',
        order=('options', 'normalization', 'queueing', 'translation', 'filtering'),
        options=_COMMON_OPTIONS + ('require-order', 'keepcounters', 'syncookies'),
        statements={
            'set': 'options',
            'scrub': 'normalization', 'scrub-anchor': 'normalization',
            'altq': 'queueing', 'queue': 'queueing',
            'nat': 'translation', 'rdr': 'translation', 'binat': 'translation',
            'nat-anchor': 'translation', 'rdr-anchor': 'translation', 'binat-anchor': 'translation',
            'pass': 'filtering', 'block': 'filtering', 'antispoof': 'filtering', 'anchor': 'filtering',
            'match': 'filtering',
        },
        openbsd_only_words=('nat-to', 'rdr-to', 'binat-to', 'af-to', 'divert-packet'),
    ),
    'openbsd': dict(
        title='OpenBSD pf',
        order=('options', 'queueing', 'filtering'),
        options=_COMMON_OPTIONS + ('reassemble', 'state-defaults', 'syncookies'),
        statements={
            'set': 'options',
            'queue': 'queueing',
            'pass': 'filtering', 'block': 'filtering', 'antispoof': 'filtering', 'anchor': 'filtering',
            'match': 'filtering',
        },
        openbsd_only_words=(),
    ),
}

# Statements a platform does not have, with the hint that goes into the error.
_NOT_ON_OPENBSD = {
    'scrub': "OpenBSD pf has no scrub rules (since 4.6); use 'match in all scrub (...)' under filtering",
    'scrub-anchor': "OpenBSD pf has no scrub rules (since 4.6); use 'match in all scrub (...)' under filtering",
    'nat': "OpenBSD pf has no nat rules (since 4.7); use 'match out on IF ... nat-to ADDR' under filtering",
    'rdr': "OpenBSD pf has no rdr rules (since 4.7); use 'pass in on IF ... rdr-to ADDR' under filtering",
    'binat': "OpenBSD pf has no binat rules (since 4.7); use 'binat-to' on a pass or match rule under filtering",
    'nat-anchor': "OpenBSD pf has no nat-anchor (since 4.7); a plain 'anchor' carries nat-to rules",
    'rdr-anchor': "OpenBSD pf has no rdr-anchor (since 4.7); a plain 'anchor' carries rdr-to rules",
    'binat-anchor': "OpenBSD pf has no binat-anchor (since 4.7); a plain 'anchor' carries binat-to rules",
    'altq': "OpenBSD pf has no altq (since 5.5); use 'queue NAME on IF bandwidth ...'",
    'dummynet': 'dummynet exists only in macOS pf',
    'dummynet-anchor': 'dummynet exists only in macOS pf',
}
_NOT_ON_FREEBSD = {
    'dummynet': 'dummynet exists only in macOS pf',
    'dummynet-anchor': 'dummynet exists only in macOS pf',
}
_NOT_ON_MACOS = {
    'match': "'match' rules exist only in OpenBSD and FreeBSD pf; macOS pf does not know them",
}
_MISSING = {'macos': _NOT_ON_MACOS, 'freebsd': _NOT_ON_FREEBSD, 'openbsd': _NOT_ON_OPENBSD}

# Words the lexer turns into keywords: a macro cannot be named after one.
_RESERVED = frozenset((
    'all', 'altq', 'anchor', 'antispoof', 'any', 'binat', 'block', 'flags', 'from', 'in', 'inet',
    'inet6', 'keep', 'label', 'load', 'log', 'match', 'modulate', 'nat', 'no', 'on', 'out', 'pass',
    'port', 'proto', 'queue', 'quick', 'rdr', 'scrub', 'self', 'set', 'state', 'synproxy', 'table',
    'to', 'include', 'user', 'group', 'tag', 'tagged', 'route-to', 'reply-to', 'dup-to',
))

MACRO_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
TABLE_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,30}$')
ANCHOR_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
_HOSTNAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.:-]*(/\d{1,3})?$')
_TABLE_FLAGS = ('persist', 'const', 'counters')

APPLE_ANCHOR = 'com.apple'
APPLE_ANCHOR_PATH = '/etc/pf.anchors/com.apple'


class PfError(Exception):
    """The declared rule set cannot be rendered or fails the static checks."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__('; '.join(self.errors))


# --------------------------------------------------------------------------- lexing

def logical_lines(text):
    """Yield (first physical line number, statement text without comment) pairs.

    Backslash continuation is joined first and the comment stripped afterwards, as
    pfctl does (a comment runs to the end of the whole continued block).
    """
    buf = []
    start = None
    for number, raw in enumerate(text.split('\n'), 1):
        if start is None:
            start = number
        if raw.endswith('\\'):
            buf.append(raw[:-1])
            continue
        buf.append(raw)
        line = _strip_comment(' '.join(buf)).strip()
        if line:
            yield start, line
        buf = []
        start = None
    if buf:
        line = _strip_comment(' '.join(buf)).strip()
        if line:
            yield start, line


def _strip_comment(line):
    quoted = False
    for pos, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == '#' and not quoted:
            return line[:pos]
    return line


_TOKEN = re.compile(r'''
      (?P<quoted>"[^"]*")
    | (?P<table><[A-Za-z0-9_][A-Za-z0-9_.:-]*>)
    | (?P<macro>\$[A-Za-z0-9_]+)
    | (?P<arrow>->)
    | (?P<punct>[{}(),=!<>])
    | (?P<word>[^\s"{}(),=!<>$]+)
    | (?P<dollar>\$)
    | (?P<space>\s+)
''', re.VERBOSE)


def tokenize(line):
    """Split one statement into (kind, text) tokens.  Raises ValueError on a stray quote."""
    if line.count('"') % 2:
        raise ValueError('unterminated quoted string')
    tokens = []
    for match in _TOKEN.finditer(line):
        kind = match.lastgroup
        if kind != 'space':
            tokens.append((kind, match.group()))
    return tokens


# --------------------------------------------------------------------------- validation

def _where(lineno, origins, label):
    where = '%s line %d' % (label, lineno) if label else 'line %d' % lineno
    origin = (origins or {}).get(lineno)
    if origin:
        where += ' (%s)' % origin
    return where


def _check_brackets(tokens):
    depth = {'{': 0, '(': 0}
    closing = {'}': '{', ')': '('}
    for kind, text in tokens:
        if kind != 'punct':
            continue
        if text in depth:
            depth[text] += 1
        elif text in closing:
            depth[closing[text]] -= 1
            if depth[closing[text]] < 0:
                return "unbalanced '%s'" % text
    for opening, count in depth.items():
        if count:
            return "unbalanced '%s'" % opening
    return None


def _check_address(entry):
    """Return an error text for a bad table entry, None when it looks valid."""
    body = entry[1:] if entry.startswith('!') else entry
    if not body:
        return "empty negation '!'"
    if body in ('self',) or (body.startswith('(') and body.endswith(')')):
        return None
    addr = body.split('/', 1)[0]
    looks_numeric = ':' in addr or re.match(r'^[0-9.]+$', addr)
    if looks_numeric:
        try:
            ipaddress.ip_network(body, strict=False)
        except ValueError:
            return "'%s' is not a valid address or network" % entry
        return None
    if not _HOSTNAME.match(body):
        return "'%s' is not an address, network, host or interface name" % entry
    return None


def _parse_table(tokens):
    """Check a 'table' statement.  Returns (name or None, error or None)."""
    if len(tokens) < 2 or tokens[1][0] != 'table':
        if len(tokens) >= 2 and tokens[1][0] == 'punct' and tokens[1][1] == '<':
            return None, "table name must be written '<name>' with no spaces (name up to 31 characters)"
        return None, "expected 'table <name>'"
    name = tokens[1][1][1:-1]
    if not TABLE_NAME.match(name):
        return name, "bad table name <%s>: up to 31 letters, digits, '_', '.', ':' or '-'" % name
    pos = 2
    while pos < len(tokens):
        kind, text = tokens[pos]
        if kind == 'word' and text in _TABLE_FLAGS:
            pos += 1
        elif kind == 'word' and text == 'file':
            if pos + 1 >= len(tokens) or tokens[pos + 1][0] != 'quoted':
                return name, 'table <%s>: file needs a quoted path' % name
            pos += 2
        elif kind == 'punct' and text == '{':
            close = None
            for idx in range(pos + 1, len(tokens)):
                if tokens[idx] == ('punct', '}'):
                    close = idx
                    break
            if close is None:
                return name, "table <%s>: unbalanced '{'" % name
            entries = []
            current = ''
            for ekind, etext in tokens[pos + 1:close]:
                if ekind == 'punct' and etext == ',':
                    if current:
                        entries.append(current)
                    current = ''
                elif ekind == 'punct' and etext == '!':
                    if current:
                        entries.append(current)
                    current = '!'
                elif ekind == 'macro':
                    if current and current != '!':
                        entries.append(current)
                    current = ''
                elif ekind in ('word', 'quoted'):
                    if current and current != '!':
                        entries.append(current)
                        current = ''
                    current += etext.strip('"')
                else:
                    return name, "table <%s>: unexpected '%s' in the address list" % (name, etext)
            if current:
                entries.append(current)
            for entry in entries:
                problem = _check_address(entry)
                if problem:
                    return name, 'table <%s>: %s' % (name, problem)
            pos = close + 1
        else:
            return name, "table <%s>: unexpected '%s' (expected persist, const, counters, file \"PATH\" or { addresses })" % (
                name, text)
    return name, None


def validate_text(text, platform, origins=None, label=None, kind='ruleset'):
    """Check a pf file for the target platform; return a list of error strings (empty: fine).

    ``origins`` maps a line number to where the line came from (e.g. 'filtering item 2')
    and ``label`` prefixes the line number (e.g. 'anchor /etc/pf.anchors/x').  ``kind``
    'anchor' also rejects options and queue definitions, which pfctl ignores in an anchor.
    """
    grammar = PLATFORMS[platform]
    order = grammar['order']
    missing = _MISSING[platform]
    errors = []
    macros = {}
    tables = {}
    state = None       # (index in order, line number, section) of the last ordered statement

    def err(lineno, message):
        errors.append('%s: %s' % (_where(lineno, origins, label), message))

    for lineno, line in logical_lines(text):
        try:
            tokens = tokenize(line)
        except ValueError as exc:
            err(lineno, str(exc))
            continue
        if not tokens:
            continue
        problem = _check_brackets(tokens)
        if problem:
            err(lineno, problem)
            if tokens[0] == ('word', 'table') and len(tokens) > 1 and tokens[1][0] == 'table':
                tables.setdefault(tokens[1][1][1:-1], lineno)   # reported once, not at every use
            continue
        first_kind, first = tokens[0]

        # macro definition: name = value
        if len(tokens) >= 2 and tokens[1] == ('punct', '='):
            if first_kind != 'word' or not MACRO_NAME.match(first):
                err(lineno, "bad macro name '%s': letters, digits and '_', not starting with a digit" % first)
                continue
            if first in _RESERVED:
                err(lineno, "macro name '%s' is a pf keyword" % first)
                continue
            if len(tokens) == 2:
                err(lineno, "macro '%s' has no value" % first)
                continue
            used = [t[1:] for k, t in tokens[2:] if k == 'macro']
            for k, t in tokens[2:]:
                if k == 'quoted':
                    used.extend(re.findall(r'\$([A-Za-z0-9_]+)', t))
            undefined = [m for m in used if m not in macros]
            if undefined:
                err(lineno, "macro '$%s' is used before it is defined" % undefined[0])
                continue
            macros[first] = lineno
            continue

        undefined = [t[1:] for k, t in tokens if k == 'macro' and t[1:] not in macros]
        if undefined:
            err(lineno, "macro '$%s' is used before it is defined" % undefined[0])
            continue
        if any(k == 'dollar' for k, _text in tokens):
            err(lineno, "'$' without a macro name")
            continue

        if first_kind != 'word':
            err(lineno, "statement cannot start with '%s'" % first)
            continue

        if first == 'table':
            name, problem = _parse_table(tokens)
            if problem:
                err(lineno, problem)
                if name:
                    tables.setdefault(name, lineno)    # reported once, not at every use
            elif name in tables:
                err(lineno, 'table <%s> is already defined at line %d' % (name, tables[name]))
            else:
                tables[name] = lineno
            continue

        used_tables = [t[1:-1] for k, t in tokens if k == 'table']
        undefined = [t for t in used_tables if t not in tables]
        if undefined:
            err(lineno, 'table <%s> is used before it is defined' % undefined[0])
            continue

        if first in ('include', 'load'):
            if first == 'load' and (len(tokens) < 5 or tokens[1][1] != 'anchor' or tokens[3][1] != 'from'
                                    or tokens[4][0] != 'quoted'):
                err(lineno, "expected 'load anchor NAME from \"FILE\"'")
            elif first == 'include' and (len(tokens) != 2 or tokens[1][0] != 'quoted'):
                err(lineno, "expected 'include \"FILE\"'")
            continue

        keyword = first
        if first == 'no' and len(tokens) > 1 and tokens[1][1] in ('nat', 'rdr', 'binat'):
            keyword = tokens[1][1]
        if keyword in missing:
            err(lineno, "'%s' is not known to %s: %s" % (keyword, grammar['title'], missing[keyword]))
            continue
        section = grammar['statements'].get(keyword)
        if section is None:
            err(lineno, "unknown statement '%s' for %s" % (first, grammar['title']))
            continue

        if section == 'options':
            if len(tokens) < 2 or tokens[1][0] != 'word':
                err(lineno, "'set' needs an option name")
                continue
            if tokens[1][1] not in grammar['options']:
                err(lineno, "option '%s' is not known to %s (known: %s)" % (
                    tokens[1][1], grammar['title'], ', '.join(sorted(grammar['options']))))
                continue
        if keyword == 'queue' and platform != 'openbsd' and any(t == 'parent' for _kind, t in tokens):
            err(lineno, "'queue ... parent' is OpenBSD's queueing syntax; %s uses altq and "
                        "'queue NAME bandwidth ... { children }'" % grammar['title'])
            continue
        if section == 'filtering':
            foreign = [t for k, t in tokens if k == 'word' and t in grammar['openbsd_only_words']]
            if foreign:
                err(lineno, "'%s' is OpenBSD pf syntax; %s needs a separate nat/rdr/binat rule "
                            "under translation" % (foreign[0], grammar['title']))
                continue
            if any(k == 'arrow' for k, _text in tokens):
                err(lineno, "'->' belongs in nat, rdr and binat rules, not in a filter rule")
                continue
        if section == 'translation' and keyword in ('nat', 'rdr', 'binat') and first != 'no' \
                and not any(k == 'arrow' for k, _text in tokens):
            err(lineno, "%s rule needs '-> ADDRESS'" % keyword)
            continue

        if kind == 'anchor' and section in ('options', 'queueing'):
            err(lineno, "%s in an anchor is ignored by pfctl (it applies them only in the main "
                        "rule set); declare it under '%s' so it goes into the loader file" % (
                            SECTION_NOUN[section], section))
            continue

        declared = ((origins or {}).get(lineno) or '').split(' item ')[0]
        index = order.index(section)
        if state is not None and index < state[0]:
            err(lineno, '%s after %s at line %d; %s requires the order %s' % (
                SECTION_NOUN[section], SECTION_NOUN[state[2]], state[1], grammar['title'],
                ', '.join(order)))
            continue
        if declared in SECTIONS and declared != section:
            err(lineno, "this is a %s but it is listed under '%s'" % (SECTION_NOUN[section], declared))
            continue
        state = (index, lineno, section)
    return errors


# --------------------------------------------------------------------------- rendering

_FILTER_KEYS = ('action', 'direction', 'quick', 'log', 'interface', 'af', 'proto', 'from', 'from_port',
                'to', 'port', 'flags', 'state', 'nat_to', 'rdr_to', 'label')
_TRANSLATION_KEYS = ('type', 'pass', 'interface', 'af', 'proto', 'from', 'from_port', 'to', 'port',
                     'target', 'target_port')
_NORMALIZATION_KEYS = ('direction', 'interface', 'af', 'from', 'to', 'options')


def _listish(value):
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return str(value[0])
        return '{ %s }' % ', '.join(str(v) for v in value)
    return str(value)


def _hosts(rule, with_ports):
    src = rule.get('from') or 'any'
    dst = rule.get('to') or 'any'
    sport = rule.get('from_port') if with_ports else None
    dport = rule.get('port') if with_ports else None
    if src == 'any' and dst == 'any' and sport is None and dport is None:
        return ['all']
    words = ['from', _listish(src)]
    if sport is not None:
        words += ['port', _listish(sport)]
    words += ['to', _listish(dst)]
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
    unknown = sorted(set(rule) - set(allowed))
    if unknown:
        raise PfError(['%s: unknown key %s; valid keys: %s' % (
            where, ', '.join(repr(k) for k in unknown), ', '.join(allowed))])


def _choice(rule, key, choices, where, default=None):
    value = rule.get(key, default)
    if value is not None and value not in choices:
        raise PfError(["%s: %s must be one of %s, got %r" % (where, key, ', '.join(choices), value)])
    return value


def _match_words(rule, where, with_ports):
    """What a filtering or translation rule matches: on <interface> <af> proto <proto> from ... to ..."""
    words = []
    if rule.get('interface'):
        words += ['on', _listish(rule['interface'])]
    if rule.get('af'):
        words.append(_choice(rule, 'af', ('inet', 'inet6'), where))
    if rule.get('proto'):
        words += ['proto', _listish(rule['proto'])]
    return words + _hosts(rule, with_ports)


def render_filter_rule(rule, platform, where):
    rule = _normalize(rule, where)
    _check_keys(rule, _FILTER_KEYS, where)
    action = _choice(rule, 'action', ('pass', 'block', 'match'), where, 'pass')
    direction = _choice(rule, 'direction', ('in', 'out'), where)
    words = [action]
    if direction:
        words.append(direction)
    if rule.get('log'):
        words.append('log')
    if rule.get('quick'):
        words.append('quick')
    words += _match_words(rule, where, with_ports=True)
    if rule.get('flags'):
        words += ['flags', str(rule['flags'])]
    for key, word in (('nat_to', 'nat-to'), ('rdr_to', 'rdr-to')):
        if rule.get(key):
            if platform != 'openbsd':
                raise PfError(["%s: %s is OpenBSD pf syntax; on %s write a %s rule under translation" % (
                    where, key, PLATFORMS[platform]['title'], 'nat' if key == 'nat_to' else 'rdr')])
            words += [word, _listish(rule[key])]
    state = _choice(rule, 'state', ('keep', 'modulate', 'synproxy', 'no'), where)
    if state:
        words += [state, 'state']
    if rule.get('label'):
        words += ['label', '"%s"' % str(rule['label']).replace('"', '')]
    return ' '.join(words)


def render_translation_rule(rule, platform, where):
    rule = _normalize(rule, where)
    _check_keys(rule, _TRANSLATION_KEYS, where)
    if platform == 'openbsd':
        raise PfError(['%s: OpenBSD pf has no translation section; use nat_to/rdr_to on a '
                       'filtering rule' % where])
    kind = _choice(rule, 'type', ('nat', 'rdr', 'binat'), where)
    if kind is None:
        raise PfError(['%s: type (nat, rdr or binat) is required' % where])
    if not rule.get('target'):
        raise PfError(['%s: target (the address after ->) is required' % where])
    words = [kind]
    if rule.get('pass'):
        words.append('pass')
    words += _match_words(rule, where, with_ports=kind != 'binat')
    words += ['->', _listish(rule['target'])]
    if rule.get('target_port') is not None:
        words += ['port', str(rule['target_port'])]
    return ' '.join(words)


def render_normalization_rule(rule, platform, where):
    rule = _normalize(rule, where)
    _check_keys(rule, _NORMALIZATION_KEYS, where)
    direction = _choice(rule, 'direction', ('in', 'out'), where)
    words = ['scrub']
    if direction:
        words.append(direction)
    if rule.get('interface'):
        words += ['on', _listish(rule['interface'])]
    if rule.get('af'):
        words.append(_choice(rule, 'af', ('inet', 'inet6'), where))
    words += _hosts(rule, False)
    if rule.get('options'):
        words.append(str(rule['options']))
    return ' '.join(words)


_RENDERERS = {
    'normalization': render_normalization_rule,
    'translation': render_translation_rule,
    'filtering': render_filter_rule,
}


def _render_items(section, items, platform):
    """Render one section's items to (line, origin) pairs; raise PfError listing every bad item."""
    lines, errors = [], []
    for number, item in enumerate(items or [], 1):
        where = '%s item %d' % (section, number)
        try:
            if isinstance(item, dict):
                renderer = _RENDERERS.get(section)
                if renderer is None:
                    raise PfError(['%s: %s takes rule lines (strings), not mappings' % (where, section)])
                line = renderer(item, platform, where)
            elif isinstance(item, str):
                line = item.strip()
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


def _render_macros(macros):
    lines, errors = [], []
    for name, value in (macros or {}).items():
        if isinstance(value, (list, tuple)):
            value = '{ %s }' % ', '.join(str(v) for v in value)
        value = str(value)
        if '"' in value or '\n' in value:
            errors.append("macros.%s: the value cannot contain '\"' or a line break" % name)
            continue
        lines.append(('%s = "%s"' % (name, value), 'macros.%s' % name))
    if errors:
        raise PfError(errors)
    return lines


def _render_tables(tables):
    lines = []
    for number, table in enumerate(tables or [], 1):
        words = ['table', '<%s>' % table.get('name', '')]
        words += [flag for flag in _TABLE_FLAGS if table.get(flag)]
        for path in table.get('files') or []:
            words += ['file', '"%s"' % path]
        entries = table.get('entries') or []
        if entries or not table.get('files'):
            words.append('{ %s }' % ', '.join(str(e) for e in entries) if entries else '{ }')
        lines.append((' '.join(words), 'tables item %d' % number))
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


class Rendered(object):
    """The rendered anchor and loader texts, with where each line came from."""

    def __init__(self, anchor_text, anchor_origins, conf_text, conf_origins):
        self.anchor_text = anchor_text
        self.anchor_origins = anchor_origins
        self.conf_text = conf_text
        self.conf_origins = conf_origins


def check_spec(spec):
    errors = []
    if spec['platform'] not in PLATFORMS:
        errors.append('platform must be one of %s' % ', '.join(sorted(PLATFORMS)))
        raise PfError(errors)
    if not ANCHOR_NAME.match(spec['anchor'] or '') or spec['anchor'] == APPLE_ANCHOR:
        errors.append("anchor %r: use letters, digits, '_', '.' and '-', starting with a letter or "
                      "digit, and not Apple's 'com.apple'" % spec['anchor'])
    for name in spec.get('macros') or {}:
        if not MACRO_NAME.match(name):
            errors.append("macros: bad macro name '%s': letters, digits and '_', not starting with a digit" % name)
        elif name in _RESERVED:
            errors.append("macros: macro name '%s' is a pf keyword" % name)
    if spec['platform'] == 'openbsd':
        for section in ('normalization', 'translation'):
            if spec.get(section):
                errors.append("%s: OpenBSD pf has no %s section; use 'match' rules with scrub (...), "
                              "nat-to or rdr-to under filtering" % (section, section))
    if errors:
        raise PfError(errors)


def render_anchor(spec):
    """Render the anchor file: (text, origins)."""
    platform = spec['platform']
    errors = []
    blocks = []
    parts = [('Macros', lambda: _render_macros(spec.get('macros'))),
             ('Tables', lambda: _render_tables(spec.get('tables')))]
    for section in ('normalization', 'translation', 'filtering'):
        parts.append((section.capitalize(), lambda s=section: _render_items(s, spec.get(s), platform)))
    for title, make in parts:
        try:
            blocks.append((title, make()))
        except PfError as exc:
            errors.extend(exc.errors)
    if errors:
        raise PfError(errors)
    header = ['# Managed by Ansible (netvirt.overlay.pf_rules): pf anchor "%s" for %s.' % (
        spec['anchor'], PLATFORMS[platform]['title']),
        '# Edits are overwritten.  Options and queues live in the loader file.']
    return _assemble(header, blocks)


def _uses_macros(lines):
    return any('$' in line for line, _origin in lines)


def render_conf(spec, anchor_path):
    """Render the loader file that pf loads as its main rule set: (text, origins)."""
    platform = spec['platform']
    name = spec['anchor']
    options = _render_items('options', spec.get('options'), platform)
    queueing = _render_items('queueing', spec.get('queueing'), platform)
    apple = platform == 'macos' and spec.get('macos_apple_anchors', True)
    hooks_scrub, hooks_nat, hooks_filter, loads = [], [], [], []
    if apple:
        hooks_scrub.append(('scrub-anchor "%s/*"' % APPLE_ANCHOR, None))
        hooks_nat += [('nat-anchor "%s/*"' % APPLE_ANCHOR, None), ('rdr-anchor "%s/*"' % APPLE_ANCHOR, None)]
        hooks_filter += [('dummynet-anchor "%s/*"' % APPLE_ANCHOR, None), ('anchor "%s/*"' % APPLE_ANCHOR, None)]
        loads.append(('load anchor "%s" from "%s"' % (APPLE_ANCHOR, APPLE_ANCHOR_PATH), None))
    if platform != 'openbsd':
        if spec.get('normalization'):
            hooks_scrub.append(('scrub-anchor "%s"' % name, None))
        if spec.get('translation'):
            hooks_nat += [('nat-anchor "%s"' % name, None), ('rdr-anchor "%s"' % name, None),
                          ('binat-anchor "%s"' % name, None)]
    hooks_filter.append(('anchor "%s"' % name, None))
    loads.append(('load anchor "%s" from "%s"' % (name, anchor_path), None))
    macros = _render_macros(spec.get('macros')) if _uses_macros(options + queueing) else []
    header = ['# Managed by Ansible (netvirt.overlay.pf_rules): the %s rule set that loads' % (
        PLATFORMS[platform]['title']),
        '# anchor "%s".  Check any edit with: pfctl -v -n -f THIS_FILE' % name]
    blocks = [('Macros used by options and queues', macros), ('Options', options),
              ('Normalization hooks', hooks_scrub), ('Queueing', queueing),
              ('Translation hooks', hooks_nat), ('Filtering hooks', hooks_filter),
              ('Anchor contents', loads)]
    return _assemble(header, blocks)


def build(spec, anchor_path):
    """Render and statically validate both files.  Raises PfError with every problem found."""
    check_spec(spec)
    errors = []
    anchor = conf = None
    try:
        anchor = render_anchor(spec)
    except PfError as exc:
        errors.extend(exc.errors)
    try:
        conf = render_conf(spec, anchor_path)
    except PfError as exc:
        errors.extend(exc.errors)
    if errors:
        raise PfError(errors)
    errors += validate_text(anchor[0], spec['platform'], anchor[1], 'anchor file', kind='anchor')
    errors += validate_text(conf[0], spec['platform'], conf[1], 'loader file', kind='ruleset')
    if errors:
        raise PfError(errors)
    return Rendered(anchor[0], anchor[1], conf[0], conf[1])


# --------------------------------------------------------------------------- persistence

def launchd_plist(label, program_arguments):
    """The launchd item that loads the rule set at boot, as XML plist bytes."""
    return plistlib.dumps({
        'Label': label,
        'ProgramArguments': [str(arg) for arg in program_arguments],
        'RunAtLoad': True,
    }, fmt=plistlib.FMT_XML, sort_keys=True)


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


def parse_pf_status(output):
    """'Enabled', 'Disabled' or None from the output of 'pfctl -s info'."""
    match = re.search(r'^Status:\s*(Enabled|Disabled)', output or '', re.MULTILINE)
    return match.group(1) if match else None
