# -*- coding: utf-8 -*-
# Copyright (c) netvirt.overlay contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Renderer and validator of pf_rules, against the corpus in tests/unit/plugins/modules/pf_corpus."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path

import pytest

from ansible_collections.netvirt.overlay.plugins.module_utils._pf import PfError, build, parse_pf_status, render_conf
from ansible_collections.netvirt.overlay.plugins.module_utils._pf_check import (
    KEYWORDS, check_text, logical_lines, validate_text)
from ansible_collections.netvirt.overlay.plugins.module_utils._pf_platforms import (
    launchd_plist, parse_token, set_include, set_rc_vars)

CORPUS = Path(__file__).resolve().parents[2] / 'plugins' / 'modules' / 'pf_corpus'
GOOD = sorted((CORPUS / 'good').glob('*.conf'))
BAD = sorted((CORPUS / 'bad').glob('*.conf'))


def _meta(path):
    """The corpus header: platform, verdict, kind, expected errors (see pf_corpus/README.md)."""
    text = path.read_text()

    def one(key, default=None):
        found = re.findall(r'^# %s: (.*)$' % key, text, re.MULTILINE)
        assert len(found) <= 1, '%s: more than one "# %s:" line' % (path.name, key)
        return found[0].strip() if found else default

    return dict(text=text, source=one('source'), valid_for=one('valid-for'), platform=one('platform'),
                verdict=one('verdict'), kind=one('kind', 'ruleset'), pfctl_says=one('pfctl-says'),
                expect=re.findall(r'^# expect: (.*)$', text, re.MULTILINE))


def test_corpus_is_big_enough_and_every_file_names_its_source():
    assert len(GOOD) >= 60
    assert len(BAD) >= 30
    for path in GOOD + BAD:
        meta = _meta(path)
        assert meta['source'] and meta['valid_for'], path.name
        assert meta['platform'] in ('macos', 'freebsd', 'openbsd'), path.name
        assert meta['valid_for'].split()[0] == meta['platform'], path.name
    assert {_meta(p)['platform'] for p in GOOD} == {'macos', 'freebsd', 'openbsd'}
    assert {_meta(p)['platform'] for p in BAD} == {'macos', 'freebsd', 'openbsd'}
    # The checker must refuse most of the invalid files on its own, not hand them all on.
    assert sum(1 for p in BAD if _meta(p)['verdict'] == 'refuse') >= 30


@pytest.mark.parametrize('path', GOOD, ids=lambda p: p.name)
def test_valid_corpus_is_never_refused(path):
    meta = _meta(path)
    assert meta['verdict'] in ('accept', 'defer') and meta['expect'] == []
    verdict = check_text(meta['text'], meta['platform'], kind=meta['kind'])
    assert verdict.errors == []
    assert verdict.status == meta['verdict'], verdict.deferred
    if meta['verdict'] == 'defer':
        assert verdict.deferred, 'a deferred verdict says what it left to pfctl'


@pytest.mark.parametrize('path', BAD, ids=lambda p: p.name)
def test_invalid_corpus_is_refused_or_left_to_pfctl(path):
    meta = _meta(path)
    verdict = check_text(meta['text'], meta['platform'], kind=meta['kind'])
    if meta['verdict'] == 'refuse':
        assert meta['expect'], 'a refused corpus file lists the errors it expects ("# expect:")'
        assert verdict.status == 'refuse'
        assert verdict.errors == meta['expect']
    else:
        # The checker cannot decide these; it must not refuse them (no false rejects are
        # possible on what it does not model) and pfctl -n, which the module always runs,
        # is what refuses them.  test_pf_rules.py feeds them through the module.
        assert meta['verdict'] == 'pfctl' and meta['pfctl_says'] and meta['expect'] == []
        assert verdict.errors == []
        assert verdict.status in ('accept', 'defer')


def test_every_valid_file_is_refused_somewhere_else_or_accepted_everywhere():
    """The platform tables are not one big 'accept': a file of one platform's grammar is
    refused on at least one other platform when it uses something only its own has."""
    platform_only = [p for p in GOOD if re.search(
        r'^(ether|match|dummynet|nat|rdr|binat|scrub|altq)\b|nat-to|rdr-to', _meta(p)['text'], re.MULTILINE)]
    refused_elsewhere = [p for p in platform_only if any(
        check_text(_meta(p)['text'], other, kind=_meta(p)['kind']).errors
        for other in ('macos', 'freebsd', 'openbsd') if other != _meta(p)['platform'])]
    assert len(refused_elsewhere) >= 0.8 * len(platform_only)


