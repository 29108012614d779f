# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: verification_table
short_description: Render verification results as a plain-text table
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - One line per check with what was expected, what was measured and PASS or FAIL, and a last
    line that counts them. Used by C(playbooks/lab/verify.yml).
options:
  _input:
    description: Rows, each with C(check), C(expect), C(measured) and C(ok).
    type: list
    elements: dict
    required: true
'''

EXAMPLES = r'''
- name: Print the table
  ansible.builtin.debug:
    msg: "{{ rows | netvirt.overlay.verification_table }}"
'''

RETURN = r'''
_value:
  description: The table, lines separated by newlines.
  type: str
'''


def verification_table(rows):
    header = ('check', 'expect', 'measured', 'result')
    body = [(str(r['check']), str(r['expect']), str(r['measured']), 'PASS' if r['ok'] else 'FAIL') for r in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(4)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    lines = [fmt % header, fmt % tuple('-' * w for w in widths)]
    lines += [fmt % line for line in body]
    passed = sum(1 for r in rows if r['ok'])
    lines.append('%d of %d checks passed' % (passed, len(rows)))
    return '\n'.join(line.rstrip() for line in lines)


class FilterModule(object):
    def filters(self):
        return {'verification_table': verification_table}
