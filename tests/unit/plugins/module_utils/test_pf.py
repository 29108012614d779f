# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renderer and validator of pf_rules, against the corpus in tests/unit/plugins/modules/pf_corpus."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._pf import (
    PfError, build, launchd_plist, logical_lines, parse_pf_status, render_conf, set_include,
    set_rc_vars, validate_text)

CORPUS = Path(__file__).resolve().parents[2] / 'plugins' / 'modules' / 'pf_corpus'
GOOD = sorted((CORPUS / 'good').glob('*.conf'))
BAD = sorted((CORPUS / 'bad').glob('*.conf'))


def _meta(path):
    text = path.read_text()
    platform = re.search(r'^# platform: (\S+)$', text, re.MULTILINE).group(1)
    return text, platform, re.findall(r'^# expect: (.*)$', text, re.MULTILINE)


def test_corpus_is_there():
    assert len(GOOD) >= 5
    assert len(BAD) >= 25
    platforms = {_meta(p)[1] for p in GOOD + BAD}
    assert platforms == {'macos', 'freebsd', 'openbsd'}


@pytest.mark.parametrize('path', GOOD, ids=lambda p: p.name)
def test_good_corpus_is_accepted(path):
    text, platform, expected = _meta(path)
    assert expected == []
    assert validate_text(text, platform) == []


@pytest.mark.parametrize('path', BAD, ids=lambda p: p.name)
def test_bad_corpus_is_rejected_naming_the_line(path):
    text, platform, expected = _meta(path)
    assert expected, 'a bad corpus file needs at least one "# expect:" line'
    assert validate_text(text, platform) == expected


def test_openbsd_syntax_is_good_on_openbsd_only():
    text = (CORPUS / 'good' / 'openbsd-nat-to.conf').read_text()
    assert validate_text(text, 'openbsd') == []
    errors = validate_text(text, 'macos')
    assert errors[0].startswith("line 6: option 'reassemble' is not known to macOS pf")
    assert errors[1].startswith("line 8: 'queue ... parent' is OpenBSD's queueing syntax")
    assert errors[2].startswith("line 9: 'match' is not known to macOS pf")
    assert errors[3].startswith("line 10: 'match' is not known to macOS pf")
    assert len(errors) == 5
    assert errors[4] == ("line 12: 'rdr-to' is OpenBSD pf syntax; macOS pf needs a separate "
                         "nat/rdr/binat rule under translation")


def test_classic_syntax_is_bad_on_openbsd():
    text = (CORPUS / 'good' / 'macos-controller-northbound.conf').read_text()
    errors = validate_text(text, 'openbsd')
    assert [e.split(':')[0] for e in errors] == ['line 6', 'line 7', 'line 8']
    assert "'rdr' is not known to OpenBSD pf" in errors[1]


def test_logical_lines_join_continuations_and_strip_comments():
    text = 'a = "x"  # c\npass in \\\n  proto tcp \\\n  label "#1"\n\n# only a comment\nblock\n'
    assert list(logical_lines(text)) == [
        (1, 'a = "x"'), (2, 'pass in    proto tcp    label "#1"'), (7, 'block')]


# --------------------------------------------------------------------------- rendering

def _spec(**kw):
    spec = dict(platform='macos', anchor='netvirt', macros={}, tables=[], options=[], normalization=[],
                queueing=[], translation=[], filtering=[], macos_apple_anchors=False)
    spec.update(kw)
    return spec


WORKSTATION = _spec(
    macros={'mgmt_net': '192.0.2.0/24', 'svc': [22, 443]},
    tables=[dict(name='admins', entries=['198.51.100.7', '!198.51.100.8'], persist=True)],
    options=['block-policy drop', 'set skip on lo0'],
    normalization=[dict(direction='in', options='no-df')],
    translation=[dict(type='rdr', **{'pass': True}, on='lo0', proto='tcp', to='127.0.0.1', port=80,
                      target='127.0.0.1', target_port=8080)],
    filtering=['block in all',
               {'action': 'pass', 'direction': 'in', 'quick': True, 'proto': 'tcp', 'from': ['$mgmt_net', '<admins>'],
                'port': '$svc', 'flags': 'S/SA', 'state': 'keep', 'label': 'mgmt'},
               'pass out all keep state'],
)

WORKSTATION_ANCHOR = '''\
# Managed by Ansible (netvirt.overlay.pf_rules): pf anchor "netvirt" for macOS pf.
# Edits are overwritten.  Options and queues live in the loader file.

# Macros
mgmt_net = "192.0.2.0/24"
svc = "{ 22, 443 }"

# Tables
table <admins> persist { 198.51.100.7, !198.51.100.8 }

# Normalization
scrub in all no-df

# Translation
rdr pass on lo0 proto tcp from any to 127.0.0.1 port 80 -> 127.0.0.1 port 8080

# Filtering
block in all
pass in quick proto tcp from { $mgmt_net, <admins> } to any port $svc flags S/SA keep state label "mgmt"
pass out all keep state
'''