def test_openbsd_syntax_is_good_on_openbsd_only():
    text = (CORPUS / 'good' / 'openbsd-nat-to.conf').read_text()
    assert validate_text(text, 'openbsd') == []
    errors = validate_text(text, 'macos')
    assert errors[0] == "line 9: option 'reassemble' is not known to macOS pf"
    assert errors[1].startswith("line 11: 'queue ... parent' is OpenBSD's queueing syntax")
    assert errors[2].startswith("line 12: 'match' is not known to macOS pf")
    assert errors[3].startswith("line 13: 'match' is not known to macOS pf")
    assert len(errors) == 5
    assert errors[4] == "line 15: 'rdr-to' is OpenBSD pf syntax; macOS pf needs a separate nat/rdr/binat rule"


def test_classic_syntax_is_bad_on_openbsd():
    text = (CORPUS / 'good' / 'macos-controller-northbound.conf').read_text()
    errors = validate_text(text, 'openbsd')
    assert [e.split(':')[0] for e in errors] == ['line 9', 'line 10', 'line 11']
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
# 'set block-policy drop' is written into each bare block rule: pfctl does not carry it into anchors.

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
block drop in all
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
    assert rendered.anchor_origins[20] == 'filtering item 2'
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
        'requires the order options, normalization, queueing, translation, filtering (or set require-order no)']


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
        "in the main rule set); put it in the main rule set (the module's 'options')"]


def test_undefined_macro_is_refused_but_a_runtime_table_is_not():
    spec = _spec(macros={'a': '10.0.0.1'},
                 filtering=[{'from': '$b'}, {'to': '<filled_by_pfctl_T_add>'}])
    with pytest.raises(PfError) as info:
        build(spec, '/x/netvirt')
    assert info.value.errors == [
        "anchor file line 8 (filtering item 1): macro '$b' is not defined (pfctl: macro 'b' not defined)"]
    rendered = build(_spec(filtering=[{'to': '<filled_by_pfctl_T_add>'}]), '/x/netvirt')
    assert rendered.anchor_text.endswith('pass from any to <filled_by_pfctl_T_add>\n')


def test_bad_table_from_structured_input():
    spec = _spec(tables=[dict(name='mgmt', entries=['10.0.0.0/40'])])
    with pytest.raises(PfError) as info:
        build(spec, '/x/netvirt')
    assert info.value.errors == [
        "anchor file line 5 (tables item 1): table <mgmt>: '10.0.0.0/40' is not a valid IPv4 address or network"]


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
        "macros: macro name 'port' is a pf keyword; pfctl cannot define a macro by that name -- pick another"]


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


# --------------------------------------------------------------------------- fail closed

@pytest.mark.parametrize('key, value', [
    ('from', []), ('to', []), ('interface', []), ('on', []), ('proto', []), ('port', []), ('from_port', []),
    ('from', ''), ('to', None), ('interface', '  '), ('from', ['10.0.0.1', '']), ('label', ''), ('flags', None)])
def test_an_empty_list_or_value_never_widens_a_rule(key, value):
    spec = _spec(filtering=['block in all', {'action': 'pass', 'direction': 'in', 'proto': 'tcp', key: value}])
    if key == 'proto':
        spec['filtering'][1].pop('proto')
        spec['filtering'][1]['proto'] = value
    with pytest.raises(PfError) as info:
        build(spec, '/x/netvirt')
    shown = 'interface' if key == 'on' else key
    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith("filtering item 2: '%s' " % shown)
    assert 'empty' in info.value.errors[0]


@pytest.mark.parametrize('section, rule', [
    ('translation', dict(type='nat', on=[], target='(en0)')),
    ('translation', dict(type='rdr', on='en0', target=[])),
    ('translation', dict(type='rdr', on='en0', proto='tcp', port=[], target='127.0.0.1')),
    ('normalization', dict(direction='in', interface=[])),
    ('normalization', dict(direction='in', options='')),
])
def test_empty_values_in_translation_and_normalization_are_refused(section, rule):
    with pytest.raises(PfError) as info:
        build(_spec(**{section: [rule]}), '/x/netvirt')
    assert info.value.errors[0].startswith('%s item 1: ' % section)
    assert 'empty' in info.value.errors[0]


