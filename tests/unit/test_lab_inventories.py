# -*- coding: utf-8 -*-
"""Every inventory of lab hosts pins the userspace datapath: a lab host shares this machine's
kernel, and with ovs_datapath_type auto the ovs role would choose the kernel datapath (and load
the openvswitch module) on any machine whose kernel has it."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def yaml_files():
    listed = subprocess.run(['git', 'ls-files', '*.yml', '*.yaml'], cwd=ROOT, stdout=subprocess.PIPE,
                            universal_newlines=True, check=True).stdout.split()
    return [path for path in listed if not path.startswith(('plugins/', 'roles/', 'changelogs/'))]


def lab_var_blocks(node):
    """Every mapping that makes hosts lab hosts (ansible_connection: netvirt.overlay.namespace, or a
    template that chooses it or SSH to a lab machine, which shares this machine's kernel as well)."""
    if isinstance(node, dict):
        if 'netvirt.overlay.namespace' in str(node.get('ansible_connection', '')):
            yield node
        for value in node.values():
            yield from lab_var_blocks(value)
    elif isinstance(node, list):
        for value in node:
            yield from lab_var_blocks(value)


LAB_FILES = sorted(path for path in yaml_files()
                   if 'netvirt.overlay.namespace' in open(os.path.join(ROOT, path)).read()
                   and any(lab_var_blocks(yaml.safe_load(open(os.path.join(ROOT, path))))))


def test_the_lab_inventories_are_found():
    assert 'inventories/lab/group_vars/all.yml' in LAB_FILES and len(LAB_FILES) >= 8, LAB_FILES


@pytest.mark.parametrize('path', LAB_FILES)
def test_lab_hosts_pin_the_userspace_datapath(path):
    for block in lab_var_blocks(yaml.safe_load(open(os.path.join(ROOT, path)))):
        assert block.get('ovs_datapath_type') == 'netdev', path
