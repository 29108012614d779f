# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_bridges: several ovs_bridge and ovs_tunnels requests converged in one transaction, and
ovs_flows requests (openflow) applied after it, in the same module run.

Each item is the request of the single-purpose module, checked by that module's own argument
spec and resource class (``_bridge.Bridge``, ``_tunnels.Tunnels``); nothing of what they check or
plan is written again here. The items are planned in order, each against the state the ones
before it would leave (bridges first, then tunnel groups), and the changes of all of them go into
one commit: one ovs-vswitchd reconfiguration, one cur_cfg wait, one rollback if it refuses any.
Then each interfaces item is interface_address' run (``_interface_address.converge_interface``) on
the ports as the commit left them, and each openflow item ovs_flows' run (``_ovs_flows.converge_flows``):
a bundle per item; last, each forget_learned bridge whose tunnels the commit removed or replaced
forgets the flows it learned (they output to port numbers). A host's switch, its tunnel endpoint's
address and its flows then cost one module run.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.warnings import get_warning_messages
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.netvirt.overlay.plugins.module_utils._bridge import BRIDGE_ARGUMENT_SPEC, Bridge
from ansible_collections.netvirt.overlay.plugins.module_utils._converge import check_pass
from ansible_collections.netvirt.overlay.plugins.module_utils._input import InputError
from ansible_collections.netvirt.overlay.plugins.module_utils._interface_address import (
    ADDRESS_ARGUMENT_SPEC, AddressError, check_request as check_address_request, converge_interface)
from ansible_collections.netvirt.overlay.plugins.module_utils._ovs_flows import (
    FLOWS_ARGUMENT_SPEC, FlowsError, check_all as check_flows_request, check_cookie, converge_flows, cookie_text, diff_text)
from ansible_collections.netvirt.overlay.plugins.module_utils._switch_state import state_digest, state_script
from ansible_collections.netvirt.overlay.plugins.module_utils._tunnels import TUNNELS_ARGUMENT_SPEC, Tunnels
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch import PlanError, check_ifname, simulate
from ansible_collections.netvirt.overlay.plugins.module_utils._vswitch_resource import PortsResource

# option -> (the single-purpose module's argument spec, its resource); planned in this order.
PARTS = (('bridges', BRIDGE_ARGUMENT_SPEC, Bridge), ('tunnels', TUNNELS_ARGUMENT_SPEC, Tunnels))
# An item of forget_learned: a bridge and the cookie of the flows it learns at run time.
FORGET_ARGUMENT_SPEC = dict(bridge=dict(type='str', required=True), cookie=dict(type='int', required=True))


def _check_forget_request(p):
    check_ifname(p['bridge'], 'bridge')
    check_cookie(p['cookie'])


class Part(object):
    """One item of bridges or tunnels: where it was given (``bridges[1]``) and its resource."""

    def __init__(self, option, index):
        self.option, self.where = option, '%s[%d]' % (option, index)
        self.resource, self.changes = None, []

    def refusal(self, exc):
        return PlanError('%s: %s' % (self.where, exc))


def _item_params(item, spec):
    """An item (a dict: AnsibleModule checked that) checked against its module's argument spec
    (types, choices, defaults, aliases)."""
    result = ArgumentSpecValidator(spec).validate(item)
    if result.error_messages:
        raise PlanError('; '.join(('unsupported option(s) %s' % err.msg) if isinstance(err, UnsupportedError)
                                  else err.msg for err in result.errors.errors))
    return result.validated_parameters


def _checked_items(params, option, spec, check):
    """[(where, item params, check(item params))] of each item of ``option``: checked against ``spec``, then
    by ``check`` (the single-purpose module's own checks of its request); PlanError naming the item."""
    items = []
    for index, item in enumerate(params.get(option) or []):
        where = '%s[%d]' % (option, index)
        try:
            item_params = _item_params(item, spec)
            items.append((where, item_params, check(item_params)))
        except (PlanError, InputError) as exc:
            raise PlanError('%s: %s' % (where, exc))
    return items


def _listed_once(items, field):
    """Each item of _checked_items' [(where, params, request)] names a different ``field``; PlanError naming the second."""
    seen = {}
    for where, item_params, _request in items:
        value = item_params[field]
        if value in seen:
            raise PlanError("%s.%s: '%s' is listed twice (first as %s); give each %s once"
                            % (where, field, value, seen[value], field))
        seen[value] = where


