# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: raft_kick_plan
short_description: Which servers of an OVN Raft cluster to kick, and whether it is safe
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - Reads the C(cluster/status) of one OVN database (northbound or southbound) as one member sees
    it, and what every controller of the inventory answered about its own server, and says which
    listed servers are to be kicked (C(cluster/kick)).
  - A server is kicked when no controller of the inventory has its address (the controller was
    removed from the inventory), or when the controller at its address answers as a member of
    this cluster with another server ID (the machine was replaced by a fresh one with the same
    address, which joined as a new server; the dead one would otherwise keep counting as a vote
    that never comes).
  - A controller that did not answer (down, unreachable) keeps its server, since it may come back.
  - Kicking changes the cluster's size, so the plan is C(safe) only while more than half of the
    servers the cluster lists are controllers of the inventory that answer as members of this
    same cluster.
options:
  _input:
    description: The output of C(ovn-appctl cluster/status DB) on the member that kicks.
    type: str
    required: true
  controllers:
    description:
      - The variables (C(hostvars[name])) of every controller of the inventory that is to be a
        member, with its C(controller_address), and C(controller_member_status), the registered
        C(cluster/status) of its own servers (the controller role's member tasks register it, and a
        controller without it did not answer).
    type: list
    elements: dict
    required: true
'''

EXAMPLES = r'''
- name: Servers to kick from the northbound cluster
  ansible.builtin.set_fact:
    nb_plan: >-
      {{ nb_status.stdout | netvirt.overlay.raft_kick_plan(groups['controllers'] | map('extract', hostvars) | list) }}
'''

RETURN = r'''
_value:
  description:
    - C(cluster_id) (the full ID of the cluster the status shows), C(listed) (how many servers it
      lists), C(agreeing) (how many controllers of the inventory answer as members of that cluster),
      C(safe) (agreeing is a majority of listed), C(unknown) (addresses of listed servers that no
      controller of the inventory has) and C(kick) (the servers to kick, each with C(sid), C(address)
      and C(reason)).
  type: dict
'''

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filter

# The logic is in plugins/plugin_utils/_ovn.py, next to the other readers of cluster/status.
raft_kick_plan = lazy_filter('_ovn', 'raft_kick_plan')


class FilterModule(object):
    def filters(self):
        return {'raft_kick_plan': raft_kick_plan}