WORKSTATION_CONF = '''\
# Managed by Ansible (netvirt.overlay.pf_rules): the macOS pf rule set that loads
# anchor "netvirt".  Check any edit with: pfctl -v -n -f THIS_FILE

# Options
set block-policy drop
set skip on lo0

# Normalization hooks
scrub-anchor "netvirt"

# Translation hooks
nat-anchor "netvirt"
rdr-anchor "netvirt"
binat-anchor "netvirt"

# Filtering hooks
anchor "netvirt"

# Anchor contents
load anchor "netvirt" from "/etc/pf.anchors/netvirt"
'''


def test_render_structured_and_line_rules_exactly():
    rendered = build(WORKSTATION, '/etc/pf.anchors/netvirt')
    assert rendered.anchor_text == WORKSTATION_ANCHOR
    assert rendered.conf_text == WORKSTATION_CONF
    assert rendered.anchor_origins[19] == 'filtering item 2'
    assert rendered.conf_origins[6] == 'options item 2'


def test_apple_anchors_are_kept_in_pf_order():
    text = render_conf(_spec(macos_apple_anchors=True, translation=['nat on en0 from 10.0.0.0/8 to any -> (en0)']),
                       '/etc/pf.anchors/netvirt')[0]
    hooks = [line for line in text.splitlines() if line and not line.startswith('#')]
    assert hooks == [
        'scrub-anchor "com.apple/*"',
        'nat-anchor "com.apple/*"', 'rdr-anchor "com.apple/*"',
        'nat-anchor "netvirt"', 'rdr-anchor "netvirt"', 'binat-anchor "netvirt"',
        'dummynet-anchor "com.apple/*"', 'anchor "com.apple/*"', 'anchor "netvirt"',
        'load anchor "com.apple" from "/etc/pf.anchors/com.apple"',
        'load anchor "netvirt" from "/etc/pf.anchors/netvirt"']
    assert validate_text(text, 'macos') == []


def test_conf_gets_the_macros_its_options_and_queues_use():
    spec = _spec(platform='openbsd', macros={'ext_if': 'em0'},
                 queueing=['queue rootq on $ext_if bandwidth 10M', 'queue std parent rootq bandwidth 9M default'],
                 filtering=[dict(action='match', direction='out', on='$ext_if', nat_to='($ext_if)')])
    rendered = build(spec, '/etc/pf.anchors/netvirt')
    assert 'ext_if = "em0"\n\n# Queueing\nqueue rootq on $ext_if bandwidth 10M\n' in rendered.conf_text
    assert 'nat-anchor' not in rendered.conf_text
    assert rendered.anchor_text.endswith('# Filtering\nmatch out on $ext_if all nat-to ($ext_if)\n')


def test_translation_item_after_filter_item_names_line_and_item():
    spec = _spec(macros={'ext_if': 'en0'},
                 filtering=['block in all', 'pass out all', 'nat on $ext_if from 10.0.0.0/8 to any -> ($ext_if)'])
    with pytest.raises(PfError) as info:
        build(spec, '/etc/pf.anchors/netvirt')
    assert info.value.errors == [
        'anchor file line 10 (filtering item 3): translation rule after filter rule at line 9; macOS pf '
        'requires the order options, normalization, queueing, translation, filtering']


def test_rule_listed_under_the_wrong_section():
    with pytest.raises(PfError) as info:
        build(_spec(translation=['pass in all']), '/x/netvirt')
    assert info.value.errors == [
        "anchor file line 5 (translation item 1): this is a filter rule but it is listed under 'translation'"]


def test_option_smuggled_into_the_anchor_is_refused():
    with pytest.raises(PfError) as info:
        build(_spec(filtering=['set skip on lo0']), '/x/netvirt')
    assert info.value.errors == [
        "anchor file line 5 (filtering item 1): option in an anchor is ignored by pfctl (it applies them only "
        "in the main rule set); declare it under 'options' so it goes into the loader file"]


def test_undefined_macro_and_table_in_structured_rules():
    spec = _spec(macros={'a': '10.0.0.1'},
                 filtering=[{'from': '$b'}, {'to': '<nope>'}])
    with pytest.raises(PfError) as info:
        build(spec, '/x/netvirt')
    assert info.value.errors == [
        "anchor file line 8 (filtering item 1): macro '$b' is used before it is defined",
        'anchor file line 9 (filtering item 2): table <nope> is used before it is defined']


def test_bad_table_from_structured_input():
    spec = _spec(tables=[dict(name='mgmt', entries=['10.0.0.0/40'])])
    with pytest.raises(PfError) as info:
        build(spec, '/x/netvirt')
    assert info.value.errors == [
        "anchor file line 5 (tables item 1): table <mgmt>: '10.0.0.0/40' is not a valid address or network"]


