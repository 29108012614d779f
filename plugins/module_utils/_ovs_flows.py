# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_flows' run: the flows of one cookie and the groups of one bridge, changed in one OpenFlow bundle.

The module file is its documentation, its argument spec and ``run(module)``. The flow and group
syntax checks and the group planning are in ``_openflow``; here is what asks ovs-ofctl
(diff-flows, dump-groups, bundle) and turns its answers into removed/added.
"""

from __future__ import annotations

import os
import re
import tempfile

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import DEFAULT_OPENFLOW_PROTOCOL, FLOW_COOKIES
from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, checked_or_fail, integer
from ansible_collections.netvirt.overlay.plugins.module_utils._openflow import (
    check_flows, check_groups, parse_group_dump, plan_groups)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError, check_ifname


# ovs_flows' options; each item of ovs_bridges' openflow takes the same.
FLOWS_ARGUMENT_SPEC = dict(
    bridge=dict(type='str', required=True),
    flows=dict(type='list', elements='str'),
    groups=dict(type='list', elements='str'),
    cookie=dict(type='int', default=FLOW_COOKIES['overlay']),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    protocol=dict(type='str', default=DEFAULT_OPENFLOW_PROTOCOL, choices=['OpenFlow14', 'OpenFlow15']),
)


class FlowsError(Exception):
    """ovs-ofctl refused or failed; ``fields`` go into the failed result."""

    def __init__(self, msg, **fields):
        super(FlowsError, self).__init__(msg)
        self.fields = fields


def cookie_text(cookie):
    return 'cookie=0x%x' % cookie


def with_cookie(flow, cookie):
    return '%s,%s' % (cookie_text(cookie), flow.strip())


def check_cookie(cookie):
    """A cookie of flows someone owns (1 to 2^64-1); InputError else."""
    try:
        integer(cookie, 'cookie', 1, 2 ** 64 - 1)
    except InputError as exc:
        raise InputError('%s (0 is the cookie of flows that nobody owns)' % exc)


def check_request(p):
    """The flows to write, every input checked; InputError/PlanError before the switch is asked anything."""
    check_cookie(p['cookie'])
    check_ifname(p['bridge'], 'bridge')
    flows = p['flows']
    if p['state'] == 'absent':
        if flows:
            raise InputError('flows: state absent removes every flow of cookie 0x%x from %s; give no flows with it'
                             % (p['cookie'], p['bridge']))
        return []
    if not flows:
        # An empty desired set is "remove them all": that must be said, not fall out of a template.
        raise InputError('flows: the list is %s, which would remove every flow of cookie 0x%x from %s; to remove '
                         'them on purpose write state: absent (without flows)'
                         % ('missing' if flows is None else 'empty', p['cookie'], p['bridge']))
    check_flows(flows, 'flows')
    return [f.strip() for f in flows]


def check_group_request(p):
    """{group_id: text} the bridge is to have, or None when the task leaves the groups alone."""
    if p['groups'] is None:
        return None
    if p['state'] == 'absent':
        raise InputError('groups: state absent removes the flows of cookie 0x%x only; give no groups with it'
                         % p['cookie'])
    return check_groups(p['groups'])


def ofctl_error(err, path, flows):
    """ovs-ofctl's complaint about line N of the flow file, told against the entry it is about."""
    found = re.search(re.escape(path) + r':(\d+): (.*)', err)
    if found and 1 <= int(found.group(1)) <= len(flows):
        index = int(found.group(1)) - 1
        return "flows[%d] '%s': ovs-ofctl: %s" % (index, flows[index], found.group(2).strip())
    return None


def parse_diff(output, cookie):
    """diff-flows lines -> (removed, added), keeping only flows with our cookie."""
    mark = cookie_text(cookie)
    removed, added = [], []
    for line in output.splitlines():
        if len(line) < 2 or line[0] not in '+-':
            continue
        flow = line[1:].strip()
        if re.search(r'(^|\s)%s(\s|$)' % re.escape(mark), flow) is None:
            continue
        (added if line[0] == '+' else removed).append(flow)
    return removed, added


def delete_strict(flow):
    """A printed flow -> the match of a strict delete (no cookie, no actions)."""
    match = flow.split(' actions=', 1)[0]
    words = [w for w in re.split(r'[\s]+', match) if w and not w.startswith('cookie=')]
    return 'delete_strict ' + ','.join(words)


# ovs-ofctl's words for a port name it cannot resolve ("NAME: invalid or unknown port for in_port",
# "NAME: output to unknown port").
UNKNOWN_PORT_RE = re.compile(r':\d+: ([^\s:]+): [^\n]*unknown port')
NOT_A_BRIDGE_RE = re.compile(r'is not a bridge or a socket|failed to connect to|Connection refused|No such file or directory')
# OpenFlow port numbers go up to 0xfeff; stand-ins for ports that do not exist yet count down from there.
HIGHEST_PORT = 0xfeff


def port_pattern(name):
    """A port name or number as a whole word of a flow (after =, :, ( or a comma)."""
    return re.compile(r'(?<=[=:(,])%s(?=[,)\s]|$)' % re.escape(name))


def ports_in_use(module, ofctl, p):
    """Port numbers the bridge has now (stand-ins must not be one of them)."""
    rc, out, _err = module.run_command([ofctl, '-O', p['protocol'], 'dump-ports-desc', p['bridge']])
    return set(int(n) for n in re.findall(r'^\s*(\d+)\(', out, re.M)) if rc == 0 else set()


