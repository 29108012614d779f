# -*- coding: utf-8 -*-
"""ovs_tunnels: names, options, validation and group-scoped purge."""

from __future__ import annotations

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError, number_or_word
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


def options_of(ports, name):
    return ports[name]['interfaces'][name]['options']


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
    assert options_of(ports, 'sn1') == {
        'local_ip': '198.18.1.11', 'remote_ip': '198.18.1.13', 'key': '7', 'ttl': '9'}


def test_option_values_are_stored_as_ovs_reads_them():
    # Booleans as "true"/"false" (str(True) is "True", which vswitchd reads as false), numbers in decimal.
    ports = desired_tunnels(params(
        tunnel_type='geneve', ttl='inherit', tos='0x20', key='0x10', options={'csum': True, 'df_default': False},
        remotes=['198.18.1.12', {'remote_ip': '198.18.1.13', 'name': 'gnv-x', 'options': {'csum': False, 'tos': 'inherit'}}]))
    assert options_of(ports, 'geneve-c612010c') == {
        'local_ip': '198.18.1.11', 'remote_ip': '198.18.1.12', 'key': '16', 'ttl': 'inherit', 'tos': '32',
        'csum': 'true', 'df_default': 'false'}
    assert options_of(ports, 'gnv-x')['csum'] == 'false' and options_of(ports, 'gnv-x')['tos'] == 'inherit'


def test_ipv6_tunnels_and_bfd_timers_without_bfd_are_ignored():
    ports = desired_tunnels(params(local_ip='2001:db8::11', bfd_min_rx=300,
                                   remotes=['2001:DB8::11', '2001:db8:0::12']))
    assert len(ports) == 1
    name, desired = list(ports.items())[0]
    assert desired['external_ids']['netvirt-overlay-remote'] == '2001:db8::12'
    assert desired['interfaces'][name]['bfd'] == {}


