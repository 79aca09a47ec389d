"""A flood of one kind of error writes one line a second, and the lines say how many."""

from __future__ import annotations

import asyncio
import logging

import pytest

from rewriteproxy.logthrottle import LogThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def test_the_first_record_of_a_kind_is_written_at_once(caplog, clock):
    throttle = LogThrottle(logging.getLogger("t"), clock=clock)
    with caplog.at_level(logging.INFO, "t"):
        assert throttle.log("bad", logging.INFO, "bad request from %s", "10.0.0.1")
    assert messages(caplog) == ["bad request from 10.0.0.1"]


def test_repeats_within_the_second_are_counted_into_the_next_line(caplog, clock):
    throttle = LogThrottle(logging.getLogger("t"), clock=clock)
    with caplog.at_level(logging.INFO, "t"):
        throttle.log("bad", logging.INFO, "bad request from %s", "10.0.0.1")
        for _ in range(1234):
            clock.now += 0.0005
            assert not throttle.log("bad", logging.INFO, "bad request from %s", "10.0.0.2")
        assert throttle.held_back("bad") == 1234
        clock.now += 1.0
        assert throttle.log("bad", logging.INFO, "bad request from %s", "10.0.0.3")
    assert messages(caplog) == [
        "bad request from 10.0.0.1",
        "bad request from 10.0.0.3 (and 1234 more like it in the last second)",
    ]
    assert throttle.held_back("bad") == 0


def test_kinds_are_throttled_apart(caplog, clock):
    throttle = LogThrottle(logging.getLogger("t"), clock=clock)
    with caplog.at_level(logging.INFO, "t"):
        assert throttle.log("a", logging.INFO, "a")
        assert throttle.log(("accept", 24), logging.ERROR, "b")
        assert not throttle.log("a", logging.INFO, "a")
    assert messages(caplog) == ["a", "b"]


def test_a_level_that_is_not_enabled_is_neither_written_nor_counted(caplog, clock):
    throttle = LogThrottle(logging.getLogger("t"), clock=clock)
    with caplog.at_level(logging.WARNING, "t"):
        assert not throttle.log("a", logging.DEBUG, "quiet")
    assert throttle.held_back("a") == 0
    assert messages(caplog) == []


def test_the_exception_goes_with_the_written_line(caplog, clock):
    throttle = LogThrottle(logging.getLogger("t"), clock=clock)
    with caplog.at_level(logging.ERROR, "t"):
        throttle.log("boom", logging.ERROR, "handler failed", exc_info=ValueError("x"))
    assert caplog.records[0].exc_info is not None


async def test_when_the_flood_stops_its_count_is_still_written(caplog):
    throttle = LogThrottle(logging.getLogger("t"), interval=0.05)
    with caplog.at_level(logging.INFO, "t"):
        throttle.log("bad", logging.INFO, "bad request %d", 1)
        throttle.log("bad", logging.INFO, "bad request %d", 2)
        throttle.log("bad", logging.INFO, "bad request %d", 3)
        for _ in range(500):
            if len(caplog.records) == 2:
                break
            await asyncio.sleep(0.01)
    assert messages(caplog) == [
        "bad request 1",
        "bad request 3 (and 1 more like it in the last 0.05 seconds)",
    ]
