# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rolling upgrade of Open vSwitch and OVN (playbooks/upgrade.yml, role netvirt.overlay.upgrade):
which procedure OVN's upgrade documentation asks for between two versions, the order of the
machines, the target versions the package manager offers, and what the health checks read of a
chassis' tunnels (an OVN cluster's health is read in _ovn.py).

OVN's rules (Documentation/intro/install/ovn-upgrades.rst): a *rolling* upgrade (every
ovn-controller first, then the databases and ovn-northd) is supported from a long-term-support
(LTS) release to the next LTS or any release between them, and from a non-LTS release to the next
LTS. The first LTS was 22.03, then one every two years (24.03, 26.03...). Any other span takes the
*fail-safe* upgrade: ovn-controller is told to freeze its flows while its version differs from
ovn-northd's (``external_ids:ovn-match-northd-version``), then the databases and ovn-northd are
upgraded first and the chassis after them.

Open vSwitch 3.2 changed how clustered OVSDB files record a schema conversion, which 3.1 and
older servers cannot read (ovsdb(7), "Upgrading from version 3.1 and earlier to 3.2 and later"):
across that line no server of a cluster may see a conversion until every server runs the new
version. The member that created the cluster converts the schema when ovn-ctl starts it, so it
is upgraded last.
"""

from __future__ import annotations

import fnmatch
import re

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import TUNNEL_TYPES
from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import FilterInputError

# Kinds of machines, in the order their batch is upgraded within the chassis phase: a service node
# or a standby gateway first, the hypervisors (whose VMs see the loss) last.
CHASSIS_KINDS = ('service_node', 'gateway', 'hypervisor')
KINDS = ('controller',) + CHASSIS_KINDS
PROCEDURES = ('auto', 'rolling', 'fail-safe')


class UpgradeError(FilterInputError):
    pass


def upstream_version(version):
    """'3.5.0' of a package version such as '3.5.0-1+b1', '2:3.5.0-1' or '3.5.0-10.el9'."""
    text = str(version or '').strip()
    if not text:
        raise UpgradeError('no version given')
    if re.match(r'^\d+:', text):
        text = text.split(':', 1)[1]
    return text.rsplit('-', 1)[0] if '-' in text else text


def release_of(version):
    """(major, minor) of a version: (25, 3) for '25.03.0-1', (3, 5) for '3.5.0'."""
    match = re.match(r'^(\d+)\.(\d+)', upstream_version(version))
    if not match:
        raise UpgradeError("version %r does not start with MAJOR.MINOR" % (version,))
    return int(match.group(1)), int(match.group(2))


def is_ovn_lts(release):
    """OVN's long-term-support releases: 22.03, then every two years (24.03, 26.03, ...)."""
    major, minor = release
    return minor == 3 and major >= 22 and major % 2 == 0


def next_ovn_lts(release):
    """The first LTS release after ``release`` (22.03 for anything older)."""
    major, minor = release
    if major < 22 or (major == 22 and minor < 3):
        return (22, 3)
    candidate = major if (major % 2 == 0 and minor < 3) else major + (2 if major % 2 == 0 else 1)
    return (candidate, 3)


def _fmt(release):
    return '%d.%02d' % release


def ovn_procedure(current, target):
    """('rolling' or 'fail-safe', why) for an OVN upgrade from version current to target."""
    old, new = release_of(current), release_of(target)
    if new < old:
        raise UpgradeError('OVN %s is older than the installed %s: upgrade.yml does not downgrade' % (target, current))
    if new == old:
        return 'rolling', 'OVN %s to a newer build of the same release: rolling upgrade' % _fmt(old)
    lts = next_ovn_lts(old)
    if is_ovn_lts(old) and new <= lts:
        return 'rolling', 'OVN %s (LTS) to %s, not past the next LTS %s: rolling upgrade' % (_fmt(old), _fmt(new), _fmt(lts))
    if not is_ovn_lts(old) and new == lts:
        return 'rolling', 'OVN %s to the next LTS %s: rolling upgrade' % (_fmt(old), _fmt(new))
    return 'fail-safe', ('OVN %s to %s is past what a rolling upgrade supports (%s): fail-safe upgrade, the '
                         'databases and ovn-northd first while every chassis keeps its flows'
                         % (_fmt(old), _fmt(new), 'the next LTS, %s' % _fmt(lts) if is_ovn_lts(old)
                            else 'only the next LTS, %s' % _fmt(lts)))


