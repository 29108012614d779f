# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one converge engine of the OVSDB modules.

A module's main() hands ``run_module`` its options and a resource class; the engine does the
rest, the same way for every database:

    validate -> connect -> snapshot -> plan -> simulate -> commit (retried on TRY_AGAIN by the
    client) -> check what the database shows -> report changed / changes / diff

A resource (a subclass of ``Resource``) says what is specific to it: which database and tables,
how to read its rows into plain dicts (``snapshot``), what to change (``plan``), what the
changes would give (``simulate``), how to write them into a transaction (``apply``), how to
tell that the database shows them (``unapplied``) and what the task returns (``report``).

Two kinds of failure are kept apart:

* ``PlanError`` (and the client's ``OvsdbError``): raised before anything was written; the task
  fails with ``changed=false``.
* ``CommittedError``: raised after a commit went through (the database does not show what was
  planned, ovs-vswitchd refused it, the wait for it timed out); the task fails with ``changed``
  telling whether the database holds a change.

Private (``_`` prefix): modules import it, users do not.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    CONNECTION_ARGUMENT_SPEC, CommittedError, OvsdbClient, OvsdbError, ensure_ovs_library, server_not_there,
    validate_connection_params)


class PlanError(Exception):
    """The request cannot be satisfied; raised before anything is written."""


class Resource(object):
    """One kind of OVSDB state a module converges. Subclasses fill in what differs."""

    database = 'Open_vSwitch'
    tables = None          # tables to register (None: all)
    leader_only = None     # True for a clustered database written through its leader
    error_prefix = ''      # put before messages of failures once connected
    # Options every module of this resource takes, besides the connection's (db, ssl_*, timeout).
    argument_spec = {}

    def __init__(self, params, check_mode):
        """Validate ``params`` (PlanError/InputError before anything is read)."""
        self.params = params
        self.check_mode = check_mode
        self.warnings = []

    # What the client adds to every commit (see OvsdbClient.transact); None: nothing.
    hooks = None

    def comment(self):
        """The comment written with the transaction (ovsdb-server logs it)."""
        return None

    def empty(self):
        """The snapshot of a database that does not exist yet (check mode on a host where the
        server is not installed or started), or None when this resource cannot predict that."""
        return None

    def check_schema(self, tables):
        """Once connected: PlanError when the server's schema cannot hold the request."""

    def snapshot(self, tables):
        raise NotImplementedError

    def plan(self, before):
        """The changes (a list or dict of plain data) that make ``before`` what is asked."""
        return []

    def simulate(self, before, changes):
        return before

    def apply(self, txn, tables, changes):
        """Write ``changes`` into ``txn`` (rows looked up in ``tables``)."""
        raise NotImplementedError

    def unapplied(self, after, before, changes):
        """What ``after`` (read back after the commit) does not show of ``changes`` made to ``before``:
        a list of texts."""
        return []

    def committed(self, client, before, changes):
        """After a commit that the database shows: CommittedError when what reads it refused it."""

    def outcome(self, tables, changes, after):
        """After the run (check mode too): a failure message for what the database reports, None when fine."""
        return None

    def finish(self, module, result):
        """What the module does besides OVSDB, once the database is as asked (check mode: predicted):
        may add fields to ``result`` and set its ``changed``; PlanError fails the module with
        ``result`` as it stands then."""

    def report(self, before, changes, after):
        """(result fields, diff before, diff after); diff None when the module has no --diff."""
        raise NotImplementedError

    def settle(self, module, result):
        """Last, after a run that went well: may add to ``result`` what a run right after this one
        would see (ovs_bridges: the state and the result of a run that changes nothing)."""


def converge(client, resource, check_mode):
    """Snapshot, plan, simulate and (outside check mode) commit; returns (before, changes, after).

    ``after`` is the prediction in check mode and when nothing changes, otherwise the database
    as read back after the commit. The plan is made again whenever the client retries.
    """
    resource.check_schema(client.tables)
    attempt = {}

    def build(txn, tables):
        before = resource.snapshot(tables)
        changes = resource.plan(before)
        attempt.update(before=before, changes=changes)
        if not changes or check_mode:
            attempt['predicted'] = resource.simulate(before, changes)
            return False
        resource.apply(txn, tables, changes)
        return True

    try:
        status = client.transact(build, comment=resource.comment(), hooks=resource.hooks)
        before, changes = attempt['before'], attempt['changes']
        if status is None:
            return before, changes, attempt['predicted']
        after = resource.snapshot(client.tables)
        missing = resource.unapplied(after, before, changes)
        if missing:
            raise CommittedError('the transaction was committed but the database does not show: %s'
                                 % '; '.join(missing), changed=status == 'success')
        resource.committed(client, before, changes)
    except CommittedError as exc:
        exc.changes = attempt.get('changes')
        raise
    return before, changes, after