@pytest.mark.parametrize('kw, message', [
    # remotes
    ({'remotes': ['198.18.1.256']}, r"remotes\[0\]: '198.18.1.256' is not an IP address"),
    ({'remotes': ['198.18.1.12', '224.0.0.5']}, r'remotes\[1\]: 224.0.0.5 is not a unicast address'),
    ({'remotes': ['0.0.0.0']}, r'remotes\[0\]: 0.0.0.0 is not a unicast address'),
    ({'remotes': ['255.255.255.255']}, r'remotes\[0\]: 255.255.255.255 is not a unicast address'),
    ({'local_ip': '2001:db8::11', 'remotes': ['ff02::1']}, r'remotes\[0\]: ff02::1 is not a unicast'),
    ({'remotes': ['198.18.1.12/24']}, r"remotes\[0\]: '198.18.1.12/24' is not an IP address"),
    ({'remotes': [{'remote_ip': 'hv2.lab'}]}, r"remotes\[0\].remote_ip: 'hv2.lab' is not an IP address"),
    ({'remotes': ['198.18.1.12', None]}, r'remotes\[1\]: None is not an IP address or a dict'),
    ({'remotes': [['198.18.1.12']]}, r'remotes\[0\]: .* is not an IP address or a dict'),
    ({'remotes': ['198.18.1.12', '198.18.1.12']},
     r'remotes\[1\]: remote 198.18.1.12 is listed twice \(first as remotes\[0\]\)'),
    ({'remotes': ['198.18.1.14', {'remote_ip': '198.18.1.14', 'name': 'x'}]}, r'remotes\[1\]: remote 198.18.1.14 is listed twice'),
    ({'remotes': ['198.18.1.11', '198.18.1.11']}, r'remotes\[1\]: remote 198.18.1.11 is listed twice'),
    ({'remotes': [{'remote_ip': '198.18.1.11', 'name': 'self'}]}, r"remotes\[0\]: 198.18.1.11 is local_ip"),
    ({'remotes': ['2001:db8::2']}, r'remotes\[0\]: 2001:db8::2 is IPv6 but local_ip 198.18.1.11 is IPv4'),
    ({'local_ip': '2001:db8::11', 'remotes': ['198.18.1.12']}, r'remotes\[0\]: 198.18.1.12 is IPv4 but local_ip'),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'colour': 'red'}]},
     r'remotes\[0\]: unknown key colour \(allowed: remote_ip, name, key, options\)'),
    ({'remotes': [{'name': 'x'}]}, r'remotes\[0\]: .* has no remote_ip'),
    ({'remotes': [42]}, r'remotes\[0\]: 42 is not an IP address'),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'name': 'x'}, {'remote_ip': '198.18.1.13', 'name': 'x'}]},
     r"remotes\[1\]: remotes 198.18.1.12 and 198.18.1.13 both map to port name 'x'"),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'name': 'tunnel-to-hv2-east'}]},
     r"remotes\[0\] name 'tunnel-to-hv2-east' is not a valid interface name: 1 to 15"),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'name': 7}]}, r'remotes\[0\].name: 7 is not a string'),
    # local_ip
    ({'local_ip': 'nowhere'}, r"local_ip: 'nowhere' is not an IP address"),
    ({'local_ip': '239.1.1.1'}, r'local_ip: 239.1.1.1 is not a unicast address'),
    ({'local_ip': 'flow'}, r"local_ip: 'flow' needs remote_ip=flow"),
    # type, keys, ports
    ({'tunnel_type': 'ipip'}, r"tunnel_type: 'ipip' is not one of gre, vxlan, geneve, stt"),
    ({'key': '4294967296'}, r"key: 4294967296 is out of range \(allowed: 0-4294967295 or 'flow'\); gre carries a 32-bit key"),
    ({'tunnel_type': 'geneve', 'key': '16777216'}, r'key: 16777216 is out of range .*geneve carries a 24-bit key'),
    ({'key': 'abc'}, r"key: 'abc' is not a whole number \(allowed: 0-4294967295 or 'flow'\)"),
    ({'tunnel_type': 'vxlan', 'options': {'key': 16777216}}, r'options.key: 16777216 is out of range'),
    ({'tunnel_type': 'vxlan', 'options': {'in_key': -1}}, r'options.in_key: -1 is out of range'),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'key': 'tenant-a'}]}, r"remotes\[0\].key: 'tenant-a' is not a whole number"),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'key': 5, 'options': {'key': 6}}]},
     r'remotes\[0\].options.key: key is also given as remotes\[0\].key'),
    ({'dst_port': 4789}, r'dst_port: 4789 given, but dst_port does not apply to gre tunnels'),
    ({'options': {'dst_port': 4789}}, r'options.dst_port: .*does not apply to gre'),
    ({'tunnel_type': 'vxlan', 'dst_port': 70000}, r'dst_port: 70000 is out of range \(allowed: 1-65535\)'),
    ({'tunnel_type': 'vxlan', 'dst_port': 0}, r'dst_port: 0 is out of range'),
    ({'tunnel_type': 'vxlan', 'dst_port': True}, r'dst_port: True is not a whole number'),
    # outer header
    ({'ttl': 300}, r"ttl: 300 is out of range \(allowed: 1-255 or 'inherit'\)"),
    ({'ttl': 0}, r'ttl: 0 is out of range'),
    ({'ttl': True}, r'ttl: True is not a whole number'),
    ({'ttl': 'copy'}, r"ttl: 'copy' is not a whole number \(allowed: 1-255 or 'inherit'\)"),
    ({'tos': 'fast'}, r"tos: 'fast' is not a whole number \(allowed: 0-252 or 'inherit'\)"),
    ({'tos': 256}, r'tos: 256 is out of range'),
    ({'tos': 2}, r'tos: 2 sets the two ECN bits'),
    ({'remotes': [{'remote_ip': '198.18.1.12', 'options': {'ttl': 256}}]}, r'remotes\[0\].options.ttl: 256 is out of range'),
    # options
    ({'options': {'csum': 'yes'}}, r"options.csum: 'yes' is not a boolean \(allowed: true or false"),
    ({'options': {'df_default': 'True'}}, r"options.df_default: 'True' is not a boolean"),
    ({'options': {'seq': 1}}, r"options.seq: 1 is not a boolean"),
    ({'options': ['csum']}, r'options: .* must be a dict'),
    ({'options': {'ttl': None}}, r'options: ttl has no value'),
    ({'options': {'remote_ip': '198.18.1.14'}}, r'options.remote_ip: .*comes from remotes'),
    ({'ttl': 64, 'options': {'ttl': 32}}, r'options.ttl: ttl is also given as a parameter \(64\)'),
    ({'local_ip': '198.18.1.11', 'options': {'local_ip': '198.18.1.11'}}, r'options.local_ip: local_ip is also given'),
    ({'remotes': [{'remote_ip': '198.18.1.14', 'options': [{'ttl': 9}]}]}, r'remotes\[0\].options: .* must be a dict'),
    ({'remotes': [{'remote_ip': '198.18.1.14', 'options': {'exts': ['gbp']}}]}, r'remotes\[0\].options.exts: .* is a list'),
    ({'remotes': [{'remote_ip': '198.18.1.14', 'options': {'egress_pkt_mark': {'m': 5}}}]},
     r'remotes\[0\].options.egress_pkt_mark: .* is a dict'),
    # BFD, names, group
    ({'bfd': True, 'bfd_min_rx': 0}, r'bfd_min_rx: 0 is outside 1-4294967'),
    ({'bfd': True, 'bfd_min_tx': 5000000}, r'bfd_min_tx: 5000000 is outside 1-4294967'),
    ({'bfd_min_tx': 0}, r'bfd_min_tx: 0 is outside'),
    ({'name_prefix': 'toolong'}, r"name_prefix: 'toolong' is longer than 6 characters"),
    ({'name_prefix': 'gr/e'}, r"name_prefix name 'gr/e' is not a valid interface name"),
    ({'group': ''}, r"group: '' is empty"),
    ({'bridge': 'br-tunnel-overlay'}, r"bridge name 'br-tunnel-overlay' is not a valid interface name"),
])
def test_bad_requests_are_refused(kw, message):
    kw.setdefault('remotes', ['198.18.1.12'])
    with pytest.raises((InputError, PlanError), match=message):
        desired_tunnels(params(**kw))


