# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One OVSDB client for every module of the collection.

It talks JSON-RPC to ovsdb-server through the ``ovs`` library's IDL: the schema
is read from the server (so it never drifts from the running OVS), a module
call commits exactly one transaction, retried while the database moves underneath. It
knows no schema: what one database adds to a commit (Open_vSwitch's next_cfg/cur_cfg
wait) comes in as hooks from the resource that uses it.

Private (``_`` prefix): modules import it, users do not.
"""

from __future__ import annotations

import errno
import os
import re
import time
import traceback

from ansible_collections.netvirt.overlay.plugins.module_utils._constants import DEFAULT_DB, SYSTEM_PYTHONS
from ansible_collections.netvirt.overlay.plugins.module_utils._input import (
    InputError, integer, ip_address, readable_file)

OVS_IMPORT_ERROR = None
OVS_IMPORT_TRACEBACK = None
try:
    import ovs.db.idl
    import ovs.jsonrpc
    import ovs.poller
    import ovs.stream
except ImportError as exc:  # pragma: no cover - exercised through the module tests
    OVS_IMPORT_ERROR = exc
    OVS_IMPORT_TRACEBACK = traceback.format_exc()


OVS_INSTALL_HINT = (
    "The Python 'ovs' library (Open vSwitch's OVSDB bindings) is not importable on the "
    "managed host. Install it with 'apt-get install python3-openvswitch' (Debian/Ubuntu), "
    "'dnf install python3-openvswitch' (RHEL family) or 'pip install ovs', or set "
    "ansible_python_interpreter to a Python that has it."
)

CONNECTION_ARGUMENT_SPEC = dict(
    db=dict(type='str', default=DEFAULT_DB),
    ssl_private_key=dict(type='path'),
    ssl_certificate=dict(type='path'),
    ssl_ca_cert=dict(type='path'),
    timeout=dict(type='int', default=30),
)
SSL_OPTIONS = ('ssl_private_key', 'ssl_certificate', 'ssl_ca_cert')

# Connection targets as OVS writes them (ovsdb-server(1), ovs-vswitchd's Controller table).
ACTIVE_METHODS = ('tcp', 'ssl', 'unix')
TARGET_FORMS = {'tcp': 'tcp:IP:PORT', 'ssl': 'ssl:IP:PORT', 'unix': 'unix:PATH',
                'ptcp': 'ptcp:[PORT][:IP]', 'pssl': 'pssl:[PORT][:IP]', 'punix': 'punix:PATH'}
_HOSTNAME_RE = re.compile(r'^(?=.*[A-Za-z])[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
                          r'(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$')


class OvsdbError(Exception):
    """A failure the user can act on, before anything was written; the message says what and where."""


class CommittedError(Exception):
    """A failure after a commit went through: ``changed`` says whether the database holds a change."""

    def __init__(self, msg, changed=True):
        super(CommittedError, self).__init__(msg)
        self.changed = changed
        self.changes = None  # what was committed, filled in by the converge engine


def ensure_ovs_library(module):
    """Fail (or re-run under the system Python that has python3-openvswitch)."""
    if OVS_IMPORT_ERROR is None:
        return
    from ansible.module_utils.common.respawn import (
        has_respawned, probe_interpreters_for_module, respawn_module)
    if not has_respawned():
        interpreter = probe_interpreters_for_module(SYSTEM_PYTHONS, 'ovs.db.idl')
        if interpreter:
            respawn_module(interpreter)  # does not return
    module.fail_json(msg=OVS_INSTALL_HINT, exception=OVS_IMPORT_TRACEBACK)


def _host(text, what, hostnames, unicast):
    """The address part of a target: an IP address ([IPv6] in brackets), or a DNS name where allowed."""
    if text.startswith('[') and text.endswith(']'):
        return ip_address(text[1:-1], what, version=6, unicast=unicast)
    if ':' in text:
        raise InputError('%s: %s is an IPv6 address without brackets; write [%s]' % (what, text, text))
    if hostnames and _HOSTNAME_RE.match(text):
        return text
    return ip_address(text, what, version=4, unicast=unicast)


def _port(text, what, low):
    if not text.isdigit():
        raise InputError('%s: %r is not a port number (allowed: %d-65535)' % (what, text, low))
    return integer(int(text), what, low, 65535)


def check_target(target, field, methods=ACTIVE_METHODS, hostnames=False):
    """One OVS connection target (an OVSDB remote, an OpenFlow controller) of one of ``methods``.

    Active targets (tcp:, ssl:) need an address and a port, passive ones (ptcp:, pssl:) take an
    optional port and listening address, unix:/punix: a path. ``hostnames`` allows DNS names
    where the program that connects resolves them (the Python ovs library does not).
    Raises InputError naming ``field``, the target and the forms allowed; returns the target.
    """
    allowed = ', '.join(TARGET_FORMS[m] for m in methods)
    text = str(target).strip()
    method, sep, rest = text.partition(':')
    if not sep or method not in methods:
        raise InputError("%s: '%s' must start with %s (allowed: %s)"
                         % (field, target, ', '.join(m + ':' for m in methods), allowed))
    what = "%s '%s'" % (field, text)
    if method in ('unix', 'punix'):
        if not rest:
            raise InputError('%s: no socket path (allowed: %s)' % (what, allowed))
    elif method in ('tcp', 'ssl'):
        if rest.startswith('['):
            host, close, port = rest.partition(']')
            host, port = host + close, port[1:] if port.startswith(':') else ''
        else:
            host, _sep, port = rest.rpartition(':')
        if not host or not port:
            raise InputError('%s needs an address and a port, e.g. %s:192.0.2.10:6640 (allowed: %s)'
                             % (what, method, allowed))
        _host(host, what + ' address', hostnames, unicast=True)
        _port(port, what + ' port', 1)
    else:
        if rest.startswith('['):
            port, host = '', rest
        else:
            port, _sep, host = rest.partition(':')
        if port:
            _port(port, what + ' port', 0)
        if host:
            _host(host, what + ' address', hostnames, unicast=False)
    return text


def pem_file(path, field):
    """Key material for SSL: a readable file with a PEM block (the ovs library reads it only
    when it connects, and then fails with an exception that does not say which file)."""
    readable_file(path, field)
    with open(path, 'rb') as handle:
        head = handle.read(1 << 16)
    if b'-----BEGIN ' not in head:
        raise InputError('%s: %s is not PEM (no -----BEGIN line)' % (field, path))
    return path


def validate_connection_params(params):
    """Return a list of problems with the db/ssl/timeout options (empty when fine).

    Each problem names the option, the value and what is allowed.
    """
    problems = []
    db = params.get('db') or ''
    remotes = [r.strip() for r in db.split(',') if r.strip()]
    if not remotes:
        problems.append("db must name at least one OVSDB remote, e.g. '%s'" % DEFAULT_DB)
    for remote in remotes:
        try:
            check_target(remote, 'db')
        except InputError as exc:
            problems.append(str(exc))
    if any(r.startswith('ssl:') for r in remotes):
        missing = [k for k in SSL_OPTIONS if not params.get(k)]
        if missing:
            problems.append('db: an ssl: remote needs ssl_private_key, ssl_certificate and ssl_ca_cert '
                            '(not given: %s)' % ', '.join(missing))
        for option in SSL_OPTIONS:
            if params.get(option):
                try:
                    pem_file(params[option], option)
                except InputError as exc:
                    problems.append(str(exc))
    if params.get('timeout') is not None and params['timeout'] <= 0:
        problems.append('timeout must be a positive number of seconds, not %s' % params['timeout'])
    return problems


class OvsdbClient(object):
    """A connected IDL on one database, with blocking helpers bounded by a timeout."""

    def __init__(self, remote=DEFAULT_DB, database='Open_vSwitch', timeout=30,
                 ssl_private_key=None, ssl_certificate=None, ssl_ca_cert=None, tables=None,
                 leader_only=None):
        self.remote = remote
        self.database = database
        self.timeout = timeout
        self.tables_wanted = tables
        self.idl = None
        self._ssl = (ssl_private_key, ssl_certificate, ssl_ca_cert)
        # A clustered (Raft) database: True makes the IDL talk only to the leader, moving on
        # to the next remote when the one it reached is a follower. None keeps the library's
        # default (older ovs libraries do not know the argument).
        self.leader_only = leader_only

    @classmethod
    def from_params(cls, params, database='Open_vSwitch', tables=None, leader_only=None):
        return cls(params['db'], database=database, timeout=params['timeout'],
                   ssl_private_key=params.get('ssl_private_key'),
                   ssl_certificate=params.get('ssl_certificate'),
                   ssl_ca_cert=params.get('ssl_ca_cert'), tables=tables, leader_only=leader_only)

    # -- connecting ---------------------------------------------------------------

    def _remotes(self):
        return [r.strip() for r in self.remote.split(',') if r.strip()]

    def _deadline(self):
        return time.monotonic() + self.timeout

    def _configure_ssl(self):
        key, cert, ca = self._ssl
        if any(r.startswith('ssl:') for r in self._remotes()):
            ovs.stream.Stream.ssl_set_private_key_file(key)
            ovs.stream.Stream.ssl_set_certificate_file(cert)
            ovs.stream.Stream.ssl_set_ca_cert_file(ca)

    def _fetch_schema(self):
        """Ask the server for its schema (get_schema), trying each remote in turn."""
        errors = []
        for remote in self._remotes():
            try:
                error, stream = ovs.stream.Stream.open_block(
                    ovs.stream.Stream.open(remote), int(self.timeout * 1000))
            except (OSError, ValueError) as exc:
                # The library reads the SSL files here (a key that does not match its certificate).
                errors.append('%s: %s%s' % (remote, exc, ' (ssl_private_key %s, ssl_certificate %s, ssl_ca_cert %s)'
                                            % self._ssl if remote.startswith('ssl:') else ''))
                continue
            if error:
                errors.append('%s: %s' % (remote, _strerror(error)))
                continue
            rpc = ovs.jsonrpc.Connection(stream)
            try:
                error, reply = _transact_with_deadline(
                    rpc, ovs.jsonrpc.Message.create_request('get_schema', [self.database]),
                    self._deadline())
            finally:
                rpc.close()
            if error:
                errors.append('%s: %s' % (remote, _strerror(error)))
            elif reply.error:
                errors.append('%s: %s' % (remote, reply.error))
            else:
                return reply.result
        raise OvsdbError('cannot read the %s schema from %s (%s). Is ovsdb-server running '
                         'and listening there?' % (self.database, self.remote, '; '.join(errors)))

    def connect(self):
        self._configure_ssl()
        helper = ovs.db.idl.SchemaHelper(schema_json=self._fetch_schema())
        if self.tables_wanted:
            for table in self.tables_wanted:
                helper.register_table(table)
        else:
            helper.register_all()
        if self.leader_only is None:
            self.idl = ovs.db.idl.Idl(self.remote, helper)
        else:
            self.idl = ovs.db.idl.Idl(self.remote, helper, leader_only=self.leader_only)
        self._run_until(self.idl.has_ever_connected,
                        'the initial contents of %s' % self.database)
        return self

    def close(self):
        if self.idl is not None:
            self.idl.close()
            self.idl = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    # -- the event loop -----------------------------------------------------------

    def _run_until(self, condition, what, deadline=None):
        deadline = deadline or self._deadline()
        while True:
            self.idl.run()
            if condition():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OvsdbError('timed out after %ss waiting for %s from %s'
                                 % (self.timeout, what, self.remote))
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(int(min(remaining, 0.5) * 1000))
            poller.block()

    @property
    def tables(self):
        return self.idl.tables

    def rows(self, table):
        return list(self.idl.tables[table].rows.values())

    # -- transactions -------------------------------------------------------------

    def transact(self, build, comment=None, hooks=None):
        """Commit one transaction that ``build(txn, tables)`` fills in, retrying until the timeout.

        ``build`` reads what it needs from ``tables`` each time it is called: when a verified
        column changed underneath (TRY_AGAIN), the IDL catches up and ``build`` is called again,
        as ovsdbapp's transactions do. ``build`` returns False when there is nothing to write
        (the transaction is then not sent, and None is returned).

        ``hooks`` carries what one schema adds to every commit (for Open_vSwitch: ask
        ovs-vswitchd to apply it and wait until it has): ``prepare(txn, tables)`` before the
        commit, ``settle(client, txn, status)`` after a commit the server accepted.

        Returns 'success' or 'unchanged'. Raises OvsdbError when nothing was written (the
        server refused, the timeout passed), CommittedError when the commit went through and what
        should follow it (``settle``) did not.
        """
        deadline = self._deadline()
        attempts = 0
        while True:
            attempts += 1
            txn = ovs.db.idl.Transaction(self.idl)
            if comment:
                txn.add_comment(comment)
            try:
                if build(txn, self.idl.tables) is False:
                    txn.abort()
                    return None
                if hooks is not None:
                    hooks.prepare(txn, self.idl.tables)
            except Exception:
                txn.abort()
                raise
            status = self._commit(txn, deadline)
            if status != ovs.db.idl.Transaction.TRY_AGAIN:
                break
            if time.monotonic() > deadline:
                raise OvsdbError('the database changed under every one of %d attempts to commit within %ss; '
                                 'is another tool rewriting the same rows?' % (attempts, self.timeout))
            self._catch_up(deadline)
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            raise OvsdbError('OVSDB transaction on %s failed (%s): %s'
                             % (self.remote, ovs.db.idl.Transaction.status_to_string(status),
                                txn.get_error()))
        # Make sure the IDL reflects the commit before anyone reads from it.
        self.idl.run()
        name = 'success' if status == ovs.db.idl.Transaction.SUCCESS else 'unchanged'
        if hooks is not None:
            try:
                hooks.settle(self, txn, name)
            except OvsdbError as exc:
                raise CommittedError('the transaction was committed, then: %s' % exc,
                                     changed=status == ovs.db.idl.Transaction.SUCCESS)
        return name

    def _commit(self, txn, deadline):
        status = txn.commit()
        while status == ovs.db.idl.Transaction.INCOMPLETE:
            if time.monotonic() > deadline:
                txn.abort()
                raise OvsdbError('timed out after %ss committing to %s' % (self.timeout, self.remote))
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            txn.wait(poller)
            poller.timer_wait(500)
            poller.block()
            self.idl.run()
            status = txn.commit()
        return status

    def _catch_up(self, deadline):
        """After TRY_AGAIN: wait (briefly) until the IDL has the change that made the commit fail."""
        seqno = self.idl.change_seqno
        self.idl.run()
        until = min(deadline, time.monotonic() + 0.5)
        while self.idl.change_seqno == seqno and time.monotonic() < until:
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(50)
            poller.block()
            self.idl.run()

    def wait_until(self, condition, what):
        """Process updates until ``condition()`` holds; OvsdbError naming ``what`` at the timeout."""
        self._run_until(condition, what)

    def refresh(self):
        """Process pending updates, so reads after a commit see its effects."""
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            if not self.idl.run():
                poller = ovs.poller.Poller()
                self.idl.wait(poller)
                poller.timer_wait(50)
                poller.block()


def only_row(table):
    """The row of a table that holds exactly one (Open_vSwitch's root row)."""
    rows = list(table.rows.values())
    if len(rows) != 1:
        raise OvsdbError('expected exactly one row in table %s, found %d' % (table.name, len(rows)))
    return rows[0]


def _strerror(error):
    return os.strerror(error) if isinstance(error, int) else str(error)


def _transact_with_deadline(rpc, request, deadline):
    """Like Connection.transact_block, but never waits past the deadline."""
    error = rpc.send(request)
    while not error:
        error, reply = rpc.recv()
        if reply is not None and reply.id == request.id:
            return 0, reply
        if error and error != _EAGAIN:
            break
        if time.monotonic() > deadline:
            return 'no reply before the timeout', None
        error = 0
        poller = ovs.poller.Poller()
        rpc.run()
        rpc.wait(poller)
        rpc.recv_wait(poller)
        poller.timer_wait(200)
        poller.block()
    return error, None


_EAGAIN = errno.EAGAIN


def server_not_there(params):
    """True when every remote is a local unix: socket and none of the sockets exists: Open vSwitch
    is not installed or not started yet. Check mode then predicts from an empty database, which is
    what the package or the first start creates (an Open_vSwitch row without bridges or keys)."""
    remotes = [r.strip() for r in (params.get('db') or '').split(',') if r.strip()]
    return bool(remotes) and all(r.startswith('unix:') and not os.path.exists(r[len('unix:'):]) for r in remotes)
