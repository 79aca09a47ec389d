"""The proxy's metrics, kept by ``prometheus_client`` and summed over every worker.

One :class:`Metrics` per worker process holds every metric family (in a
registry of its own, so tests can build several). A request is counted once,
from what its :class:`~rewriteproxy.requestlog.RequestRecord` and its
rewrite's :class:`~rewriteproxy.pipeline.UrlCounts` say, never once per URL,
and into plain integers: :meth:`Metrics.flush` hands them to
prometheus_client once a second and before every scrape (a prometheus_client
update costs microseconds, a dozen per request would be a tenth of a cached
page's time; docs/performance.md). The label children of the hot families are
looked up once and kept in dicts.

Gauges (inventory, delivery circuits, enabled) describe running parts that a
reload may replace: :meth:`Metrics.sample` copies them from the runtime,
once a second in each worker and before each scrape of a single process.

Several workers (``serve --workers N``): the parent gives them a fresh
private directory in ``PROMETHEUS_MULTIPROC_DIR`` (:func:`multiprocess_dir`)
before any metric exists, each worker's values live in memory-mapped files
there, and the admin listener sums them (:func:`collect`). A counter of a
worker that died is kept in the sum (rates stay right); its gauges are
dropped (:func:`forget_worker`). Each gauge declares how workers combine:
circuit state and staleness by the worst worker, readiness by the least
ready one, the listing's time by the oldest.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from .pipeline import UrlCounts

if TYPE_CHECKING:
    from .delivery.health import DeliveryHealth
    from .inventory import Inventory

__all__ = [
    "CIRCUIT_STATE_VALUES",
    "MULTIPROC_ENV",
    "Metrics",
    "collect",
    "forget_worker",
    "in_multiprocess_mode",
    "multiprocess_dir",
    "render",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The value of the circuit gauge for each state: above 0, pages keep their local URLs.
CIRCUIT_STATE_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
# Request times, from a cached page (well under a millisecond) to a slow origin.
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# What the proxy adds and what a rewrite takes: fractions of a millisecond to a big page.
_ADDED_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)
_KEPT_REASONS = ("missing", "circuit_open", "no_delivery_url", "not_an_upload")


class Metrics:
    """Every metric family of one worker; see the module docstring."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "rewriteproxy_requests",
            "Requests answered, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._bypassed = Counter(
            "rewriteproxy_bypassed",
            "Requests the bypass rules passed through untouched, by reason.",
            ["reason"],
            registry=registry,
        )
        self._disconnects = Counter(
            "rewriteproxy_client_disconnects",
            "Clients gone before their whole answer was sent (send_timeout: cut off by the "
            "proxy); not upstream errors.",
            ["reason"],
            registry=registry,
        )
        self._upstream_errors = Counter(
            "rewriteproxy_upstream_errors",
            "Upstream failures: unreachable or unusable answer (error), silent past "
            "read_timeout (timeout), broken off while streaming (mid_body).",
            ["kind"],
            registry=registry,
        )
        self._duration = Histogram(
            "rewriteproxy_request_duration_seconds",
            "Time from the request's head to the answer's last byte handed to the socket.",
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self._added = Histogram(
            "rewriteproxy_added_latency_seconds",
            "Time the proxy spent on a request up to its answer, excluding the wait for "
            "the upstream's head and body.",
            buckets=_ADDED_BUCKETS,
            registry=registry,
        )
        self._rewrite = Histogram(
            "rewriteproxy_rewrite_duration_seconds",
            "Time one body spent in the rewriting pipeline (cache hits included).",
            buckets=_ADDED_BUCKETS,
            registry=registry,
        )
        self._rewritten_bytes = Counter(
            "rewriteproxy_rewritten_bytes",
            "Bytes of upstream bodies that were rewritten.",
            registry=registry,
        )
        self._urls_rewritten = Counter(
            "rewriteproxy_upload_urls_rewritten",
            "Upload URLs rewritten to the delivery side, by provider.",
            ["provider"],
            registry=registry,
        )
        self._urls_kept = Counter(
            "rewriteproxy_upload_urls_kept_local",
            "URLs left as they were, by reason: missing (not in the inventory), "
            "circuit_open (delivery host down), no_delivery_url (the provider has none), "
            "not_an_upload.",
            ["reason"],
            registry=registry,
        )
        self._url_errors = Counter(
            "rewriteproxy_url_mapping_errors",
            "URLs kept local because mapping them raised; the rest of their page was "
            "still rewritten.",
            registry=registry,
        )
        self._cache_hits = Counter(
            "rewriteproxy_rewrite_cache_hits",
            "Bodies served from the rewrite cache.",
            registry=registry,
        )
        self._cache_misses = Counter(
            "rewriteproxy_rewrite_cache_misses",
            "Bodies rewritten afresh.",
            registry=registry,
        )
        self._reloads = Counter(
            "rewriteproxy_config_reloads",
            "Config reloads, by result.",
            ["result"],
            registry=registry,
        )
        self._transitions = Counter(
            "rewriteproxy_delivery_circuit_transitions",
            "Changes of state of a delivery host's circuit, by host and new state.",
            ["host", "to"],
            registry=registry,
        )
        self._refreshes = Counter(
            "rewriteproxy_inventory_refreshes",
            "Inventory listings that were completed and are now served.",
            registry=registry,
        )
        self._refresh_failures = Counter(
            "rewriteproxy_inventory_refresh_failures",
            "Inventory listings that failed (the last good one kept serving).",
            registry=registry,
        )
        self._workers = Gauge(
            "rewriteproxy_workers",
            "Worker processes serving.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._enabled = Gauge(
            "rewriteproxy_enabled",
            "1 while rewriting is enabled (in every worker).",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._inventory_ready = Gauge(
            "rewriteproxy_inventory_ready",
            "1 once the inventory's first listing is done (in every worker).",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._inventory_stale = Gauge(
            "rewriteproxy_inventory_stale",
            "1 while the inventory's last refresh failed (in any worker).",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._inventory_objects = Gauge(
            "rewriteproxy_inventory_objects",
            "Objects in the inventory's last listing.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._inventory_listed = Gauge(
            "rewriteproxy_inventory_last_listing_timestamp_seconds",
            "Unix time of the inventory's last good listing (the oldest worker's); "
            "0 before the first.",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._circuit = Gauge(
            "rewriteproxy_delivery_circuit_state",
            "Circuit of each delivery host: 0 closed (rewriting to it), 1 half open, "
            "2 open (local URLs); the worst worker's.",
            ["host"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        # Once per request, plain additions; flush() hands them to prometheus_client.
        self._pending: collections.Counter[Counter] = collections.Counter()
        self._duration_pending = _PendingHistogram(self._duration, _REQUEST_BUCKETS)
        self._added_pending = _PendingHistogram(self._added, _ADDED_BUCKETS)
        self._rewrite_pending = _PendingHistogram(self._rewrite, _ADDED_BUCKETS)
        self._outcomes: dict[str, Counter] = {}
        self._reasons: dict[str, Counter] = {}
        self._provider = self._urls_rewritten.labels("none")
        self._kept = {reason: self._urls_kept.labels(reason) for reason in _KEPT_REASONS}
        self._url_totals = UrlCounts()
        self._rewritten_bytes_pending = 0
        self._circuit_hosts: set[str] = set()
        # (id of the inventory, its refreshes, its failures): a reload's new one counts from 0.
        self._inventory_seen: tuple[tuple[int, ...], int, int] = ((), 0, 0)

    # -- once per request ----------------------------------------------------

    def request(self, outcome: str, seconds: float, added: float) -> None:
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self._requests.labels(outcome)
        self._pending[child] += 1
        self._duration_pending.observe(seconds)
        self._added_pending.observe(added)

    def bypass(self, reason: str) -> None:
        child = self._reasons.get(reason)
        if child is None:
            child = self._reasons[reason] = self._bypassed.labels(reason)
        self._pending[child] += 1

    def rewrite(
        self, seconds: float, counts: UrlCounts | None, rewritten_bytes: int, url_errors: int = 0
    ) -> None:
        self._rewrite_pending.observe(seconds)
        self._rewritten_bytes_pending += rewritten_bytes
        if url_errors:
            self._pending[self._url_errors] += url_errors
        if counts is not None:
            totals = self._url_totals
            totals.add(counts)
            totals.cache_hits += counts.cache_hits
            totals.cache_misses += counts.cache_misses

    def flush(self) -> None:
        """Add what the requests since the last flush counted to the metric families."""
        pending = self._pending
        for metric, amount in pending.items():
            if amount:
                metric.inc(amount)
        pending.clear()
        totals, self._url_totals = self._url_totals, UrlCounts()
        kept = self._kept
        for metric, amount in (
            (self._provider, totals.rewritten),
            (kept["missing"], totals.kept_missing),
            (kept["circuit_open"], totals.kept_circuit_open),
            (kept["no_delivery_url"], totals.kept_no_delivery_url),
            (kept["not_an_upload"], totals.kept_not_an_upload),
            (self._cache_hits, totals.cache_hits),
            (self._cache_misses, totals.cache_misses),
            (self._rewritten_bytes, self._rewritten_bytes_pending),
        ):
            if amount:
                metric.inc(amount)
        self._rewritten_bytes_pending = 0
        for histogram in (self._duration_pending, self._added_pending, self._rewrite_pending):
            histogram.flush()

    def client_gone(self, timed_out: bool) -> None:
        self._disconnects.labels("send_timeout" if timed_out else "client_gone").inc()

    def upstream_error(self, kind: str) -> None:
        self._upstream_errors.labels(kind).inc()

    # -- now and then ----------------------------------------------------------

    def delivering_with(self, provider: str) -> None:
        """The provider that rewritten URLs are counted for from now on."""
        self.flush()  # what was counted so far was the last provider's
        self._provider = self._urls_rewritten.labels(provider)

    def reloaded(self, ok: bool) -> None:
        self._reloads.labels("ok" if ok else "failed").inc()

    def circuit_changed(self, host: str, state: str) -> None:
        self._transitions.labels(host, state).inc()

    def serving(self, up: bool) -> None:
        self.flush()
        self._workers.set(1 if up else 0)

    def sample(
        self, enabled: bool, inventories: Sequence[Inventory], health: DeliveryHealth
    ) -> None:
        """Flush the requests' counts, and copy the running parts' state into the gauges
        (and new refreshes and refresh failures). Several inventories (one per distinct
        inventory of the sites) add up; ready means all are, stale that one is."""
        self.flush()
        stats = [inventory.snapshot_stats() for inventory in inventories]
        ready = all(inventory.ready for inventory in inventories)
        self._enabled.set(1 if enabled else 0)
        self._inventory_ready.set(1 if ready else 0)
        self._inventory_stale.set(1 if any(i.stale for i in inventories) else 0)
        self._inventory_objects.set(sum(s.get("keys") or 0 for s in stats))
        listings = [float(s.get("last_refresh") or 0) for s in stats]
        listed = min(listings) if all(listings) else 0.0  # the oldest listing
        self._inventory_listed.set(listed if listed else (time.time() if ready else 0))
        refreshes = sum(int(s.get("refreshes") or 0) for s in stats)
        failures = sum(int(s.get("refresh_failures") or 0) for s in stats)
        seen_inventory, seen_refreshes, seen_failures = self._inventory_seen
        identity = tuple(id(inventory) for inventory in inventories)
        if seen_inventory != identity:
            seen_refreshes = seen_failures = 0
        if refreshes > seen_refreshes:
            self._refreshes.inc(refreshes - seen_refreshes)
        if failures > seen_failures:
            self._refresh_failures.inc(failures - seen_failures)
        self._inventory_seen = (identity, refreshes, failures)
        states = health.states()
        for host in self._circuit_hosts - states.keys():
            with contextlib.suppress(KeyError):
                self._circuit.remove(host)
        for host, state in states.items():
            self._circuit.labels(host).set(CIRCUIT_STATE_VALUES[state])
        self._circuit_hosts = set(states)

    # -- for tests and the single process ----------------------------------------

    def value(self, name: str, **labels: str) -> float:
        """One sample's value in this worker (0 when it was never set)."""
        self.flush()
        found = self.registry.get_sample_value(name, labels)
        return found if found is not None else 0.0

    def requests_by_outcome(self) -> dict[str, float]:
        return self._by_label("rewriteproxy_requests_total", "outcome")

    def bypasses_by_reason(self) -> dict[str, float]:
        return self._by_label("rewriteproxy_bypassed_total", "reason")

    def disconnects_by_reason(self) -> dict[str, float]:
        return self._by_label("rewriteproxy_client_disconnects_total", "reason")

    def _by_label(self, sample: str, label: str) -> dict[str, float]:
        self.flush()
        return {
            s.labels[label]: s.value
            for family in self.registry.collect()
            for s in family.samples
            if s.name == sample and s.value
        }


class _PendingHistogram:
    """Observations of one histogram since the last flush, kept as plain bucket counts.

    Handed over through the histogram's buckets and sum (``_buckets``, ``_sum``: the
    values its own ``observe`` increments; tests/test_admin.py reads the counts back).
    """

    __slots__ = ("_bounds", "_counts", "_histogram", "_sum")

    def __init__(self, histogram: Histogram, bounds: tuple[float, ...]) -> None:
        self._histogram = histogram
        self._bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # the last: +Inf
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1  # the first bound >= value
        self._sum += value

    def flush(self) -> None:
        counts = self._counts
        if not any(counts):
            return
        buckets = self._histogram._buckets
        for i, count in enumerate(counts):
            if count:
                buckets[i].inc(count)
                counts[i] = 0
        self._histogram._sum.inc(self._sum)
        self._sum = 0.0


def in_multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def collect(registry: CollectorRegistry | None) -> list[Metric]:
    """The metric families to show: ``registry``'s (one process), or the sum over every
    worker's files (several), plus the listing's age computed now."""
    if registry is None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    families = list(registry.collect())
    for family in families:
        if family.name == "rewriteproxy_inventory_last_listing_timestamp_seconds":
            stamps = [s.value for s in family.samples]
            age = GaugeMetricFamily(
                "rewriteproxy_inventory_last_listing_age_seconds",
                "Seconds since the inventory's last good listing (the oldest worker's); "
                "absent before the first.",
            )
            if stamps and min(stamps) > 0:
                age.add_metric([], max(time.time() - min(stamps), 0.0))
            families.append(age)
            break
    return families


def render(families: list[Metric]) -> bytes:
    """``families`` in Prometheus's text format."""

    class _Families:
        def collect(self) -> Iterator[Metric]:
            return iter(families)

    return generate_latest(_Families())


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[str]:
    """A fresh private directory for every worker's metric files, named in
    ``PROMETHEUS_MULTIPROC_DIR`` while the block runs and removed after it.

    prometheus_client chooses how it stores values when it is first imported;
    if that was before, it is told now (no metric may exist yet).
    """
    path = tempfile.mkdtemp(prefix="rewriteproxy-metrics-")  # mode 0700
    os.environ[MULTIPROC_ENV] = path
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def forget_worker(pid: int) -> None:
    """Drop the gauges of a worker that exited (its counters stay in the sums)."""
    if in_multiprocess_mode():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