def connect(module, resource):
    """Validate the connection options and connect, or fail_json with what to fix."""
    ensure_ovs_library(module)
    problems = validate_connection_params(module.params)
    if problems:
        module.fail_json(msg='; '.join(problems), changed=False)
    client = OvsdbClient.from_params(module.params, database=resource.database, tables=resource.tables,
                                     leader_only=resource.leader_only)
    try:
        return client.connect()
    except OvsdbError as exc:
        module.fail_json(msg=str(exc), changed=False)


def _predict_without_server(module, resource):
    """Check mode on a host where the server is not running yet (a fresh host, or a run whose earlier
    task would start it): (before, changes, after) planned against an empty database, or None when
    the server is there (or should be reached elsewhere) and must be asked."""
    if not module.check_mode or validate_connection_params(module.params) or not server_not_there(module.params):
        return None
    before = resource.empty()
    if before is None:
        return None
    changes = resource.plan(before)
    return before, changes, resource.simulate(before, changes)


def run_module(argument_spec, resource_class):
    """A module's whole main(): the connection options, the resource's, the module's own, one run."""
    spec = dict(CONNECTION_ARGUMENT_SPEC)
    spec.update(resource_class.argument_spec)
    spec.update(argument_spec)
    run(AnsibleModule(argument_spec=spec, supports_check_mode=True), resource_class)


def _result(resource, before, changes, after):
    """(the module's result before finish, diff before, diff after) of a converge."""
    fields, diff_before, diff_after = resource.report(before, changes, after)
    result = dict(changed=bool(changes))
    result.update(fields)
    return result, diff_before, diff_after


def run(module, resource_class):
    """The whole module run: validate, converge, report, and exit (or fail) the module."""
    try:
        resource = resource_class(module.params, module.check_mode)
    except (PlanError, InputError) as exc:
        module.fail_json(msg=str(exc), changed=False)

    failure = None
    try:
        predicted = _predict_without_server(module, resource)
    except PlanError as exc:
        module.fail_json(msg=str(exc), changed=False)
    if predicted is not None:
        before, changes, after = predicted
    else:
        client = connect(module, resource)
        try:
            before, changes, after = converge(client, resource, module.check_mode)
            failure = resource.outcome(client.tables, changes, after)
        except (PlanError, OvsdbError) as exc:
            module.fail_json(msg=resource.error_prefix + str(exc), changed=False)
        except CommittedError as exc:
            module.fail_json(msg=resource.error_prefix + str(exc), changed=exc.changed, changes=exc.changes)
        finally:
            client.close()

    result, diff_before, diff_after = _result(resource, before, changes, after)
    if module._diff and diff_before is not None:
        result['diff'] = dict(before=diff_before, after=diff_after)
    for warning in resource.warnings:
        module.warn(warning)
    if failure:
        module.fail_json(msg=failure, **result)
    try:
        resource.finish(module, result)
    except PlanError as exc:
        module.fail_json(msg=resource.error_prefix + str(exc), **result)
    resource.settle(module, result)
    module.exit_json(**result)


def check_pass(module, resource_class):
    """The result of a run in check mode, or None when it cannot be had (no failure: the caller goes
    without). For ovs_bridges' settle: the same run on the state its commit left, read anew."""
    try:
        resource = resource_class(module.params, True)
        client = OvsdbClient.from_params(module.params, database=resource.database, tables=resource.tables,
                                         leader_only=resource.leader_only).connect()
    except (PlanError, InputError, OvsdbError):
        return None
    try:
        before, changes, after = converge(client, resource, True)
        if resource.outcome(client.tables, changes, after):
            return None
    except (PlanError, OvsdbError, CommittedError):
        return None
    finally:
        client.close()
    result = _result(resource, before, changes, after)[0]
    if resource.warnings:
        return None
    # What finish reads, it reads as check mode would: nothing is written.
    real = module.check_mode
    module.check_mode = True
    try:
        resource.finish(module, result)
    except PlanError:
        return None
    finally:
        module.check_mode = real
    return result
