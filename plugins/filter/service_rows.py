# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: service_rows
short_description: Verification rows for service nodes and gateways, from what was measured
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Turns the figures that C(playbooks/lab/verify_services.yml) measured into rows for
    P(netvirt.overlay.verification_table#filter). Each row fails when its measurement is missing
    or empty (no frames counted, no pings sent, no direction tried), so a check cannot pass
    without having seen what it claims.
  - Failover rows prove the failover happened (the backup service node's flood bucket carried
    broadcasts; the other gateway held the address afterwards) and say which host carried the
    traffic after. They are marked C(timing) (their outage limits depend on the machine's load).
options:
  _input:
    description:
      - The measured figures, keys C(bum), C(sn_failover), C(l2), C(l3) (each omitted or null when
        that part was not measured).
    type: dict
    required: true
  service_nodes:
    description: The service nodes in inventory order (the order of the flood group's buckets).
    type: list
    elements: str
    default: []
  max_bum_outage:
    description: Longest tolerated BUM outage during a service-node failover, in seconds.
    type: float
    default: 3.0
  max_gw_outage:
    description: Longest tolerated outage during a gateway failover, in seconds.
    type: float
    default: 5.0
'''

EXAMPLES = r'''
- name: Rows for the report
  ansible.builtin.set_fact:
    rows: "{{ {'bum': verify_bum | default(None)} | netvirt.overlay.service_rows(groups['service_nodes']) }}"
'''

RETURN = r'''
_value:
  description: Rows with C(check), C(expect), C(measured), C(ok) and, for failovers, C(timing).
  type: list
  elements: dict
'''


def _int(value, default=0):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def bum_row(bum):
    count, receivers = _int(bum.get('count')), _int(bum.get('receivers'))
    direct, to_sn, wire = _int(bum.get('direct')), _int(bum.get('to_service_nodes')), _int(bum.get('wire'))
    check = 'BUM: %d ARP broadcasts leaving %s (%s replication)' % (count, bum.get('host'), bum.get('mode'))
    if bum.get('mode') == 'service_node':
        return {'check': check, 'expect': '%d to a service node, 0 direct' % count,
                'measured': '%d to a service node, %d direct (source: %d)' % (to_sn, direct, count * receivers),
                # The tunnels to the service nodes also carry BFD: a few packets more are fine.
                'ok': count > 0 and receivers > 0 and direct <= count // 10 and count <= to_sn <= count + 5}
    return {'check': check, 'expect': '%d direct' % (count * receivers),
            'measured': '%d packets on the wire, direct' % wire,
            'ok': count > 0 and receivers > 0 and wire >= count * receivers}


def sn_failover_row(fo, service_nodes, max_outage):
    node = fo.get('node')
    backups = [n for n in service_nodes if n != node]
    backup = backups[0] if backups else None
    index = service_nodes.index(backup) if backup else None
    before, after = fo.get('buckets_before') or [], fo.get('buckets_after') or []
    carried = (after[index] - before[index]) if index is not None and index < min(len(before), len(after)) else 0
    bum, unicast = fo.get('bum') or {}, fo.get('unicast') or {}
    sent, received = _int(unicast.get('sent')), _int(unicast.get('received'))
    outage = bum.get('outage_s')
    return {
        'check': 'service-node failover (%s link cut): BUM outage, unicast loss, backup' % node,
        'expect': 'BUM <= %s s, unicast <= 1 lost, %s carries BUM' % (max_outage, backup),
        'measured': '%s s; unicast %d/%d lost; %s carried %d BUM frames' % (outage, sent - received, sent, backup, carried),
        # Unicast goes hypervisor to hypervisor and should lose nothing; one lost ping in about
        # 250 is tolerated (seen once in eight runs, a reply in flight at the end). The row
        # shows the count, so any loss is visible.
        'ok': (_int(bum.get('received')) > 0 and outage is not None and float(outage) <= max_outage
               and sent > 0 and sent - received <= 1 and carried > 0),
        'timing': True}


def _attempts(seen, attempts, error=None):
    """What a connection check saw, and how many attempts it took when more than one. With no
    answer, the client's last error (a timeout and a refusal point at different faults)."""
    tries = _int(attempts, 1)
    if not seen and error:
        seen = 'no answer: %s' % error
    return (seen or 'no answer') + (' (attempt %d)' % tries if tries > 1 else '')


def gateway_rows(l2, l3, max_outage):
    pairs, replied = _int(l2.get('pairs')), _int(l2.get('ok'))
    snat, fip = l3.get('snat_seen') or '', l3.get('fip_seen') or ''
    fip_expect = '%s saw %s' % (l3.get('floating_vm'), l3.get('me'))
    failover = l3.get('failover') or {}
    sent, received = _int(failover.get('sent')), _int(failover.get('received'))
    holders = list(l3.get('active_after') or [])
    outage = failover.get('outage_s')
    return [
        {'check': 'L2 gateway: phys1 (VLAN 100) <-> %s' % l2.get('vms'), 'expect': 'replies both ways',
         'measured': '%d/%d directions reply' % (replied, pairs), 'ok': pairs > 0 and replied == pairs},
        {'check': 'L3 gateway: %s -> ext1 %s (SNAT)' % (l3.get('inside'), l3.get('me')), 'expect': 'ext1 saw %s' % l3.get('vip'),
         'measured': _attempts(snat, l3.get('snat_attempts'), l3.get('snat_error')), 'ok': bool(l3.get('vip')) and snat.endswith(' saw %s' % l3.get('vip'))},
        {'check': 'floating %s inbound from ext1' % l3.get('fip'), 'expect': fip_expect,
         'measured': _attempts(fip, l3.get('fip_attempts'), l3.get('fip_error')), 'ok': fip == fip_expect},
        {'check': 'gateway failover (keepalived stopped on %s): %s -> ext1' % (l3.get('active'), l3.get('inside')),
         'expect': '<= %s s, the other gateway holds %s' % (max_outage, l3.get('vip')),
         'measured': '%s s (%d/%d pings lost), then %s held %s'
                     % (outage, sent - received, sent, '+'.join(holders) or 'nobody', l3.get('vip')),
         'ok': (received > 0 and outage is not None and float(outage) <= max_outage
                and len(holders) == 1 and holders[0] != l3.get('active')),
         'timing': True},
    ]


def service_rows(measured, service_nodes=None, max_bum_outage=3.0, max_gw_outage=5.0):
    service_nodes = list(service_nodes or [])
    rows = []
    if measured.get('bum'):
        rows.append(bum_row(measured['bum']))
    if measured.get('sn_failover'):
        rows.append(sn_failover_row(measured['sn_failover'], service_nodes, float(max_bum_outage)))
    if measured.get('l2') and measured.get('l3'):
        rows.extend(gateway_rows(measured['l2'], measured['l3'], float(max_gw_outage)))
    return rows


class FilterModule(object):
    def filters(self):
        return {'service_rows': service_rows}
