# -*- coding: utf-8 -*-
"""The collection as users get it: the tarball ansible-galaxy builds, checked the way Galaxy
checks an upload, installed into an infrastructure-as-code project of its own, and built into an
execution environment (as far as that goes without a container engine).

Nothing here uses the checkout's ansible.cfg or the collections path tools/setup.sh links the
checkout into: the consumer project finds only what the tarball installed.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# What the artifact holds at its top level, and the only playbook users get; anything else is
# development or lab material and belongs in galaxy.yml's build_ignore.
TOP_LEVEL = {'CHANGELOG.md', 'COPYING', 'FILES.json', 'MANIFEST.json', 'README.md', 'bindep.txt', 'changelogs',
             'docs', 'meta', 'playbooks', 'plugins', 'requirements.txt', 'roles'}
PLAYBOOKS = {'playbooks/site.yml', 'playbooks/upgrade.yml'}  # what users run on real hosts
CHANGELOG_FILES = {'changelogs/changelog.yaml', 'changelogs/config.yaml'}

# A minimal IaC repository, as docs/using.md describes it.
CONSUMER_FILES = {
    'ansible.cfg': '[defaults]\ncollections_path = ./collections\ninventory = ./inventory\n',
    'inventory/hosts.yml': (
        '---\nall:\n  children:\n    hypervisors:\n      hosts:\n'
        '        kvm1.example.net: {ansible_host: 192.0.2.21, overlay_tep_address: 192.168.200.20/24}\n'
        '        kvm2.example.net: {ansible_host: 192.0.2.22, overlay_tep_address: 192.168.200.21/24}\n'),
    'inventory/group_vars/all.yml': (
        '---\noverlay_encapsulation: vxlan\noverlay_networks:\n  - {name: web, vni: 5001}\n'),
    'inventory/group_vars/hypervisors.yml': '---\nhypervisor_underlay_interfaces: [eth2, eth3]\n',
    'site.yml': ('---\n- name: Overlay network\n  ansible.builtin.import_playbook: netvirt.overlay.site\n'),
}


def consumer_env():
    """This environment without what points Ansible at the checkout (tools/setup.sh sets them)."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    for name in list(env):
        if name.startswith('ANSIBLE_') or name in ('NVO_COLLECTIONS',):
            del env[name]
    return env


def run(argv, cwd, env=None, check=True, timeout=600):
    proc = subprocess.run(argv, cwd=cwd, env=env or consumer_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('%s exited %d:\n%s' % (' '.join(argv), proc.returncode, proc.stdout[-6000:]))
    return proc


def galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle)['version']


def tree_contents():
    """{kind: set of names} of what the checkout holds, found without ansible-doc."""
    def stems(path, suffix='.py'):
        return {f[:-len(suffix)] for f in os.listdir(os.path.join(ROOT, path))
                if f.endswith(suffix) and not f.startswith('_')}
    filters = set()
    # tests/conftest.py puts the checkout on sys.path as ansible_collections.netvirt.overlay.
    for stem in stems('plugins/filter'):
        module = importlib.import_module('ansible_collections.netvirt.overlay.plugins.filter.' + stem)
        if hasattr(module, 'FilterModule'):
            filters |= set(module.FilterModule().filters())
    return {
        'module': stems('plugins/modules'),
        'connection': stems('plugins/connection'),
        'filter': filters,
        'role': {d for d in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isdir(os.path.join(ROOT, 'roles', d))},
    }


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('artifact')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), ROOT], cwd=str(out))
    path = out / ('netvirt-overlay-%s.tar.gz' % galaxy_version())
    assert path.is_file(), 'ansible-galaxy built no %s' % path.name
    return path


@pytest.fixture(scope='module')
def consumer(tarball, tmp_path_factory):
    """An empty project with its own ansible.cfg, the collection installed from the tarball into
    its collections/ (as a user who commits collections/ has it)."""
    project = tmp_path_factory.mktemp('consumer')
    for rel, text in CONSUMER_FILES.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', str(tarball)], cwd=str(project))
    installed = project / 'collections' / 'ansible_collections' / 'netvirt' / 'overlay'
    assert (installed / 'MANIFEST.json').is_file(), 'the collection was not installed under the project'
    return project


def test_artifact_holds_only_what_users_run(tarball):
    with tarfile.open(str(tarball)) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    assert {n.split('/')[0] for n in names} == TOP_LEVEL
    assert {n for n in names if n.startswith('playbooks/')} == PLAYBOOKS
    assert {n for n in names if n.startswith('changelogs/')} == CHANGELOG_FILES
    assert not [n for n in names if 'vault' in n.lower() or n.endswith('.pem')], 'secrets or test keys in the artifact'
    for role in tree_contents()['role']:
        assert 'roles/%s/README.md' % role in names, 'role %s has no README.md' % role


