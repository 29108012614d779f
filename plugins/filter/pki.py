# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about the OVN PKI on the control node (logic in plugins/plugin_utils/_pki.py;
documentation in the YAML file of each filter's name): when a certificate expires, whether a CA
signed it, and the CAs the nodes trust while the CA is rotated."""

from __future__ import annotations

from ansible_collections.netvirt.overlay.plugins.plugin_utils._filter_errors import lazy_filters


class FilterModule(object):
    def filters(self):
        return lazy_filters('_pki', 'certificate_expiry', 'certificate_signed_by', 'ovn_ca_trust')
