"""Delivery health: one circuit breaker per delivery host, fed by a background probe.

A delivery host that stops answering (a CDN outage, a bucket gone, a DNS
failure) must not leave every image of every page broken until someone acts.
:class:`DeliveryHealth` probes each delivery host in the background and tells
the URL mapper (:mod:`rewriteproxy.rewriting`) which hosts are not to be
linked to right now; pages then keep their local upload URLs, which
WordPress still serves, until the host is back.

The probe, per host, every ``interval`` seconds: one ``HEAD`` of
``probe_url`` when the config names one on that host (a known object),
otherwise of one of the delivery URLs the mapper built for it lately, each
in turn (:mod:`rewriteproxy.delivery.targets`). The mapper reports the URLs
it builds with :meth:`DeliveryHealth.saw`; only the last :data:`RECENT_URLS`
per host are kept, and at most :data:`MAX_HOSTS` hosts are followed (every
provider delivers from one). A host nothing was delivered from yet is not
probed: there is nothing to ask it for.

What one probe means (:func:`judge`):

- a connection error or a timeout (``timeout`` seconds, DNS and TLS
  included): the host failed;
- a 5xx for ``probe_url``: the host failed;
- a 5xx for a recently rewritten URL: the host failed if another URL failed
  too since the last good answer, or if it is the only URL known; that one
  object is broken if it failed alone before, and then it is dropped, logged
  once and reported in :meth:`snapshot`; otherwise nothing is decided yet
  (:meth:`rewriteproxy.delivery.targets.Targets.failed`);
- a 404 or 410 for a recently rewritten URL: the host answered, so it is up;
  that one object is missing on the delivery side (pages link to a file that
  is not there: an upload not synced yet, or no inventory to say so). The URL
  is dropped from the probe's list and reported in :meth:`snapshot`;
- a 404 or 410 for the configured ``probe_url``: a failure, since that object
  is said to exist (a CDN that lost its origin answers this way);
- anything else (2xx, 3xx, 401, 403, 429...): the host answered.

The circuit (:class:`Circuit`): ``closed`` (rewrite) → ``failures`` failures
in a row → ``open`` (local URLs) → a success → ``half_open`` (still local
URLs) → ``successes`` successes in a row → ``closed``; a failure while
half open opens it again. Each transition is logged once, counted through
``on_transition`` and bumps :attr:`DeliveryHealth.generation`, which is how
the page cache knows that pages rewritten before are not to be served again.

Threads: :meth:`saw`, :meth:`blocks` and the ``blocking`` and ``generation``
attributes are read from the rewriting thread too; the state changes only on
the event loop, and the gate (``_blocked``, ``blocking``) is always updated
before ``generation``, so a page rewritten under the new generation never
saw the old gate.

A config reload that changes ``delivery`` makes a new :class:`DeliveryHealth`;
:meth:`DeliveryHealth.take_over` hands it the circuits and targets of the
hosts still delivered from, so a host that is down stays blocked.

Stateless by design: every worker process probes on its own and decides on
its own (a few HEADs per interval per worker), so nothing is shared between
workers or machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Annotated, Any

import aiohttp
from pydantic import Field

from rewriteproxy.settings import Settings, checked

from .targets import Targets, Verdict

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "MAX_HOSTS",
    "OPEN",
    "RECENT_URLS",
    "Circuit",
    "DeliveryHealth",
    "HealthConfig",
    "Probe",
    "Transition",
    "host_of",
    "judge",
]

log = logging.getLogger("rewriteproxy.delivery.health")

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
RECENT_URLS = 8  # delivery URLs remembered per host, as probe targets
MAX_HOSTS = 16  # hosts followed at most; providers deliver from one


_HOST = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#]+)")


def host_of(url: str) -> str | None:
    """The lower-cased ``host[:port]`` of an absolute or protocol-relative URL, else ``None``."""
    match = _HOST.match(url)
    return match.group(1).lower() if match else None


def _probe_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or host_of(value) is None:
        raise ValueError("it must start with http:// or https:// and name a host")
    return value


class HealthConfig(Settings):
    """``delivery.health``: a probe per delivery host; local URLs while it is down."""

    enabled: bool = True
    """Probe the delivery hosts (each worker probes)."""
    interval: float = Field(5.0, ge=0.01)
    """Seconds between two probes of a host."""
    timeout: float = Field(2.0, ge=0.01)
    """Seconds one probe may take, connecting included."""
    failures: int = Field(2, ge=1)
    """Failed probes in a row (error, timeout, 5xx) that switch pages to local URLs."""
    successes: int = Field(2, ge=1)
    """Good probes in a row that switch rewriting back on."""
    probe_url: Annotated[str | None, checked(_probe_url, "an absolute http(s) URL")] = None
    """A known object on the delivery host (recommended); unset: the recent URLs in turn."""


@dataclass(frozen=True, slots=True)
class Probe:
    """What one probe found: did the host work, and in a few words what it said."""

    ok: bool
    detail: str  # "HEAD <url>: 503" or the error
    missing: bool = False  # a recently rewritten URL answered 404/410: that object is not there
    object_error: bool = False  # a recently rewritten URL answered 5xx: that object, or the host
    url: str | None = None  # what was asked for


def judge(url: str, status: int, *, known_object: bool) -> Probe:
    """The meaning of ``status`` for a HEAD of ``url`` (``known_object``: the configured
    ``probe_url``, which is said to exist); see the module docstring."""
    detail = f"HEAD {url}: {status}"
    if status >= 500:
        return Probe(False, detail, object_error=not known_object, url=url)
    if status in (404, 410):
        if known_object:
            return Probe(False, detail, url=url)
        return Probe(True, detail, missing=True, url=url)
    return Probe(True, detail, url=url)


@dataclass(frozen=True, slots=True)
class Transition:
    host: str
    before: str
    after: str
    detail: str  # what the probe that caused it found
    at: float  # time.time()


class Circuit:
    """Closed, open or half open, from the outcomes of the probes (see the module docstring)."""

    __slots__ = ("_failed", "_succeeded", "failures", "state", "successes")

    def __init__(self, failures: int, successes: int) -> None:
        self.failures, self.successes = failures, successes
        self.state = CLOSED
        self._failed = 0  # failures in a row
        self._succeeded = 0  # successes in a row

    def record(self, ok: bool) -> str | None:
        """Count one probe; the new state if this one changed it, else ``None``."""
        before = self.state
        if ok:
            self._failed, self._succeeded = 0, self._succeeded + 1
            if self.state != CLOSED:
                self.state = CLOSED if self._succeeded >= self.successes else HALF_OPEN
        else:
            self._failed, self._succeeded = self._failed + 1, 0
            if self.state == HALF_OPEN or self._failed >= self.failures:
                self.state = OPEN
        return self.state if self.state != before else None

    @property
    def failed_in_a_row(self) -> int:
        return self._failed

    def take_over(self, other: Circuit) -> None:
        """Continue from ``other``'s state and counts (under this one's thresholds)."""
        self.state, self._failed, self._succeeded = other.state, other._failed, other._succeeded


class _Host:
    """What is known of one delivery host; touched by the rewriting thread only via ``targets``."""

    def __init__(self, name: str, circuit: Circuit) -> None:
        self.name = name
        self.circuit = circuit
        self.targets = Targets(RECENT_URLS)
        self.probes = 0
        self.transitions = 0
        self.since: float | None = None  # time of the last transition
        self.last_probe: str | None = None
        self.last_probe_at: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_missing: str | None = None
        self.last_missing_at: float | None = None
        self.last_broken: str | None = None
        self.last_broken_at: float | None = None

    def take_over(self, other: _Host) -> None:
        """Continue from what ``other`` (the same host, before a reload) knew."""
        self.circuit.take_over(other.circuit)
        self.targets.take_over(other.targets)
        for name in _Host._CARRIED:
            setattr(self, name, getattr(other, name))

    _CARRIED = (
        "probes",
        "transitions",
        "since",
        "last_probe",
        "last_probe_at",
        "last_error",
        "last_error_at",
        "last_missing",
        "last_missing_at",
        "last_broken",
        "last_broken_at",
    )

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.circuit.state,
            "since": self.since,
            "transitions": self.transitions,
            "probes": self.probes,
            "failures_in_a_row": self.circuit.failed_in_a_row,
            "last_probe": self.last_probe,
            "last_probe_at": self.last_probe_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_missing": self.last_missing,
            "last_missing_at": self.last_missing_at,
            "last_broken": self.last_broken,
            "last_broken_at": self.last_broken_at,
        }


class DeliveryHealth:
    """The circuits of the delivery hosts and the probe that drives them.

    ``blocking`` is true while some host's circuit is not closed (the mapper
    then asks :meth:`blocks` about each delivery URL); ``generation`` changes
    whenever the set of blocked hosts does. A disabled one never probes,
    never remembers a URL and never blocks.
    """

    def __init__(
        self,
        config: HealthConfig | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self.config = config if config is not None else HealthConfig(enabled=False)
        self.blocking = False
        self.generation = 0
        self._on_transition = on_transition
        self._blocked: frozenset[str] = frozenset()
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()  # for adding a host, from either thread
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        probe_url = self.config.probe_url
        self._probe_host = host_of(probe_url) if probe_url else None
        if self.config.enabled and self._probe_host is not None:
            self._host(self._probe_host)

    # -- what the URL mapper calls (any thread) -----------------------------

    def saw(self, url: str) -> None:
        """The mapper built ``url``: remember it as a probe target for its host."""
        if not self.config.enabled:
            return
        name = host_of(url)
        if name is None:
            return
        host = self._hosts.get(name) or self._host(name)
        if host is not None:
            host.targets.add(url)

    def blocks(self, url: str) -> bool:
        """True if ``url`` is on a host whose circuit is not closed."""
        return bool(self._blocked) and host_of(url) in self._blocked

    def _host(self, name: str) -> _Host | None:
        with self._lock:
            host = self._hosts.get(name)
            if host is None and len(self._hosts) < MAX_HOSTS:
                host = _Host(name, Circuit(self.config.failures, self.config.successes))
                self._hosts = {**self._hosts, name: host}  # readers iterate a stable dict
            return host

    def take_over(self, old: DeliveryHealth, hosts: Collection[str]) -> None:
        """Carry ``old``'s circuits and targets of ``hosts`` (those still delivered from)
        over into this one, which replaces it on a reload; call it before :meth:`start`."""
        if not self.config.enabled:
            return
        for name in hosts:
            before = old._hosts.get(name)
            host = self._host(name) if before is not None else None
            if before is not None and host is not None:
                host.take_over(before)
        self._update_gate()

    # -- lifecycle (event loop) -----------------------------------------------

    async def start(self) -> None:
        """Begin probing in the background (returns at once); nothing when disabled."""
        if not self.config.enabled or self._task is not None:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=MAX_HOSTS),
            timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": "rewriteproxy-health"},
            trust_env=False,
        )
        self._task = asyncio.create_task(self._probe_forever(), name="delivery-health")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _probe_forever(self) -> None:
        while True:
            await self.probe_all()
            await asyncio.sleep(self.config.interval)

    async def probe_all(self) -> None:
        """One round: probe every host that has something to probe, at once."""
        targets = [(host, self._target(host)) for host in self._hosts.values()]
        await asyncio.gather(*(self._probe(host, url) for host, url in targets if url))

    def _target(self, host: _Host) -> str | None:
        if host.name == self._probe_host:
            return self.config.probe_url
        return host.targets.next()

    async def _probe(self, host: _Host, url: str) -> None:
        if self._session is None:
            return
        known = url == self.config.probe_url
        target = "https:" + url if url.startswith("//") else url
        try:
            async with self._session.head(target, allow_redirects=False) as response:
                probe = judge(url, response.status, known_object=known)
        except TimeoutError:
            probe = Probe(False, f"HEAD {url}: no answer within {self.config.timeout:g} s", url=url)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            probe = Probe(False, f"HEAD {url}: {type(exc).__name__}: {exc}", url=url)
        self.record(host.name, probe)

    # -- state (event loop) -----------------------------------------------------

    def record(self, name: str, probe: Probe) -> Transition | None:
        """Count one probe of host ``name``: what the probe loop calls after each HEAD."""
        host = self._hosts.get(name) or self._host(name)
        if host is None:
            return None
        verdict = _sort_out(host.targets, probe)
        now = time.time()
        host.probes += 1
        host.last_probe, host.last_probe_at = probe.detail, now
        if not probe.ok and verdict != "broken":
            host.last_error, host.last_error_at = probe.detail, now
        if probe.missing:
            if host.last_missing != probe.detail:
                log.warning(
                    "delivery host %s has no object at a URL pages link to (%s): "
                    "is the upload synced, and does the inventory know what exists?",
                    name,
                    probe.detail,
                )
            host.last_missing, host.last_missing_at = probe.detail, now
        if verdict == "broken":
            if host.last_broken != probe.detail:
                log.warning(
                    "delivery host %s fails for one object pages link to (%s) while it serves "
                    "others: that URL is no longer probed; does the origin serve it?",
                    name,
                    probe.detail,
                )
            host.last_broken, host.last_broken_at = probe.detail, now
        if verdict != "host":
            return None  # nothing said about the host yet, or only about one object
        before = host.circuit.state
        after = host.circuit.record(probe.ok)
        if after is None:
            return None
        transition = Transition(name, before, after, probe.detail, now)
        host.transitions += 1
        host.since = now
        self._update_gate()
        _log_transition(transition, host.circuit)
        if self._on_transition is not None:
            self._on_transition(transition)
        return transition

    def _update_gate(self) -> None:
        blocked = frozenset(n for n, h in self._hosts.items() if h.circuit.state != CLOSED)
        if blocked == self._blocked:
            return
        self._blocked = blocked
        self.blocking = bool(blocked)
        self.generation += 1  # after the gate: see the module docstring

    def states(self) -> dict[str, str]:
        """``host → closed | half_open | open``."""
        return {name: host.circuit.state for name, host in self._hosts.items()}

    def snapshot(self) -> dict[str, Any]:
        """JSON-able facts about each host: its state, last error, last broken object."""
        return {
            "enabled": self.config.enabled,
            "rewriting_to": sorted(n for n, s in self.states().items() if s == CLOSED),
            "hosts": {name: host.snapshot() for name, host in self._hosts.items()},
        }


def _sort_out(targets: Targets, probe: Probe) -> Verdict:
    """Keep the targets up to date with ``probe``; what it says about the host: ``"host"``
    (count it), or, for a 5xx of one object, ``"unsure"`` or ``"broken"`` (do not)."""
    url = probe.url
    if url is None:
        return "host"
    if probe.missing:
        targets.forget(url)  # a missing object tells nothing more about the host
    elif probe.ok:
        targets.answered(url)
    elif probe.object_error:
        return targets.failed(url)
    return "host"


def _log_transition(transition: Transition, circuit: Circuit) -> None:
    host, detail = transition.host, transition.detail
    if transition.after == OPEN:
        log.warning(
            "delivery host %s is failing (%s); pages keep their local upload URLs until it "
            "answers %d probes in a row",
            host,
            detail,
            circuit.successes,
        )
    elif transition.after == HALF_OPEN:
        log.info("delivery host %s answered a probe (%s); not rewriting to it yet", host, detail)
    else:
        log.info("delivery host %s answers again (%s); rewriting to it resumes", host, detail)