def test_install_from_git_leaves_out_development_material(tmp_path):
    """ansible-galaxy collection install git+...: what docs/using.md tells users; it builds from the
    repository's last commit with the same build_ignore as a release."""
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-p', str(tmp_path / 'c'),
         'git+file://' + ROOT], cwd=str(tmp_path))
    installed = tmp_path / 'c' / 'ansible_collections' / 'netvirt' / 'overlay'
    assert {p.name for p in installed.iterdir()} == TOP_LEVEL
    assert sorted(p.name for p in (installed / 'playbooks').iterdir()) == sorted(os.path.basename(p) for p in PLAYBOOKS)


def test_galaxy_importer_accepts_the_artifact(tarball):
    env = dict(consumer_env(), GALAXY_IMPORTER_CONFIG=os.path.join(ROOT, 'tools', 'galaxy-importer.cfg'),
               HOME=os.environ.get('HOME', '/root'))
    proc = run([sys.executable, '-m', 'galaxy_importer.main', str(tarball)], cwd=str(tarball.parent), env=env,
               check=False)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert 'Importer processing completed successfully' in proc.stdout
    # The checks that matter ran (a config that turned them off would otherwise pass silently).
    for step in ('Getting doc strings via ansible-doc', 'Linting collection via ansible-lint',
                 '...ansible-lint run complete', 'Loading role hypervisor', 'Loading module ovs_bridge'):
        assert step in proc.stdout, 'galaxy-importer did not run: %s' % step
    complaints = [line for line in proc.stdout.splitlines() if line.startswith(('WARNING', 'ERROR'))]
    assert not complaints, 'galaxy-importer complained:\n%s' % '\n'.join(complaints)


def test_consumer_project_syntax_check_and_lint(consumer):
    run([os.path.join(BIN, 'ansible-playbook'), '--syntax-check', 'site.yml'], cwd=str(consumer))
    lint = run([os.path.join(BIN, 'ansible-lint'), '--profile', 'production', '--offline', '--nocolor'],
               cwd=str(consumer), check=False)
    assert lint.returncode == 0, lint.stdout[-6000:]
    # The committed collections/ is linted too: far more files than the project's own five.
    processed = re.search(r'in (\d+) files processed', lint.stdout)
    assert processed, lint.stdout[-2000:]
    installed = os.path.join(str(consumer), 'collections')
    yaml_files = sum(1 for walked in os.walk(installed) for f in walked[2] if f.endswith(('.yml', '.yaml')))
    assert int(processed.group(1)) >= yaml_files, lint.stdout[-2000:]


@pytest.mark.parametrize('kind', ['module', 'connection', 'filter', 'role'])
def test_consumer_project_documents_every_plugin_and_role(consumer, kind):
    expected = tree_contents()[kind]
    assert expected, 'found no %s in the checkout' % kind
    doc = os.path.join(BIN, 'ansible-doc')
    listed = json.loads(run([doc, '-t', kind, '--list', '--json', 'netvirt.overlay'], cwd=str(consumer)).stdout)
    assert {name.split('.')[-1] for name in listed} == expected
    names = ['netvirt.overlay.' + n for n in sorted(expected)]
    shown = json.loads(run([doc, '-t', kind, '--json'] + names, cwd=str(consumer)).stdout)
    assert set(shown) == set(names)
    for name, data in shown.items():
        docs = data['entry_points']['main'] if kind == 'role' else data['doc']
        assert docs.get('short_description'), '%s has no short_description' % name
        assert docs.get('version_added'), '%s has no version_added' % name
        if kind != 'role':
            assert data.get('examples') or kind == 'connection', '%s has no EXAMPLES' % name
    # The text form too: what a user reads.
    text = run([doc, '-t', kind] + names, cwd=str(consumer)).stdout
    for name in names:
        assert name in text