def test_empty_macros_are_refused_naming_the_macro():
    with pytest.raises(PfError) as info:
        build(_spec(macros={'trusted': [], 'ext_if': '', 'ok': 'en0', 'hosts': ['10.0.0.1', '']},
                    filtering=['pass in on $ok']), '/x/netvirt')
    assert info.value.errors == [
        'macros.trusted: the macro is empty; a rule that uses it would lose that part and widen -- give it a '
        'value or remove it',
        'macros.ext_if: the macro is empty; a rule that uses it would lose that part and widen -- give it a '
        'value or remove it',
        'macros.hosts: item 2 of the list is empty']


def test_an_empty_macro_in_a_hand_written_rule_is_refused_by_the_checker():
    errors = validate_text('mgmt = ""\nblock in all\npass in from $mgmt to any port 22\n', 'freebsd')
    assert errors == ["line 3: macro '$mgmt' is empty; in a rule it would vanish and widen or break the rule -- "
                      "give it a value or take it out of the rule"]


def test_action_null_is_refused_not_a_crash():
    with pytest.raises(PfError) as info:
        build(_spec(filtering=[{'action': None, 'direction': 'in'}]), '/x/netvirt')
    assert info.value.errors == [
        'filtering item 1: action is empty (null); give one of pass, block, match or leave the key out for pass']


def test_binat_needs_one_from_address_and_renders_from_to():
    rendered = build(_spec(translation=[dict(type='binat', on='en0', **{'from': '10.1.2.150'},
                                             target='203.0.113.150')]), '/x/netvirt')
    assert 'binat on en0 from 10.1.2.150 to any -> 203.0.113.150\n' in rendered.anchor_text
    for bad in (dict(type='binat', on='en0', target='203.0.113.1'),
                dict(type='binat', on='en0', target='203.0.113.1', **{'from': ['10.0.0.1', '10.0.0.2']}),
                dict(type='binat', on='en0', target='203.0.113.1', port=80, **{'from': '10.0.0.1'})):
        with pytest.raises(PfError) as info:
            build(_spec(translation=[bad]), '/x/netvirt')
        assert info.value.errors[0].startswith('translation item 1: ')
        assert 'binat' in info.value.errors[0]


def test_nested_macros_are_written_outside_the_quotes():
    rendered = build(_spec(macros={'host1': '192.0.2.1', 'host2': '192.0.2.2', 'hosts': ['$host1', '$host2', '192.0.2.3'],
                                   'desc': 'from $host1 to any'},
                           filtering=['pass in from $hosts', 'pass out $desc']), '/x/netvirt')
    assert 'hosts = "{" $host1 $host2 "192.0.2.3" "}"\n' in rendered.anchor_text
    assert 'desc = "from" $host1 "to any"\n' in rendered.anchor_text
    assert rendered.deferred == []


# --------------------------------------------------------------------------- tables and block-policy

def test_persist_table_without_entries_keeps_its_runtime_addresses():
    rendered = build(_spec(tables=[dict(name='sshguard', persist=True),
                                   dict(name='static', persist=True, entries=['192.0.2.1']),
                                   dict(name='flushed', persist=True, entries=[]),
                                   dict(name='listed', files=['/etc/pf.listed'])]), '/x/netvirt')
    tables = rendered.anchor_text.split('# Tables\n', 1)[1].split('\n\n', 1)[0].splitlines()
    # No address list: pfctl leaves the running table's addresses alone (pfctl -T add, overload, sshguard).
    assert tables == ['table <sshguard> persist',
                      'table <static> persist { 192.0.2.1 }',
                      'table <flushed> persist { }',
                      'table <listed> file "/etc/pf.listed"']


def test_block_policy_is_written_into_the_anchors_block_rules():
    rendered = build(_spec(options=['block-policy return'],
                           filtering=['block in all', 'block drop out quick on en0 all', 'block return-rst in proto tcp',
                                      {'action': 'block', 'direction': 'in', 'on': 'en0'}, 'pass out all']),
                     '/x/netvirt')
    filtering = rendered.anchor_text.split('# Filtering\n', 1)[1].splitlines()
    assert filtering == ['block return in all', 'block drop out quick on en0 all', 'block return-rst in proto tcp',
                         'block return in on en0 all', 'pass out all']
    assert 'set block-policy return\n' in rendered.conf_text
    untouched = build(_spec(filtering=['block in all']), '/x/netvirt')
    assert untouched.anchor_text.endswith('# Filtering\nblock in all\n')


def test_freebsd_scrub_goes_into_the_loader_which_has_no_scrub_anchor():
    rendered = build(_spec(platform='freebsd', normalization=['scrub in all'], filtering=['pass']), '/x/netvirt')
    assert '# Normalization\nscrub in all\n' in rendered.conf_text
    assert 'scrub-anchor' not in rendered.conf_text and 'scrub' not in rendered.anchor_text


