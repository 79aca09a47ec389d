"""Probe targets: every recent URL is asked about in turn, and one failing object is not the host.

Pure bookkeeping, tested as such; the probe that uses it runs against a real
host in ``test_health.py``.
"""

from __future__ import annotations

from rewriteproxy.delivery.targets import Targets


def targets(*urls: str, size: int = 8) -> Targets:
    made = Targets(size)
    for url in urls:
        made.add(url)
    return made


def test_the_newest_url_is_asked_first_then_each_in_turn() -> None:
    t = targets("a", "b", "c")
    assert [t.next() for _ in range(7)] == ["c", "a", "b", "c", "a", "b", "c"]


def test_a_url_added_later_gets_its_turn() -> None:
    t = targets("a", "b")
    assert [t.next(), t.next()] == ["b", "a"]
    t.add("c")
    assert [t.next(), t.next(), t.next()] == ["b", "c", "a"]


def test_each_url_is_remembered_once_and_only_the_last_few() -> None:
    t = targets("a", "b", "a", "b", size=3)
    assert t.urls() == ("a", "b")
    for url in "cdef":
        t.add(url)
    assert t.urls() == ("d", "e", "f")
    assert t.next() == "f"


def test_after_a_dropped_url_the_newest_is_asked() -> None:
    t = targets("a", "b", "c")
    assert [t.next(), t.next()] == ["c", "a"]
    t.forget("a")
    assert t.urls() == ("b", "c") and t.next() == "c"
    t.forget("b")
    t.forget("c")
    assert t.next() is None


def test_one_failing_object_is_unsure_then_broken_and_dropped() -> None:
    t = targets("good", "bad")
    assert t.failed("bad") == "unsure"
    t.answered("good")
    assert t.failed("bad") == "broken"  # failed again after the host served another object
    assert t.urls() == ("good",)


def test_two_objects_failing_is_a_host_failure() -> None:
    t = targets("a", "b", "c")
    assert t.failed("c") == "unsure"
    assert t.failed("a") == "host"
    assert t.failed("b") == "host"
    assert t.failed("c") == "host"  # the same ones again, with no good answer between


def test_the_objects_that_failed_with_the_host_are_kept_after_it_recovers() -> None:
    t = targets("a", "b", "c")
    t.failed("a")
    t.failed("b")
    t.answered("c")  # the host is back
    assert t.failed("a") == "unsure" and t.failed("b") == "host"
    assert t.urls() == ("a", "b", "c")


def test_an_object_that_failed_once_and_then_answered_is_not_held_against_it() -> None:
    t = targets("a", "b")
    t.failed("a")
    t.answered("b")
    t.answered("a")
    assert t.failed("a") == "unsure"


def test_the_only_url_known_that_fails_is_a_host_failure() -> None:
    t = targets("only")
    assert t.failed("only") == "host"
    assert t.failed("only") == "host"
    assert t.urls() == ("only",)


def test_a_url_pushed_out_takes_its_failure_with_it() -> None:
    t = targets("a", "b", "c", size=3)
    assert t.failed("a") == "unsure"
    for url in "def":
        t.add(url)
    assert t.failed("d") == "unsure"  # "a" is no longer remembered: one object failing


def test_taking_over_continues_the_turn_and_the_suspicions() -> None:
    old = targets("good", "bad", "other")
    assert old.next() == "other"
    old.failed("bad")
    old.answered("good")
    new = Targets(8)
    new.take_over(old)
    assert new.urls() == ("good", "bad", "other")
    assert new.next() == "good"
    assert new.failed("bad") == "broken"
