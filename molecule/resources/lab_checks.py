# -*- coding: utf-8 -*-
"""What the testinfra checks of the Molecule scenarios share (molecule/*/tests/test_*.py).

.config/molecule/config.yml puts this directory on the verifier's PYTHONPATH, so a scenario's
tests ``import lab_checks`` (after their skip outside Molecule: a bare ``pytest`` does not have
that path). Commands run inside lab hosts through Molecule's inventory (testinfra's ansible
backend: one ``ansible`` run per command), so the helpers here gather what a check looks at with
one command per host: several commands joined, their outputs split again by a marker line.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

# The collection under test, where tools/setup.sh links this checkout (ANSIBLE_COLLECTIONS_PATH):
# a lab host is found the way the namespace connection finds it.
for _path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep):
    if _path and _path not in sys.path:
        sys.path.append(_path)
from ansible_collections.netvirt.overlay.plugins.module_utils._lab import host_pid  # noqa: E402

LAB_STATE = '/run/netvirt-lab'
# The first section of a host's command: its network namespace, to compare with the lab's.
NETNS = 'readlink /proc/self/ns/net'
MARK = '@@@@ next @@@@'
# Bytes an encapsulation adds over an IPv4 underlay: outer IP, tunnel header, inner Ethernet.
OVERHEAD = {'gre': 42, 'vxlan': 50, 'geneve': 50}


def inventory_of(config):
    """The inventory Molecule passed to pytest (--ansible-inventory)."""
    inventory = config.option.ansible_inventory
    if not inventory:
        # Without Molecule's inventory, testinfra would fall back to ansible.cfg's (the main lab).
        raise pytest.UsageError('run these tests with "molecule verify" (it passes --ansible-inventory)')
    return inventory


def runner_of(config):
    return AnsibleRunner.get_runner(inventory_of(config))


def plain(value):
    """ansible-inventory marks values that came from templates as unsafe: {'__ansible_unsafe': value}."""
    return value.get('__ansible_unsafe') if isinstance(value, dict) else value


def address(cidr):
    return cidr.split('/')[0]


def scenario_state_dir():
    """Where the lab of the running scenario keeps its state (molecule/resources/create.yml)."""
    return os.path.join(LAB_STATE, 'molecule-' + os.environ['MOLECULE_SCENARIO_NAME'])


class LabHost(object):
    """A lab host: testinfra host, its inventory variables, and the inventory's."""

    def __init__(self, inventory, name):
        self.name = name
        self.host = testinfra.get_host('ansible://' + name, ansible_inventory=inventory)
        self.runner = AnsibleRunner.get_runner(inventory)
        self.vars = self.runner.get_variables(name)
        self.groups = self.vars['groups']

    def hostvars(self, name):
        return self.runner.get_variables(name)

    def check_output(self, command):
        return self.host.check_output(command)

    def sections(self, *commands):
        """Run the commands as one command on the host; their outputs, each stripped."""
        script = (' ; echo "%s" ; ' % MARK).join(commands)
        return [part.strip() for part in self.check_output(script).split(MARK)]

    def lab_netns(self):
        """The network namespace of this host as the machine sees it, in this scenario's lab."""
        state_dir = plain(self.vars['netvirt_lab_state_dir'])
        assert state_dir == scenario_state_dir(), 'not the lab of this scenario'
        return os.readlink('/proc/%d/ns/net' % host_pid(state_dir, self.name))


def ping_all(targets, ping='ping -c 3 -i 0.2 -W 1', first_id=None):
    """A command that pings every address at once and prints one "ADDRESS EXIT-CODE" line each.

    first_id: give the pings ICMP identifiers first_id, first_id + 1, ... (in address order)
    instead of ping's own, its process ID, which is much the same number in every lab host (each
    has a PID namespace of its own).
    """
    ident = '' if first_id is None else ' -e "$id"'
    return ('id=%d; for ip in %s; do (%s%s -q "$ip" >/dev/null 2>&1; echo "$ip $?") & id=$((id + 1)); done; wait'
            % (first_id or 0, ' '.join(sorted(targets)), ping, ident))


def ping_results(output):
    """ping_all's output: {address: exit code}."""
    return dict((ip, int(rc)) for ip, rc in (line.split() for line in output.splitlines()))


def _ovsdb_value(value):
    """OVSDB JSON ("uuid"/"set"/"map" wrapped) to plain Python values."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ('uuid', 'set', 'map'):
        kind, data = value
        if kind == 'uuid':
            return data
        if kind == 'set':
            return [_ovsdb_value(v) for v in data]
        return dict((_ovsdb_value(k), _ovsdb_value(v)) for k, v in data)
    return value


def as_list(value):
    """A set column of one element comes back as that element."""
    return value if isinstance(value, list) else [value]


def ovsdb_tables(text):
    """The JSON tables that ovs-vsctl, ovn-nbctl or ovn-sbctl --format=json --data=json printed
    one after the other, as lists of row dicts."""
    decoder = json.JSONDecoder()
    tables, pos = [], 0
    text = text.strip()
    while pos < len(text):
        table, pos = decoder.raw_decode(text, pos)
        tables.append([dict(zip(table['headings'], map(_ovsdb_value, row))) for row in table['data']])
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tables


# The Bridge, Port and Interface tables, in the form bridges() takes them.
OVS_BRIDGES = ('--columns=name,datapath_type,fail_mode,ports list Bridge'
               ' -- --columns=_uuid,name,tag,interfaces list Port'
               ' -- --columns=_uuid,name,type,options,mtu,external_ids list Interface')


def bridges(bridge_rows, port_rows, interface_rows):
    """{bridge name: {'row': Bridge row, 'ports': {port name: (Port row, [Interface rows])}}}."""
    ports_by_uuid = dict((p['_uuid'], p) for p in port_rows)
    ifaces_by_uuid = dict((i['_uuid'], i) for i in interface_rows)
    out = {}
    for bridge in bridge_rows:
        members = {}
        for uuid in as_list(bridge['ports']):
            port = ports_by_uuid[uuid]
            members[port['name']] = (port, [ifaces_by_uuid[u] for u in as_list(port['interfaces'])])
        out[bridge['name']] = {'row': bridge, 'ports': members}
    return out
