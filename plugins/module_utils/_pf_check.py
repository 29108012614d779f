# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static pre-check of pf rule files, before ``pfctl -n`` sees them.

Pure Python (no Ansible imports) so the unit tests can drive it directly.

The checker reads a file the way pfctl's lexer does (backslash continuations, ``#``
comments, single or double quotes, ``$macro`` expansion outside quotes and re-lexing of
the value, ``{ }`` lists over several lines, inline ``anchor "x" { ... }`` blocks) and
gives one of three verdicts:

* ``refuse`` -- it found something the target platform's pfctl refuses (each error names
  the line); the module stops before pfctl is asked;
* ``defer`` -- it met something it does not model (an unknown statement or option, a
  keyword a newer release may know, an ``include``d file); the verdict is pfctl's;
* ``accept`` -- nothing wrong that it knows of; ``pfctl -n`` still has the last word.

It only refuses what it knows pfctl refuses, so a valid file is never stopped here.
What it knows is written down in the grammar tables below; each entry names where the
rule comes from (pf.conf(5) or pfctl's parse.y of the platform).
"""

from __future__ import annotations

import ipaddress
import re

# ---------------------------------------------------------------------------- grammar

ORDER_CLASSIC = ('options', 'ethernet', 'normalization', 'queueing', 'translation', 'filtering')
SECTION_NOUN = {
    'options': 'option',
    'ethernet': 'ethernet rule',
    'normalization': 'normalization rule',
    'queueing': 'queueing rule',
    'translation': 'translation rule',
    'filtering': 'filter rule',
}

# Top-level statements: the section pfctl's check_rulestate() files them under (None:
# no order applies -- macros, tables, load anchor and include go anywhere).
# Statements every platform has, then what each adds.
_EVERYWHERE = {'set': 'options', 'queue': 'queueing', 'pass': 'filtering', 'block': 'filtering',
               'antispoof': 'filtering', 'anchor': 'filtering', 'table': None, 'load': None, 'include': None}
# scrub, altq and the translation rules with their anchors: macOS and FreeBSD, gone from OpenBSD.
_OLD_PF = dict(_EVERYWHERE, scrub='normalization', altq='queueing', **dict.fromkeys(
    ('nat', 'rdr', 'binat', 'nat-anchor', 'rdr-anchor', 'binat-anchor'), 'translation'))
_STATEMENTS = {
    'macos': dict(_OLD_PF, **{'scrub-anchor': 'normalization', 'dummynet': 'filtering', 'dummynet-anchor': 'filtering'}),
    'freebsd': dict(_OLD_PF, ether='ethernet', match='filtering'),
    'openbsd': dict(_EVERYWHERE, match='filtering'),
}

# Statements a platform is known not to have, with the hint that goes into the error.
# Anything not listed here nor in _STATEMENTS is left to pfctl (verdict 'defer').
_ABSENT = {
    'openbsd': {
        'scrub': "OpenBSD pf has no scrub rules (since 4.6); use 'match in all scrub (...)'",
        'nat': "OpenBSD pf has no nat rules (since 4.7); use 'match out on IF ... nat-to ADDR'",
        'rdr': "OpenBSD pf has no rdr rules (since 4.7); use 'pass in on IF ... rdr-to ADDR'",
        'binat': "OpenBSD pf has no binat rules (since 4.7); use 'binat-to' on a pass or match rule",
        'nat-anchor': "OpenBSD pf has no nat-anchor (since 4.7); a plain 'anchor' carries nat-to rules",
        'rdr-anchor': "OpenBSD pf has no rdr-anchor (since 4.7); a plain 'anchor' carries rdr-to rules",
        'binat-anchor': "OpenBSD pf has no binat-anchor (since 4.7); a plain 'anchor' carries binat-to rules",
        'scrub-anchor': "OpenBSD pf has no scrub-anchor; a plain 'anchor' carries match ... scrub rules",
        'altq': "OpenBSD pf has no altq (since 5.5); use 'queue NAME on IF bandwidth ...'",
        'dummynet': 'dummynet exists only in macOS pf',
        'dummynet-anchor': 'dummynet exists only in macOS pf',
        'ether': 'ethernet (layer 2) rules exist only in FreeBSD pf (13.1 and later)',
    },
    'freebsd': {
        'dummynet': 'dummynet exists only in macOS pf',
        'dummynet-anchor': 'dummynet exists only in macOS pf',
    },
    'macos': {
        'match': "'match' rules exist only in OpenBSD and FreeBSD pf; macOS pf does not know them",
        'ether': 'ethernet (layer 2) rules exist only in FreeBSD pf (13.1 and later)',
    },
}

# 'set' options.  known: accepted; absent: refused; anything else: left to pfctl.
# ordered: the options whose parse.y action calls check_rulestate(PFCTL_STATE_OPTION);
# 'set skip', 'set state-policy', 'set require-order', 'set ruleset-optimization',
# 'set hostid' and 'set state-defaults' do not, so they may come after rules.
_OPTIONS_COMMON = ('block-policy', 'debug', 'fingerprints', 'hostid', 'limit', 'loginterface',
                   'optimization', 'ruleset-optimization', 'skip', 'state-policy', 'timeout')
OPTIONS = {
    'macos': dict(known=_OPTIONS_COMMON + ('require-order',),
                  absent=('reassemble', 'syncookies', 'keepcounters', 'fail-policy')),
    'freebsd': dict(known=_OPTIONS_COMMON + ('require-order', 'keepcounters', 'syncookies', 'fail-policy',
                                             'reassemble', 'state-defaults'),
                    absent=()),
    'openbsd': dict(known=_OPTIONS_COMMON + ('reassemble', 'state-defaults', 'syncookies'),
                    absent=('require-order', 'keepcounters')),
}
_ORDERED_OPTIONS = frozenset(('optimization', 'timeout', 'limit', 'loginterface', 'block-policy',
                              'fail-policy', 'fingerprints', 'debug', 'reassemble'))

TITLES = {'macos': 'macOS pf', 'freebsd': 'FreeBSD pf', 'openbsd': 'OpenBSD pf'}

# Words pfctl's lexer turns into keywords on every platform (the keywords[] table of
# parse.y, the part the three share): a macro cannot be named after one, because the
# lexer hands the parser a keyword where 'NAME = value' needs a plain string.  Keywords
# that only recent releases have are left out, so an older release's valid macro name
# is not refused.
_KEYWORDS_COMMON = frozenset((
    'all', 'allow-opts', 'altq', 'anchor', 'antispoof', 'any', 'bandwidth', 'binat', 'binat-anchor',
    'bitmask', 'block', 'block-policy', 'cbq', 'code', 'crop', 'debug', 'drop', 'drop-ovl', 'dup-to',
    'fingerprints', 'flags', 'floating', 'flush', 'for', 'fragment', 'from', 'global', 'group',
    'hfsc', 'hostid', 'icmp-type', 'icmp6-type', 'if-bound', 'in', 'include', 'inet', 'inet6',
    'keep', 'label', 'limit', 'linkshare', 'load', 'log', 'loginterface', 'max', 'max-mss',
    'max-src-conn', 'max-src-conn-rate', 'max-src-nodes', 'max-src-states', 'min-ttl', 'modulate',
    'nat', 'nat-anchor', 'no', 'no-df', 'no-route', 'no-sync', 'on', 'optimization', 'os', 'out',
    'overload', 'pass', 'port', 'priority', 'priq', 'probability', 'proto', 'qlimit', 'queue',
    'quick', 'random', 'random-id', 'rdr', 'rdr-anchor', 'realtime', 'reassemble', 'reply-to',
    'require-order', 'return', 'return-icmp', 'return-icmp6', 'return-rst', 'round-robin', 'route-to',
    'rtable', 'rule', 'ruleset-optimization', 'scrub', 'set', 'skip', 'sloppy', 'source-hash',
    'source-track', 'state', 'state-policy', 'static-port', 'sticky-address', 'synproxy', 'table',
    'tag', 'tagged', 'tbrsize', 'timeout', 'to', 'tos', 'ttl', 'upperlimit', 'urpf-failed', 'user',
))
# Words of the classic grammar (altq schedulers, nat/rdr/binat statements, scrub fragment
# modes, require-order) that OpenBSD dropped: keywords on macOS and FreeBSD only, so a
# macro by one of these names is not refused on OpenBSD.
_KEYWORDS_CLASSIC = frozenset((
    'altq', 'cbq', 'hfsc', 'priq', 'realtime', 'linkshare', 'upperlimit', 'tbrsize', 'priority', 'crop',
    'drop-ovl', 'require-order', 'nat', 'rdr', 'binat', 'nat-anchor', 'rdr-anchor', 'binat-anchor'))
KEYWORDS = {
    'macos': _KEYWORDS_COMMON | frozenset(('dummynet', 'dummynet-anchor', 'scrub-anchor', 'fastroute')),
    'freebsd': _KEYWORDS_COMMON | frozenset((
        'ether', 'fail-policy', 'fairq', 'codelq', 'match', 'keepcounters', 'syncookies',
        'state-defaults', 'prio', 'set-tos', 'divert-to', 'divert-reply', 'map-e-portset')),
    'openbsd': (_KEYWORDS_COMMON - _KEYWORDS_CLASSIC) | frozenset((
        'match', 'nat-to', 'rdr-to', 'binat-to', 'af-to', 'divert-to', 'divert-reply', 'divert-packet',
        'prio', 'set-tos', 'state-defaults', 'parent', 'default', 'burst', 'min', 'once')),
}

# Rule words from OpenBSD's 4.7+ translation grammar.  OpenBSD has them; FreeBSD 15 has
# them too but older FreeBSD does not, so there pfctl decides; macOS pf never had them.
_NEW_TRANSLATION_WORDS = ('nat-to', 'rdr-to', 'binat-to', 'af-to')

# Scrub options that pfctl refuses to see twice in one rule ("cannot be respecified").
_SCRUB_ONCE = ('no-df', 'min-ttl', 'max-mss', 'random-id', 'set-tos')

_ANCHOR_NAME_MAX = 63   # PF_ANCHOR_NAME_SIZE - 1
_TABLE_NAME_MAX = 31    # PF_TABLE_NAME_SIZE - 1
_TABLE_FLAGS = ('persist', 'const', 'counters')

MACRO_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


# ---------------------------------------------------------------------------- lexing

_TOKEN = re.compile(r'''
      (?P<quoted>"[^"]*"|'[^']*')
    | (?P<table><[A-Za-z0-9_][A-Za-z0-9_.:/-]*>)
    | (?P<macro>\$[A-Za-z0-9_]+)
    | (?P<arrow>->)
    | (?P<cmp><>|><|<=|>=|!=)
    | (?P<punct>[{}(),=!<>/])
    | (?P<word>[^\s"'{}(),=!<>$/]+(?:/[^\s"'{}(),=!<>$]*)*)
    | (?P<dollar>\$)
    | (?P<space>\s+)
''', re.VERBOSE)


class Token(object):
    __slots__ = ('kind', 'text', 'line', 'macro')

    def __init__(self, kind, text, line, macro=None):
        self.kind = kind
        self.text = text
        self.line = line
        self.macro = macro      # name of the macro this token came from, if any

    @property
    def value(self):
        """The text as pf sees it: quotes removed."""
        if self.kind == 'quoted':
            return self.text[1:-1]
        return self.text

    def is_punct(self, char):
        return self.kind == 'punct' and self.text == char

    def __repr__(self):
        return 'Token(%s, %r, %d)' % (self.kind, self.text, self.line)


def _strip_comment(line):
    quote = None
    for pos, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in ('"', "'"):
            quote = char
        elif char == '#':
            return line[:pos]
    return line


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


def tokenize(line, lineno=0):
    """Split one logical line into Tokens.  Raises ValueError on a stray quote."""
    tokens = []
    pos = 0
    while pos < len(line):
        if line[pos] in ('"', "'") and line.find(line[pos], pos + 1) < 0:
            raise ValueError('unterminated quoted string')
        match = _TOKEN.match(line, pos)
        pos = match.end()
        if match.lastgroup != 'space':
            tokens.append(Token(match.lastgroup, match.group(), lineno))
    return tokens


# ---------------------------------------------------------------------------- verdict

class Verdict(object):
    """What the static check concluded about one file."""

    def __init__(self):
        self.errors = []      # pfctl refuses these
        self.deferred = []    # the checker cannot tell; pfctl -n decides
        self.statements = set()   # the statement keywords met at the top level

    @property
    def status(self):
        if self.errors:
            return 'refuse'
        if self.deferred:
            return 'defer'
        return 'accept'


class _Checker(object):

    def __init__(self, platform, origins, label, kind):
        self.platform = platform
        self.title = TITLES[platform]
        self.origins = origins or {}
        self.label = label
        self.kind = kind
        self.statements = _STATEMENTS[platform]
        self.absent = _ABSENT[platform]
        self.options = OPTIONS[platform]
        self.keywords = KEYWORDS[platform]
        self.verdict = Verdict()
        self.macros = {}
        self.included = False            # after an include, macros may come from elsewhere
        self.require_order = platform != 'openbsd'
        self.state = None                # (index, line, section) of the last ordered statement
        self.order = ORDER_CLASSIC if platform == 'freebsd' else tuple(
            s for s in ORDER_CLASSIC if s != 'ethernet')

    # ------------------------------------------------------------------ reporting
    def where(self, lineno):
        where = '%s line %d' % (self.label, lineno) if self.label else 'line %d' % lineno
        origin = self.origins.get(lineno)
        if origin:
            where += ' (%s)' % origin
        return where

    def error(self, lineno, message):
        self.verdict.errors.append('%s: %s' % (self.where(lineno), message))

    def defer(self, lineno, message):
        self.verdict.deferred.append('%s: %s' % (self.where(lineno), message))

    # ------------------------------------------------------------------ macros
    def expand(self, tokens):
        """Replace $macro tokens by the re-lexed macro value, as pfctl's lexer does.

        pfctl expands a macro once: a '$name' inside a macro's value (written there in
        quotes) is not expanded again.  Returns the expanded list,
        or None after reporting an error."""
        out = []
        for tok in tokens:
            if tok.kind == 'dollar':
                self.error(tok.line, "'$' without a macro name")
                return None
            if tok.kind != 'macro':
                out.append(tok)
                continue
            name = tok.text[1:]
            if name not in self.macros:
                if self.included:
                    self.defer(tok.line, "macro '$%s' is not defined in this file; it may come from an "
                                         "included file" % name)
                    out.append(Token('word', 'MACRO_%s' % name, tok.line, name))
                    continue
                self.error(tok.line, "macro '$%s' is not defined (pfctl: macro '%s' not defined)" % (name, name))
                return None
            value = self.macros[name]
            if not value.strip():
                self.error(tok.line, "macro '$%s' is empty; in a rule it would vanish and widen or break "
                                     "the rule -- give it a value or take it out of the rule" % name)
                return None
            try:
                sub = tokenize(value, tok.line)
            except ValueError:
                self.error(tok.line, "macro '$%s' holds an unterminated quoted string" % name)
                return None
            for item in sub:
                item.macro = name
                if item.kind in ('macro', 'dollar'):
                    self.error(tok.line, "macro '$%s' holds '%s', which pf does not expand (it expands "
                                         "a macro once, and never inside quotes): define it with the inner "
                                         "macro outside the quotes, e.g. %s = \"{\" %s \"}\"" % (
                                             name, item.text, name, item.text))
                    return None
            out.extend(sub)
        return out

    def define(self, lineno, tokens):
        name = tokens[0].text
        if not MACRO_NAME.match(name):
            self.error(lineno, "bad macro name '%s': letters, digits and '_', not starting with a digit" % name)
            return
        if name in self.keywords:
            self.error(lineno, "macro name '%s' is a pf keyword; pfctl reads it as the keyword, not a "
                               "name (syntax error)" % name)
            return
        if len(tokens) == 2:
            self.error(lineno, "macro '%s' has no value" % name)
            return
        value = self.expand(tokens[2:])
        if value is None:
            return
        for tok in value:
            if tok.kind not in ('word', 'quoted'):
                self.error(lineno, "macro '%s': '%s' outside quotes%s; pf takes only words there "
                                   "(write e.g. %s = \"{ a, b }\")" % (
                                       name, tok.text, ' (from $%s)' % tok.macro if tok.macro else '', name))
                return
        self.macros[name] = ' '.join(tok.value for tok in value)

    # ------------------------------------------------------------------ statements
    def statements_of(self, text):
        """Yield (line, tokens, in_inline_anchor) per statement, macros expanded, '{ }' lists joined."""
        pending = None          # tokens of a statement whose '{' or '(' list is still open
        anchor_depth = 0
        for lineno, line in logical_lines(text):
            try:
                raw = tokenize(line, lineno)
            except ValueError as exc:
                self.error(lineno, str(exc))
                pending = None
                continue
            if pending is None and len(raw) >= 2 and raw[1].is_punct('=') and raw[0].kind == 'word':
                self.define(lineno, raw)
                continue
            tokens = self.expand(raw)
            if tokens is None:
                pending = None
                continue
            if pending is not None:
                tokens = pending + tokens
                pending = None
            if not tokens:
                continue
            if anchor_depth and len(tokens) == 1 and tokens[0].is_punct('}'):
                anchor_depth -= 1
                continue
            opens = sum(1 for t in tokens if t.is_punct('{') or t.is_punct('('))
            closes = sum(1 for t in tokens if t.is_punct('}') or t.is_punct(')'))
            if tokens[0].text == 'anchor' and tokens[-1].is_punct('{') and opens - closes == 1:
                yield tokens[0].line, tokens[:-1], anchor_depth
                anchor_depth += 1
                continue
            if opens > closes:
                pending = tokens        # pf lets a '{ }' list run over several lines
                continue
            yield tokens[0].line, tokens, anchor_depth
        if pending is not None:
            self.error(pending[0].line, "unbalanced '%s': the list is never closed" % (
                '{' if any(t.is_punct('{') for t in pending) else '('))
        if anchor_depth:
            self.error(len(text.split('\n')), "inline anchor '{' is never closed with '}'")

    def run(self, text):
        for lineno, tokens, inline in self.statements_of(text):
            self.statement(lineno, tokens, inline)
        return self.verdict

    def statement(self, lineno, tokens, inline):
        problem = _check_brackets(tokens)
        if problem:
            self.error(lineno, problem)
            return
        first = tokens[0]
        if first.kind != 'word':
            self.error(lineno, "statement cannot start with '%s'" % first.text)
            return
        keyword = first.text
        if keyword == 'no' and len(tokens) > 1 and tokens[1].text in ('nat', 'rdr', 'binat', 'scrub'):
            keyword = tokens[1].text
        if not inline:
            self.verdict.statements.add(keyword)
        if keyword in self.absent:
            self.error(lineno, "'%s' is not known to %s: %s" % (keyword, self.title, self.absent[keyword]))
            return
        if keyword not in self.statements:
            known_elsewhere = [p for p in _STATEMENTS if keyword in _STATEMENTS[p]]
            self.defer(lineno, "'%s' is not a statement this checker knows for %s%s; pfctl -n decides" % (
                keyword, self.title, ' (it is one on %s)' % ', '.join(TITLES[p] for p in known_elsewhere)
                if known_elsewhere else ''))
            return
        section = self.statements[keyword]
        if keyword == 'table':
            self.table(lineno, tokens)
            return
        if keyword == 'include':
            if len(tokens) != 2 or tokens[1].kind not in ('quoted', 'word'):
                self.error(lineno, "expected 'include \"FILE\"'")
                return
            self.included = True
            self.defer(lineno, 'include %s: the included file is checked by pfctl -n only' % tokens[1].text)
            return
        if keyword == 'load':
            if len(tokens) != 5 or tokens[1].text != 'anchor' or tokens[3].text != 'from' \
                    or tokens[4].kind not in ('quoted', 'word'):
                self.error(lineno, "expected 'load anchor NAME from \"FILE\"'")
            return
        if keyword == 'set' and not self.option(lineno, tokens):
            return
        if section == 'queueing' and keyword == 'queue' and self.platform != 'openbsd' \
                and any(t.text == 'parent' for t in tokens):
            self.error(lineno, "'queue ... parent' is OpenBSD's queueing syntax; %s uses altq and "
                               "'queue NAME bandwidth ... { children }'" % self.title)
            return
        if self.kind == 'anchor' and section in ('options', 'queueing') and not inline:
            message = "%s in an anchor is ignored by pfctl (it applies them only in the main rule set); put " \
                      "it in the main rule set (the module's '%s')" % (SECTION_NOUN[section], section)
            if self.origins:
                self.error(lineno, message)     # declared by the module's user: it never takes effect
            else:
                self.defer(lineno, message)     # a file as it is: pfctl accepts it, and ignores it
            return
        if keyword == 'set':
            if tokens[1].text in _ORDERED_OPTIONS:
                self.check_order(lineno, section, inline)
            return
        if not self.rule(lineno, tokens, keyword, section):
            return
        self.check_order(lineno, section, inline)

    def check_order(self, lineno, section, inline):
        if section is None or inline or self.platform == 'openbsd':
            return
        index = self.order.index(section)
        if self.require_order and self.state is not None and index < self.state[0]:
            self.error(lineno, '%s after %s at line %d; %s requires the order %s (or set require-order no)' % (
                SECTION_NOUN[section], SECTION_NOUN[self.state[2]], self.state[1], self.title,
                ', '.join(self.order)))
            return
        declared = (self.origins.get(lineno) or '').split(' item ')[0]
        if declared in ORDER_CLASSIC and declared != section and declared != 'options':
            noun = SECTION_NOUN[section]
            self.error(lineno, "this is %s %s but it is listed under '%s'" % (
                'an' if noun[0] in 'aeiou' else 'a', noun, declared))
            return
        self.state = (index, lineno, section)

    def option(self, lineno, tokens):
        if len(tokens) < 2 or tokens[1].kind != 'word':
            self.error(lineno, "'set' needs an option name")
            return False
        name = tokens[1].text
        if name in self.options['absent']:
            self.error(lineno, "option '%s' is not known to %s" % (name, self.title))
            return False
        if name not in self.options['known']:
            self.defer(lineno, "option '%s' is not one this checker knows for %s; pfctl -n decides" % (
                name, self.title))
            return False
        if name == 'require-order':
            if len(tokens) != 3 or tokens[2].text not in ('yes', 'no'):
                self.error(lineno, "expected 'set require-order yes' or 'set require-order no'")
                return False
            self.require_order = tokens[2].text == 'yes'
        if name in ('block-policy', 'fail-policy') and (len(tokens) != 3 or tokens[2].text not in ('drop', 'return')):
            self.error(lineno, "expected 'set %s drop' or 'set %s return'" % (name, name))
            return False
        return True

    # ------------------------------------------------------------------ tables
    def table(self, lineno, tokens):
        if len(tokens) < 2 or tokens[1].kind != 'table':
            if len(tokens) >= 2 and tokens[1].is_punct('<'):
                self.error(lineno, "table name must be written '<name>' with no spaces")
            else:
                self.error(lineno, "expected 'table <name>'")
            return
        name = tokens[1].text[1:-1]
        if len(name) > _TABLE_NAME_MAX:
            self.error(lineno, 'table name <%s> is too long (pf allows %d characters)' % (name, _TABLE_NAME_MAX))
            return
        pos = 2
        while pos < len(tokens):
            tok = tokens[pos]
            if tok.kind == 'word' and tok.text in _TABLE_FLAGS:
                pos += 1
            elif tok.kind == 'word' and tok.text == 'file':
                if pos + 1 >= len(tokens) or tokens[pos + 1].kind not in ('quoted', 'word'):
                    self.error(lineno, 'table <%s>: file needs a path' % name)
                    return
                pos += 2
            elif tok.is_punct('{'):
                close = next((i for i in range(pos + 1, len(tokens)) if tokens[i].is_punct('}')), None)
                if close is None:
                    self.error(lineno, "table <%s>: unbalanced '{'" % name)
                    return
                for entry in _list_entries(tokens[pos + 1:close]):
                    problem = check_address(entry, table_entry=True)
                    if problem:
                        self.error(lineno, 'table <%s>: %s' % (name, problem))
                        return
                pos = close + 1
            else:
                self.error(lineno, "table <%s>: unexpected '%s' (expected persist, const, counters, file "
                                   "\"PATH\" or { addresses })" % (name, tok.text))
                return

    # ------------------------------------------------------------------ rules
    def rule(self, lineno, tokens, keyword, section):
        words = [t.text for t in tokens if t.kind == 'word']
        # An empty list in a rule: pf refuses it; a renderer that drops it would widen the rule.
        for idx, tok in enumerate(tokens[:-1]):
            if tok.is_punct('{') and tokens[idx + 1].is_punct('}') and keyword != 'table':
                self.error(lineno, "empty list '{ }'%s: a rule needs at least one item" % (
                    ' (from macro $%s)' % tok.macro if tok.macro else ''))
                return False
        if keyword in ('anchor', 'nat-anchor', 'rdr-anchor', 'binat-anchor', 'scrub-anchor',
                       'dummynet-anchor') and len(tokens) > 1 and tokens[1].kind in ('quoted', 'word'):
            aname = tokens[1].value
            if aname.startswith('_') or '/_' in aname:
                self.error(lineno, "anchor names beginning with '_' are reserved for pf's own use")
                return False
            if len(aname.split('/')[-1].rstrip('*')) > _ANCHOR_NAME_MAX:
                self.error(lineno, 'anchor name %s is too long' % aname)
                return False
        if keyword == 'rdr-anchor':
            if _port_after(tokens, 'from') is not None:
                self.error(lineno, 'source port parameter not supported in rdr-anchor')
                return False
            dport = _port_after(tokens, 'to')
            if dport is not None and (dport.is_punct('{') or dport.kind == 'cmp' or ':' in dport.text):
                self.error(lineno, 'rdr-anchor takes one destination port, not a list, range or operator')
                return False
        if keyword == 'binat-anchor':
            if any(t.text in ('from', 'to') for t in tokens) or any(t.text == 'all' for t in tokens):
                self.error(lineno, 'fromto parameter not supported in binat-anchor')
                return False
        if section == 'filtering' or section == 'ethernet':
            if any(t.kind == 'arrow' for t in tokens):
                self.error(lineno, "'->' belongs in nat, rdr and binat rules, not in a filter rule")
                return False
            newer = [w for w in words if w in _NEW_TRANSLATION_WORDS]
            if newer and self.platform == 'macos':
                self.error(lineno, "'%s' is OpenBSD pf syntax; macOS pf needs a separate nat/rdr/binat rule" % newer[0])
                return False
            if newer and self.platform == 'freebsd':
                self.defer(lineno, "'%s' on a filter rule is FreeBSD 15 grammar; older FreeBSD pf needs a "
                                   "nat/rdr rule -- pfctl -n decides" % newer[0])
            if keyword == 'block' and self.platform == 'freebsd' and \
                    any(w in ('route-to', 'reply-to', 'dup-to') for w in words):
                # Refused by recent FreeBSD (sbin/pfctl/tests/files/pf1067), not by older releases.
                self.defer(lineno, 'route-to, reply-to and dup-to on a block rule: recent FreeBSD pfctl refuses '
                                   'this -- pfctl -n decides')
        if keyword in ('nat', 'rdr', 'binat'):
            if not self.translation(lineno, tokens, keyword, words):
                return False
        if keyword == 'scrub' and not self.scrub(lineno, tokens, words):
            return False
        if keyword in ('pass', 'block', 'match') and not self.flags_need_tcp(lineno, tokens, words):
            return False
        return self.ports(lineno, tokens)

    def translation(self, lineno, tokens, keyword, words):
        negated = tokens[0].text == 'no'
        arrow = next((i for i, t in enumerate(tokens) if t.kind == 'arrow'), None)
        if negated:
            if arrow is not None:
                self.error(lineno, "'no %s' rules take no '-> ADDRESS'" % keyword)
                return False
            return True
        if arrow is None:
            self.error(lineno, "%s rule needs '-> ADDRESS'" % keyword)
            return False
        target = tokens[arrow + 1:]
        if not target:
            self.error(lineno, "%s rule: nothing after '->'" % keyword)
            return False
        if keyword == 'binat':
            src = _operand_after(tokens, 'from')
            if src is None:
                self.error(lineno, "binat rule needs 'from ADDRESS' (one address or network)")
                return False
            if src[0].is_punct('{') or src[0].is_punct('!') or src[0].kind == 'table':
                self.error(lineno, 'binat rule: the from address must be one address or network, not a '
                                   'list, a negation or a table')
                return False
            if target[0].is_punct('{') or target[0].is_punct('!'):
                self.error(lineno, "binat rule: the address after '->' must be one address or network")
                return False
        if self.platform == 'freebsd':
            after = [t.text for t in target]
            if keyword == 'rdr' and 'static-port' in after:
                self.error(lineno, "the 'static-port' option is only valid with nat rules")
                return False
            if keyword == 'rdr' and 'map-e-portset' in after:
                self.error(lineno, "the 'map-e-portset' option is only valid with nat rules")
                return False
            if keyword == 'nat' and 'static-port' in after and 'map-e-portset' in after:
                self.error(lineno, "the 'map-e-portset' option can't be used with 'static-port'")
                return False
            if keyword == 'nat' and 'port' in after and ('static-port' in after or 'map-e-portset' in after):
                self.error(lineno, "'%s' can't be used when specifying a port range" % (
                    'static-port' if 'static-port' in after else 'map-e-portset'))
                return False
        return True

    def scrub(self, lineno, tokens, words):
        if 'quick' in words:
            self.error(lineno, "scrub rules do not support 'quick'")
            return False
        for option in _SCRUB_ONCE:
            if words.count(option) > 1:
                self.error(lineno, '%s cannot be respecified' % option)
                return False
        for option, high in (('min-ttl', 255), ('max-mss', 65535)):
            value = _word_after(tokens, option)
            if value is not None and value.isdigit() and int(value) > high:
                self.error(lineno, 'illegal %s value %s (0-%d)' % (option, value, high))
                return False
        if words.count('fragment') > 1:
            self.error(lineno, 'fragcache cannot be respecified')
            return False
        return True

    def flags_need_tcp(self, lineno, tokens, words):
        flags = _word_after(tokens, 'flags')
        if flags is None or flags == 'any':
            return True
        proto = _operand_after(tokens, 'proto')
        if proto is None:
            return True      # no proto: pfctl decides (the implicit default applies to tcp)
        protos = [t.text for t in proto if t.kind == 'word']
        if protos and 'tcp' not in protos and '6' not in protos:
            self.error(lineno, 'flags only apply to tcp (this rule is for %s)' % ', '.join(protos))
            return False
        return True

    def ports(self, lineno, tokens):
        for idx, tok in enumerate(tokens):
            if tok.text != 'port' or tok.kind != 'word' or idx + 1 >= len(tokens):
                continue
            nxt = tokens[idx + 1]
            items = []
            if nxt.is_punct('{'):
                for later in tokens[idx + 2:]:
                    if later.is_punct('}'):
                        break
                    if later.kind == 'word':
                        items.append(later.text)
            elif nxt.kind == 'word':
                items.append(nxt.text)
                # 'port 1000 >< 2000' and 'port 6000:6010' forms
                if idx + 3 < len(tokens) and tokens[idx + 2].kind == 'cmp' and tokens[idx + 2].text in ('<>', '><'):
                    items.append(tokens[idx + 3].text)
            for item in items:
                parts = item.split(':')
                if len(parts) > 2 or not all(p.isdigit() or p == '*' for p in parts):
                    continue     # a service name or something pfctl resolves
                numbers = [int(p) for p in parts if p.isdigit()]
                if any(n > 65535 for n in numbers):
                    self.error(lineno, "illegal port value %s (0-65535)" % item)
                    return False
                if len(numbers) == 2 and numbers[0] > numbers[1]:
                    # Refused by recent FreeBSD pfctl (tests/files/pf1072); older ones load a range
                    # that matches nothing.
                    self.defer(lineno, 'port range %s runs backwards (it matches nothing; recent pfctl '
                                       'refuses it) -- pfctl -n decides' % item)
        return True


# ---------------------------------------------------------------------------- helpers

def _check_brackets(tokens):
    depth = {'{': 0, '(': 0}
    closing = {'}': '{', ')': '('}
    for tok in tokens:
        if tok.kind != 'punct':
            continue
        if tok.text in depth:
            depth[tok.text] += 1
        elif tok.text in closing:
            depth[closing[tok.text]] -= 1
            if depth[closing[tok.text]] < 0:
                return "unbalanced '%s'" % tok.text
    for opening, count in depth.items():
        if count:
            return "unbalanced '%s'" % opening
    return None


def _operand_after(tokens, word):
    """Tokens of the operand that follows ``word`` (a '{ }' list, '!' X, '( )' or one token)."""
    for idx, tok in enumerate(tokens):
        if tok.kind == 'word' and tok.text == word and idx + 1 < len(tokens):
            nxt = tokens[idx + 1]
            if nxt.is_punct('{') or nxt.is_punct('('):
                closer = '}' if nxt.text == '{' else ')'
                end = next((i for i in range(idx + 2, len(tokens)) if tokens[i].is_punct(closer)), len(tokens) - 1)
                return tokens[idx + 1:end + 1]
            if nxt.is_punct('!'):
                return tokens[idx + 1:idx + 3]
            return [nxt]
    return None


def _port_after(tokens, word):
    """The token after 'port' in the from (or to) part, or None."""
    start = next((i for i, t in enumerate(tokens) if t.kind == 'word' and t.text == word), None)
    if start is None:
        return None
    for idx in range(start + 1, len(tokens)):
        tok = tokens[idx]
        if tok.kind == 'word' and tok.text in ('to', 'from') and tok.text != word:
            return None
        if tok.kind == 'word' and tok.text == 'port' and idx + 1 < len(tokens):
            return tokens[idx + 1]
    return None


def _word_after(tokens, word):
    for idx, tok in enumerate(tokens[:-1]):
        if tok.kind == 'word' and tok.text == word and tokens[idx + 1].kind == 'word':
            return tokens[idx + 1].text
    return None


def _list_entries(tokens):
    """Entries of a '{ }' table list: 'a, b c', '!x' and '(em0)' are each one entry."""
    entries = []
    current = ''
    depth = 0
    for tok in tokens:
        if tok.is_punct('('):
            depth += 1
            current += '('
        elif tok.is_punct(')'):
            depth -= 1
            current += ')'
        elif depth:
            current += tok.value
        elif tok.is_punct(','):
            if current:
                entries.append(current)
            current = ''
        elif tok.is_punct('!'):
            if current:
                entries.append(current)
            current = '!'
        elif tok.is_punct('/') and current:
            current += '/'
        elif tok.kind in ('word', 'quoted'):
            if current and current != '!' and not current.endswith('/'):
                entries.append(current)
                current = ''
            current += tok.value
        else:
            entries.append('%s%s' % (current, tok.text))
            current = ''
    if current:
        entries.append(current)
    return entries


_HOSTNAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*(:(network|broadcast|peer|0))*(/\d{1,3})?$')


def check_address(entry, table_entry=False):
    """Return an error text for a bad address/table entry, None when pf may accept it."""
    body = entry[1:] if entry.startswith('!') else entry
    if not body:
        return "empty negation '!'"
    if body in ('self', 'any', 'no-route', 'urpf-failed'):
        return None
    if body.startswith('(') and body.endswith(')') or (body.startswith('(') and ')/' in body):
        return None
    addr, _sep, bits = body.partition('/')
    if bits and not bits.isdigit():
        return "'%s': the mask after '/' must be a number" % entry
    if re.match(r'^[0-9.]+$', addr):
        parts = addr.split('.')
        # pf reads '10/8' and '172.16/12' as 10.0.0.0/8 and 172.16.0.0/12 (and a resolver may
        # read '10.1' as 10.0.0.1): only what no form can mean is refused.
        if len(parts) > 4 or '' in parts or any(int(p) > 255 for p in parts) or (bits and int(bits) > 32):
            return "'%s' is not a valid IPv4 address or network" % entry
        return None
    if ':' in addr and re.match(r'^[0-9A-Fa-f:.]+(%\w+)?$', addr):
        try:
            ipaddress.ip_network(body.split('%')[0], strict=False)
        except ValueError:
            return "'%s' is not a valid IPv6 address or network" % entry
        return None
    if not _HOSTNAME.match(body):
        return "'%s' is not an address, network, host or interface name" % entry
    return None


def check_text(text, platform, origins=None, label=None, kind='ruleset'):
    """Check one pf file for ``platform``; return a Verdict (errors, deferred, status).

    ``origins`` maps a line number to where the line came from (e.g. 'filtering item 2')
    and ``label`` prefixes the line number (e.g. 'anchor file').  ``kind`` 'anchor' also
    refuses options and queue definitions, which pfctl ignores inside an anchor.
    """
    return _Checker(platform, origins, label, kind).run(text)


def validate_text(text, platform, origins=None, label=None, kind='ruleset'):
    """The errors of check_text (empty: nothing pfctl is known to refuse)."""
    return check_text(text, platform, origins, label, kind).errors
