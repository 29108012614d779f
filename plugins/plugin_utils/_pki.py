# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OVN PKI on the control node (ovs-pki's two CAs under overlay_ovn_pki_dir): when a certificate
expires, which certificate a CA signed, and which CAs the nodes trust while the CA itself is rotated.

A CA rotation keeps the old CA in ``ca/`` and makes the new one in ``ca-next/`` (phase trust); the
nodes trust both until every node certificate is signed by the new one (phase sign); then the new
CA takes the old one's place and the nodes trust only it (phase finish).
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import MeshError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - ansible-core depends on it
    x509 = None

BEGIN = '-----BEGIN CERTIFICATE-----'
END = '-----END CERTIFICATE-----'
# The two CAs of ovs-pki, in the order the southbound's bundle lists them.
CAS = ('controllerca', 'switchca')
PHASES = ('trust', 'sign', 'finish')


def certificates(pem, what):
    """Every certificate of a PEM text, in order (ovs-pki's files start with a text dump: skipped)."""
    if x509 is None:
        raise MeshError('%s needs the Python library cryptography on the control node' % what)
    if not isinstance(pem, str) or BEGIN not in pem:
        raise MeshError('%s: the input is not a PEM certificate' % what)
    out = []
    rest = pem
    while BEGIN in rest:
        start = rest.index(BEGIN)
        end = rest.find(END, start)
        if end < 0:
            raise MeshError('%s: a certificate has no end line' % what)
        block = rest[start:end + len(END)]
        try:
            out.append(x509.load_pem_x509_certificate(block.encode('ascii')))
        except ValueError as exc:
            raise MeshError('%s: a certificate cannot be read: %s' % (what, exc))
        rest = rest[end + len(END):]
    return out


def _utc(value):
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def certificate_expiry(pem, now=None):
    """End date, days left (counted from ``now``, ISO 8601, default now), common name, serial, issuer
    and SHA-256 fingerprint of the first certificate of a PEM text."""
    if x509 is None:
        raise MeshError('certificate_expiry needs the Python library cryptography on the control node')
    if not isinstance(pem, str) or BEGIN not in pem:
        raise MeshError('certificate_expiry: the input is not a PEM certificate')
    start = pem.index(BEGIN)
    try:
        cert = x509.load_pem_x509_certificate(pem[start:].encode('ascii'))
    except ValueError as exc:
        raise MeshError('certificate_expiry: the certificate cannot be read: %s' % exc)
    try:
        moment = _utc(datetime.datetime.fromisoformat(now.replace('Z', '+00:00'))) if now else \
            datetime.datetime.now(datetime.timezone.utc)
    except (AttributeError, ValueError):
        raise MeshError('certificate_expiry: now must be an ISO 8601 date and time, not %r' % (now,))
    not_after = _utc(getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {'not_after': not_after.strftime('%Y-%m-%dT%H:%M:%SZ'),
            'days_left': (not_after - moment).days,
            'common_name': names[0].value if names else '',
            'serial': '%x' % cert.serial_number,
            'issuer': cert.issuer.rfc4514_string(),
            'fingerprint': cert.fingerprint(hashes.SHA256()).hex()}


def _verify_signature(cert, issuer):
    """Raises unless issuer's key made cert's signature (and the names chain)."""
    if hasattr(cert, 'verify_directly_issued_by'):  # cryptography 40 and later
        cert.verify_directly_issued_by(issuer)
        return
    if cert.issuer != issuer.subject:
        raise ValueError('issuer name differs')
    key = issuer.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    else:
        raise TypeError('unsupported CA key type')


def certificate_signed_by(pem, ca_pem):
    """True when the first certificate of ``pem`` names the CA certificate ``ca_pem`` as its issuer
    and that CA's key made its signature; False otherwise (another CA, or a CA with the same name
    but another key)."""
    cert = certificates(pem, 'certificate_signed_by')[0]
    ca = certificates(ca_pem, 'certificate_signed_by (CA)')[0]
    if cert.issuer != ca.subject:
        return False
    try:
        _verify_signature(cert, ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _read(path, placeholder):
    """A CA certificate file's text; with ``placeholder`` (check mode, before the run made it) a
    comment line instead of a file that is not there yet."""
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        if placeholder:
            return '# %s: made by this run (check mode)\n' % path
        raise MeshError('%s is missing: the PKI is incomplete (restore overlay_ovn_pki_dir from its backup)' % path)


def _bundle(paths, placeholder):
    """The files' texts one after the other, each ending with a newline."""
    out = []
    for path in paths:
        text = _read(path, placeholder)
        out.append(text if text.endswith('\n') else text + '\n')
    return ''.join(out)


def ovn_ca_trust(pki_dir, rotation=None, check_mode=False):
    """The CAs of an OVN PKI for a run with the CA rotation phase ``rotation`` (None, trust, sign
    or finish): where they are, which one signs new node certificates, and the CA bundles the
    nodes get (``cacert``: controller CAs; ``southbound_clients``: controller and switch CAs).

    Trust follows what is on disk, so that a run between phases (rotation not set) keeps both CAs
    trusted: ``ca-next/`` exists from phase trust until phase finish moves it to ``ca/``.
    In check mode a CA the run would make is not there yet: a comment line stands for it.
    """
    if not isinstance(pki_dir, str) or not pki_dir.startswith('/'):
        raise MeshError('pki_dir %r: it must be an absolute path on the control node' % (pki_dir,))
    if rotation in ('', 'none'):
        rotation = None
    if rotation is not None and rotation not in PHASES:
        raise MeshError('CA rotation phase %r: it must be one of %s' % (rotation, ', '.join(PHASES)))
    pki_dir = pki_dir.rstrip('/')
    current = pki_dir + '/ca'
    following = pki_dir + '/ca-next'
    next_exists = all(os.path.isfile('%s/%s/cacert.pem' % (following, ca)) for ca in CAS)
    if rotation == 'finish':
        # The new CA alone: still in ca-next until the run moves it (and in check mode).
        trusted = [following if next_exists else current]
    elif rotation == 'trust' or next_exists:
        trusted = [current, following]
    else:
        trusted = [current]
    signing = following if next_exists else current
    placeholder = bool(check_mode)
    return {
        'current': current,
        'next': following,
        'next_exists': next_exists,
        'signing': signing,
        'trusted': trusted,
        'cacert': _bundle(['%s/controllerca/cacert.pem' % d for d in trusted], placeholder),
        'southbound_clients': _bundle(['%s/%s/cacert.pem' % (d, ca) for d in trusted for ca in CAS], placeholder),
    }
