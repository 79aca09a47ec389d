"""Delivery health: a dead delivery host is noticed by a probe and linked to again once back.

The circuit and the meaning of a probe's answer are pure and tested as such;
the probe itself runs against a real HTTP server on loopback
(:class:`tests.support.deliveryhost.DeliveryHost`) that answers, fails, hangs
or stops listening.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rewriteproxy.delivery.health import (
    CLOSED,
    HALF_OPEN,
    MAX_HOSTS,
    OPEN,
    RECENT_URLS,
    Circuit,
    DeliveryHealth,
    HealthConfig,
    Probe,
    Transition,
    host_of,
    judge,
)
from rewriteproxy.settings import ConfigError
from tests.support.config import validate_section
from tests.support.deliveryhost import DeliveryHost, eventually

FAST = HealthConfig(interval=0.02, timeout=0.5)


@pytest.fixture
async def cdn() -> AsyncIterator[DeliveryHost]:
    async with DeliveryHost() as host:
        yield host


@pytest.fixture
async def started() -> AsyncIterator[Any]:
    running: list[DeliveryHealth] = []

    async def start(config: HealthConfig = FAST, **kwargs: Any) -> DeliveryHealth:
        health = DeliveryHealth(config, **kwargs)
        running.append(health)
        await health.start()
        return health

    yield start
    for health in running:
        await health.close()


# -- the circuit -----------------------------------------------------------------


def run(circuit: Circuit, outcomes: str) -> list[str]:
    """The state after each outcome (``+`` a good probe, ``-`` a failed one)."""
    states = []
    for outcome in outcomes:
        circuit.record(outcome == "+")
        states.append(circuit.state)
    return states


def test_two_failures_in_a_row_open_the_circuit_and_one_does_not() -> None:
    assert run(Circuit(2, 2), "-+-+") == [CLOSED] * 4
    assert run(Circuit(2, 2), "--") == [CLOSED, OPEN]


def test_it_closes_again_only_after_two_successes_in_a_row() -> None:
    circuit = Circuit(2, 2)
    run(circuit, "--")
    assert run(circuit, "+-+-") == [HALF_OPEN, OPEN, HALF_OPEN, OPEN]
    assert run(circuit, "++") == [HALF_OPEN, CLOSED]


def test_the_thresholds_are_the_configured_ones() -> None:
    assert run(Circuit(3, 1), "---+") == [CLOSED, CLOSED, OPEN, CLOSED]


def test_record_names_the_new_state_only_when_it_changed() -> None:
    circuit = Circuit(1, 2)
    assert [circuit.record(ok) for ok in (True, False, False, True, True)] == [
        None,
        OPEN,
        None,
        HALF_OPEN,
        CLOSED,
    ]


# -- what a probe's answer means ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "known", "ok", "missing"),
    [
        (200, False, True, False),
        (304, False, True, False),
        (403, False, True, False),  # a private object: the host answers
        (500, False, False, False),
        (503, True, False, False),
        (404, False, True, True),  # that object is missing; the host is up
        (410, False, True, True),
        (404, True, False, False),  # the known object is gone: the host serves nothing
    ],
)
def test_what_an_answer_says_about_the_host(
    status: int, known: bool, ok: bool, missing: bool
) -> None:
    probe = judge("https://cdn.test/a.jpg", status, known_object=known)
    assert (probe.ok, probe.missing) == (ok, missing)
    assert probe.detail == f"HEAD https://cdn.test/a.jpg: {status}"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://CDN.example.net/u/a.jpg", "cdn.example.net"),
        ("//cdn.example.net/u/a.jpg", "cdn.example.net"),
        ("http://127.0.0.1:8333/bucket/a.jpg?v=1", "127.0.0.1:8333"),
        ("https://res.cloudinary.com", "res.cloudinary.com"),
        ("/wp-content/uploads/a.jpg", None),
        ("a.jpg", None),
    ],
)
def test_the_host_of_a_delivery_url(url: str, host: str | None) -> None:
    assert host_of(url) == host


# -- config ---------------------------------------------------------------------------


def test_it_is_on_by_default_with_the_documented_values() -> None:
    assert validate_section(HealthConfig, {}, "delivery.health") == HealthConfig(
        enabled=True, interval=5.0, timeout=2.0, failures=2, successes=2, probe_url=None
    )


def test_every_key_is_read() -> None:
    data = validate_section(
        HealthConfig,
        {
            "enabled": False,
            "interval": 1,
            "timeout": 0.5,
            "failures": 3,
            "successes": 4,
            "probe_url": "https://cdn.test/health.jpg",
        },
        "delivery.health",
    )
    assert data == HealthConfig(
        enabled=False,
        interval=1.0,
        timeout=0.5,
        failures=3,
        successes=4,
        probe_url="https://cdn.test/health.jpg",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"interval": 0}, "delivery.health.interval: 0 is not allowed: expected at least 0.01"),
        ({"timeout": -1}, "delivery.health.timeout"),
        ({"failures": 0}, "delivery.health.failures: 0 is not allowed: expected at least 1"),
        ({"successes": 0}, "delivery.health.successes"),
        ({"probe_url": "/health.jpg"}, "delivery.health.probe_url"),
        ({"enabled": "maybe"}, "delivery.health.enabled"),
        ({"intervall": 5}, "delivery.health.intervall: unknown key"),
    ],
)
def test_bad_values_are_named_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        validate_section(HealthConfig, data, "delivery.health")


# -- the probe against a real host ------------------------------------------------------


async def test_a_host_that_answers_503_opens_and_recovers(cdn: DeliveryHost, started: Any) -> None:
    transitions: list[Transition] = []
    health = await started(on_transition=transitions.append)
    url = cdn.base_url + "wp-content/uploads/2024/05/a.jpg"
    health.saw(url)
    await eventually(lambda: health.snapshot()["hosts"][cdn.host]["probes"] >= 2)
    assert not health.blocking and health.states() == {cdn.host: CLOSED}
    assert ("HEAD", "/wp-content/uploads/2024/05/a.jpg") in cdn.requests

    cdn.answer(503)
    await eventually(lambda: health.blocks(url), what="the circuit opening")
    host = health.snapshot()["hosts"][cdn.host]
    assert host["state"] == OPEN and host["last_error"] == f"HEAD {url}: 503"
    assert health.blocking and health.snapshot()["rewriting_to"] == []

    cdn.answer(200)
    await eventually(lambda: not health.blocks(url), what="the circuit closing")
    assert [(t.before, t.after) for t in transitions] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]
    assert health.snapshot()["rewriting_to"] == [cdn.host]


async def test_a_host_that_hangs_fails_by_the_probe_timeout(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started(HealthConfig(interval=0.02, timeout=0.2))
    health.saw(cdn.base_url + "a.jpg")
    cdn.hang()
    await eventually(lambda: health.states().get(cdn.host) == OPEN)
    assert "no answer within 0.2 s" in health.snapshot()["hosts"][cdn.host]["last_error"]
    cdn.answer(200)
    await eventually(lambda: health.states()[cdn.host] == CLOSED)


async def test_a_host_that_stops_listening_fails_and_comes_back(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started()
    health.saw(cdn.base_url + "a.jpg")
    await cdn.go_away()
    await eventually(lambda: health.states().get(cdn.host) == OPEN)
    assert "Connect" in health.snapshot()["hosts"][cdn.host]["last_error"]
    await cdn.come_back()
    await eventually(lambda: health.states()[cdn.host] == CLOSED)


async def test_a_missing_object_is_not_a_host_failure_and_is_reported(
    cdn: DeliveryHost, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    health = await started()
    gone, kept = cdn.base_url + "gone.jpg", cdn.base_url + "kept.jpg"
    health.saw(kept)
    health.saw(gone)  # the newest one is probed first
    cdn.answer(404)
    with caplog.at_level(logging.WARNING, "rewriteproxy.delivery.health"):
        await eventually(lambda: health.snapshot()["hosts"][cdn.host]["probes"] >= 2)
        for _ in range(3):
            await health.probe_all()
    host = health.snapshot()["hosts"][cdn.host]
    assert host["state"] == CLOSED and host["last_error"] is None
    assert host["last_missing"] == f"HEAD {kept}: 404"
    # Each missing URL is asked about once, then dropped from the probe's list (and said
    # once in the log); with none left, the host is not probed until pages link to it again.
    assert cdn.requests == [("HEAD", "/gone.jpg"), ("HEAD", "/kept.jpg")]
    assert host["probes"] == 2
    assert len([r for r in caplog.records if "no object" in r.getMessage()]) == 2
    assert not health.blocking


async def test_the_configured_probe_url_is_probed_from_the_start_and_its_404_is_a_failure(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started(
        HealthConfig(interval=0.02, timeout=0.5, probe_url=cdn.base_url + "health.jpg")
    )
    await eventually(lambda: ("HEAD", "/health.jpg") in cdn.requests)
    health.saw(cdn.base_url + "2024/05/a.jpg")  # the known object stays the target
    cdn.answer(404)
    await eventually(lambda: health.states()[cdn.host] == OPEN)
    assert {path for _, path in cdn.requests} == {"/health.jpg"}


async def test_one_log_line_per_transition_not_per_probe(
    cdn: DeliveryHost, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    health = await started()
    health.saw(cdn.base_url + "a.jpg")
    cdn.answer(503)
    with caplog.at_level(logging.INFO, "rewriteproxy.delivery.health"):
        await eventually(lambda: health.snapshot()["hosts"][cdn.host]["probes"] >= 10)
    host = health.snapshot()["hosts"][cdn.host]
    assert host["state"] == OPEN and host["transitions"] == 1
    (line,) = [r for r in caplog.records if r.name == "rewriteproxy.delivery.health"]
    assert line.levelno == logging.WARNING and cdn.host in line.getMessage()
    assert "503" in line.getMessage()


async def test_one_object_the_host_fails_for_neither_opens_the_circuit_nor_is_probed_for_good(
    cdn: DeliveryHost, started: Any, caplog: pytest.LogCaptureFixture
) -> None:
    transitions: list[Transition] = []
    health = await started(on_transition=transitions.append)
    good = [cdn.base_url + "a.jpg", cdn.base_url + "b.jpg"]
    broken = cdn.base_url + "broken.jpg"  # its origin fails: the CDN answers 503 for it alone
    cdn.answer_for("/broken.jpg", 503)
    for url in [*good, broken]:  # the broken one is the newest: asked about first
        health.saw(url)
    with caplog.at_level(logging.WARNING, "rewriteproxy.delivery.health"):
        await eventually(lambda: health.snapshot()["hosts"][cdn.host]["probes"] >= 12)
    host = health.snapshot()["hosts"][cdn.host]
    assert transitions == [] and host["state"] == CLOSED and not health.blocking
    assert host["last_broken"] == f"HEAD {broken}: 503" and host["last_broken_at"] is not None
    # Asked about twice: it failed alone, the host served the others, it failed again.
    assert cdn.requests.count(("HEAD", "/broken.jpg")) == 2
    assert health._hosts[cdn.host].targets.urls() == tuple(good)
    (line,) = [r for r in caplog.records if "fails for one object" in r.getMessage()]
    assert broken in line.getMessage()

    cdn.answer(503)  # now the whole host fails: two objects say so
    await eventually(lambda: health.blocks(broken), what="the circuit opening")
    cdn.answer(200)
    await eventually(lambda: not health.blocking, what="the circuit closing")
    assert health._hosts[cdn.host].targets.urls() == tuple(good)  # not blamed on them


async def test_a_broken_object_does_not_keep_the_circuit_open_once_the_host_is_back(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started()
    good, broken = cdn.base_url + "a.jpg", cdn.base_url + "broken.jpg"
    cdn.answer_for("/broken.jpg", 503)
    health.saw(good)
    health.saw(broken)
    await cdn.go_away()
    await eventually(lambda: health.states().get(cdn.host) == OPEN)
    await cdn.come_back()
    await eventually(lambda: health.states()[cdn.host] == CLOSED, what="the circuit closing")
    # The rotation may close the circuit on the good URL before it asks the broken one again.
    await eventually(
        lambda: health.snapshot()["hosts"][cdn.host]["last_broken"] == f"HEAD {broken}: 503",
        what="the broken object named",
    )


async def test_the_only_url_known_failing_with_a_5xx_opens_the_circuit(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started()
    health.saw(cdn.base_url + "only.jpg")
    cdn.answer_for("/only.jpg", 502)
    await eventually(lambda: health.states().get(cdn.host) == OPEN)
    assert health.snapshot()["hosts"][cdn.host]["last_broken"] is None


async def test_a_new_health_takes_over_the_circuits_of_the_hosts_still_delivered_from(
    cdn: DeliveryHost, started: Any
) -> None:
    old = await started()
    url = cdn.base_url + "a.jpg"
    old.saw(url)
    old.saw("https://elsewhere.test/a.jpg")
    await cdn.go_away()
    await eventually(lambda: old.states().get(cdn.host) == OPEN)
    old.record("elsewhere.test", Probe(False, "down"))
    old.record("elsewhere.test", Probe(False, "down"))
    assert old.states()["elsewhere.test"] == OPEN

    new = DeliveryHealth(HealthConfig(interval=0.02, timeout=0.5, successes=1))
    new.take_over(old, [cdn.host, "gone.test"])
    await old.close()
    assert new.states() == {cdn.host: OPEN} and new.blocks(url) and new.generation == 1
    before = old.snapshot()["hosts"][cdn.host]
    assert new.snapshot()["hosts"][cdn.host] == before
    assert new._hosts[cdn.host].targets.urls() == (url,)

    await cdn.come_back()
    await new.start()
    try:
        await eventually(lambda: new.states()[cdn.host] == CLOSED)  # probes what old knew
    finally:
        await new.close()


async def test_nothing_is_probed_before_something_was_delivered(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started()
    for _ in range(5):
        await health.probe_all()
    assert cdn.requests == [] and health.snapshot()["hosts"] == {}


def test_memory_is_bounded_a_few_urls_per_host_and_a_few_hosts() -> None:
    health = DeliveryHealth(FAST)
    for n in range(1000):
        health.saw(f"https://cdn.test/{n}.jpg")
    for n in range(2 * MAX_HOSTS):
        health.saw(f"https://cdn{n}.test/a.jpg")
    assert len(health.snapshot()["hosts"]) == MAX_HOSTS
    urls = health._hosts["cdn.test"].targets.urls()
    assert len(urls) == RECENT_URLS and urls[-1] == "https://cdn.test/999.jpg"


def test_the_gate_and_its_generation_change_with_the_set_of_blocked_hosts() -> None:
    health = DeliveryHealth(HealthConfig(failures=1, successes=1))
    health.saw("https://a.test/x.jpg")
    health.saw("https://b.test/x.jpg")
    assert health.generation == 0 and not health.blocks("https://a.test/x.jpg")
    health.record("a.test", Probe(False, "down"))
    assert health.generation == 1 and health.blocking
    assert health.blocks("https://a.test/y.jpg") and not health.blocks("https://b.test/x.jpg")
    health.record("a.test", Probe(False, "still down"))  # no change: same generation
    assert health.generation == 1
    health.record("a.test", Probe(True, "up"))
    assert health.generation == 2 and not health.blocking


async def test_disabled_it_never_probes_remembers_or_blocks(
    cdn: DeliveryHost, started: Any
) -> None:
    health = await started(HealthConfig(enabled=False, interval=0.02))
    health.saw(cdn.base_url + "a.jpg")
    await cdn.go_away()
    await health.probe_all()
    assert health.snapshot() == {"enabled": False, "rewriting_to": [], "hosts": {}}
    assert not health.blocking and cdn.requests == []
