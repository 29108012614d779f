# -*- coding: utf-8 -*-
"""Playbook.verify, the way every lab test reads a verification table, cannot fool itself.

No lab here: the playbook runs are replaced by the rows they would have reported.
"""

from __future__ import annotations

import pytest

from conftest import Playbook


def row(check, ok, measured='x', timing=False):
    out = {'check': check, 'expect': 'y', 'measured': measured, 'ok': ok}
    if timing:
        out['timing'] = True
    return out


class Replayed(Playbook):
    """A Playbook whose runs return the given tables, one per run."""

    def __init__(self, *tables):
        super().__init__('unused')
        self.tables = list(tables)
        self.runs = 0

    def run(self, playbook, **kwargs):
        self.runs += 1
        rows = self.tables.pop(0)
        return {'plays': [{'tasks': [{'task': {'name': 'Keep the rows'},
                                      'hosts': {'localhost': {'ansible_facts': {'verify_table_rows': rows}}}}]}]}


EXPECTED = {'ping ': 1, 'throughput': 1}


def test_a_failed_ping_is_never_measured_again():
    pb = Replayed([row('ping a -> b', False), row('throughput', True, timing=True)],
                  [row('ping a -> b', True), row('throughput', True, timing=True)])
    with pytest.raises(AssertionError, match='never measured again: ping a -> b'):
        pb.verify('playbooks/lab/verify.yml', {}, 'lab', EXPECTED)
    assert pb.runs == 1


def test_a_timing_row_is_measured_again_and_both_readings_are_shown():
    pb = Replayed([row('ping a -> b', True), row('throughput', False, '67%', timing=True)],
                  [row('ping a -> b', True), row('throughput', True, '74%', timing=True)])
    table = pb.verify('playbooks/lab/verify.yml', {}, 'lab', EXPECTED)
    assert pb.runs == 2
    assert '67%, again 74%' in table and 'FAIL' not in table


def test_a_timing_row_that_fails_twice_fails():
    pb = Replayed([row('ping a -> b', True), row('throughput', False, '67%', timing=True)],
                  [row('ping a -> b', True), row('throughput', False, '60%', timing=True)])
    with pytest.raises(AssertionError, match='67%, again 60%'):
        pb.verify('playbooks/lab/verify.yml', {}, 'lab', EXPECTED)


def test_a_row_that_passed_then_fails_on_the_second_run_fails():
    pb = Replayed([row('ping a -> b', True, '0% loss'), row('throughput', False, timing=True)],
                  [row('ping a -> b', False, '100% loss'), row('throughput', True, timing=True)])
    with pytest.raises(AssertionError, match='0% loss, again 100% loss'):
        pb.verify('playbooks/lab/verify.yml', {}, 'lab', EXPECTED)


def test_an_expected_row_that_is_missing_fails():
    pb = Replayed([row('throughput', True, timing=True)])
    with pytest.raises(AssertionError, match='0 rows "ping ..."'):
        pb.verify('playbooks/lab/verify.yml', {}, 'lab', EXPECTED)


def test_a_table_without_rows_fails():
    pb = Replayed([])
    with pytest.raises(AssertionError, match='no rows'):
        pb.verify('playbooks/lab/verify.yml', {}, 'lab', EXPECTED)
