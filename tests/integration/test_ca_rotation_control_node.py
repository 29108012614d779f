# -*- coding: utf-8 -*-
"""The three phases of a CA rotation (overlay_ovn_ca_rotation) on the control node's PKI and in the
SSL directories of two nodes, with the role's own tasks: site.yml's preflight and the controller
role's certificate entry point, run with a local connection on a controller and a chassis whose
SSL directories are temporary directories. What this cannot show (that the daemons take the new
files without losing a connection, that old keys are refused) is the OVN lab's drill,
tests/integration/test_ovn_lab.py::test_the_ca_is_rotated_in_three_runs_without_loss.

It runs the real ovs-pki and eleven playbook runs (216 s on the 2-core development machine, under
other engineers' load), so it is here and not under tests/unit, which the suite runs again under
each older ansible-core (tools/version_matrix.sh --units)."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.netvirt.overlay.plugins.plugin_utils._pki import certificate_signed_by, certificates

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CALLBACKS = os.path.join(ROOT, 'tests', 'integration', 'callback_plugins')
PREFLIGHT = {'name': 'netvirt.overlay.overlay', 'tasks_from': 'preflight'}
CERTIFICATE = {'name': 'netvirt.overlay.controller', 'tasks_from': 'certificate'}
PLAYBOOK = [
    {'name': 'Preflight', 'hosts': 'controllers:hypervisors', 'gather_facts': False, 'any_errors_fatal': True,
     'tasks': [{'name': 'Preflight', 'ansible.builtin.include_role': PREFLIGHT}]},
    {'name': 'Certificates', 'hosts': 'controllers:hypervisors', 'gather_facts': False,
     'tasks': [{'name': 'Certificates', 'ansible.builtin.include_role': CERTIFICATE}]},
]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp('ca-rotation')
    inventory = {'all': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                 'overlay_control_plane': 'ovn', 'overlay_encapsulation': 'geneve',
                 'overlay_ovn_pki_dir': str(root / 'pki')},
        'children': {
            'controllers': {'hosts': {'ctl1': {'controller_address': '198.18.0.21',
                                               'overlay_ovn_ssl_dir': str(root / 'ctl1')}}},
            'hypervisors': {'hosts': {'hv1': {'ovs_system_id': 'hv1', 'overlay_tep_address': '198.18.0.31/24',
                                              'overlay_ovn_ssl_dir': str(root / 'hv1')}}}}}}
    (root / 'hosts.yml').write_text(yaml.safe_dump(inventory))
    (root / 'play.yml').write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    return root


def run(lab, phase=None, check=False, expect_rc=0):
    """ansible-playbook (--diff, -v); (its results, its output)."""
    results_path = str(lab / 'results.json')
    argv = ['ansible-playbook', '-i', str(lab / 'hosts.yml'), str(lab / 'play.yml'), '--diff', '-v'] \
        + (['-e', 'overlay_ovn_ca_rotation=%s' % phase] if phase else []) + (['--check'] if check else [])
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_CALLBACK_PLUGINS=CALLBACKS,
               ANSIBLE_CALLBACKS_ENABLED='results_file', NVO_RESULTS_FILE=results_path)
    proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False, timeout=600)
    with open(results_path) as handle:
        data = json.load(handle)
    assert proc.returncode == expect_rc, proc.stdout[-6000:]
    text = proc.stdout + json.dumps(data)
    assert 'PRIVATE KEY' not in text, 'a private key was printed'
    for name in glob.glob(str(lab / 'pki' / 'nodes' / '*' / '*-privkey.pem')):
        # A key's base64 holds its public key, which its certificate (printed in a diff) shows too:
        # only the lines of the key that are not in the certificate are secret.
        cert = name.replace('-privkey.pem', '-cert.pem')
        public = read(cert) if os.path.exists(cert) else ''
        secret = [line for line in read(name).splitlines() if line and not line.startswith('-----') and line not in public]
        assert secret and not [line for line in secret if line in text], '%s was printed' % name
    return data, proc.stdout


def changed(data):
    return dict((host, stats['changed']) for host, stats in data['stats'].items() if stats['changed'])


def read(path):
    with open(str(path)) as handle:
        return handle.read()


def tree(path):
    """{relative path: sha256} of every file under path (the PKI, the nodes' SSL directories)."""
    out = {}
    for folder, _dirs, names in os.walk(str(path)):
        for name in names:
            full = os.path.join(folder, name)
            with open(full, 'rb') as handle:
                out[os.path.relpath(full, str(path))] = hashlib.sha256(handle.read()).hexdigest()
    return out


def state(lab):
    return {part: tree(lab / part) for part in ('pki', 'ctl1', 'hv1')}


def count(pem):
    return pem.count('-----BEGIN CERTIFICATE-----')


def test_trust_sign_finish(lab):
    pki = lab / 'pki'
    run(lab)
    old = {ca: read(pki / 'ca' / ca / 'cacert.pem') for ca in ('controllerca', 'switchca')}
    first = {host: read(lab / host / 'ovn-cert.pem') for host in ('ctl1', 'hv1')}
    assert read(lab / 'hv1' / 'cacert.pem') == old['controllerca']

    # trust: check mode predicts it and changes nothing; the run makes ca-next/ and the bundles.
    before = state(lab)
    predicted = changed(run(lab, 'trust', check=True)[0])
    assert set(predicted) == {'ctl1', 'hv1'}, predicted
    assert state(lab) == before
    data, _out = run(lab, 'trust')
    assert set(changed(data)) == {'ctl1', 'hv1'}
    new = {ca: read(pki / 'ca-next' / ca / 'cacert.pem') for ca in ('controllerca', 'switchca')}
    assert new['controllerca'] != old['controllerca']
    assert read(lab / 'hv1' / 'cacert.pem') == old['controllerca'] + new['controllerca']
    assert read(lab / 'ctl1' / 'cacert.pem') == old['controllerca'] + new['controllerca']
    assert read(lab / 'ctl1' / 'southbound-clients-cacert.pem') == \
        old['controllerca'] + old['switchca'] + new['controllerca'] + new['switchca']
    assert {host: read(lab / host / 'ovn-cert.pem') for host in ('ctl1', 'hv1')} == first, 'trust changed a node certificate'
    assert 'default_days   = 365' in read(pki / 'ca-next' / 'switchca' / 'ca.cnf')
    # (That a run between phases keeps both CAs trusted is ovn_ca_trust's: tests/unit/plugins/filter/test_pki.py.)
    assert changed(run(lab, 'trust')[0]) == {}

    # finish before sign: refused by the preflight, nothing changed.
    before = state(lab)
    _data, out = run(lab, 'finish', expect_rc=2)
    assert 'is not one the new CA' in out and 'Run site.yml with overlay_ovn_ca_rotation=sign first' in out, out[-3000:]
    assert state(lab) == before

    # sign: every node gets a key and certificate of the new CA; the old ones are kept.
    predicted = changed(run(lab, 'sign', check=True)[0])
    assert set(predicted) == {'ctl1', 'hv1'}, predicted
    assert state(lab) == before
    run(lab, 'sign')
    for host, ca in (('ctl1', 'controllerca'), ('hv1', 'switchca')):
        cert = read(lab / host / 'ovn-cert.pem')
        assert cert != first[host]
        assert certificate_signed_by(cert, new[ca]) and not certificate_signed_by(cert, old[ca]), host
        # The certificate before the key: a daemon loads them again only when it sees the key change
        # after the certificate (Open vSwitch's stream_ssl_set_key_and_cert).
        assert os.stat(str(lab / host / 'ovn-cert.pem')).st_mtime_ns <= os.stat(str(lab / host / 'ovn-privkey.pem')).st_mtime_ns
    retired = os.listdir(str(pki / 'nodes' / 'retired'))
    assert len([name for name in retired if name.endswith('-cert.pem')]) == 2, retired
    assert len([name for name in retired if name.endswith('-privkey.pem')]) == 2, retired
    assert count(read(lab / 'hv1' / 'cacert.pem')) == 2
    assert changed(run(lab, 'sign')[0]) == {}

    # finish: the old CA retired (dated), the new one in ca/, the nodes trust it alone.
    before = state(lab)
    predicted = changed(run(lab, 'finish', check=True)[0])
    assert set(predicted) == {'ctl1', 'hv1'}, predicted
    assert state(lab) == before
    run(lab, 'finish')
    assert not (pki / 'ca-next').exists()
    assert {ca: read(pki / 'ca' / ca / 'cacert.pem') for ca in ('controllerca', 'switchca')} == new
    kept = glob.glob(str(pki / 'retired' / 'ca-*'))
    assert len(kept) == 1 and read(os.path.join(kept[0], 'controllerca', 'cacert.pem')) == old['controllerca'], kept
    assert os.path.isfile(os.path.join(kept[0], 'controllerca', 'private', 'cakey.pem'))
    assert read(lab / 'hv1' / 'cacert.pem') == new['controllerca']
    assert read(lab / 'ctl1' / 'cacert.pem') == new['controllerca']
    assert read(lab / 'ctl1' / 'southbound-clients-cacert.pem') == new['controllerca'] + new['switchca']
    assert read(pki / 'southbound-clients-cacert.pem') == new['controllerca'] + new['switchca']
    assert count(read(lab / 'ctl1' / 'southbound-clients-cacert.pem')) == 2
    # (Once ca-next/ is gone, a run without overlay_ovn_ca_rotation does what this one does: the
    # OVN lab's drill ends with such a run.)
    assert changed(run(lab, 'finish')[0]) == {}
    # A certificate text, not a placeholder, everywhere.
    assert len(certificates(read(lab / 'ctl1' / 'cacert.pem'), 'test')) == 1