def ovsdb_file_format_change(current, target):
    """Whether an Open vSwitch upgrade crosses 3.2, whose clustered databases record schema
    conversions in a format 3.1 and older cannot read."""
    return release_of(current) < (3, 2) <= release_of(target)


# ---------------------------------------------------------------------------------------------
# What the package manager offers


def apt_policy(text):
    """{package: {'installed': version or None, 'candidate': version or None, 'versions': [...]}}
    from the output of ``apt-cache policy PACKAGE...`` (C locale)."""
    found, current, in_table = {}, None, False
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(':'):
            current = line.rstrip()[:-1]
            found[current] = {'installed': None, 'candidate': None, 'versions': []}
            in_table = False
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith('Installed:') or stripped.startswith('Candidate:'):
            value = stripped.split(':', 1)[1].strip()
            found[current][stripped.split(':', 1)[0].lower()] = None if value == '(none)' else value
        elif stripped == 'Version table:':
            in_table = True
        elif in_table:
            # "     3.5.0-1+b1 500" or " *** 3.1.0-2+deb12u1 500"; the source lines below start with a priority
            match = re.match(r'^\s*(?:\*\*\* )?(\S+) (-?\d+)$', line)
            if match and len(line) - len(line.lstrip()) <= 5:
                found[current]['versions'].append(match.group(1))
    return found


def upgrade_version(policy, package, wanted=None):
    """The version of package to install: the candidate when wanted is empty, else the one offered
    version that matches wanted (exact, or a pattern such as '3.5.0*')."""
    entry = policy.get(package)
    if entry is None:
        raise UpgradeError('the package manager does not know %s' % package)
    if not wanted:
        if not entry['candidate']:
            raise UpgradeError('no version of %s can be installed: is the upgrade source configured?' % package)
        return entry['candidate']
    matches = [v for v in entry['versions'] if v == wanted or fnmatch.fnmatchcase(v, wanted)]
    if not matches:
        raise UpgradeError('%s %s is not offered by the package sources (they offer: %s)'
                           % (package, wanted, ', '.join(entry['versions']) or 'nothing'))
    if len(set(matches)) > 1:
        raise UpgradeError('%s %s matches several offered versions (%s): give one' % (package, wanted, ', '.join(matches)))
    return matches[0]


def upgrade_targets(policy, lines, wanted=None):
    """What one host installs: lines maps 'ovs' and 'ovn' to the package names that follow that
    version (a name in both counts as Open vSwitch's), wanted maps them to a version or pattern
    (empty: the candidate). Only installed packages are upgraded.

    Returns {'install': ['name=version', ...] (those not at their target yet), 'packages': {name:
    {'installed', 'target'}}, 'ovs' and 'ovn': the first installed package's {'installed',
    'target'} of each line, or None where the host has none of it}."""
    wanted = wanted or {}
    out = {'install': [], 'packages': {}, 'ovs': None, 'ovn': None}
    seen = set()
    for line in ('ovs', 'ovn'):
        for name in lines.get(line) or []:
            if name in seen:
                continue
            seen.add(name)
            entry = policy.get(name)
            if not entry or not entry.get('installed'):
                continue
            target = upgrade_version(policy, name, wanted.get(line))
            out['packages'][name] = {'installed': entry['installed'], 'target': target}
            if out[line] is None:
                out[line] = {'installed': entry['installed'], 'target': target}
            if target != entry['installed']:
                out['install'].append('%s=%s' % (name, target))
    return out


# ---------------------------------------------------------------------------------------------
# The plan


def _one_target(hosts, part):
    targets = sorted(set(upstream_version(h[part]['target']) for h in hosts if h.get(part)))
    if len(targets) > 1:
        raise UpgradeError('the hosts would reach different %s versions (%s): give the same package source and '
                           'version to every host' % (part.upper(), ', '.join(
                               '%s on %s' % (t, ', '.join(h['host'] for h in hosts if h.get(part)
                                                          and upstream_version(h[part]['target']) == t))
                               for t in targets)))
    return targets[0] if targets else None


