# -*- coding: utf-8 -*-
"""The PKI filters: whether a CA signed a certificate (real certificates, made here), and the CAs that
sign and that nodes trust in each phase of a CA rotation (on a PKI that ovs-pki makes)."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.netvirt.overlay.plugins.filter.pki import FilterModule

FILTERS = FilterModule().filters()
certificate_expiry = FILTERS['certificate_expiry']
signed_by = FILTERS['certificate_signed_by']
ca_trust = FILTERS['ovn_ca_trust']
NOW = datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_ca(name, key=None):
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, 'switchca'),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def make_node(ca, ca_key, name='hv1'):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(2).not_valid_before(NOW)
            .not_valid_after(NOW + datetime.timedelta(days=365)).sign(ca_key, hashes.SHA256()))
    return cert


def test_a_certificate_is_signed_by_its_ca_and_not_by_another():
    old, old_key = make_ca('OVS switchca CA Certificate (2026 Dec 01 10:00:00)')
    new, _new_key = make_ca('OVS switchca CA Certificate (2026 Dec 02 10:00:00)')
    node = pem(make_node(old, old_key))
    assert signed_by(node, pem(old)) is True
    assert signed_by(node, pem(new)) is False


def test_a_ca_with_the_same_name_but_another_key_did_not_sign_it():
    """Two CAs made in the same second by ovs-pki have the same name: the signature decides."""
    name = 'OVS switchca CA Certificate (2026 Dec 01 10:00:00)'
    real, real_key = make_ca(name)
    impostor, _key = make_ca(name)
    node = pem(make_node(real, real_key))
    assert signed_by(node, pem(impostor)) is False
    assert signed_by(node, pem(real)) is True


def test_text_before_the_certificate_and_a_bundle_as_ca_use_the_first_certificate():
    first, first_key = make_ca('first')
    second, _key = make_ca('second')
    node = 'Certificate:\n    Data:\n' + pem(make_node(first, first_key))
    assert signed_by(node, pem(first) + pem(second)) is True
    assert signed_by(node, pem(second) + pem(first)) is False


@pytest.mark.parametrize('bad', ['', None, 'no certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
                                 '-----BEGIN CERTIFICATE-----\nAAAA\n'])
def test_what_is_no_certificate_is_refused(bad):
    ca, _key = make_ca('ca')
    with pytest.raises(AnsibleFilterError, match='certificate_signed_by'):
        signed_by(bad, pem(ca))
    with pytest.raises(AnsibleFilterError, match=r'certificate_signed_by \(CA\)'):
        signed_by(pem(ca), bad)


def test_certificate_expiry_names_the_issuer_and_the_fingerprint():
    ca, ca_key = make_ca('OVS switchca CA Certificate (x)')
    node = make_node(ca, ca_key)
    out = certificate_expiry(pem(node), now='2027-01-01T00:00:00Z')
    assert out['issuer'] == 'CN=OVS switchca CA Certificate (x),OU=switchca'
    assert out['fingerprint'] == node.fingerprint(hashes.SHA256()).hex() and len(out['fingerprint']) == 64


# ovn_ca_trust on a PKI made by ovs-pki, the tool the controller role runs.
def ovs_pki(tmp_path, *argv, cwd=None):
    subprocess.run(['ovs-pki', '--log=%s' % (tmp_path / 'ovs-pki.log')] + list(argv), check=True, cwd=cwd,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A PKI directory with the CA in ca/, a second one in ca-next/ and hv1's certificate from each."""
    root = tmp_path_factory.mktemp('pki')
    ovs_pki(root, '--dir=%s/ca' % root, 'init')
    ovs_pki(root, '--dir=%s/ca-next' % root, 'init')
    for ca in ('ca', 'ca-next'):
        (root / ca / 'nodes').mkdir()
        ovs_pki(root, '--dir=%s/%s' % (root, ca), '-u', 'req+sign', 'hv1', 'switch', cwd=str(root / ca / 'nodes'))
    return root


def read(path):
    with open(path) as handle:
        return handle.read()


def test_ovs_pki_certificates_are_told_apart_by_their_ca(pki):
    old_node = read(pki / 'ca' / 'nodes' / 'hv1-cert.pem')
    new_node = read(pki / 'ca-next' / 'nodes' / 'hv1-cert.pem')
    old_ca = read(pki / 'ca' / 'switchca' / 'cacert.pem')
    new_ca = read(pki / 'ca-next' / 'switchca' / 'cacert.pem')
    assert signed_by(old_node, old_ca) and not signed_by(old_node, new_ca)
    assert signed_by(new_node, new_ca) and not signed_by(new_node, old_ca)
    # The controller CA of the same PKI signed neither.
    assert not signed_by(new_node, read(pki / 'ca-next' / 'controllerca' / 'cacert.pem'))