def test_openbsd_only_keys_and_sections_are_refused_elsewhere_and_vice_versa():
    with pytest.raises(PfError) as info:
        build(_spec(filtering=[dict(direction='in', proto='tcp', port=6641, rdr_to='10.20.0.10')]), '/x/n')
    assert info.value.errors == [
        'filtering item 1: rdr_to is OpenBSD pf syntax; on macOS pf write a rdr rule under translation']
    with pytest.raises(PfError) as info:
        build(_spec(platform='openbsd', normalization=['scrub in all'], translation=[dict(type='nat')]), '/x/n')
    assert info.value.errors == [
        "normalization: OpenBSD pf has no normalization section; use 'match' rules with scrub (...), nat-to "
        "or rdr-to under filtering",
        "translation: OpenBSD pf has no translation section; use 'match' rules with scrub (...), nat-to or "
        "rdr-to under filtering"]


def test_structured_rule_mistakes_are_all_reported():
    spec = _spec(translation=[dict(type='nat', on='en0')],
                 filtering=[dict(action='allow'), dict(prot='tcp'), 42])
    with pytest.raises(PfError) as info:
        build(spec, '/x/n')
    assert info.value.errors == [
        'translation item 1: target (the address after ->) is required',
        "filtering item 1: action must be one of pass, block, match, got 'allow'",
        "filtering item 2: unknown key 'prot'; valid keys: action, direction, quick, log, interface, af, proto, "
        "from, from_port, to, port, flags, state, nat_to, rdr_to, label",
        'filtering item 3: expected a rule line or a mapping, got int']


def test_bad_names_are_refused_before_rendering():
    with pytest.raises(PfError) as info:
        build(_spec(anchor='com.apple', macros={'9lives': 'x', 'port': '22'}), '/x/n')
    assert info.value.errors == [
        "anchor 'com.apple': use letters, digits, '_', '.' and '-', starting with a letter or digit, and "
        "not Apple's 'com.apple'",
        "macros: bad macro name '9lives': letters, digits and '_', not starting with a digit",
        "macros: macro name 'port' is a pf keyword"]


# --------------------------------------------------------------------------- persistence helpers

def test_launchd_plist_has_one_argument_per_item():
    data = launchd_plist('org.netvirt.overlay.pf', ['/sbin/pfctl', '-e', '-f', '/etc/pf.anchors/netvirt.pf.conf'])
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist')
    assert plistlib.loads(data) == {
        'Label': 'org.netvirt.overlay.pf',
        'ProgramArguments': ['/sbin/pfctl', '-e', '-f', '/etc/pf.anchors/netvirt.pf.conf'],
        'RunAtLoad': True}
    assert b'<string>-e</string>\n\t\t<string>-f</string>' in data


def test_set_rc_vars_replaces_dedupes_and_appends():
    text = 'hostname="fw1"\npf_enable="NO"\nsshd_enable="YES"\npf_enable="MAYBE"\n'
    assert set_rc_vars(text, [('pf_enable', 'YES'), ('pf_rules', '/etc/pf.anchors/n.pf.conf')]) == (
        'hostname="fw1"\npf_enable="YES"\nsshd_enable="YES"\npf_rules="/etc/pf.anchors/n.pf.conf"\n')
    assert set_rc_vars('', [('pf_enable', 'YES')]) == 'pf_enable="YES"\n'


def test_set_include_appends_once_and_can_point_at_a_candidate():
    base = 'set skip on lo\nblock return\npass\n'
    once = set_include(base, '/etc/pf.anchors/n.pf.conf', '/etc/pf.anchors/n.pf.conf', 'n')
    assert once == base + '# netvirt.overlay.pf_rules: anchor "n"\ninclude "/etc/pf.anchors/n.pf.conf"\n'
    assert set_include(once, '/etc/pf.anchors/n.pf.conf', '/etc/pf.anchors/n.pf.conf', 'n') == once
    staged = set_include(once, '/etc/pf.anchors/n.pf.conf', '/etc/pf.anchors/.n.tmp', 'n')
    assert staged == once.replace('include "/etc/pf.anchors/n.pf.conf"', 'include "/etc/pf.anchors/.n.tmp"')


def test_parse_pf_status():
    assert parse_pf_status('Status: Enabled for 1 days 02:03:04   Debug: Urgent\n') == 'Enabled'
    assert parse_pf_status('No ALTQ support in kernel\nStatus: Disabled for 0 days\n') == 'Disabled'
    assert parse_pf_status('pfctl: /dev/pf: Permission denied') is None


def test_yaml_on_key_read_as_a_boolean_still_means_the_interface():
    rendered = build(_spec(filtering=[{True: 'en0', 'proto': 'tcp'}, {'true': 'en1'}, {'on': 'en2'},
                                      {'interface': ['en3', 'en4']}]), '/x/n')
    assert rendered.anchor_text.endswith(
        '# Filtering\npass on en0 proto tcp all\npass on en1 all\npass on en2 all\npass on { en3, en4 } all\n')
    with pytest.raises(PfError) as info:
        build(_spec(filtering=[{'on': 'en0', 'interface': 'en1'}]), '/x/n')
    assert info.value.errors == ['filtering item 1: give the interface once (interface or on)']
