# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Open_vSwitch database as resources of the converge engine.

What belongs to this schema and to no other lives here: asking ovs-vswitchd to apply a commit
and waiting until it has (``next_cfg``/``cur_cfg``), and the interface errors it reports
afterwards (a refused change is rolled back). ``PortsResource`` serves ovs_bridge and
ovs_tunnels (``_bridge.Bridge``, ``_tunnels.Tunnels``); ``Settings`` serves ovs_settings and
``Inventory`` ovs_info.
"""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.module_utils._converge import Resource
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import CommittedError, OvsdbError, only_row
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    apply_changes, bridge_info, diff_columns, interface_errors, opt, simulate, snapshot, touched_interfaces,
    undo_changes, unapplied, validate_settings, change_label)


class VswitchdWait(object):
    """Commit hooks: every commit bumps next_cfg; ovs-vswitchd copies it to cur_cfg once applied."""

    def prepare(self, _txn, tables):
        only_row(tables['Open_vSwitch']).increment('next_cfg')

    def settle(self, client, txn, status):
        if status != 'success':
            return
        target = txn.get_increment_new_value()
        client.wait_until(lambda: only_row(client.tables['Open_vSwitch']).cur_cfg >= target,
                          'ovs-vswitchd to apply the change (cur_cfg %s). Is ovs-vswitchd running? '
                          '(set wait=false to skip waiting)' % target)


class VswitchResource(Resource):
    """A resource of the Open_vSwitch database that writes; ``wait`` turns the cur_cfg wait on."""

    argument_spec = dict(wait=dict(type='bool', default=True))

    def __init__(self, params, check_mode):
        super(VswitchResource, self).__init__(params, check_mode)
        self.hooks = VswitchdWait() if params.get('wait') else None


class PortsResource(VswitchResource):
    """Bridges, ports and interfaces (``_vswitch``'s snapshot/plan/simulate/apply)."""

    def __init__(self, params, check_mode):
        super(PortsResource, self).__init__(params, check_mode)
        self._errors_before = {}

    def empty(self):
        return {}

    def snapshot(self, tables):
        return snapshot(tables)

    def simulate(self, before, changes):
        return simulate(before, changes)

    def apply(self, txn, tables, changes):
        # Errors ovs-vswitchd already reported are not this run's doing (committed() compares).
        self._errors_before = interface_errors(tables, touched_interfaces(changes))[0]
        apply_changes(txn, tables, changes)

    def unapplied(self, after, before, changes):
        return unapplied(after, changes)

    def committed(self, client, before, changes):
        """An interface that this commit added or changed and ovs-vswitchd refused (an error it did not
        report before): a second transaction takes the database back to ``before``."""
        errors = dict((name, error) for name, error in interface_errors(client.tables, touched_interfaces(changes))[0].items()
                      if self._errors_before.get(name) != error)
        if errors:
            raise self._roll_back(client, before, changes, errors)

    def _roll_back(self, client, before, changes, errors):
        """The CommittedError that says what was refused and what became of it."""
        what = ('ovs-vswitchd could not set up what this task committed (%s)'
                % '; '.join('%s: %s' % kv for kv in sorted(errors.items())))
        undo = undo_changes(before, changes)
        if undo is None:
            return CommittedError(what + '; the change stays in the database: it removed a bridge, which cannot be put back')
        sent = []

        def build(txn, tables):
            if sent:  # the database moved: undo planned against the old state must not be sent again
                return False
            sent.append(True)
            apply_changes(txn, tables, undo)
            return True

        try:
            status = client.transact(build, comment='%s (rollback)' % (self.comment() or 'netvirt.overlay'), hooks=self.hooks)
        except (OvsdbError, CommittedError) as exc:
            return CommittedError(what + '; rolling it back failed, the change stays in the database: %s' % exc)
        if status is None:
            return CommittedError(what + '; the database changed meanwhile, so it was not rolled back: the change stays')
        left = unapplied(snapshot(client.tables), undo)
        if left:
            return CommittedError(what + '; the rollback left: %s' % '; '.join(left))
        return CommittedError(what + '; rolled back, nothing of it remains (%s)' % ', '.join(
            '%s %s' % (ch['op'], change_label(ch)) for ch in changes), changed=False)

    def outcome(self, tables, changes, after):
        """Errors ovs-vswitchd still reports for what this run touched fail the task; a patch port
        waiting for its peer is a warning."""
        if self.check_mode:
            return None
        errors, warnings = interface_errors(tables, touched_interfaces(changes))
        self.warnings.extend(warnings)
        if errors:
            return ('the transaction was committed, but ovs-vswitchd could not set up: %s'
                    % '; '.join('%s: %s' % kv for kv in sorted(errors.items())))
        return None


SETTINGS_COLUMNS = {'external_ids': 'merge', 'other_config': 'merge'}


class Settings(VswitchResource):
    """ovs_settings: keys of the Open_vSwitch row's external_ids and other_config."""

    tables = ['Open_vSwitch']
    error_prefix = 'cannot update the Open_vSwitch table: '

    def __init__(self, params, check_mode):
        super(Settings, self).__init__(params, check_mode)
        self.desired = validate_settings(dict((k, params[k]) for k in SETTINGS_COLUMNS))

    def comment(self):
        return 'netvirt.overlay.ovs_settings'

    def empty(self):
        # The first start of Open vSwitch makes an Open_vSwitch row without these keys.
        return dict((k, {}) for k in SETTINGS_COLUMNS)

    def snapshot(self, tables):
        root = only_row(tables['Open_vSwitch'])
        return dict((k, dict(getattr(root, k))) for k in SETTINGS_COLUMNS)

    def plan(self, before):
        return diff_columns(before, self.desired, SETTINGS_COLUMNS)

    def simulate(self, before, changes):
        return dict(before, **changes)

    def apply(self, txn, tables, changes):
        row = only_row(tables['Open_vSwitch'])
        for column, value in changes.items():
            row.verify(column)
            setattr(row, column, value)

    def unapplied(self, after, before, changes):
        return ['%s is %r, not %r' % (column, after[column], value)
                for column, value in sorted(changes.items()) if after[column] != value]

    def report(self, before, changes, after):
        return dict(changes=changes, settings=after), before, after


class Inventory(Resource):
    """ovs_info: bridges with their ports and interfaces, configuration and run-time state. Reads only."""

    error_prefix = 'cannot read the Open_vSwitch database: '

    def snapshot(self, tables):
        wanted = self.params['bridges']
        root = only_row(tables['Open_vSwitch'])
        return dict(bridges=dict((br.name, bridge_info(br)) for br in tables['Bridge'].rows.values()
                                 if wanted is None or br.name in wanted),
                    ovs_version=opt(root.ovs_version), cur_cfg=root.cur_cfg, next_cfg=root.next_cfg,
                    external_ids=dict(root.external_ids))

    def outcome(self, tables, changes, after):
        missing = sorted(set(self.params['bridges'] or []) - set(after['bridges']))
        return 'no such bridge: %s' % ', '.join(missing) if missing else None

    def report(self, before, changes, after):
        return after, None, None
