# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    # The Open_vSwitch modules that write (netvirt.overlay.ovsdb.wait).
    WAIT = r'''
options:
  wait:
    description: Wait until ovs-vswitchd has applied the change (needs ovs-vswitchd running).
    type: bool
    default: true
'''

    # How a module reaches ovsdb-server; shared by every OVSDB module.
    DOCUMENTATION = r'''
options:
  db:
    description:
      - The OVSDB remote to talk to, as ovsdb-server names them.
      - C(unix:PATH) for the local socket, C(tcp:IP:PORT) or C(ssl:IP:PORT) for a remote server.
      - Several remotes separated by commas are tried in turn (a clustered database).
    type: str
    default: unix:/var/run/openvswitch/db.sock
  ssl_private_key:
    description:
      - Private key (PEM) for C(ssl:) remotes. Required with an C(ssl:) remote.
    type: path
  ssl_certificate:
    description:
      - Certificate (PEM) that goes with O(ssl_private_key). Required with an C(ssl:) remote.
    type: path
  ssl_ca_cert:
    description:
      - CA certificate (PEM) that signed the server's certificate. Required with an C(ssl:) remote.
    type: path
  timeout:
    description:
      - Seconds to wait for the server to answer, and for C(ovs-vswitchd) to apply a change.
    type: int
    default: 30
requirements:
  - The C(ovs) Python library on the managed host (Debian/Ubuntu C(python3-openvswitch), RHEL C(python3-openvswitch), or C(pip install ovs)).
    When the interpreter Ansible uses lacks it, the module re-runs itself under the system Python that has it.
'''
