# -*- coding: utf-8 -*-
"""Connection options are checked before any connection is tried."""

from __future__ import annotations

import os

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import (
    ACTIVE_METHODS, check_target, validate_connection_params)

PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'


def conn(**kw):
    base = {'db': 'unix:/var/run/openvswitch/db.sock', 'timeout': 30,
            'ssl_private_key': None, 'ssl_certificate': None, 'ssl_ca_cert': None}
    base.update(kw)
    return base


@pytest.fixture
def pki(tmp_path):
    """Three PEM files, as ovs-pki writes them."""
    paths = {}
    for option in ('ssl_private_key', 'ssl_certificate', 'ssl_ca_cert'):
        path = tmp_path / ('%s.pem' % option)
        path.write_text(PEM)
        paths[option] = str(path)
    return paths


def test_defaults_are_fine():
    assert validate_connection_params(conn()) == []
    assert validate_connection_params(conn(db='tcp:198.18.0.21:6641,tcp:198.18.0.22:6641')) == []
    assert validate_connection_params(conn(db='tcp:[2001:db8::1]:6641')) == []


def test_ssl_with_readable_pem_files_is_fine(pki):
    assert validate_connection_params(conn(db='ssl:198.18.0.21:6641', **pki)) == []


@pytest.mark.parametrize('kw, message', [
    ({'db': ''}, 'db must name at least one OVSDB remote'),
    ({'db': 'http://x'}, "db: 'http://x' must start with tcp:, ssl:, unix:"),
    ({'db': 'tcp:6640'}, "needs an address and a port"),
    ({'db': 'tcp:198.18.0.21'}, "db 'tcp:198.18.0.21' needs an address and a port"),
    ({'db': 'tcp:198.18.0.300:6640'}, "db 'tcp:198.18.0.300:6640' address: '198.18.0.300' is not an IP address"),
    ({'db': 'tcp:198.18.0.21:70000'}, "db 'tcp:198.18.0.21:70000' port: 70000 is outside 1-65535"),
    ({'db': 'tcp:198.18.0.21:0'}, "port: 0 is outside 1-65535"),
    ({'db': 'tcp:2001:db8::1:6641'}, 'IPv6 address without brackets'),
    ({'db': 'unix:'}, "db 'unix:': no socket path"),
    ({'db': 'ptcp:6640'}, "db: 'ptcp:6640' must start with tcp:, ssl:, unix:"),
    ({'db': 'ssl:198.18.0.21:6641'}, 'needs ssl_private_key, ssl_certificate and ssl_ca_cert'),
    ({'db': 'ssl:198.18.0.21:6641', 'ssl_private_key': '/k.pem'},
     'not given: ssl_certificate, ssl_ca_cert'),
    ({'timeout': 0}, 'timeout must be a positive number of seconds, not 0'),
])
def test_bad_connection_options(kw, message):
    assert any(message in problem for problem in validate_connection_params(conn(**kw)))


def test_ssl_files_must_exist_be_files_and_be_pem(pki, tmp_path):
    not_pem = tmp_path / 'conf.db'
    not_pem.write_text('{"name": "Open_vSwitch"}')
    cases = [
        ('ssl_private_key', str(tmp_path / 'nosuch.pem'), 'ssl_private_key: %s does not exist'),
        ('ssl_certificate', str(tmp_path), 'ssl_certificate: %s is not a regular file (it is a directory)'),
        ('ssl_ca_cert', str(not_pem), 'ssl_ca_cert: %s is not PEM (no -----BEGIN line)'),
    ]
    for option, path, message in cases:
        problems = validate_connection_params(conn(db='ssl:198.18.0.21:6641', **dict(pki, **{option: path})))
        assert problems == [message % path]


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads every file')
def test_unreadable_ssl_file(pki):
    os.chmod(pki['ssl_private_key'], 0)
    problems = validate_connection_params(conn(db='ssl:198.18.0.21:6641', **pki))
    assert problems == ['ssl_private_key: %s is not readable by this user' % pki['ssl_private_key']]


def test_ssl_files_are_not_looked_at_without_an_ssl_remote():
    assert validate_connection_params(conn(ssl_private_key='/nosuch.pem')) == []


@pytest.mark.parametrize('target, methods', [
    ('tcp:192.0.2.10:6653', ACTIVE_METHODS),
    ('ssl:[2001:db8::1]:6653', ACTIVE_METHODS),
    ('unix:/run/openvswitch/db.sock', ACTIVE_METHODS),
    ('ptcp:', ('ptcp',)),
    ('ptcp:6653', ('ptcp',)),
    ('ptcp:6653:0.0.0.0', ('ptcp',)),
    ('pssl:6653:[::1]', ('pssl',)),
    ('punix:/run/openvswitch/br0.mgmt', ('punix',)),
])
def test_good_targets(target, methods):
    assert check_target(target, 'f', methods) == target


@pytest.mark.parametrize('target, methods, message', [
    ('tcp:192.0.2.300:6653', ACTIVE_METHODS, "f 'tcp:192.0.2.300:6653' address: '192.0.2.300' is not an IP address"),
    ('tcp:224.0.0.1:6653', ACTIVE_METHODS, 'is not a unicast address'),
    ('ssl:[2001:db8::1]', ACTIVE_METHODS, 'needs an address and a port'),
    ('tcp:192.0.2.10:x', ACTIVE_METHODS, "port: 'x' is not a port number"),
    ('ptcp:70000', ('ptcp',), "f 'ptcp:70000' port: 70000 is outside 0-65535"),
    ('ptcp:6653:192.0.2.300', ('ptcp',), "'192.0.2.300' is not an IP address"),
    ('punix:', ('punix',), 'no socket path'),
    ('tcp:controller.example:6653', ACTIVE_METHODS, "'controller.example' is not an IP address"),
])
def test_bad_targets(target, methods, message):
    with pytest.raises(InputError, match=message.replace('(', r'\(').replace(')', r'\)')):
        check_target(target, 'f', methods)


def test_host_names_where_the_client_resolves_them():
    assert check_target('ssl:ovn-sb.example:6642', 'f', hostnames=True) == 'ssl:ovn-sb.example:6642'
    # Dotted numbers are an address, never a name.
    with pytest.raises(InputError, match='is not an IP address'):
        check_target('ssl:198.18.0.300:6642', 'f', hostnames=True)