def _to_do(host):
    return any(host.get(part) and host[part]['installed'] != host[part]['target'] for part in ('ovs', 'ovn'))


def upgrade_plan(hosts, procedure='auto'):
    """The order and the procedure of a rolling upgrade.

    hosts: a list of {'host', 'kind' (controller, service_node, gateway, hypervisor), 'ovs' and
    'ovn' ({'installed', 'target'} package versions, or None where the host has none), 'seed' (a
    controller that created the clusters and converts their schemas when it starts), 'priority'
    (a gateway's highest HA chassis priority)}, in inventory order.

    Returns {'procedure' (rolling, fail-safe, or none when every host is at its target), 'reason',
    'ovs_from', 'ovs_to', 'ovn_from', 'ovn_to' (oldest installed, target: upstream versions),
    'match_northd_version' (chassis freeze their flows while their version differs from northd's),
    'ovsdb_file_format_change', 'chassis_before', 'controllers', 'chassis_after' (host names, the
    batches in the order they run), 'skipped' (hosts already at their target)}."""
    if procedure not in PROCEDURES:
        raise UpgradeError('procedure must be one of %s, not %r' % (', '.join(PROCEDURES), procedure))
    for host in hosts:
        if host.get('kind') not in KINDS:
            raise UpgradeError('host %s: kind must be one of %s, not %r' % (host.get('host'), ', '.join(KINDS), host.get('kind')))
        for part in ('ovs', 'ovn'):
            entry = host.get(part)
            if entry and (not entry.get('installed') or not entry.get('target')):
                raise UpgradeError('host %s: %s needs the installed and the target version (%r)' % (host['host'], part.upper(), entry))
    ovs_to, ovn_to = _one_target(hosts, 'ovs'), _one_target(hosts, 'ovn')
    for host in hosts:
        for part in ('ovs', 'ovn'):
            entry = host.get(part)
            if entry and release_of(entry['target']) < release_of(entry['installed']):
                raise UpgradeError('host %s: %s %s is older than the installed %s: upgrade.yml does not downgrade'
                                   % (host['host'], part.upper(), entry['target'], entry['installed']))

    def oldest(part):
        found = [upstream_version(h[part]['installed']) for h in hosts if h.get(part)]
        return min(found, key=lambda v: [int(x) if x.isdigit() else x for x in re.split(r'[.~+]', v)]) if found else None

    ovs_from, ovn_from = oldest('ovs'), oldest('ovn')
    work = [h for h in hosts if _to_do(h)]
    plan = {'ovs_from': ovs_from, 'ovs_to': ovs_to, 'ovn_from': ovn_from, 'ovn_to': ovn_to,
            'skipped': [h['host'] for h in hosts if not _to_do(h)],
            'chassis_before': [], 'controllers': [], 'chassis_after': [],
            'match_northd_version': False,
            'ovsdb_file_format_change': bool(ovs_from and ovs_to and ovsdb_file_format_change(ovs_from, ovs_to))}
    if not work:
        plan.update(procedure='none', reason='every host runs its target version already')
        return plan
    if ovn_from and ovn_to:
        found, reason = ovn_procedure(ovn_from, ovn_to)
        if procedure != 'auto' and procedure != found:
            if procedure == 'rolling':
                raise UpgradeError('%s; the rolling procedure was asked for, which OVN does not support for this span'
                                   % reason)
            reason = '%s; the fail-safe procedure was asked for' % reason
            found = procedure
    else:
        # No OVN (the static mesh): Open vSwitch only, one machine at a time.
        found, reason = 'rolling', 'Open vSwitch %s to %s, no OVN: one machine at a time' % (ovs_from, ovs_to)
    controllers = [h for h in work if h['kind'] == 'controller']
    # The seed converts the schemas when it starts: last, once every other server runs the new version.
    controllers.sort(key=lambda h: bool(h.get('seed')))
    chassis = [h for h in work if h['kind'] != 'controller']
    position = dict((h['host'], i) for i, h in enumerate(hosts))
    # Service nodes, then gateways from the lowest HA priority (standbys) to the highest (the active
    # one, whose traffic moves to an upgraded standby), then hypervisors; inventory order within.
    chassis.sort(key=lambda h: (CHASSIS_KINDS.index(h['kind']), int(h.get('priority') or 0) if h['kind'] == 'gateway' else 0,
                                position[h['host']]))
    names = [h['host'] for h in chassis]
    plan.update(procedure=found, reason=reason, controllers=[h['host'] for h in controllers])
    if found == 'rolling':
        plan['chassis_before'] = names
    else:
        plan['chassis_after'] = names
        plan['match_northd_version'] = True
    return plan


