# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run shared by the modules that converge bridges and ports (ovs_bridge, ovs_tunnels)."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    OvsdbError, connect_or_fail, server_not_there, validate_connection_params)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    PlanError, converge, interface_errors, simulate, touched_interfaces)


def predict_without_server(module, plan):
    """Check mode on a host where Open vSwitch is not running yet (a fresh host, or a run whose
    earlier task would start it): (before, changes, after) planned against an empty database, or
    None when the server is there (or should be reached elsewhere) and must be asked."""
    if not module.check_mode or validate_connection_params(module.params) or not server_not_there(module.params):
        return None
    before = {}
    try:
        changes = plan(before)
    except PlanError as exc:
        module.fail_json(msg=str(exc))
    return before, changes, simulate(before, changes)


def run_and_exit(module, plan, comment, report):
    """Connect, converge with ``plan(state)``, report, and exit (or fail) the module.

    ``report(before, after)`` returns (result fields, diff before, diff after).
    Interface errors that ovs-vswitchd reports for what this run touched fail the task.
    """
    predicted = predict_without_server(module, plan)
    if predicted is not None:
        (before, changes, after), errors, warnings = predicted, {}, []
    else:
        client = connect_or_fail(module)
        try:
            before, changes, after = converge(client, plan, module.check_mode, module.params['wait'], comment=comment)
            errors, warnings = ({}, []) if module.check_mode else interface_errors(client.tables, touched_interfaces(changes))
        except (PlanError, OvsdbError) as exc:
            module.fail_json(msg=str(exc))
        finally:
            client.close()

    fields, diff_before, diff_after = report(before, after)
    result = dict(changed=bool(changes), changes=changes, **fields)
    if module._diff:
        result['diff'] = dict(before=diff_before, after=diff_after)
    for warning in warnings:
        module.warn(warning)
    if errors:
        module.fail_json(msg='the transaction was committed, but ovs-vswitchd could not set up: %s'
                         % '; '.join('%s: %s' % kv for kv in sorted(errors.items())), **result)
    module.exit_json(**result)
