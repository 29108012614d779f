# -*- coding: utf-8 -*-
"""What check mode predicts from when the tasks before it did not run: no OVSDB server yet, a bridge
or a system port's device still to be created, flows that name tunnel ports still to be created.
(tests/integration/test_mesh_lab.py's main job runs it all on the mesh lab.)"""

from __future__ import annotations

import socket

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._bridge import check_against_host, desired_ports
from ansible_collections.netvirt.overlay.plugins.module_utils._ovsdb import server_not_there
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError, new_bridge, simulate
from ansible_collections.netvirt.overlay.plugins.module_utils._ovs_flows import UNKNOWN_PORT_RE, port_pattern


def test_no_local_socket_means_no_server_yet(tmp_path):
    missing = tmp_path / 'db.sock'
    assert server_not_there({'db': 'unix:%s' % missing})
    listening = socket.socket(socket.AF_UNIX)
    try:
        listening.bind(str(missing))
        assert not server_not_there({'db': 'unix:%s' % missing})
    finally:
        listening.close()
    # A remote server is asked, never assumed away; so is a list with one socket that is there.
    assert not server_not_there({'db': 'tcp:198.18.0.21:6640'})
    assert not server_not_there({'db': 'unix:%s,tcp:198.18.0.21:6640' % (tmp_path / 'other.sock')})
    assert not server_not_there({'db': ''})


def test_a_new_bridge_is_what_simulate_makes_of_add_bridge():
    made = simulate({}, [{'op': 'add_bridge', 'bridge': 'br-tun', 'set': {}}])
    assert made == {'br-tun': new_bridge('br-tun')}
    assert list(new_bridge('br-tun')['ports']) == ['br-tun']


def test_system_ports_whose_device_is_to_come_are_collected_in_check_mode():
    ports = desired_ports([{'name': 'eth1', 'type': 'system'}, {'name': 'nvr-red', 'type': 'system'}])
    to_come = []
    check_against_host({}, 'br-int', ports, exists=lambda name: name == 'eth1', devices_to_come=to_come)
    assert to_come == ['nvr-red']
    with pytest.raises(PlanError, match="network device 'nvr-red' does not exist"):
        check_against_host({}, 'br-int', ports, exists=lambda name: name == 'eth1')


@pytest.mark.parametrize('error, name', [
    ('ovs-ofctl: /tmp/ovs_flows-x.txt:3: vxlan-c612010c: invalid or unknown port for in_port\n', 'vxlan-c612010c'),
    ('ovs-ofctl: /tmp/ovs_flows-x.txt:7: sn-c6120115: output to unknown port\n', 'sn-c6120115'),
])
def test_the_port_that_does_not_exist_yet_is_read_from_ovs_ofctl(error, name):
    assert UNKNOWN_PORT_RE.search(error).group(1) == name


def test_a_stand_in_replaces_the_port_as_a_whole_word_only():
    flows = ['table=0,priority=10,in_port=gre-1 actions=resubmit(,10)',
             'table=1,priority=5,dl_vlan=1 actions=pop_vlan,set_field:0x3e9->tun_id,output:gre-1,output:gre-12',
             'table=2 actions=bundle(eth_src,0,hrw,ofport,members:gre-1,gre-12)']
    pattern = port_pattern('gre-1')
    assert [pattern.sub('65279', f) for f in flows] == [
        'table=0,priority=10,in_port=65279 actions=resubmit(,10)',
        'table=1,priority=5,dl_vlan=1 actions=pop_vlan,set_field:0x3e9->tun_id,output:65279,output:gre-12',
        'table=2 actions=bundle(eth_src,0,hrw,ofport,members:65279,gre-12)']
