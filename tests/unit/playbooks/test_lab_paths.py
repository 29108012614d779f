# -*- coding: utf-8 -*-
"""The lab's playbooks live under playbooks/lab/: every place that names a playbook (tools/lab.sh, the
tests, Molecule, the benchmarks, the docs) names a file that exists, and every import_playbook
of the tree finds its playbook. A move that misses a reference fails here, not in a lab run."""

from __future__ import annotations

import os
import re
import subprocess

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# A path that starts at a folder named playbooks: from the top of the checkout, or from a folder
# above the file that names it (tests/integration/playbooks/..., bench/playbooks/...).
# import_playbook's relative paths (../../playbooks/...) are checked below.
PLAYBOOK_PATH = re.compile(r'(?<![\w./])playbooks/[\w./-]+\.(?:yml|py)')
# The released changelog keeps the names of its time.
NOT_CHECKED = {'changelogs/changelog.yaml'}


def tracked(*patterns):
    out = subprocess.run(['git', 'ls-files', '--'] + list(patterns), cwd=ROOT, stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.split()
    return [path for path in out if path not in NOT_CHECKED and os.path.isfile(os.path.join(ROOT, path))]


def exists_from(path, name):
    """name is a file from the top of the checkout or from a folder above path."""
    folder = os.path.dirname(path)
    while True:
        if os.path.isfile(os.path.join(ROOT, folder, name)):
            return True
        if not folder:
            return False
        folder = os.path.dirname(folder)


def test_every_playbook_named_in_the_tree_exists():
    named = {}
    for path in tracked():
        try:
            with open(os.path.join(ROOT, path)) as handle:
                text = handle.read()
        except UnicodeDecodeError:
            continue
        for found in PLAYBOOK_PATH.findall(text):
            named.setdefault(found, []).append(path)
    assert 'playbooks/lab/create.yml' in named and 'playbooks/lab/deploy.yml' in named, sorted(named)
    missing = dict((name, [path for path in where if not exists_from(path, name)]) for name, where in named.items())
    missing = dict((name, where) for name, where in missing.items() if where)
    assert not missing, 'named but not in the tree: %s' % missing


def test_every_imported_playbook_exists():
    imports = []
    for path in tracked('*.yml'):
        with open(os.path.join(ROOT, path)) as handle:
            try:
                plays = yaml.safe_load(handle)
            except yaml.YAMLError:
                continue
        if not isinstance(plays, list):
            continue
        for play in plays:
            target = play.get('ansible.builtin.import_playbook') if isinstance(play, dict) else None
            if target and '{{' not in target and '.' in os.path.basename(target):
                imports.append((path, os.path.normpath(os.path.join(ROOT, os.path.dirname(path), target))))
    assert len(imports) >= 8, imports
    missing = [(path, os.path.relpath(target, ROOT)) for path, target in imports if not os.path.isfile(target)]
    assert not missing, missing