def cas(root, *dirs, kinds=('controllerca',)):
    return ''.join(read(root / d / kind / 'cacert.pem') for d in dirs for kind in kinds)


def without_next(pki, tmp_path):
    root = tmp_path / 'pki'
    shutil.copytree(pki / 'ca', root / 'ca')
    return root


def test_without_a_rotation_the_current_ca_signs_and_is_trusted(pki, tmp_path):
    root = without_next(pki, tmp_path)
    out = ca_trust(str(root))
    assert out['signing'] == str(root / 'ca') and out['trusted'] == [str(root / 'ca')] and not out['next_exists']
    assert out['cacert'] == cas(root, 'ca')
    assert out['southbound_clients'] == cas(root, 'ca', kinds=('controllerca', 'switchca'))
    for rotation in (None, '', 'none'):
        assert ca_trust(str(root) + '/', rotation) == out


def test_phase_trust_in_check_mode_stands_in_for_the_ca_it_would_make(pki, tmp_path):
    root = without_next(pki, tmp_path)
    out = ca_trust(str(root), 'trust', True)
    assert out['trusted'] == [str(root / 'ca'), str(root / 'ca-next')]
    assert out['signing'] == str(root / 'ca')
    assert out['cacert'] == cas(root, 'ca') + '# %s/ca-next/controllerca/cacert.pem: made by this run (check mode)\n' % root
    assert out['southbound_clients'].count('-----BEGIN CERTIFICATE-----') == 2
    assert out['southbound_clients'].count('made by this run (check mode)') == 2
    with pytest.raises(AnsibleFilterError, match='ca-next/controllerca/cacert.pem is missing'):
        ca_trust(str(root), 'trust', False)


@pytest.mark.parametrize('rotation', [None, 'trust', 'sign'])
def test_while_the_new_ca_exists_both_are_trusted_and_the_new_one_signs(pki, rotation):
    out = ca_trust(str(pki), rotation)
    assert out['next_exists'] and out['signing'] == str(pki / 'ca-next')
    assert out['trusted'] == [str(pki / 'ca'), str(pki / 'ca-next')]
    assert out['cacert'] == cas(pki, 'ca', 'ca-next')
    assert out['southbound_clients'] == cas(pki, 'ca', 'ca-next', kinds=('controllerca', 'switchca'))
    assert out['southbound_clients'].count('-----BEGIN CERTIFICATE-----') == 4


def test_phase_finish_trusts_the_new_ca_alone_before_and_after_it_moves(pki, tmp_path):
    before = ca_trust(str(pki), 'finish')
    assert before['trusted'] == [str(pki / 'ca-next')] and before['signing'] == str(pki / 'ca-next')
    assert before['cacert'] == cas(pki, 'ca-next')
    # What the run does: the old CA retired, the new one in its place; a re-run finds this.
    root = tmp_path / 'pki'
    shutil.copytree(pki / 'ca-next', root / 'ca')
    after = ca_trust(str(root), 'finish')
    assert after['trusted'] == [str(root / 'ca')] and after['signing'] == str(root / 'ca')
    assert after['cacert'] == before['cacert'] and after['southbound_clients'] == before['southbound_clients']


def test_a_half_made_new_ca_is_not_taken_for_one(pki, tmp_path):
    root = without_next(pki, tmp_path)
    shutil.copytree(pki / 'ca-next' / 'controllerca', root / 'ca-next' / 'controllerca')
    out = ca_trust(str(root))
    assert not out['next_exists'] and out['signing'] == str(root / 'ca') and out['trusted'] == [str(root / 'ca')]


@pytest.mark.parametrize('args, message', [
    (('relative/pki',), 'must be an absolute path'),
    ((None,), 'must be an absolute path'),
    (('/srv/pki', 'rotate'), "phase 'rotate': it must be one of trust, sign, finish"),
])
def test_bad_input_is_refused(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ca_trust(*args)


def test_a_missing_current_ca_outside_check_mode_is_an_error(tmp_path):
    with pytest.raises(AnsibleFilterError, match='ca/controllerca/cacert.pem is missing'):
        ca_trust(str(tmp_path))
    assert os.listdir(str(tmp_path)) == []
