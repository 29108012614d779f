# -*- coding: utf-8 -*-
"""Connection options are checked before any connection is tried."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import validate_connection_params


def conn(**kw):
    base = {'db': 'unix:/var/run/openvswitch/db.sock', 'timeout': 30,
            'ssl_private_key': None, 'ssl_certificate': None, 'ssl_ca_cert': None}
    base.update(kw)
    return base


def test_defaults_are_fine():
    assert validate_connection_params(conn()) == []
    assert validate_connection_params(conn(db='tcp:198.18.0.21:6641,tcp:198.18.0.22:6641')) == []


@pytest.mark.parametrize('kw, message', [
    ({'db': ''}, 'db must name at least one OVSDB remote'),
    ({'db': 'http://x'}, "db remote 'http://x' must start with unix:, tcp: or ssl:"),
    ({'db': 'tcp:6640'}, "needs an address and a port"),
    ({'db': 'ssl:198.18.0.21:6641'}, 'needs ssl_private_key, ssl_certificate and ssl_ca_cert'),
    ({'timeout': 0}, 'timeout must be a positive number'),
])
def test_bad_connection_options(kw, message):
    assert any(message in problem for problem in validate_connection_params(conn(**kw)))
