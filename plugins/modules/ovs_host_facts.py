#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: ovs_host_facts
short_description: How a host runs Open vSwitch, and its OS family, read in one module run
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
  - One module run instead of two (C(setup) and a shell probe) on every Open vSwitch host of
    every play; a run that changes nothing pays for every module run on every host.
  - Works before Open vSwitch is installed; what is not there reads as absent.
options:
  ovs_ctl:
    description: The C(ovs-ctl) script; its C(status) says whether the daemons it starts run.
    type: path
    default: /usr/share/openvswitch/scripts/ovs-ctl
  system_id_file:
    description: The file from which C(ovs-ctl --system-id=random) takes the system-id at every start.
    type: path
    default: /etc/openvswitch/system-id.conf
  rundir:
    description: Open vSwitch's run directory; the system-id is read from OVSDB when its C(db.sock) is there.
    type: path
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

import json
import os
import stat

from ansible.module_utils.basic import AnsibleModule

# (A constant so that the unit tests can point it elsewhere.)
SYSTEMD_RUNTIME_DIR = '/run/systemd/system'
SBIN = ['/sbin', '/usr/sbin', '/usr/local/sbin']
OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release']
# os-release's ID -> (setup's ansible_distribution, its os_family), for the families the roles know
# (plugins/plugin_utils/_platform.py); any other ID takes its family from ID_LIKE (FAMILY_LIKE).
DISTRIBUTIONS = {
    'debian': ('Debian', 'Debian'), 'ubuntu': ('Ubuntu', 'Debian'),
    'linuxmint': ('Linux Mint', 'Debian'), 'pop': ('Pop!_OS', 'Debian'), 'kali': ('Kali', 'Debian'),
    'rhel': ('RedHat', 'RedHat'), 'centos': ('CentOS', 'RedHat'), 'fedora': ('Fedora', 'RedHat'),
    'rocky': ('Rocky', 'RedHat'), 'almalinux': ('AlmaLinux', 'RedHat'), 'ol': ('OracleLinux', 'RedHat'),
    'amzn': ('Amazon', 'RedHat'), 'cloudlinux': ('CloudLinux', 'RedHat'),
}
FAMILY_LIKE = (('debian', 'Debian'), ('ubuntu', 'Debian'), ('rhel', 'RedHat'), ('fedora', 'RedHat'), ('centos', 'RedHat'))


def ovs_ctl_running(module, ovs_ctl):
    if not (os.path.isfile(ovs_ctl) and os.access(ovs_ctl, os.X_OK)):
        return False
    return module.run_command([ovs_ctl, 'status'])[0] == 0


def kernel_datapath(module):
    if os.path.isdir('/sys/module/openvswitch'):
        return True
    modinfo = module.get_bin_path('modinfo', opt_dirs=SBIN)
    return bool(modinfo) and module.run_command([modinfo, '-F', 'filename', 'openvswitch'])[0] == 0


def system_id_file(path):
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        with open(path) as handle:
            return {'mode': '%04o' % stat.S_IMODE(st.st_mode), 'content': handle.read()}
    except OSError:
        return None


def system_id_db(module, rundir):
    try:
        if not stat.S_ISSOCK(os.stat(os.path.join(rundir, 'db.sock')).st_mode):
            return None
    except OSError:
        return None
    vsctl = module.get_bin_path('ovs-vsctl', opt_dirs=SBIN)
    if not vsctl:
        return None
    rc, out, _err = module.run_command([vsctl, '--db=unix:%s' % os.path.join(rundir, 'db.sock'), '--timeout=5',
                                        '--if-exists', 'get', 'Open_vSwitch', '.', 'external_ids:system-id'])
    value = out.strip()
    if rc != 0 or not value:
        return None
    # ovs-vsctl prints a string that could be read as another type (a UUID) in double quotes.
    return json.loads(value) if value.startswith('"') else value


def os_release(paths):
    """The KEY=value lines of the first os-release file there is (quotes taken off); {} when none is."""
    for path in paths:
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        values = {}
        for line in lines:
            key, sep, value = line.strip().partition('=')
            if sep and key and not key.startswith('#'):
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                    value = value[1:-1]
                values[key] = value
        return values
    return {}


def distribution_facts():
    release = os_release(OS_RELEASE)
    name, family = DISTRIBUTIONS.get(release.get('ID', '').lower(), (None, None))
    if name is None:
        name = (release.get('NAME') or 'Unknown').split()[0]
        like = release.get('ID_LIKE', '').lower().split()
        family = next((fam for key, fam in FAMILY_LIKE if key in like), name)
    version = release.get('VERSION_ID', '')
    return {
        'ansible_distribution': name,
        'ansible_os_family': family,
        'ansible_distribution_version': version,
        'ansible_distribution_major_version': version.split('.')[0],
        'ansible_distribution_release': release.get('VERSION_CODENAME', ''),
    }


def main():
    module = AnsibleModule(argument_spec=dict(
        ovs_ctl=dict(type='path', default='/usr/share/openvswitch/scripts/ovs-ctl'),
        system_id_file=dict(type='path', default='/etc/openvswitch/system-id.conf'),
        rundir=dict(type='path', default='/var/run/openvswitch'),
    ), supports_check_mode=True)
    params = module.params
    module.exit_json(
        changed=False,
        systemd=os.path.isdir(SYSTEMD_RUNTIME_DIR),
        ovs_ctl_running=ovs_ctl_running(module, params['ovs_ctl']),
        kernel_datapath=kernel_datapath(module),
        system_id_db=system_id_db(module, params['rundir']),
        system_id_file=system_id_file(params['system_id_file']),
        ansible_facts=distribution_facts(),
    )


if __name__ == '__main__':
    main()
