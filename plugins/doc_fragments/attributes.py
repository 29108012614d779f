# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # Modules whose check mode and diff come from the same plan as the real run.
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Check mode plans the same changes a real run would make and writes nothing.
    support: full
  diff_mode:
    description: Shows the state before and after (predicted in check mode).
    support: full
'''
