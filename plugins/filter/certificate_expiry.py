# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: certificate_expiry
short_description: When a PEM certificate expires, and in how many days
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - Reads the first certificate of a PEM text (for example a node certificate of the OVN PKI, read
    with P(ansible.builtin.file#lookup) on the control node) and returns its end date, the days left
    until then, its subject's common name and its serial number. No module runs, since the PKI lives
    on the control node.
requirements:
  - cryptography (a dependency of ansible-core) on the control node
options:
  _input:
    description: A PEM certificate.
    type: str
    required: true
  now:
    description: The moment to count from, ISO 8601 in UTC (default now). For tests and reports.
    type: str
'''

EXAMPLES = r'''
- name: Days left on this node's certificate
  ansible.builtin.debug:
    msg: "{{ (lookup('ansible.builtin.file', '/srv/pki/nodes/chassis/hv1-cert.pem') | netvirt.overlay.certificate_expiry).days_left }}"
'''

RETURN = r'''
_value:
  description:
    - C(not_after) (ISO 8601, UTC), C(days_left) (whole days, negative once expired), C(common_name), C(serial)
      (hexadecimal), C(issuer) (the issuing CA's name, RFC 4514) and C(fingerprint) (SHA-256, hexadecimal).
  type: dict
'''

import datetime

from ansible.errors import AnsibleFilterError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - ansible-core depends on it
    x509 = None


def _utc(value):
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def certificate_expiry(pem, now=None):
    if x509 is None:
        raise AnsibleFilterError('certificate_expiry needs the Python library cryptography on the control node')
    if not isinstance(pem, str) or '-----BEGIN CERTIFICATE-----' not in pem:
        raise AnsibleFilterError('certificate_expiry: the input is not a PEM certificate')
    start = pem.index('-----BEGIN CERTIFICATE-----')
    try:
        cert = x509.load_pem_x509_certificate(pem[start:].encode('ascii'))
    except ValueError as exc:
        raise AnsibleFilterError('certificate_expiry: the certificate cannot be read: %s' % exc)
    try:
        moment = _utc(datetime.datetime.fromisoformat(now.replace('Z', '+00:00'))) if now else \
            datetime.datetime.now(datetime.timezone.utc)
    except (AttributeError, ValueError):
        raise AnsibleFilterError('certificate_expiry: now must be an ISO 8601 date and time, not %r' % (now,))
    not_after = _utc(getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {'not_after': not_after.strftime('%Y-%m-%dT%H:%M:%SZ'),
            'days_left': (not_after - moment).days,
            'common_name': names[0].value if names else '',
            'serial': '%x' % cert.serial_number,
            'issuer': cert.issuer.rfc4514_string(),
            'fingerprint': cert.fingerprint(hashes.SHA256()).hex()}


class FilterModule(object):
    def filters(self):
        return {'certificate_expiry': certificate_expiry}