def test_number_or_word():
    assert number_or_word(' inherit ', 'ttl', 1, 255, ('inherit',)) == 'inherit'
    assert number_or_word('0x1f', 'f', 0, 255) == '31' and number_or_word(7, 'f', 0, 255) == '7'
    for bad in (1.5, None, [], '1.5', '', 'inherit'):
        with pytest.raises(InputError, match=r"^f: .* is not a whole number \(allowed: 0-255\)$"):
            number_or_word(bad, 'f', 0, 255)


def tunnel(remote, group='default', ttype='gre', name=None, **options):
    name = name or port_name(ttype, remote)
    return name, port({name: iface(type=ttype, options=dict({'local_ip': '198.18.1.11', 'remote_ip': remote}, **options))},
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


def test_stt_needs_the_kernel_datapath():
    pr = params(tunnel_type='stt', remotes=['198.18.1.12'])
    with pytest.raises(PlanError, match="tunnel_type: stt needs the kernel datapath .* bridge 'br-tun' has "
                                        "datapath_type netdev; use gre, vxlan, geneve"):
        plan(pr, desired_tunnels(pr), {'br-tun': bridge({})})
    changes = plan(pr, desired_tunnels(pr), {'br-tun': bridge({}, datapath_type='system')})
    assert [c['port'] for c in changes] == ['stt-c612010c']


def test_a_tunnel_vswitchd_would_ignore_as_a_duplicate_is_refused():
    # gre-c612010c of group default already reaches 198.18.1.12 from 198.18.1.11 with no key.
    state = {'br-tun': bridge(dict([tunnel('198.18.1.12')])), 'br-x': bridge({})}
    for kw in ({'group': 'other', 'name_prefix': 'gro'}, {'bridge': 'br-x', 'group': 'other', 'name_prefix': 'gro'},
               {'remotes': [{'remote_ip': '198.18.1.12', 'name': 'hv2', 'key': '0'}], 'group': 'other'}):
        pr = params(**dict({'remotes': ['198.18.1.12']}, **kw))
        with pytest.raises(PlanError, match="remotes: 198.18.1.12 .* would be the same tunnel as 'gre-c612010c' "
                                            "on br-tun \\(group default\\)"):
            plan(pr, desired_tunnels(pr), state)
    # Tunnels that differ in key, type, destination port or local address are told apart.
    for kw in ({'key': '5'}, {'tunnel_type': 'vxlan'}, {'local_ip': '198.18.1.21'}):
        pr = params(**dict({'remotes': ['198.18.1.12'], 'group': 'other', 'name_prefix': 'gro'}, **kw))
        assert plan(pr, desired_tunnels(pr), state)
    # The same group renaming its tunnel with purge replaces it: no duplicate is left.
    pr = params(remotes=[{'remote_ip': '198.18.1.12', 'name': 'hv2'}], purge=True)
    assert [c['op'] for c in plan(pr, desired_tunnels(pr), state)] == ['add_port', 'del_port']
    # A converged re-run meets only itself.
    pr = params(remotes=['198.18.1.12'])
    assert plan(pr, desired_tunnels(pr), state) == []


@pytest.mark.parametrize('ttype', ['gre', 'vxlan', 'geneve'])
def test_the_roles_two_groups_share_a_bridge(ttype):
    # roles/hypervisor: group mesh to hypervisors and gateways, group service-nodes (prefix sn,
    # BFD) to service nodes, both with key flow and purge, this host's own address in neither.
    mesh = params(tunnel_type=ttype, key='flow', group='mesh', purge=True, remotes=['198.18.1.12', '198.18.1.41'])
    sn = params(tunnel_type=ttype, key='flow', group='service-nodes', name_prefix='sn', bfd=True, bfd_min_rx=300,
                bfd_min_tx=300, purge=True, remotes=['198.18.1.31', '198.18.1.32'])
    state = {'br-tun': bridge({'patch-int': port({'patch-int': iface(type='patch')})})}
    for pr in (mesh, sn, mesh, sn):
        state = simulate(state, plan(pr, desired_tunnels(pr), state))
    assert sorted(state['br-tun']['ports']) == sorted(['patch-int', port_name(ttype, '198.18.1.12'), port_name(ttype, '198.18.1.41'),
                                                       'sn-c612011f', 'sn-c6120120'])
    assert plan(mesh, desired_tunnels(mesh), state) == [] and plan(sn, desired_tunnels(sn), state) == []