def ask_for_diff(module, ofctl, p, flows, desired):
    """(removed, added) from diff-flows; in check mode, ports that do not exist yet get stand-ins.

    Returns (None, []) in check mode when there is no bridge (nor switch) to ask: everything is new;
    otherwise ((removed, added), names of the ports that got stand-ins).
    """
    stand_ins = {}
    while True:
        fd, path = tempfile.mkstemp(prefix='ovs_flows-', suffix='.txt')
        try:
            with os.fdopen(fd, 'w') as handle:
                handle.write(''.join('%s\n' % f for f in flows))
            # diff-flows exits 2 when there are differences, 1 on errors.
            rc, out, err = module.run_command([ofctl, '-O', p['protocol'], '--names', 'diff-flows', p['bridge'], path])
        finally:
            os.unlink(path)
        if rc in (0, 2):
            break
        unknown = UNKNOWN_PORT_RE.search(err)
        if module.check_mode and unknown and unknown.group(1) not in stand_ins:
            used = ports_in_use(module, ofctl, p) | set(stand_ins.values())
            number = max(n for n in range(1, HIGHEST_PORT + 1) if n not in used)
            stand_ins[unknown.group(1)] = number
            pattern = port_pattern(unknown.group(1))
            flows = [pattern.sub(str(number), f) for f in flows]
            continue
        if module.check_mode and not stand_ins and NOT_A_BRIDGE_RE.search(err):
            return None, []
        raise FlowsError(ofctl_error(err, path, desired) or 'bridge %s: ovs-ofctl diff-flows failed: %s'
                         % (p['bridge'], err.strip() or out.strip()))
    removed, added = parse_diff(out, p['cookie'])
    for name, number in stand_ins.items():
        pattern = port_pattern(str(number))
        added = [pattern.sub(name, f) for f in added]
    return (removed, added), sorted(stand_ins)


def groups_on_switch(module, ofctl, p):
    """{group_id: text} of the bridge; {} in check mode when there is no bridge (nor switch) yet."""
    rc, out, err = module.run_command([ofctl, '-O', p['protocol'], '--names', 'dump-groups', p['bridge']])
    if rc == 0:
        return parse_group_dump(out)
    if module.check_mode and NOT_A_BRIDGE_RE.search(err):
        return {}
    raise FlowsError('bridge %s: ovs-ofctl dump-groups failed: %s' % (p['bridge'], err.strip() or out.strip()))


def apply_bundle(module, ofctl, p, lines, removed, added):
    """All the flow and group mods as one OpenFlow bundle: all of them or none."""
    fd, path = tempfile.mkstemp(prefix='ovs_flows-', suffix='.txt')
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        rc, out, err = module.run_command([ofctl, '-O', p['protocol'], 'bundle', p['bridge'], path])
        if rc != 0:
            raise FlowsError('ovs-ofctl could not apply the flows and groups to %s (nothing was changed, the '
                             'bundle is atomic): %s' % (p['bridge'], err.strip()), removed=removed, added=added)
        if 'normalization changed' in err:
            # A field the check does not know lost its prerequisite: the switch holds less than written.
            return ['ovs-ofctl dropped match fields that lack a prerequisite: %s' % err.strip()]
        return []
    finally:
        os.unlink(path)


def check_all(p):
    """(flows to write, {group_id: text} or None): every input of one request checked, before the
    switch is asked anything (InputError/PlanError)."""
    return check_request(p), check_group_request(p)


def converge_flows(module, p, request):
    """One bridge's flows and groups made what ``p`` asks (``request``: check_all(p)); returns the
    result fields (changed, removed, added, ..., warnings). FlowsError when ovs-ofctl fails."""
    desired, want_groups = request
    flows = [with_cookie(f, p['cookie']) for f in desired]
    # A fresh host in check mode: Open vSwitch is to be installed by an earlier task.
    ofctl = module.get_bin_path('ovs-ofctl', required=not module.check_mode)
    diff, ports_to_come = ask_for_diff(module, ofctl, p, flows, desired) if ofctl else (None, [])
    if diff is None:
        removed, added = [], flows
    else:
        removed, added = diff
    groups_removed, groups_added, (groups_first, groups_last) = [], [], ([], [])
    if want_groups is not None:
        have_groups = groups_on_switch(module, ofctl, p) if diff is not None else {}
        groups_removed, groups_added, (groups_first, groups_last) = plan_groups(want_groups, have_groups)
    changed = bool(removed or added or groups_removed or groups_added)
    warnings = []
    if changed and not module.check_mode:
        lines = (groups_first + ['flow ' + delete_strict(f) for f in removed] + ['flow add ' + f for f in added]
                 + groups_last)
        warnings += apply_bundle(module, ofctl, p, lines, removed, added)
        if groups_added:
            printed = groups_on_switch(module, ofctl, p)
            warnings += ['group %d is printed by the switch as %r, not as given (%r): write it that way, or every run '
                         'changes it again' % (group_id, printed.get(group_id), text)
                         for group_id, text in sorted(want_groups.items()) if printed.get(group_id) != text]
    return dict(changed=changed, removed=removed, added=added, removed_groups=groups_removed,
                added_groups=groups_added, ports_to_come=ports_to_come, warnings=warnings)


def diff_text(lines):
    return ''.join('%s\n' % line for line in lines)


def run(module):
    """The whole module run (exits or fails the module)."""
    request = checked_or_fail(module, check_all, (PlanError,))
    try:
        result = converge_flows(module, module.params, request)
    except FlowsError as exc:
        module.fail_json(msg=str(exc), **exc.fields)
    for warning in result.pop('warnings'):
        module.warn(warning)
    if module._diff:
        result['diff'] = dict(before=diff_text(result['removed'] + result['removed_groups']),
                              after=diff_text(result['added'] + result['added_groups']))
    module.exit_json(**result)