def _check_distinct(parts):
    """A bridge is listed once, a tunnel group once, and no tunnel group is on a bridge that goes."""
    bridges, groups = {}, {}
    for part in parts:
        params = part.resource.params
        if isinstance(part.resource, Bridge):
            if params['bridge'] in bridges:
                raise PlanError("%s.bridge: '%s' is listed twice (first as %s); give each bridge once"
                                % (part.where, params['bridge'], bridges[params['bridge']].where))
            bridges[params['bridge']] = part
            continue
        key = (params['bridge'], params['group'])
        if key in groups:
            raise PlanError("%s.group: group '%s' on bridge '%s' is listed twice (first as %s); give it once"
                            % (part.where, key[1], key[0], groups[key].where))
        groups[key] = part
        owner = bridges.get(params['bridge'])
        if owner is not None and owner.resource.params['state'] == 'absent':
            raise PlanError("%s.bridge: bridge '%s' is removed by %s (state absent); its tunnels cannot stay"
                            % (part.where, params['bridge'], owner.where))


def _check_openflow(items, parts):
    """One item per bridge and cookie, the groups of a bridge in one item, none on a bridge that goes."""
    seen, groups = {}, {}
    removed = dict((part.resource.params['bridge'], part.where) for part in parts
                   if isinstance(part.resource, Bridge) and part.resource.params['state'] == 'absent')
    for where, p, _request in items:
        key = (p['bridge'], p['cookie'])
        if key in seen:
            raise PlanError("%s: the flows of cookie %d on bridge '%s' are listed twice (first as %s); give them once"
                            % (where, p['cookie'], p['bridge'], seen[key]))
        seen[key] = where
        if p['groups'] is not None:
            if p['bridge'] in groups:
                raise PlanError("%s.groups: the groups of bridge '%s' are given twice (first in %s); a bridge's groups "
                                "belong to one item" % (where, p['bridge'], groups[p['bridge']]))
            groups[p['bridge']] = where
        if p['bridge'] in removed:
            raise PlanError("%s.bridge: bridge '%s' is removed by %s (state absent); its flows cannot stay"
                            % (where, p['bridge'], removed[p['bridge']]))


