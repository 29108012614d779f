# -*- coding: utf-8 -*-
"""The classic OVS GRE recipe (an isolated bridge per hypervisor, a GRE port to the other) between two lab hosts: VM-to-VM ping across the tunnel."""

from __future__ import annotations

import os
import re

from conftest import HERE, changed_hosts, results

PLAYBOOK = os.path.join(HERE, 'playbooks', 'gre_pair.yml')


def test_gre_tunnel_carries_vm_traffic_and_reruns_clean(lab_playbook):
    pb = lab_playbook('gre_pair.yml')
    first = pb.run(PLAYBOOK)
    for vm, res in results(first, 'Ping the other VM').items():
        assert res['rc'] == 0, res
        assert re.search(r' 0% packet loss', res['stdout']), res['stdout']
    tunnels = results(first, 'GRE tunnel to the other hypervisor')
    assert list(tunnels['hv1']['tunnels']) == ['gre-c612010c']
    assert list(tunnels['hv2']['tunnels']) == ['gre-c612010b']

    check = pb.run(PLAYBOOK, check=True)
    assert changed_hosts(check) == {}

    second = pb.run(PLAYBOOK)
    assert changed_hosts(second) == {}
