# -*- coding: utf-8 -*-
"""ovs_tunnels: names, options, validation and group-scoped purge."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._tunnels import (
    desired_tunnels, plan, port_name)
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError, simulate

from .test_vswitch import bridge, iface, port


def params(**kw):
    base = {'bridge': 'br-tun', 'tunnel_type': 'gre', 'remotes': [], 'local_ip': '198.18.1.11', 'key': None,
            'dst_port': None, 'csum': None, 'ttl': None, 'tos': None, 'df_default': None, 'options': None,
            'bfd': False, 'bfd_min_rx': None, 'bfd_min_tx': None, 'group': 'default', 'name_prefix': None,
            'purge': False}
    base.update(kw)
    return base


def test_port_names_are_deterministic_and_short():
    assert port_name('gre', '198.18.1.12') == 'gre-c612010c'
    assert port_name('geneve', '198.18.1.12') == 'geneve-c612010c'
    v6 = port_name('vxlan', '2001:db8::1')
    assert v6 == port_name('vxlan', '2001:0db8:0::1') and len(v6) <= 15


def test_local_endpoint_is_skipped_and_options_are_complete():
    ports = desired_tunnels(params(tunnel_type='vxlan', key='flow', dst_port=4790, csum=True, bfd=True,
                                   bfd_min_rx=300, remotes=['198.18.1.11', '198.18.1.12']))
    assert list(ports) == ['vxlan-c612010c']
    i = ports['vxlan-c612010c']['interfaces']['vxlan-c612010c']
    assert i == {'type': 'vxlan', 'bfd': {'enable': 'true', 'min_rx': '300'},
                 'options': {'local_ip': '198.18.1.11', 'remote_ip': '198.18.1.12', 'key': 'flow',
                             'dst_port': '4790', 'csum': 'true'}}
    assert ports['vxlan-c612010c']['external_ids'] == {
        'netvirt-overlay-tunnel-group': 'default', 'netvirt-overlay-remote': '198.18.1.12'}


def test_per_remote_name_key_and_options():
    ports = desired_tunnels(params(key='5', remotes=[{'remote_ip': '198.18.1.13', 'name': 'sn1', 'key': '7',
                                                      'options': {'ttl': 9}}]))
    assert ports['sn1']['interfaces']['sn1']['options'] == {
        'local_ip': '198.18.1.11', 'remote_ip': '198.18.1.13', 'key': '7', 'ttl': '9'}


@pytest.mark.parametrize('kw, message', [
    ({'remotes': ['198.18.1.256']}, "remote_ip '198.18.1.256' is not an IP address"),
    ({'local_ip': 'nowhere', 'remotes': []}, "local_ip 'nowhere' is not an IP address"),
    ({'remotes': ['198.18.1.12', '198.18.1.12']}, 'remote 198.18.1.12 is listed twice'),
    ({'remotes': ['2001:db8::2']}, 'not the same IP version'),
    ({'tunnel_type': 'ipip', 'remotes': []}, "tunnel_type 'ipip' is not one of"),
    ({'tunnel_type': 'geneve', 'key': '16777216', 'remotes': []}, 'key 16777216 is outside 0-16777215 for geneve'),
    ({'key': 'abc', 'remotes': []}, "key 'abc' must be 'flow' or a number"),
    ({'dst_port': 4789, 'remotes': []}, 'dst_port does not apply to gre'),
    ({'tunnel_type': 'vxlan', 'dst_port': 70000, 'remotes': []}, 'dst_port 70000 is outside'),
    ({'name_prefix': 'toolong', 'remotes': []}, "name_prefix 'toolong' is longer than 6"),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'name': 'x'}, {'remote_ip': '198.18.1.13', 'name': 'x'}]},
     "both map to port name 'x'"),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'colour': 'red'}]}, 'unknown keys: colour'),
    ({'remotes': [42]}, 'each remote must be an IP address or a dict'),
    ({'bfd': True, 'bfd_min_rx': 0, 'remotes': []}, 'bfd_min_rx must be at least 1 ms'),
])
def test_bad_requests_are_refused(kw, message):
    with pytest.raises(PlanError, match=message):
        desired_tunnels(params(**kw))


def tunnel(remote, group='default', ttype='gre'):
    name = port_name(ttype, remote)
    return name, port({name: iface(type=ttype, options={'local_ip': '198.18.1.11', 'remote_ip': remote})},
                      external_ids={'netvirt-overlay-tunnel-group': group, 'netvirt-overlay-remote': remote})


def test_purge_stays_inside_the_group():
    state = {'br-tun': bridge(dict([tunnel('198.18.1.12'), tunnel('198.18.1.13'),
                                    tunnel('198.18.1.14', group='service-nodes')],
                                   **{'patch-int': port({'patch-int': iface(type='patch')})}))}
    pr = params(remotes=['198.18.1.12'], purge=True)
    changes = plan(pr, desired_tunnels(pr), state)
    assert changes == [{'op': 'del_port', 'bridge': 'br-tun', 'port': 'gre-c612010d'}]
    assert 'gre-c612010e' in simulate(state, changes)['br-tun']['ports']


def test_no_change_when_converged_and_a_rerun_of_500_is_empty():
    remotes = ['198.18.%d.%d' % (2 + i // 250, 1 + i % 250) for i in range(500)]
    pr = params(remotes=remotes)
    ports = desired_tunnels(pr)
    first = plan(pr, ports, {'br-tun': bridge({})})
    assert len(first) == 500 and all(c['op'] == 'add_port' for c in first)
    after = simulate({'br-tun': bridge({})}, first)
    assert plan(pr, ports, after) == []


def test_foreign_port_with_a_tunnel_name_is_not_taken_over():
    name, _p = tunnel('198.18.1.12')
    state = {'br-tun': bridge({name: port({name: iface(type='gre')})})}
    pr = params(remotes=['198.18.1.12'])
    with pytest.raises(PlanError, match='is not a tunnel of group'):
        plan(pr, desired_tunnels(pr), state)


def test_missing_bridge_is_refused():
    pr = params(remotes=['198.18.1.12'])
    with pytest.raises(PlanError, match="bridge 'br-tun' does not exist"):
        plan(pr, desired_tunnels(pr), {})
