#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation of an action plugin (plugins/action/ovs_host_facts.py): one shell command runs
# on the host, read on the control node; no Python module runs there.

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_host_facts
short_description: How a host runs Open vSwitch, and its OS family, read by one shell command
version_added: 0.2.0
author: netvirt.overlay developers (@netvirt)
description:
  - Reads, without changing anything, what the M(netvirt.overlay.ovs) role decides from before it
    starts Open vSwitch - whether systemd runs, whether the daemons of C(ovs-ctl) run, whether
    the kernel datapath is there, the system-id in OVSDB and in the file C(ovs-ctl) reads at
    every start - and sets the distribution facts the roles use (C(ansible_facts['os_family']),
    C(distribution), C(distribution_version), C(distribution_major_version),
    C(distribution_release)), read from C(/etc/os-release) and named as M(ansible.builtin.setup)
    names them for the Debian and Red Hat families.
  - One shell command on the host, as M(ansible.builtin.raw) runs one, read on the control node; no
    Python module runs on the host. The M(netvirt.overlay.ovs) role reads this on every Open vSwitch
    host of every play, and a run that changes nothing pays for every module run on every host (a
    Python module costs the host about 0.25 s of CPU before it does anything).
  - Works before Open vSwitch is installed; what is not there reads as absent.
options:
  ovs_ctl:
    description: The C(ovs-ctl) script; its C(status) says whether the daemons it starts run. An absolute path on the host.
    type: str
    default: /usr/share/openvswitch/scripts/ovs-ctl
  system_id_file:
    description: The file from which C(ovs-ctl --system-id=random) takes the system-id at every start. An absolute path
      on the host.
    type: str
    default: /etc/openvswitch/system-id.conf
  rundir:
    description: Open vSwitch's run directory; the system-id is read from OVSDB when its C(db.sock) is there. An
      absolute path on the host.
    type: str
    default: /var/run/openvswitch
attributes:
  check_mode:
    description: Reads the same in check mode (it changes nothing).
    support: full
  diff_mode:
    description: Not applicable (it changes nothing).
    support: none
  facts:
    description: Sets the distribution facts (from C(/etc/os-release)).
    support: full
requirements:
  - On the host, a POSIX C(/bin/sh) with C(stat -L -c) and C(base64 -w0) (GNU coreutils or BusyBox); no Python.
notes:
  - The distribution facts come from C(/etc/os-release) (else C(/usr/lib/os-release)), not from the
    code of M(ansible.builtin.setup), whose import alone costs a module run more than all the rest it
    does. C(os_family) is V(Debian) for Debian, Ubuntu and their derivatives
    (C(ID_LIKE)), V(RedHat) for RHEL, its rebuilds, CentOS Stream, Fedora and Amazon Linux; another
    distribution's C(os_family) is its name, which the roles refuse with a message that names it.
  - The kernel datapath counts as there when the C(openvswitch) module is loaded or installed for
    the running kernel (C(modinfo)).
seealso:
  - module: ansible.builtin.setup
  - module: netvirt.overlay.ovs_info
'''

EXAMPLES = r'''
- name: Find out how this host runs Open vSwitch
  netvirt.overlay.ovs_host_facts:
  register: ovs_host

- name: Start the daemons with ovs-ctl where systemd does not run them and they are not running
  ansible.builtin.command: /usr/share/openvswitch/scripts/ovs-ctl start
  when: not ovs_host.systemd and not ovs_host.ovs_ctl_running
  changed_when: true

- name: The OS family is known from here on
  ansible.builtin.debug:
    msg: "{{ ansible_facts['os_family'] }}"
'''

RETURN = r'''
systemd:
  description: Whether systemd runs the host (C(/run/systemd/system) is a directory).
  returned: always
  type: bool
ovs_ctl_running:
  description: Whether O(ovs_ctl) is there and its C(status) says its daemons run.
  returned: always
  type: bool
kernel_datapath:
  description: Whether the kernel's C(openvswitch) module is loaded or installed for the running kernel.
  returned: always
  type: bool
system_id_db:
  description: The system-id in OVSDB (C(external_ids:system-id) of the C(Open_vSwitch) row); null when
    OVSDB does not run or has none.
  returned: always
  type: str
  sample: hv1
system_id_file:
  description: O(system_id_file)'s mode (octal) and content; null when there is no such file.
  returned: always
  type: dict
  sample: {"mode": "0644", "content": "hv1\n"}
ansible_facts:
  description: The distribution facts, named as M(ansible.builtin.setup) names them.
  returned: always
  type: dict
  sample: {"ansible_os_family": "Debian", "ansible_distribution": "Debian", "ansible_distribution_version": "12",
           "ansible_distribution_major_version": "12", "ansible_distribution_release": "bookworm"}
'''
