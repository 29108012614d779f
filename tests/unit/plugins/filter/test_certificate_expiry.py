# -*- coding: utf-8 -*-
"""certificate_expiry: the end date and days left of a node certificate, read on the control node."""

from __future__ import annotations

import datetime

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.netvirt.overlay.plugins.filter.pki import FilterModule

# Through the filter plugin, as a template calls it (errors reach the user as AnsibleFilterError).
certificate_expiry = FilterModule().filters()['certificate_expiry']

END = datetime.datetime(2027, 12, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def certificate(common_name='hv1', not_after=END, serial=0x1f2e):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(not_after - datetime.timedelta(days=365)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_days_left_end_date_name_and_serial():
    out = certificate_expiry(certificate(), now='2027-11-01T12:00:00Z')
    assert {k: out[k] for k in ('not_after', 'days_left', 'common_name', 'serial')} == {
        'not_after': '2027-12-01T12:00:00Z', 'days_left': 30, 'common_name': 'hv1', 'serial': '1f2e'}
    assert out['issuer'] == 'CN=hv1' and len(out['fingerprint']) == 64


def test_an_expired_certificate_has_negative_days():
    assert certificate_expiry(certificate(), now='2027-12-03T12:00:01Z')['days_left'] == -3


def test_text_before_the_certificate_is_skipped():
    """ovs-pki's certificates start with a human-readable dump of the certificate."""
    pem = 'Certificate:\n    Data:\n        Version: 3 (0x2)\n' + certificate(common_name='ctl1')
    assert certificate_expiry(pem, now='2027-01-01T00:00:00+00:00')['common_name'] == 'ctl1'


def test_counts_from_now_by_default():
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=10, hours=1)
    assert certificate_expiry(certificate(not_after=soon.replace(microsecond=0)))['days_left'] == 10


@pytest.mark.parametrize('bad', ['', None, 'not a certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'])
def test_what_is_no_certificate_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match='certificate_expiry'):
        certificate_expiry(bad)


def test_a_bad_moment_is_refused():
    with pytest.raises(AnsibleFilterError, match='ISO 8601'):
        certificate_expiry(certificate(), now='yesterday')