def test_execution_environment_dependencies(consumer, tmp_path):
    """What an EE build collects from the installed collection: ansible-builder introspect, and
    the build's own introspect script from `ansible-builder create`; the dpkg names are the
    packages this Debian machine has installed (bindep finds none missing)."""
    builder = os.path.join(BIN, 'ansible-builder')
    intro = run([builder, 'introspect', os.path.join(str(consumer), 'collections')], cwd=str(tmp_path)).stdout
    print(intro)
    data = yaml.safe_load(intro.split('\n', 1)[1])
    python = [line.split('#')[0].strip() for line in data['python']]
    system = [line.split('#')[0].strip() for line in data['system']]
    assert python == ['ovs>=2.17']
    assert 'openvswitch-common [platform:dpkg]' in system and 'openvswitch [platform:rpm]' in system
    assert 'python3-openvswitch [platform:dpkg platform:rpm]' in system

    context = tmp_path / 'context'
    run([builder, 'create', '-f', os.path.join(ROOT, 'docs', 'execution-environment', 'execution-environment.yml'),
         '-c', str(context)], cwd=str(tmp_path))
    containerfile = next(p for p in (context / 'Containerfile', context / 'Dockerfile') if p.is_file()).read_text()
    assert 'ansible-galaxy collection install' in containerfile
    assert 'introspect.py introspect' in containerfile and 'install-from-bindep' in containerfile
    with open(str(context / '_build' / 'requirements.yml')) as handle:
        assert yaml.safe_load(handle)['collections'][0]['name'] == 'netvirt.overlay'
    # The builder stage's step, run here on the collection the project installed.
    written_pip, written_bindep = tmp_path / 'requirements.txt', tmp_path / 'bindep.txt'
    run([sys.executable, str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
         '--write-pip=%s' % written_pip, '--write-bindep=%s' % written_bindep,
         os.path.join(str(consumer), 'collections')], cwd=str(tmp_path))
    assert 'ovs>=2.17' in written_pip.read_text()
    assert 'python3-openvswitch' in written_bindep.read_text()
    missing = run([os.path.join(BIN, 'bindep'), '--brief', '--file', str(written_bindep)], cwd=str(tmp_path),
                  check=False)
    assert missing.returncode == 0 and not missing.stdout.strip(), 'bindep: missing on Debian: %s' % missing.stdout


def checkout_copy(dest):
    """The files git would ship, copied to dest/ansible_collections/netvirt/overlay."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                           stdout=subprocess.PIPE, check=True).stdout.decode().split('\0')
    copy = os.path.join(str(dest), 'ansible_collections', 'netvirt', 'overlay')
    for rel in filter(None, files):
        if os.path.isfile(os.path.join(ROOT, rel)):
            os.makedirs(os.path.dirname(os.path.join(copy, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(copy, rel))
    return copy


def test_changelog_of_this_version_lists_everything_once(tmp_path):
    """The changelog's release for galaxy.yml's version, as antsibull-changelog makes it from the
    fragments and each plugin's and role's version_added, lists every module, plugin and role of
    the tree once across all releases. Between releases (galaxy.yml's version not released yet) the
    release is made in a copy, as `antsibull-changelog release` would make it. CHANGELOG.md must be
    what antsibull-changelog generates from changelogs/changelog.yaml."""
    version = galaxy_version()
    copy = checkout_copy(tmp_path)
    tool = os.path.join(BIN, 'antsibull-changelog')
    env = dict(consumer_env(), ANSIBLE_COLLECTIONS_PATH=str(tmp_path))
    run([tool, 'lint'], cwd=copy, env=env)
    run([tool, 'generate'], cwd=copy, env=env)
    with open(os.path.join(ROOT, 'CHANGELOG.md')) as mine, open(os.path.join(copy, 'CHANGELOG.md')) as generated:
        assert mine.read() == generated.read(), 'CHANGELOG.md is not what antsibull-changelog generate makes'
    with open(os.path.join(copy, 'changelogs', 'changelog.yaml')) as handle:
        released = version in (yaml.safe_load(handle)['releases'] or {})
    if not released:
        run([tool, 'release'], cwd=copy, env=env)
    with open(os.path.join(copy, 'changelogs', 'changelog.yaml')) as handle:
        releases = yaml.safe_load(handle)['releases']
    listed = {'module': [], 'connection': [], 'filter': [], 'role': []}
    for release, data in releases.items():
        for entry in data.get('modules', []):
            listed['module'].append((entry['name'], release))
        for kind, entries in (data.get('plugins') or {}).items():
            listed.setdefault(kind, []).extend((entry['name'], release) for entry in entries)
        listed['role'].extend((entry['name'], release) for entry in (data.get('objects') or {}).get('role', []))
    for kind, names in tree_contents().items():
        entries = [entry[0] for entry in listed[kind]]
        assert len(entries) == len(set(entries)), '%s listed more than once: %s' % (kind, sorted(entries))
        assert set(entries) == names, '%s: the changelog lists %s, the tree has %s' % (kind, sorted(entries), sorted(names))
        # Each is listed in the release its version_added names (a released changelog.yaml does
        # not change when a version_added does).
        shown = json.loads(run([os.path.join(BIN, 'ansible-doc'), '-t', kind, '--json']
                               + ['netvirt.overlay.' + n for n in sorted(names)], cwd=copy, env=env).stdout)
        for name, release in listed[kind]:
            data = shown['netvirt.overlay.' + name]
            added = (data['entry_points']['main'] if kind == 'role' else data['doc']).get('version_added')
            assert str(added) == release, '%s %s: version_added %s, listed in the changelog of %s' % (kind, name, added, release)
    assert releases[version].get('changes') or releases[version].get('modules'), 'release %s is empty' % version
