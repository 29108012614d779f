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

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.netvirt.overlay.plugins.plugin_utils._ovn import cluster_servers

_CLUSTER_ID = re.compile(r'^Cluster ID: \S+ \(([0-9a-f-]+)\)', re.M)
_SERVER_ID = re.compile(r'^Server ID: ([0-9a-f]{4}) ', re.M)
_NAME = re.compile(r'^Name: (\S+)', re.M)


def listed_servers(status):
    """[(short server ID, address)] of the servers a cluster/status lists."""
    return [(server['sid'], server['address']) for server in cluster_servers(status or '')]


def own_answer(controller, database):
    """What a controller answered about its own server of ``database`` ('' when nothing)."""
    registered = controller.get('controller_member_status') or {}
    for result in registered.get('results') or []:
        answer = result.get('stdout') or ''
        found = _NAME.search(answer)
        if found and found.group(1) == database:
            return answer
    return ''


def raft_kick_plan(status, controllers):
    if not isinstance(status, str) or not _CLUSTER_ID.search(status) or not _NAME.search(status):
        raise AnsibleFilterError('raft_kick_plan: the input is not the output of ovn-appctl cluster/status')
    if not isinstance(controllers, list) or not all(hasattr(c, 'get') and c.get('controller_address') for c in controllers):
        raise AnsibleFilterError('raft_kick_plan: controllers must be the variables of each controller, '
                                 'each with controller_address')
    cluster_id = _CLUSTER_ID.search(status).group(1)
    database = _NAME.search(status).group(1)
    listed = listed_servers(status)
    known = set(str(c.get('controller_address')) for c in controllers)
    # The server ID of each controller that answers as a member of this very cluster.
    own = {}
    for controller in controllers:
        answer = own_answer(controller, database)
        found = _SERVER_ID.search(answer)
        if found and 'Status: cluster member' in answer and cluster_id in answer:
            own[str(controller.get('controller_address'))] = found.group(1)
    kick = []
    for sid, address in listed:
        if address not in known:
            kick.append({'sid': sid, 'address': address, 'reason': 'not in the inventory'})
        elif address in own and own[address] != sid:
            kick.append({'sid': sid, 'address': address,
                         'reason': 'replaced by server %s at the same address' % own[address]})
    return {'cluster_id': cluster_id, 'listed': len(listed), 'agreeing': len(own),
            'safe': len(own) > len(listed) // 2, 'kick': kick,
            'unknown': [address for _sid, address in listed if address not in known]}


class FilterModule(object):
    def filters(self):
        return {'raft_kick_plan': raft_kick_plan}