class Bridges(PortsResource):
    """Bridges with their ports, and tunnel groups, in one transaction."""

    def __init__(self, params, check_mode):
        super(Bridges, self).__init__(params, check_mode)
        # Every item is checked, as its own module would check it, before anything is read.
        self.parts = []
        for option, spec, resource_class in PARTS:
            for index, item in enumerate(params.get(option) or []):
                part = Part(option, index)
                try:
                    part.resource = resource_class(_item_params(item, spec), check_mode)
                except (PlanError, InputError) as exc:
                    raise part.refusal(exc)
                self.parts.append(part)
        if not self.parts:
            raise PlanError('bridges, tunnels: both are empty; give at least one bridge or tunnel group')
        _check_distinct(self.parts)
        # (where, params, checked request) of each openflow and interfaces item, all checked before anything is read.
        self.openflow = _checked_items(params, 'openflow', FLOWS_ARGUMENT_SPEC, check_flows_request)
        _check_openflow(self.openflow, self.parts)
        self.interfaces = _checked_items(params, 'interfaces', ADDRESS_ARGUMENT_SPEC, check_address_request)
        _listed_once(self.interfaces, 'interface')
        self.forget = _checked_items(params, 'forget_learned', FORGET_ARGUMENT_SPEC, _check_forget_request)
        _listed_once(self.forget, 'bridge')

    def bridge_names(self):
        names = []
        for part in self.parts:
            if part.resource.params['bridge'] not in names:
                names.append(part.resource.params['bridge'])
        return names

    def comment(self):
        return 'netvirt.overlay.ovs_bridges %s' % ', '.join(self.bridge_names())

    def plan(self, before):
        """Each item's plan against what the items before it leave; all of them, in order."""
        state, changes = before, []
        for part in self.parts:
            try:
                part.changes = part.resource.plan(state)
            except PlanError as exc:
                raise part.refusal(exc)
            if part.changes:
                state = simulate(state, part.changes)
            changes.extend(part.changes)
        return changes

    def report(self, before, changes, after):
        fields = dict(changes=changes, bridges=[], tunnels=[])
        for part in self.parts:
            part_fields = part.resource.report(before, part.changes, after)[0]
            fields[part.option].append(part_fields)
            self.warnings.extend('%s: %s' % (part.where, text) for text in part.resource.warnings)
        names = self.bridge_names()
        return (fields, dict((name, before[name]) for name in names if name in before),
                dict((name, after[name]) for name in names if name in after))

    def finish(self, module, result):
        """Each interfaces item, then each openflow item, on the bridges as the commit left them (check
        mode: as it would)."""
        self._finish_interfaces(module, result)
        result['openflow'] = []
        removed, added = {}, {}
        for where, p, request in self.openflow:
            try:
                flows = converge_flows(module, p, request)
            except FlowsError as exc:
                result.update(exc.fields)
                raise PlanError('%s: %s' % (where, exc))
            for text in flows.pop('warnings'):
                module.warn('%s: %s' % (where, text))
            result['openflow'].append(flows)
            if flows['changed']:
                result['changed'] = True
                removed[p['bridge']] = removed.get(p['bridge'], '') + diff_text(flows['removed'] + flows['removed_groups'])
                added[p['bridge']] = added.get(p['bridge'], '') + diff_text(flows['added'] + flows['added_groups'])
        if removed and 'diff' in result:
            result['diff']['before']['openflow'] = removed
            result['diff']['after']['openflow'] = added
        self._forget_learned(module, result)

    def settle(self, module, result):
        """After a run that changed the switch (not in check mode): the state as the action plugin reads
        it (module_utils._switch_state), then this request's run in check mode on it. When that run
        changes nothing and warns of nothing, both go back in ``result['settled']`` (the action keeps
        them on the host, if the state it reads after this run is the same, and takes them out of
        the result): the next run then finds them, as after a run that changed nothing, and needs
        no module run."""
        script = state_script(self.params)
        if not result.get('changed') or module.check_mode or script is None:
            return
        # Only ever a saving for the next run: nothing here fails a run that did what it was asked.
        try:
            rc, out, _err = module.run_command(['/bin/sh', '-c', script])
            state, complete = state_digest(out)
            if rc != 0 or not complete:
                return
            warned = len(get_warning_messages())
            again = check_pass(module, Bridges)
        except Exception:  # pylint: disable=broad-except
            return
        if again is None or again.get('changed') or len(get_warning_messages()) != warned:
            return
        result['settled'] = dict(state=state, result=again)

    def _forget_learned(self, module, result):
        """Each forget_learned bridge on which the commit removed or replaced a tunnel port (any change of its
        tunnel groups but a port added): its learned flows deleted (check mode: would be)."""
        result['forgot_learned'] = []
        for where, p, _none in self.forget:
            if not any(change['op'] != 'add_port' for part in self.parts
                       if isinstance(part.resource, Tunnels) and part.resource.params['bridge'] == p['bridge']
                       for change in part.changes):
                continue
            if not module.check_mode:
                ofctl = module.get_bin_path('ovs-ofctl', required=True)
                rc, out, err = module.run_command([ofctl, '-O', 'OpenFlow13', 'del-flows', p['bridge'],
                                                   '%s/-1' % cookie_text(p['cookie'])])
                if rc != 0:
                    raise PlanError('%s: ovs-ofctl could not delete the learned flows (cookie 0x%x) of %s: %s'
                                    % (where, p['cookie'], p['bridge'], err.strip() or out.strip()))
            result['forgot_learned'].append(p['bridge'])
            result['changed'] = True

    def _finish_interfaces(self, module, result):
        result['interfaces'] = []
        for where, p, addresses in self.interfaces:
            # A port whose MAC address the commit changed announces its addresses again.
            mac_changed = any(change.get('op') == 'set_interface' and change.get('interface') == p['interface']
                              and 'mac' in (change.get('set') or {}) for change in result['changes'])
            try:
                done = converge_interface(module, p, addresses, mac_changed=mac_changed)
            except AddressError as exc:
                result['interfaces'].append(exc.fields)
                result['changed'] = result['changed'] or exc.fields.get('changed', False)
                raise PlanError('%s: %s' % (where, exc))
            diff = done.pop('diff', None)
            result['interfaces'].append(done)
            if done['changed']:
                result['changed'] = True
                if diff and 'diff' in result:
                    result['diff']['before'].setdefault('interfaces', {})[p['interface']] = diff['before']
                    result['diff']['after'].setdefault('interfaces', {})[p['interface']] = diff['after']
