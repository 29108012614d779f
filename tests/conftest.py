# -*- coding: utf-8 -*-
"""Make ``ansible_collections.netvirt.overlay`` importable when pytest runs from a checkout.

tools/setup.sh links the checkout into <cache>/ansible_collections/netvirt/overlay and exports
NVO_COLLECTIONS; without it, a link is made in a temporary directory.
"""

from __future__ import annotations

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_dir():
    given = os.environ.get('NVO_COLLECTIONS')
    if given and os.path.isdir(os.path.join(given, 'ansible_collections', 'netvirt', 'overlay')):
        return given
    base = tempfile.mkdtemp(prefix='nvo-collections-')
    os.makedirs(os.path.join(base, 'ansible_collections', 'netvirt'))
    os.symlink(ROOT, os.path.join(base, 'ansible_collections', 'netvirt', 'overlay'))
    return base


COLLECTIONS = _collections_dir()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', COLLECTIONS)
