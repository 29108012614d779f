# -*- coding: utf-8 -*-
"""The flow checker of ovs_flows: what ovs-ofctl would install as another flow is refused before
the switch is asked, and every flow the collection itself generates passes."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError
from ansible_collections.netvirt.overlay.plugins.plugin_utils._mesh import (
    normalise_networks, service_node_flows, tunnel_bridge_flows)
from ansible_collections.netvirt.overlay.plugins.module_utils._openflow import (
    PRIORITY_DEFAULT, check_flows, parse_flow, split_actions, tokens)
from ansible_collections.netvirt.overlay.plugins.module_utils import _ovs_flows

NETS = normalise_networks([{'name': 'blue', 'vni': 1001}, {'name': 'red', 'vni': 1002, 'vlan': 7}])


def tun(port, networks, kind='hypervisor'):
    return {'port': port, 'networks': list(networks), 'kind': kind}


HV_PEERS = [tun('gre-c612010c', ['blue', 'red']), tun('gre-c612010d', ['red']),
            tun('gre-c6120a15', ['blue', 'red'], 'gateway'), tun('gre-c6120a16', ['blue'], 'gateway'),
            tun('sn-c6120a1f', ['blue', 'red'], 'service_node'), tun('sn-c6120a20', ['blue', 'red'], 'service_node')]
SN_PEERS = [tun('gre-c612010b', ['blue', 'red']), tun('gre-c612010c', ['red']),
            tun('gre-c6120a15', ['blue', 'red'], 'gateway'), tun('gre-c6120a16', ['blue', 'red'], 'gateway')]


def refused(flows, *needles):
    with pytest.raises(InputError) as exc:
        check_flows(flows)
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)
    return str(exc.value)


# --- everything the collection generates passes -------------------------------------------------

GENERATED = {
    'hypervisor, source replication': tunnel_bridge_flows(NETS, ['blue', 'red'], HV_PEERS[:4]),
    'hypervisor, service-node replication': tunnel_bridge_flows(NETS, ['blue', 'red'], HV_PEERS,
                                                                bum_replication='service_node'),
    'hypervisor, one network, no peers': tunnel_bridge_flows(NETS, ['blue'], []),
    'gateway, source replication': tunnel_bridge_flows(NETS, ['blue', 'red'], HV_PEERS[:4], local_kind='gateway'),
    'gateway, service-node replication': tunnel_bridge_flows(NETS, ['red'], HV_PEERS, bum_replication='service_node',
                                                             local_kind='gateway'),
    'service node': service_node_flows(NETS, SN_PEERS),
    'service node, no peers': service_node_flows(NETS, []),
    # roles/gateway/templates/l2-notify.sh.j2 (through ovs-ofctl, the same syntax)
    'active L2 gateway': ['priority=0,actions=NORMAL'],
    # the module's EXAMPLES
    'ovs_flows examples': ['table=0,priority=10,in_port=patch-int actions=resubmit(,1)',
                           'table=0,priority=10,in_port=gre-c612010c actions=resubmit(,10)',
                           'table=0,priority=0 actions=drop'],
    # tests/integration/playbooks/bad_input.yml
    'bad-input suite host': ['table=0,priority=10,in_port=LOCAL,actions=drop', 'table=0,priority=0,actions=drop'],
}


@pytest.mark.parametrize('name', sorted(GENERATED))
def test_generated_flows_pass(name):
    flows = GENERATED[name]
    assert flows
    checked = check_flows(flows)
    assert [f.text for f in checked] == [f.strip() for f in flows]


def test_mesh_flows_are_understood_not_just_passed():
    flows = {f.text: f for f in check_flows(tunnel_bridge_flows(NETS, ['blue', 'red'], HV_PEERS[:4]))}
    flood = [f for t, f in flows.items() if t.startswith('table=21,priority=10,dl_vlan=7 actions=pop_vlan,')][0]
    assert (flood.table, flood.priority, flood.match) == (21, 10, {'dl_vlan': (7, None)})
    bum = flows['table=1,priority=10,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)']
    assert bum.match == {'dl_dst': (1 << 40, 1 << 40)}
    learn = [f for f in flows.values() if f.table == 11][0]
    assert learn.actions.startswith('learn(table=20,') and learn.match == {}


# --- splitting and parsing ------------------------------------------------------------------------

def test_split_and_tokens():
    assert split_actions('table=0, priority=5 in_port=1 actions=output:2') == ('table=0, priority=5 in_port=1 ', 'output:2')
    assert split_actions('in_port=1,action=drop') == ('in_port=1,', 'drop')
    assert tokens('table=0, priority=5 in_port="a b",packet_type=(0,0x800)') == [
        'table=0', 'priority=5', 'in_port="a b"', 'packet_type=(0,0x800)']


def test_defaults_aliases_and_equivalent_spellings():
    flow = parse_flow('in_port=1,actions=drop', 'flows[0]')
    assert (flow.table, flow.priority) == (0, PRIORITY_DEFAULT)
    one = parse_flow('table=1,priority=20,tcp,tp_dst=80,actions=drop', 'f').key()
    assert parse_flow('priority=20 table=1 ip nw_proto=6 tcp_dst=0x50 actions=NORMAL', 'f').key() == one
    assert parse_flow('table:1,priority=20,dl_type=0x0800,ip_proto=6,tp_dst=80,actions=drop', 'f').key() == one
    # host bits under a prefix are what the switch clears
    assert (parse_flow('ip,nw_src=198.18.1.5/24,actions=drop', 'f').key()
            == parse_flow('ip,nw_src=198.18.1.0/255.255.255.0,actions=drop', 'f').key())


@pytest.mark.parametrize('flow', [
    'table=254,priority=65535,actions=drop',
    'priority=0,actions=drop',
    'dl_vlan=4095,dl_vlan_pcp=7,actions=drop',
    'dl_vlan=0xffff,actions=drop',                    # OpenFlow 1.0: no VLAN tag
    'vlan_vid=0x1064/0x1fff,actions=drop',
    'vlan_vid=0,actions=drop',
    'tcp,tp_src=0,tp_dst=65535,actions=drop',
    'udp6,tp_dst=0x1000/0xf000,actions=drop',
    'sctp,sctp_dst=9899,actions=drop',
    'icmp,icmp_type=8,icmp_code=0,actions=drop',
    'icmp,tp_src=8,actions=drop',                     # ovs-ofctl reads it as the ICMP type
    'icmp6,icmp_type=135,nd_target=2001:db8::1,nd_sll=02:00:00:00:00:01,actions=drop',
    'ip,nw_src=198.18.0.0/15,nw_dst=198.18.100.0/255.255.255.0,nw_tos=184,nw_ttl=64,actions=drop',
    'ip,ip_dscp=46,nw_ecn=3,nw_frag=later,actions=drop',
    'ipv6,ipv6_src=2001:db8::/32,ipv6_dst=2001:db8::1,ipv6_label=0x12345,actions=drop',
    'arp,arp_op=1,arp_spa=198.18.1.1,arp_tpa=198.18.1.0/24,arp_sha=02:00:00:00:00:01,actions=drop',
    'arp,nw_src=198.18.1.1,nw_proto=2,actions=drop',
    'rarp,actions=drop',
    'ip,tcp,tp_dst=22,actions=drop',
    'mpls,mpls_label=1048575,mpls_tc=7,mpls_bos=1,actions=drop',
    'tun_id=0x3e9/0xffffffff,tun_src=198.18.1.12,reg0=5,xreg1=0x10,metadata=0x1,actions=drop',
    'ct_state=+trk+est,ct_zone=5,actions=drop',       # not known to the checker: left to ovs-ofctl
    'in_port=LOCAL,send_flow_rem,hard_timeout=10,idle_timeout=0,importance=1,actions=drop',
    'table=classifier,actions=drop',                  # a table name, resolved by ovs-ofctl
    'table=010,actions=drop',                         # tables are read in decimal
    'dl_src=2:0:0:0:0:1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop',
])
def test_good_flows(flow):
    check_flows([flow])


@pytest.mark.parametrize('flow, needles', [
    ('', ['flows[0]', 'empty']),
    ('   ', ['flows[0]', 'empty']),
    ('table=255,actions=drop', ['table', '255', '0-254']),
    ('table=1000,actions=drop', ['0-254']),
    ('priority=65536,actions=drop', ['priority', '0-65535']),
    ('priority=010,actions=drop', ['priority', 'octal (8)']),
    ('dl_vlan=010,actions=drop', ['dl_vlan', 'octal']),
    ('priority=high,actions=drop', ['priority', 'not a number']),
    ('tp_dst=80,actions=drop', ['tp_dst', 'tcp']),
    ('ip,tp_dst=80,actions=drop', ['tp_dst', 'tcp']),
    ('nw_proto=6,tp_dst=80,actions=drop', ['nw_proto', 'ip']),
    ('ip,nw_dst=198.18.100.300,actions=drop', ['nw_dst', '198.18.100.300']),
    ('nw_dst=198.18.100.3,actions=drop', ['nw_dst', 'ip']),
    ('ipv6,nw_dst=198.18.100.3,actions=drop', ['nw_dst']),
    ('ip,nw_dst=198.18.100.0/33,actions=drop', ['nw_dst', '/33']),
    ('ip,nw_dst=198.18.100.0/255.255.0.256,actions=drop', ['nw_dst mask']),
    ('dl_vlan=5000,actions=drop', ['dl_vlan', '5000', '0-4095']),
    ('dl_vlan=10/0xff,actions=drop', ['dl_vlan', 'mask']),
    ('dl_vlan_pcp=9,actions=drop', ['dl_vlan_pcp', '0-7']),
    ('vlan_vid=100,actions=drop', ['vlan_vid', '0x1064']),
    ('tcp,tp_dst=70000,actions=drop', ['tp_dst', '70000']),
    ('tcp,tp_dst=80/0x10000,actions=drop', ['tp_dst mask']),
    ('tcp,tp_dst=http,actions=drop', ['tp_dst', 'not a number']),
    ('udp,tcp_dst=53,actions=drop', ['tcp_dst', 'tcp']),
    ('tcp,udp_src=53,actions=drop', ['udp_src']),
    ('ip,ipv6_src=2001:db8::1,actions=drop', ['ipv6_src', 'ipv6']),
    ('ipv6,ipv6_src=2001:db8::zz,actions=drop', ['ipv6_src']),
    ('ipv6,ipv6_src=2001:db8::/129,actions=drop', ['ipv6_src', '/129']),
    ('ip,arp_tpa=198.18.1.1,actions=drop', ['arp_tpa', 'arp']),
    ('arp,arp_op=256,actions=drop', ['arp_op', '0-255']),
    ('icmp6,nd_target=2001:db8::1,actions=drop', ['nd_target', 'icmp_type=135']),
    ('icmp6,icmp_type=136,nd_sll=02:00:00:00:00:01,actions=drop', ['nd_sll', '135']),
    ('tcp,icmp_type=8,actions=drop', ['icmp_type']),
    ('ip,nw_tos=3,actions=drop', ['nw_tos', 'ECN']),
    ('ip,ip_dscp=70,actions=drop', ['ip_dscp', '0-63']),
    ('ip,nw_ecn=5,actions=drop', ['nw_ecn', '0-3']),
    ('mpls_label=5,actions=drop', ['mpls_label', 'mpls']),
    ('tun_src=198.18.1.400,actions=drop', ['tun_src']),
    ('dl_src=00:11:22:33:44:zz,actions=drop', ['dl_src', '00:11:22:33:44:zz']),
    ('dl_src=00-11-22-33-44-55,actions=drop', ['dl_src']),
    ('ipv6,tcp,tp_dst=22,actions=drop', ['ipv6 and tcp', 'tcp6']),
    ('tcp,udp,actions=drop', ['tcp and udp']),
    ('ip,arp,actions=drop', ['ip and arp']),
    ('dl_type=0x86dd,udp,actions=drop', ['udp6']),
    ('ip,nw_proto=17,tcp,actions=drop', ['nw_proto=17 and tcp']),
    ('ip,nw_src=198.18.1.1,nw_src=198.18.1.2,actions=drop', ['nw_src', 'twice']),
    ('ip,nw_src=198.18.1.1,ip_src=198.18.1.2,actions=drop', ['nw_src', 'twice']),
    ('table=0,table=1,actions=drop', ['table', 'twice']),
    ('cookie=0x1,actions=drop', ['cookie']),
    ('in_port=1', ['no actions']),
    ('in_port=1,actions=', ['actions= is empty']),
    ('in_port=1,actions:drop', ["actions=..."]),
    ('in_port=action1,actions=drop', ["'action'", 'in_port=action']),
    ('in_port=1,actions=drop\nin_port=2,actions=drop', ['line break']),
    ('in_port=1,actions=drop # a comment', ['#']),
    ('in_port=1,actions=output:2,\\', ['trailing']),
    ('idle_timeout=70000,actions=drop', ['idle_timeout']),
])
def test_bad_flows(flow, needles):
    msg = refused([flow], 'flows[0]', *needles)
    if flow.strip():
        assert flow.strip() in msg


def test_message_names_the_entry_and_the_flow():
    msg = refused(['table=0,priority=0,actions=drop', 'table=0,priority=20,dl_vlan=5000,actions=drop'])
    assert msg == ("flows[1] 'table=0,priority=20,dl_vlan=5000,actions=drop': dl_vlan: 5000 is outside 0-4095")


@pytest.mark.parametrize('flows', [
    ['table=0,priority=10,in_port=1,actions=drop', 'table=0,priority=10,in_port=1,actions=NORMAL'],
    ['in_port=1,actions=drop', 'table=0,priority=32768,in_port=1,actions=NORMAL'],
    ['table=1,priority=20,tcp,tp_dst=80,actions=drop', 'priority=20,table=1,ip,nw_proto=6,tp_dst=0x50,actions=NORMAL'],
    ['priority=5,actions=drop', 'priority=5 actions=NORMAL'],
    ['dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=drop', 'dl_dst=1:0:0:0:0:0/1:0:0:0:0:0,actions=drop'],
    ['ipv6,ipv6_dst=2001:db8::/64,actions=drop', 'ipv6,ipv6_dst=2001:db8:0::0/64,actions=NORMAL'],
])
def test_duplicate_matches_are_refused(flows):
    refused(flows, 'flows[1]', 'flows[0]', 'same table')


@pytest.mark.parametrize('flows', [
    ['table=0,priority=10,in_port=1,actions=drop', 'table=1,priority=10,in_port=1,actions=drop'],
    ['table=0,priority=10,in_port=1,actions=drop', 'table=0,priority=11,in_port=1,actions=drop'],
    ['tcp,tp_dst=80,actions=drop', 'tcp6,tp_dst=80,actions=drop'],
    ['dl_vlan=1,actions=drop', 'dl_vlan=2,actions=drop'],
])
def test_different_matches_are_kept(flows):
    assert len(check_flows(flows)) == 2


# --- the module around the checker -----------------------------------------------------------------

def params(**kw):
    base = dict(bridge='br-tun', flows=['table=0,priority=0,actions=drop'], cookie=0x4e56, state='present',
                protocol='OpenFlow14')
    base.update(kw)
    return base


@pytest.mark.parametrize('kw, needles', [
    (dict(flows=[]), ['flows', 'empty', 'state: absent', '0x4e56', 'br-tun']),
    (dict(flows=None), ['flows', 'missing', 'state: absent']),
    (dict(flows=['']), ['flows[0]', 'empty']),
    (dict(state='absent'), ['flows', 'absent']),
    (dict(cookie=0), ['cookie', 'nobody owns']),
    (dict(cookie=2 ** 64), ['cookie']),
])
def test_module_request_refused(kw, needles):
    with pytest.raises(InputError) as exc:
        _ovs_flows.check_request(params(**kw))
    for needle in needles:
        assert needle in str(exc.value)


def test_module_bridge_name_checked():
    with pytest.raises(Exception) as exc:
        _ovs_flows.check_request(params(bridge='br tun'))
    assert 'bridge' in str(exc.value)


def test_module_request_accepted():
    assert _ovs_flows.check_request(params(flows=[' in_port=1,actions=drop '])) == ['in_port=1,actions=drop']
    assert _ovs_flows.check_request(params(state='absent', flows=None)) == []
    assert _ovs_flows.check_request(params(state='absent', flows=[])) == []


def test_ofctl_errors_are_told_against_the_entry():
    err = 'ovs-ofctl: /tmp/ovs_flows-abc.txt:2: unknown action bogus\n'
    flows = ['table=0,priority=0,actions=drop', 'in_port=1,actions=bogus']
    assert _ovs_flows.ofctl_error(err, '/tmp/ovs_flows-abc.txt', flows) == (
        "flows[1] 'in_port=1,actions=bogus': ovs-ofctl: unknown action bogus")
    assert _ovs_flows.ofctl_error('ovs-ofctl: br-x is not a bridge or a socket', '/tmp/ovs_flows-abc.txt', flows) is None
