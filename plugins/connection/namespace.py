# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: namespace
short_description: Run tasks inside a lab host made of Linux namespaces
version_added: 0.1.0
author: netvirt.overlay developers (@netvirt)
description:
  - Runs commands inside the mount, UTS, IPC, network and PID namespaces of a lab host created by
    M(netvirt.overlay.lab), with C(nsenter). The host's PID is looked up by its name in the lab's
    state directory, so inventories need no PIDs.
  - Files are copied through C(/proc/PID/root), which shows the host's own mounts, so a file
    lands where the host sees it, also under its private C(/run) or C(/etc/openvswitch).
  - Supports pipelining (module code is passed on standard input).
options:
  remote_addr:
    description: Name of the lab host.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: netvirt_lab_host
  lab_state_dir:
    description: Directory where the lab keeps one C(NAME.pid) file per host.
    type: path
    default: /run/netvirt-lab/lab
    vars:
      - name: netvirt_lab_state_dir
    env:
      - name: NETVIRT_LAB_STATE_DIR
'''

import os
import shutil
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.netvirt.overlay.plugins.module_utils._lab_enter import LabError, enter, host_pid

display = Display()


class Connection(ConnectionBase):
    transport = 'netvirt.overlay.namespace'
    has_pipelining = True
    default_user = 'root'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = None

    def _host_pid(self):
        try:
            return host_pid(self.get_option('lab_state_dir'), self.get_option('remote_addr'))
        except LabError as exc:
            raise AnsibleConnectionFailure(str(exc))

    def _connect(self):
        if not self._connected:
            self._pid = self._host_pid()
            display.vvv('NAMESPACE lab host %s is PID %d' % (self.get_option('remote_addr'), self._pid),
                        host=self.get_option('remote_addr'))
            self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        argv = enter(self._pid, ['/bin/sh', '-c', cmd])
        display.vvvv('NAMESPACE EXEC %s' % argv, host=self.get_option('remote_addr'))
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = proc.communicate(in_data)
        return proc.returncode, stdout, stderr

    def _inside(self, path):
        if not os.path.isabs(path):
            raise AnsibleError('lab host paths must be absolute, got %s' % path)
        return '/proc/%d/root%s' % (self._pid, path)

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        self._connect()
        try:
            shutil.copyfile(to_bytes(in_path), to_bytes(self._inside(out_path)))
        except OSError as exc:
            raise AnsibleError('cannot copy %s to %s on lab host %s: %s'
                               % (in_path, out_path, self.get_option('remote_addr'), exc))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        self._connect()
        try:
            shutil.copyfile(to_bytes(self._inside(in_path)), to_bytes(out_path))
        except OSError as exc:
            raise AnsibleError('cannot fetch %s from lab host %s: %s'
                               % (in_path, self.get_option('remote_addr'), exc))

    def close(self):
        self._connected = False
