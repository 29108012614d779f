# -*- coding: utf-8 -*-
"""The service-node and gateway rows of the verification table fail without a measurement."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.filter.service_rows import service_rows

SERVICE_NODES = ['sn1', 'sn2']
BUM_VIA_SN = {'count': '50', 'mode': 'service_node', 'to_service_nodes': '52', 'direct': '0', 'wire': '52',
              'receivers': '2', 'host': 'hv1'}
BUM_SOURCE = dict(BUM_VIA_SN, mode='source', to_service_nodes='0', wire='100')
SN_FAILOVER = {'node': 'sn1', 'bum': {'sent': 300, 'received': 290, 'outage_s': 0.9},
               'unicast': {'sent': 300, 'received': 300}, 'buckets_before': [400, 10, 0], 'buckets_after': [480, 200, 0]}
L2 = {'pairs': '4', 'ok': '4', 'vms': 'vm1, vm2'}
L3 = {'inside': 'vm2', 'floating_vm': 'vm1', 'snat_seen': 'ext1 saw 198.18.50.10', 'fip_seen': 'vm1 saw 198.18.50.100',
      'vip': '198.18.50.10', 'fip': '198.18.50.20', 'me': '198.18.50.100', 'active': 'gw1', 'active_after': ['gw2'],
      'failover': {'sent': 400, 'received': 380, 'outage_s': 1.2}}


def rows(**measured):
    return service_rows(measured, SERVICE_NODES)


def verdicts(**measured):
    return [(r['check'].split(' ')[0], r['ok']) for r in rows(**measured)]


def test_everything_measured_passes():
    table = rows(bum=BUM_VIA_SN, sn_failover=SN_FAILOVER, l2=L2, l3=L3)
    assert [r['ok'] for r in table] == [True] * 6
    assert rows(bum=BUM_SOURCE)[0]['ok']


def test_a_burst_of_zero_frames_fails():
    assert not rows(bum=dict(BUM_VIA_SN, count='0', to_service_nodes='0'))[0]['ok']
    assert not rows(bum=dict(BUM_SOURCE, count='0', wire='0'))[0]['ok']
    assert not rows(bum=dict(BUM_SOURCE, receivers='0'))[0]['ok']


def test_unicast_with_nothing_sent_fails():
    row = rows(sn_failover=dict(SN_FAILOVER, unicast={'sent': 0, 'received': 0}))[0]
    assert not row['ok'] and '0/0 lost' in row['measured']


def test_service_node_failover_proves_the_backup_carried_the_broadcasts():
    row = rows(sn_failover=dict(SN_FAILOVER, buckets_after=[480, 10, 0]))[0]
    assert not row['ok'] and 'sn2 carried 0 BUM frames' in row['measured']
    assert not rows(sn_failover=dict(SN_FAILOVER, buckets_before=[], buckets_after=[]))[0]['ok']
    good = rows(sn_failover=SN_FAILOVER)[0]
    assert good['timing'] and 'sn2 carried 190 BUM frames' in good['measured']


def test_l2_gateway_with_no_direction_tried_fails():
    row = rows(l2=dict(L2, pairs='0', ok='0'), l3=L3)[0]
    assert row['check'].startswith('L2 gateway') and not row['ok']


def test_gateway_failover_proves_the_other_gateway_took_over():
    def failover(**l3):
        return [r for r in rows(l2=L2, l3=dict(L3, **l3)) if r['check'].startswith('gateway failover')][0]
    assert failover()['ok'] and 'then gw2 held' in failover()['measured']
    assert not failover(active_after=['gw1'])['ok']          # keepalived stopped, but nobody took over
    assert not failover(active_after=[])['ok']
    assert not failover(active_after=['gw1', 'gw2'])['ok']   # both claim the address
    assert not failover(failover={'sent': 0, 'received': 0, 'outage_s': 0.0})['ok']


def test_a_connection_that_took_several_attempts_says_so():
    fip = [r for r in rows(l2=L2, l3=dict(L3, fip_attempts='3')) if r['check'].startswith('floating')][0]
    assert fip['ok'] and fip['measured'] == 'vm1 saw 198.18.50.100 (attempt 3)'


def test_missing_snat_answer_fails():
    snat = [r for r in rows(l2=L2, l3=dict(L3, snat_seen='')) if r['check'].startswith('L3 gateway')][0]
    assert not snat['ok'] and snat['measured'] == 'no answer'


def test_a_connection_with_no_answer_shows_the_clients_last_error():
    fip = [r for r in rows(l2=L2, l3=dict(L3, fip_seen='', fip_attempts='5', fip_error='TimeoutError: timed out'))
           if r['check'].startswith('floating')][0]
    assert not fip['ok'] and fip['measured'] == 'no answer: TimeoutError: timed out (attempt 5)'
