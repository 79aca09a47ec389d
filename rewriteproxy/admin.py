"""The admin listener (``admin.listen``): ``/metrics``, ``/health`` and ``/ready``.

Served apart from the public port (loopback by default), so none of it
shadows a WordPress path or shows itself to the internet, and once per
machine whatever the number of workers: in the one process, or with
``--workers N`` in a process of its own beside the workers that sums their
metric files (:mod:`.metrics`).

- ``/metrics``: every metric in Prometheus's text format.
- ``/health``: liveness. 200 while the process answers.
- ``/ready``: readiness. 200 once a worker serves with its config loaded and
  the inventory's first listing is done in every worker; otherwise 503 with the
  reasons, one line. A delivery circuit that is open or half open is named in
  the answer but keeps it 200: pages are correct then (local URLs), and a CDN
  that every replica shares would otherwise take every replica out of the load
  balancer at once. ``admin.ready_requires_delivery: true`` makes it a 503, for
  fleets where one replica's own path to the CDN can break.

Both answers are read from the same metric families as ``/metrics``, so what
the admin listener says and what Prometheus records cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric

from .metrics import collect, render
from .runtime import State

__all__ = ["create_admin_app", "families_of", "not_ready", "open_circuits", "summed_families"]

Families = Callable[[], list[Metric]]
_NO_STORE = {"Cache-Control": "no-store"}
_CIRCUIT_NAMES = {1.0: "half open", 2.0: "open"}


def families_of(state: State) -> Families:
    """One process's metric families, its gauges sampled afresh at each call."""

    def families() -> list[Metric]:
        state.sample()
        return collect(state.metrics.registry)

    return families


def summed_families() -> list[Metric]:
    """The families summed over every worker's metric files (``--workers N``)."""
    return collect(None)


def create_admin_app(families: Families, requires_delivery: bool = False) -> web.Application:
    """The admin routes, answering from ``families()`` (collected afresh at each call);
    ``requires_delivery``: an open delivery circuit makes ``/ready`` a 503."""
    app = web.Application()

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=render(families()),
            headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4, **_NO_STORE},
        )

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok\n", headers=_NO_STORE)

    async def ready(request: web.Request) -> web.Response:
        found = families()
        reasons = not_ready(found)
        circuits = open_circuits(found)
        if requires_delivery:
            reasons += circuits
        if reasons:
            return web.Response(
                status=503, text="not ready: " + "; ".join(reasons) + "\n", headers=_NO_STORE
            )
        if circuits:
            text = "ready, with local URLs: " + "; ".join(circuits) + "\n"
            return web.Response(text=text, headers=_NO_STORE)
        return web.Response(text="ready\n", headers=_NO_STORE)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    return app


def _samples(families: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


def not_ready(families: list[Metric]) -> list[str]:
    """Why the proxy is not ready, from its metric families (empty: ready)."""
    samples = _samples(families)

    def value(name: str) -> float:
        return samples.get((name, ()), 0.0)

    reasons = []
    if value("rewriteproxy_workers") < 1:
        reasons.append("no worker serving yet (config not loaded)")
    elif value("rewriteproxy_inventory_ready") < 1:
        reasons.append("the inventory's first listing is not done")
    return reasons


def open_circuits(families: list[Metric]) -> list[str]:
    """Each delivery host whose circuit is open or half open, from the metric families."""
    reasons = []
    for (name, labels), state in sorted(_samples(families).items()):
        if name == "rewriteproxy_delivery_circuit_state" and state in _CIRCUIT_NAMES:
            host = dict(labels).get("host", "?")
            reasons.append(f"delivery circuit {_CIRCUIT_NAMES[state]} for {host}")
    return reasons
