# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recording test double for launchctl(1): print, bootout and bootstrap in the system domain.

Shares PF_DOUBLE_STATE with the pfctl double (calls.jsonl gets ["launchctl", ...] lines;
launchd.json holds the loaded labels; a test may preset a job as {"path", "state", "runs"}
to stand for one launchd started itself, such as Apple's com.apple.pfctl).  'bootstrap system PLIST' checks what launchd
would need (an XML plist, not group/world writable, a Label, ProgramArguments as a list
of single arguments) and then runs ProgramArguments as RunAtLoad would; if that pfctl
refuses the rule file (exit 99: never validated) bootstrap fails with exit 5.
"""

import json
import os
import plistlib
import subprocess
import sys

STATE = os.environ['PF_DOUBLE_STATE']
PATH = os.path.join(STATE, 'launchd.json')


def loaded():
    try:
        with open(PATH) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def save(labels):
    with open(PATH, 'w') as handle:
        json.dump(labels, handle)


def main(argv):
    with open(os.path.join(STATE, 'calls.jsonl'), 'a') as handle:
        handle.write(json.dumps(['launchctl'] + argv) + '\n')
    labels = loaded()
    if len(argv) == 2 and argv[0] in ('print', 'bootout') and argv[1].startswith('system/'):
        label = argv[1][len('system/'):]
        if label not in labels:
            sys.stderr.write('Could not find service "%s" in domain for system\n' % label)
            return 113 if argv[0] == 'print' else 3
        if argv[0] == 'bootout':
            del labels[label]
            save(labels)
        else:
            entry = labels[label]
            if isinstance(entry, dict):     # a job preset by a test, e.g. Apple's com.apple.pfctl
                print('%s = {\n\tpath = %s\n\tstate = %s\n\truns = %d\n}' % (
                    argv[1], entry['path'], entry['state'], entry['runs']))
            else:
                print('%s = {\n\tpath = %s\n\tstate = not running\n\truns = 1\n}' % (argv[1], entry))
        return 0
    if len(argv) == 3 and argv[:2] == ['bootstrap', 'system']:
        path = argv[2]
        st = os.stat(path)
        if st.st_mode & 0o022:
            sys.stderr.write('Bootstrap failed: 5: Input/output error (%s is group/world writable)\n' % path)
            return 5
        with open(path, 'rb') as handle:
            data = handle.read()
        if not data.startswith(b'<?xml'):
            sys.stderr.write('Bootstrap failed: 5: not an XML property list\n')
            return 5
        item = plistlib.loads(data)
        args = item.get('ProgramArguments')
        if not isinstance(args, list) or not args or any(not isinstance(a, str) for a in args) \
                or not os.path.isabs(args[0]) or ' ' in args[0] or not os.access(args[0], os.X_OK):
            sys.stderr.write('Bootstrap failed: 5: ProgramArguments must list the program (an absolute path) '
                             'and then one argument per item\n')
            return 5
        if item['Label'] in labels:
            sys.stderr.write('Bootstrap failed: 5: service already loaded\n')
            return 5
        if item.get('RunAtLoad'):
            rc = subprocess.call(args)
            if rc == 99:
                sys.stderr.write('Bootstrap failed: RunAtLoad program refused the rule file\n')
                return 5
        labels[item['Label']] = path
        save(labels)
        return 0
    sys.stderr.write('launchctl double: unsupported call %r\n' % (argv,))
    return 64


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
