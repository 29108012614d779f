# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recording test double for pfctl(8).  Not pf: it parses nothing.

State lives in the directory named by PF_DOUBLE_STATE:
  calls.jsonl     one JSON list (argv without the program) per call
  validated.json  fingerprints of every rule set that passed 'pfctl -n -f FILE'
  loaded          fingerprint of the rule set last loaded with 'pfctl -f FILE'
  enabled         exists while pf is "enabled"

A fingerprint is the sha256 of the file's bytes in which every 'include "PATH"' and
'load anchor NAME from "PATH"' has its PATH replaced by the fingerprint of that file,
so it covers the exact bytes of every file pf would read, wherever they live.
'pfctl -f FILE' (a load) exits 99 unless FILE's fingerprint was validated before.

PF_DOUBLE_REJECT (a regular expression): 'pfctl -n' fails like a parse error on the
first line, in any file read, that matches it.
PF_DOUBLE_FAIL_LOAD (any value): a validated load fails as if the kernel refused it.

Enabling: '-e' fails when pf is enabled (as pfctl does); '-E' (macOS) takes a reference
token, kept in tokens.json, and prints 'Token : N'; '-X N' releases it and pf goes off
when the last reference is gone; '-d' switches pf off.  '-F rules' flushes: 'loaded'
becomes 'flushed'.

Tables (tables.json, name -> addresses), after pf's documented rule: a load replaces the
addresses of every table the rule files define with an address list ('{ ... }', even an
empty one) and leaves a table defined without a list as it is (pfr_ina_define with no
addresses), so 'pfctl -t T -T add ADDR' entries survive a reload.  '-T show' prints them.
"""

import hashlib
import json
import os
import re
import sys

STATE = os.environ['PF_DOUBLE_STATE']
REF = re.compile(r'^(\s*(?:include|load\s+anchor\s+\S+\s+from)\s+)"([^"]+)"(.*)$')


def record(argv):
    with open(os.path.join(STATE, 'calls.jsonl'), 'a') as handle:
        handle.write(json.dumps(argv) + '\n')


def fingerprint(path, reject, depth=0):
    """Return (fingerprint, None) or (None, error message)."""
    if depth > 8:
        return None, 'include nesting too deep at %s' % path
    try:
        with open(path, 'rb') as handle:
            data = handle.read().decode('utf-8')
    except OSError:
        return None, 'cannot open the main config file or anchor file %s' % path
    out = []
    for number, line in enumerate(data.split('\n'), 1):
        if reject and re.search(reject, line):
            return None, '%s:%d: syntax error' % (path, number)
        match = REF.match(line)
        if match:
            sub, error = fingerprint(match.group(2), reject, depth + 1)
            if error:
                return None, error
            line = '%s"sha256:%s"%s' % (match.group(1), sub, match.group(3))
        out.append(line)
    return hashlib.sha256('\n'.join(out).encode('utf-8')).hexdigest(), None


TABLE = re.compile(r'^\s*table\s+<([^>]+)>([^{]*)(\{([^}]*)\})?')


def table_definitions(path, depth=0):
    """{name: [addresses] or None (no list)} of the table lines in path and what it loads."""
    found = {}
    with open(path) as handle:
        for line in handle:
            ref = REF.match(line)
            if ref and depth < 8:
                found.update(table_definitions(ref.group(2), depth + 1))
            match = TABLE.match(line)
            if match:
                body = match.group(4)
                found[match.group(1)] = None if match.group(3) is None else \
                    [item for item in re.split(r'[\s,]+', body) if item]
    return found


def load_json(name, default):
    try:
        with open(os.path.join(STATE, name)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def save_json(name, value):
    with open(os.path.join(STATE, name), 'w') as handle:
        json.dump(value, handle)


def main(argv):
    record(argv)
    flags = set()
    rule_file = show = release = flush = table = table_cmd = None
    addresses = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == '-f':
            rule_file = args.pop(0)
        elif arg == '-s':
            show = args.pop(0)
        elif arg in ('-a', '-D'):
            args.pop(0)
        elif arg == '-t':
            table = args.pop(0)
        elif arg == '-T':
            table_cmd = args.pop(0)
        elif arg == '-X':
            release = args.pop(0)
        elif arg == '-F':
            flush = args.pop(0)
        elif arg.startswith('-'):
            flags.update(arg[1:])
        elif table_cmd is not None:
            addresses.append(arg)
        else:
            sys.stderr.write('pfctl double: unexpected argument %r\n' % arg)
            return 64
    enabled = os.path.join(STATE, 'enabled')
    if table_cmd is not None:
        tables = load_json('tables.json', {})
        if table_cmd == 'add':
            tables[table] = sorted(set(tables.get(table, [])) | set(addresses))
            save_json('tables.json', tables)
        elif table_cmd == 'show':
            for address in tables.get(table, []):
                print('   %s' % address)
        return 0
    if show == 'info':
        print('Status: %s for 0 days 00:00:01           Debug: Urgent' % (
            'Enabled' if os.path.exists(enabled) else 'Disabled'))
        return 0
    if rule_file is not None:
        reject = os.environ.get('PF_DOUBLE_REJECT') if 'n' in flags else None
        digest, error = fingerprint(rule_file, reject)
        if error:
            sys.stderr.write('%s\n' % error)
            return 1
        validated = load_json('validated.json', [])
        if 'n' in flags:
            if digest not in validated:
                validated.append(digest)
            with open(os.path.join(STATE, 'validated.json'), 'w') as handle:
                json.dump(validated, handle)
            if 'v' in flags:
                with open(rule_file) as handle:
                    sys.stdout.write(handle.read())
            return 0
        if digest not in validated:
            sys.stderr.write('pfctl double: refusing to load %s: this rule set (sha256 %s) never passed '
                             'pfctl -n -f\n' % (rule_file, digest))
            return 99
        if os.environ.get('PF_DOUBLE_FAIL_LOAD'):
            sys.stderr.write('pfctl: DIOCADDRULE: Invalid argument\n')
            return 1
        with open(os.path.join(STATE, 'loaded'), 'w') as handle:
            handle.write(digest)
        tables = load_json('tables.json', {})
        for name, entries in table_definitions(rule_file).items():
            if entries is not None:
                tables[name] = entries
            else:
                tables.setdefault(name, [])
        save_json('tables.json', tables)
    tokens = load_json('tokens.json', [])
    if flush == 'rules':
        with open(os.path.join(STATE, 'loaded'), 'w') as handle:
            handle.write('flushed')
    if release is not None:
        if release not in tokens:
            sys.stderr.write('pfctl: invalid token %s\n' % release)
            return 1
        tokens.remove(release)
        save_json('tokens.json', tokens)
        if not tokens and os.path.exists(enabled):
            os.unlink(enabled)
            sys.stderr.write('pf disabled\n')
    if 'd' in flags:
        if not os.path.exists(enabled):
            sys.stderr.write('pfctl: pf not enabled\n')
            return 1
        os.unlink(enabled)
        sys.stderr.write('pf disabled\n')
    if 'E' in flags and 'n' not in flags:
        token = str(1000000 + len(load_json('calls_E.json', [])))
        save_json('calls_E.json', load_json('calls_E.json', []) + [token])
        tokens.append(token)
        save_json('tokens.json', tokens)
        open(enabled, 'w').close()
        sys.stderr.write('pf enabled\nToken : %s\n' % token)
    if 'e' in flags and 'n' not in flags:
        if os.path.exists(enabled):
            sys.stderr.write('pfctl: pf already enabled\n')
            return 1
        open(enabled, 'w').close()
        sys.stderr.write('pf enabled\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
