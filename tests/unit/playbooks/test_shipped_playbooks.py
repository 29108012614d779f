# -*- coding: utf-8 -*-
"""Every playbook parses and lists its tasks against inventories of real hosts (the shipped
example with two hypervisors, and tests/inventories/real_hosts with every group): the shipped ones
(playbooks/*.yml) and the lab's (playbooks/lab/*.yml), which must not break on an inventory that is
not the lab's. playbooks/ holds only what users run on real hosts; site.yml, the one they run, plays on the
overlay's groups only: never on a group the lab also has (vms, lab_outside, the lab's switches),
which on a real inventory are real guests and machines."""

from __future__ import annotations

import glob
import os
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REAL_HOSTS = os.path.join(ROOT, 'tests', 'inventories', 'real_hosts')
INVENTORIES = {'example': os.path.join(ROOT, 'inventories', 'example'), 'real_hosts': REAL_HOSTS}
SHIPPED = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'playbooks', '*.yml')))
LAB = sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'playbooks', 'lab', '*.yml')))
PLAYBOOKS = SHIPPED + LAB
# The hosts site.yml may touch in that inventory: the overlay's four groups.
OVERLAY_HOSTS = {'ctl1.example.net', 'ctl2.example.net', 'ctl3.example.net', 'kvm1.example.net', 'kvm2.example.net',
                 'sn1.example.net', 'gw1.example.net'}


def ansible_playbook(*args, inventory=REAL_HOSTS):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    proc = subprocess.run(['ansible-playbook', '-i', inventory] + list(args), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, 'ansible-playbook %s: rc %d\n%s' % (' '.join(args), proc.returncode, proc.stdout)
    assert 'ERROR' not in proc.stdout, proc.stdout
    return proc.stdout


def test_playbooks_holds_what_users_run_and_the_lab_its_own():
    assert SHIPPED == ['playbooks/site.yml', 'playbooks/upgrade.yml'], SHIPPED
    assert {'playbooks/lab/create.yml', 'playbooks/lab/deploy.yml', 'playbooks/lab/verify.yml'} <= set(LAB), LAB
    assert sorted(os.listdir(os.path.join(ROOT, 'playbooks'))) == ['lab', 'site.yml', 'upgrade.yml']


@pytest.mark.parametrize('inventory', sorted(INVENTORIES))
@pytest.mark.parametrize('playbook', PLAYBOOKS)
def test_parses_and_lists_its_tasks_against_real_hosts(playbook, inventory):
    ansible_playbook(playbook, '--syntax-check', inventory=INVENTORIES[inventory])
    out = ansible_playbook(playbook, '--list-tasks', inventory=INVENTORIES[inventory])
    assert 'playbook: %s' % playbook in out


def test_site_plays_on_the_overlay_groups_only():
    out = ansible_playbook('playbooks/site.yml', '--list-hosts')
    hosts = set(line.strip() for line in out.splitlines()
                if line.startswith('      ') and line.strip() and not line.strip().startswith(('play #', 'pattern:', 'hosts (')))
    assert hosts, out
    assert hosts <= OVERLAY_HOSTS, 'site.yml plays on hosts outside the overlay: %s\n%s' % (sorted(hosts - OVERLAY_HOSTS), out)
    assert 'web1.example.net' not in out and 'db1.example.net' not in out, out


def test_upgrade_plays_on_the_overlay_groups_one_machine_at_a_time_and_stops_on_the_first_failure():
    with open(os.path.join(ROOT, 'playbooks', 'upgrade.yml')) as handle:
        plays = yaml.safe_load(handle)
    overlay = {'controllers', 'relays', 'hypervisors', 'service_nodes', 'gateways'}
    batches = {'netvirt_upgrade_chassis_before', 'netvirt_upgrade_controllers', 'netvirt_upgrade_chassis_after'}
    for play in plays:
        assert set(play['hosts'].split(':')) <= overlay | batches, play['name']
        # Every play stops the whole run on any failure; no play touches a host of the lab's own groups.
        assert play.get('any_errors_fatal') is True, play['name']
        assert play.get('gather_facts') is False, play['name']
    upgrading = [play for play in plays if play['hosts'] in batches]
    assert [play['hosts'] for play in upgrading] == ['netvirt_upgrade_chassis_before', 'netvirt_upgrade_controllers',
                                                     'netvirt_upgrade_chassis_after']
    for play in upgrading:
        assert play.get('serial') == 1 and play.get('max_fail_percentage') == 0, play['name']
    # Nothing is upgraded before the preflight ran on every host.
    assert plays[0]['tasks'][0]['ansible.builtin.include_role']['tasks_from'] == 'preflight'
    assert plays[0]['hosts'] == 'controllers:relays:hypervisors:service_nodes:gateways'