# --------------------------------------------------------------------------- raw content

def test_raw_anchor_content_gets_the_hooks_it_needs():
    content = ('ext_if = "en0"\ntable <blocked> persist\nrdr pass on $ext_if proto tcp to port 80 -> 127.0.0.1 '
               'port 8080\nblock in quick from <blocked>\nanchor "inner" {\n  pass in proto tcp to port 22\n}\n')
    rendered = build(_spec(content=content, content_type='anchor'), '/etc/pf.anchors/netvirt')
    assert rendered.anchor_text == content
    hooks = [line for line in rendered.conf_text.splitlines() if line and not line.startswith('#')]
    assert hooks == ['nat-anchor "netvirt"', 'rdr-anchor "netvirt"', 'binat-anchor "netvirt"', 'anchor "netvirt"',
                     'load anchor "netvirt" from "/etc/pf.anchors/netvirt"']


def test_raw_ruleset_is_checked_whole_and_not_mixed_with_declarations():
    good = build(_spec(content='set skip on lo0\nblock in all\npass out all\n', content_type='ruleset'), '/x/n')
    assert good.anchor_text is None and good.conf_text.startswith('set skip on lo0\n')
    with pytest.raises(PfError) as info:
        build(_spec(content='pass out all\nnat on en0 from 10/8 to any -> (en0)\n', content_type='ruleset'), '/x/n')
    assert info.value.errors == [
        'content line 2: translation rule after filter rule at line 1; macOS pf requires the order options, '
        'normalization, queueing, translation, filtering (or set require-order no)']
    with pytest.raises(PfError) as info:
        build(_spec(content='pass\n', content_type='ruleset', filtering=['pass']), '/x/n')
    assert info.value.errors == ['content is a whole rule set (content_type=ruleset); it cannot be combined with '
                                 'filtering']
    with pytest.raises(PfError) as info:
        build(_spec(content=' \n', content_type='anchor'), '/x/n')
    assert 'content is empty' in info.value.errors[0]


def test_parse_token_reads_what_pfctl_E_prints():
    assert parse_token('No ALTQ support in kernel\npf enabled\nToken : 12345678901234567\n') == '12345678901234567'
    assert parse_token('pf enabled\n') is None


def test_keywords_refused_as_macro_names_follow_the_platform():
    assert {'port', 'table', 'pass', 'rule'} <= KEYWORDS['openbsd'] & KEYWORDS['freebsd'] & KEYWORDS['macos']
    assert 'ether' in KEYWORDS['freebsd'] and 'ether' not in KEYWORDS['macos']
    # altq words are gone from OpenBSD's grammar, so such a macro name is fine there.
    assert validate_text('priority = "7"\npass\n', 'openbsd') == []
    assert validate_text('priority = "7"\npass\n', 'freebsd') == [
        "line 1: macro name 'priority' is a pf keyword; pfctl reads it as the keyword, not a name (syntax error)"]


def test_raw_anchor_with_a_block_policy_option_is_warned_about_its_bare_block_rules():
    rendered = build(_spec(content='block in all\nblock return out all\npass out all\n', content_type='anchor',
                           options=['block-policy return']), '/x/n')
    assert rendered.anchor_text.startswith('block in all\n')          # the content is installed as given
    assert rendered.warnings == [
        "'set block-policy return' does not reach the anchor's own block rules (pfctl does not carry it into "
        "anchors): content line 1 blocks with pf's default, drop -- write 'block return' there"]


def test_corpus_readme_counts_are_the_real_counts():
    rows = re.findall(r'^\| (FreeBSD|OpenBSD|macOS) +\| (\d+) \((\d+) \+ (\d+)\) +\| (\d+) \((\d+) \+ (\d+)\)',
                      (CORPUS / 'README.md').read_text(), re.MULTILINE)
    assert len(rows) == 3
    for name, good, accept, defer, bad, refuse, pfctl in rows:
        platform = name.lower()
        metas = [_meta(p) for p in GOOD if _meta(p)['platform'] == platform]
        bads = [_meta(p) for p in BAD if _meta(p)['platform'] == platform]
        assert (int(good), int(accept), int(defer)) == (
            len(metas), sum(m['verdict'] == 'accept' for m in metas), sum(m['verdict'] == 'defer' for m in metas))
        assert (int(bad), int(refuse), int(pfctl)) == (
            len(bads), sum(m['verdict'] == 'refuse' for m in bads), sum(m['verdict'] == 'pfctl' for m in bads))
