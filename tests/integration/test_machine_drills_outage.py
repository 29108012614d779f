# -*- coding: utf-8 -*-
"""The outage a machine drill reports from a ping's reply timestamps (machine_drills.outage): no lab
needed. A drill whose traffic never came back must fail, not read "never stopped"."""

from __future__ import annotations

import pytest

from machine_drills import outage, stopped_outage

KILL = 100.0


def replies(start, end, step=0.02):
    return [round(start + i * step, 3) for i in range(int(round((end - start) / step)) + 1)]


def test_no_silence_reads_never_stopped():
    assert outage(replies(98.0, 103.0), KILL, 103.0) == (0.0, 0, 0.0)


def test_a_silence_after_the_drill_began_is_measured_from_it():
    back, count, length = outage(replies(98.0, 100.2) + replies(101.5, 104.0), KILL, 104.0)
    assert count == 1 and back == pytest.approx(1.5) and length == pytest.approx(1.3)


def test_a_silence_until_the_ping_stopped_fails():
    # Replies until just after the kill, none in the 2.5 s before the ping stopped: an outage that
    # lasts to the end has no reply that ends it, and is still an outage.
    with pytest.raises(AssertionError, match='the traffic did not come back'):
        outage(replies(98.0, 100.5), KILL, 103.0)


def test_traffic_that_was_not_flowing_when_the_drill_began_fails():
    # Silent from 97.0, before the kill, until 102.5: counting from the first reply after the kill
    # read this as "never stopped" (seen on the machine lab's L2 gateway drill).
    with pytest.raises(AssertionError, match='the traffic was not flowing'):
        outage(replies(95.0, 97.0) + replies(102.5, 103.5), KILL, 103.5)


def test_no_replies_around_the_drill_cannot_be_measured():
    with pytest.raises(AssertionError, match='the traffic was not flowing'):
        outage(replies(90.0, 95.0), KILL, 103.0)


class StoppedPinger:
    """What stopped_outage() reads of a Pinger: stop() and the time it stopped."""

    def __init__(self, stamps, stopped_at, sent):
        self.stamps, self.stopped_at, self.sent = stamps, stopped_at, sent

    def stop(self):
        return self.sent, len(self.stamps), self.stamps


def test_the_report_of_a_stopped_ping_says_when_traffic_came_back_and_what_was_lost():
    stamps = replies(98.0, 100.2) + replies(101.5, 104.0)
    back, line = stopped_outage(StoppedPinger(stamps, 104.0, len(stamps) + 64), KILL)
    assert back == pytest.approx(1.5) and line == 'traffic again after 1.5 s, lost 64 of %d' % (len(stamps) + 64)
    stamps = replies(98.0, 103.0)
    assert stopped_outage(StoppedPinger(stamps, 103.0, len(stamps)), KILL) == (
        0.0, 'never silent for more than 0.5 s, lost 0 of %d' % len(stamps))


def test_the_report_of_traffic_that_did_not_come_back_is_a_failure():
    stamps = replies(98.0, 100.5)
    back, line = stopped_outage(StoppedPinger(stamps, 103.0, 250), KILL)
    assert back is None and line.startswith('FAIL: ') and 'the traffic did not come back' in line