def ha_priority(ha_chassis, chassis):
    """The highest priority ``chassis`` (a system-id) has in any HA chassis group, from
    ``ovn-nbctl --format=csv --data=bare --no-headings --columns=chassis_name,priority list HA_Chassis``;
    0 when it is in none (a priority that is not a number counts as 0)."""
    if not isinstance(ha_chassis, str):
        raise UpgradeError('ha_priority: the input is %r, not the CSV of ovn-nbctl list HA_Chassis' % (ha_chassis,))
    priorities = [0]
    for line in ha_chassis.splitlines():
        if line.startswith('%s,' % chassis):
            priorities.append(_whole(line.split(',')[-1]))
    return max(priorities)


def _whole(text):
    # As Jinja's int filter reads a number: '10' and '10.0' give 10, anything else 0.
    try:
        return int(text)
    except ValueError:
        try:
            return int(float(text))
        except ValueError:
            return 0


# ---------------------------------------------------------------------------------------------
# Versions the daemons and binaries answer


def version_answer(stdout):
    """The version in the answer to ``ovs-appctl -t DAEMON version`` or ``BINARY --version``: the last
    word of its first line ('ovs-vswitchd (Open vSwitch) 3.5.0' gives '3.5.0'); '' when there is none
    (the daemon does not run, the binary is not installed)."""
    words = str(stdout or '').split('\n', 1)[0].split()
    return words[-1] if words else ''


def daemon_versions(registered):
    """name -> version (see version_answer) of a registered loop of those questions: over daemons
    (dicts with a name, such as the upgrade role's upgrade_daemons) or over binary names."""
    results = registered.get('results') if isinstance(registered, dict) else registered
    if not isinstance(results, list):
        raise UpgradeError('daemon_versions: the input is not the result of a loop (it has no results)')
    versions = {}
    for result in results:
        item = result.get('item') if isinstance(result, dict) else None
        name = item.get('name') if isinstance(item, dict) else item
        if not isinstance(name, str) or not name:
            raise UpgradeError('daemon_versions: a result whose item %r is neither a name nor has one' % (item,))
        versions[name] = version_answer(result.get('stdout'))
    return versions


# ---------------------------------------------------------------------------------------------
# Health


def tunnel_problems(bridges, min_tunnels=0):
    """What is wrong with a switch's tunnels (netvirt.overlay.ovs_info's bridges): fewer than
    min_tunnels, a tunnel with an error or its link down, BFD enabled and not up."""
    problems, count = [], 0
    for bridge in sorted(bridges or {}):
        for name, iface in sorted((bridges[bridge].get('interfaces') or {}).items()):
            if iface.get('type') not in TUNNEL_TYPES:
                continue
            count += 1
            if iface.get('error'):
                problems.append('%s: %s' % (name, iface['error']))
            if iface.get('link_state') not in (None, 'up'):
                problems.append('%s: link %s' % (name, iface.get('link_state')))
            bfd = iface.get('bfd') or {}
            if str(bfd.get('enable', 'false')).lower() == 'true':
                state = (iface.get('bfd_status') or {}).get('state')
                if state != 'up':
                    problems.append('%s: BFD %s' % (name, state or 'not reported'))
    if count < int(min_tunnels):
        problems.insert(0, '%d tunnels, at least %d expected' % (count, int(min_tunnels)))
    return problems
