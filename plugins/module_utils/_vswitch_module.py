# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run shared by the modules that converge bridges and ports (ovs_bridge, ovs_tunnels)."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import OvsdbError, connect_or_fail
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import (
    PlanError, converge, interface_errors, touched_interfaces)


def run_and_exit(module, plan, comment, report):
    """Connect, converge with ``plan(state)``, report, and exit (or fail) the module.

    ``report(before, after)`` returns (result fields, diff before, diff after).
    Interface errors that ovs-vswitchd reports for what this run touched fail the task.
    """
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
