# -*- coding: utf-8 -*-
"""The pf_firewall role's own rules, rendered the way the role composes them."""

from __future__ import annotations

import os

import yaml

from ansible.template import Templar, trust_as_template
from ansible.parsing.dataloader import DataLoader
from ansible_collections.netvirt.overlay.plugins.module_utils._pf import render_filter_rule

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLE = os.path.join(ROOT, 'roles', 'pf_firewall')


def composed_filtering(**overrides):
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        variables = yaml.safe_load(handle)
    with open(os.path.join(ROLE, 'tasks', 'main.yml')) as handle:
        tasks = yaml.safe_load(handle)
    expr = [t for t in tasks if t['name'] == 'Compose the filter rules'][0]['ansible.builtin.set_fact']['pf_firewall__filtering']
    variables.update(pf_firewall__ssh_sources=['198.18.0.1'], pf_firewall_ssh_port=22, **overrides)
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template(expr))


def test_the_ssh_rule_keeps_an_established_session_when_pf_is_first_enabled():
    rules = composed_filtering(pf_firewall_default_deny_inbound=True)
    assert rules[0] == 'block in all'
    ssh = render_filter_rule(rules[1], 'openbsd', 'filtering[1]')
    # 'flags S/SA' would only create state for new connections: the running session would be dropped.
    assert 'flags any' in ssh and 'keep state' in ssh and 'port 22' in ssh, ssh
