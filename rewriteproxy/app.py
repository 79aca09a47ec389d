"""The aiohttp application: state, lifecycle, reload, health and metrics endpoints.

The app holds one :class:`Runtime` (the config and everything built from it)
and swaps it whole on reload, so a request always sees one consistent config.
A reload that fails validation is logged and counted, and the last good
runtime keeps serving. ``enabled: false`` takes effect for the next request.

Two parts have a life of their own: the inventory (background listing) and
the delivery health (a background probe of each delivery host, see
:mod:`rewriteproxy.delivery.health`). Each is kept across reloads when its
config did not change, and replaced (the new one started, the old one
closed) when it did. A new delivery health takes over the circuit of the
host still delivered from, so a reload does not link pages to a host known
to be down.

The health endpoint answers 200 while the process serves, and says in its
JSON whether it serves degraded (``"status": "degraded"``): a delivery host's
circuit is not closed, or the inventory's last refresh failed. Pages are
still correct then (local URLs), and a load balancer that took every worker
out because a shared CDN is down would turn a CDN outage into a site outage.

A request with a chunked body is the last one read from its connection: its
answer says ``Connection: close``. aiohttp's C parser hands the last trailer
field of a chunked body to the next request on the connection as a header of
its own, and the trailers are not shown to the application, so the proxy
cannot tell which requests carried one; ending the connection is what keeps a
trailer from ever becoming a header.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from .bypass import Bypass
from .config import Config, ConfigError, load_config
from .delivery.health import CLOSED, DeliveryHealth, Transition
from .delivery.registry import delivery_host
from .http.buffering import Buffers
from .http.sendwatch import SendWatch
from .inventory import Inventory, build_inventory
from .logthrottle import LogThrottle
from .metrics import CIRCUIT_STATE_VALUES, LabelledGauge, Metrics
from .pipeline import Pipeline
from .proxy import ByteBudget, handle, proxy_logs, rewriting_thread
from .rewriting import build_pipeline
from .upstream import Upstream

__all__ = ["STATE", "Runtime", "State", "create_app"]

log = logging.getLogger("rewriteproxy")


@dataclass(frozen=True)
class Runtime:
    config: Config
    inventory: Inventory
    health: DeliveryHealth
    pipeline: Pipeline
    bypass: Bypass

    @classmethod
    def build(cls, config: Config, inventory: Inventory, health: DeliveryHealth) -> Runtime:
        pipeline = build_pipeline(config, inventory, health=health)
        return cls(config, inventory, health, pipeline, Bypass(config.bypass))


@dataclass
class State:
    runtime: Runtime
    config_path: Path | None = None
    metrics: Metrics = field(default_factory=Metrics)
    budget: ByteBudget = field(default_factory=ByteBudget)  # pages held for rewriting
    rewriter: ThreadPoolExecutor = field(default_factory=rewriting_thread)  # big pages
    buffers: Buffers = field(default_factory=Buffers)  # request and response bodies held
    sends: SendWatch = field(default_factory=SendWatch)  # the send timeout of every answer
    logs: LogThrottle = field(default_factory=proxy_logs)  # errors every request may repeat
    upstream: Upstream = field(init=False)

    async def reload(self) -> bool:
        """Load the config file again; on any error keep serving the current one."""
        if self.config_path is None:
            return False
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.metrics.reloads["failed"] += 1
            log.error("reload failed, keeping the running config: %s", exc)
            return False
        old = self.runtime
        if config.listen != old.config.listen or config.upstream != old.config.upstream:
            log.warning("listen and upstream changes take effect on restart only")
            config = _with(config, listen=old.config.listen, upstream=old.config.upstream)
        inventory = old.inventory
        if config.inventory != old.config.inventory:
            inventory = build_inventory(config.inventory)
            await inventory.start()
        health = old.health
        if config.delivery != old.config.delivery:
            health = self.delivery_health(config)
            health.take_over(old.health, _delivery_hosts(config))
            await health.start()
        self.runtime = Runtime.build(config, inventory, health)
        if inventory is not old.inventory:
            await old.inventory.close()
        if health is not old.health:
            await old.health.close()
        self.metrics.reloads["ok"] += 1
        log.info("config reloaded from %s (enabled: %s)", self.config_path, config.enabled)
        return True

    def delivery_health(self, config: Config) -> DeliveryHealth:
        """A new (not started) probe of the delivery hosts, counting into these metrics."""
        return _delivery_health(config, self.metrics)


def _delivery_health(config: Config, metrics: Metrics) -> DeliveryHealth:
    def count(transition: Transition) -> None:
        metrics.circuit_transitions[(transition.host, transition.after)] += 1

    return DeliveryHealth(config.delivery.health, on_transition=count)


def _delivery_hosts(config: Config) -> tuple[str, ...]:
    host = delivery_host(config.delivery)
    return (host,) if host is not None else ()


STATE = web.AppKey("state", State)


def _with(config: Config, **changes: object) -> Config:
    return config.model_copy(update=changes)


def create_app(config: Config, config_path: str | Path | None = None) -> web.Application:
    inventory = build_inventory(config.inventory)
    metrics = Metrics()
    health = _delivery_health(config, metrics)
    state = State(
        Runtime.build(config, inventory, health),
        Path(config_path) if config_path else None,
        metrics,
    )
    app = web.Application(client_max_size=0)  # bodies stream through; no size cap of ours
    app[STATE] = state

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        state.upstream = Upstream(config.upstream, config.proxy)
        await state.runtime.inventory.start()
        await state.runtime.health.start()
        yield
        await state.upstream.close()
        await state.runtime.health.close()
        await state.runtime.inventory.close()
        state.rewriter.shutdown(wait=False)

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(_last_on_connection_after_a_chunked_body)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        proxy = state.runtime.config.proxy
        if request.path == proxy.health_path:
            return _health(state)
        if request.path == proxy.metrics_path:
            return web.Response(
                text=state.metrics.render(_gauges(state), _labelled_gauges(state)),
                content_type="text/plain",
            )
        return await handle(request, state)

    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


async def _last_on_connection_after_a_chunked_body(
    request: web.Request, response: web.StreamResponse
) -> None:
    # The parser takes no other transfer coding in a request, so any is chunked.
    if "Transfer-Encoding" in request.headers:
        response.force_close()  # called before the head is written, after aiohttp set Connection
        response.headers["Connection"] = "close"


def _gauges(state: State) -> dict[str, float]:
    runtime = state.runtime
    return {
        "enabled": float(runtime.config.enabled),
        "inventory_ready": float(runtime.inventory.ready),
        "inventory_stale": float(runtime.inventory.stale),
    }


def _labelled_gauges(state: State) -> list[LabelledGauge]:
    states = state.runtime.health.states()
    return [
        LabelledGauge(
            "delivery_circuit_state",
            "Circuit of each delivery host: 0 closed (rewriting to it), "
            "1 half open, 2 open (local URLs).",
            "host",
            {host: CIRCUIT_STATE_VALUES[circuit] for host, circuit in states.items()},
        )
    ]


def _health(state: State) -> web.Response:
    runtime = state.runtime
    inventory, delivery = runtime.inventory, runtime.health
    degraded = inventory.stale or any(s != CLOSED for s in delivery.states().values())
    return web.json_response(
        {
            "status": "degraded" if degraded else "ok",
            "pid": os.getpid(),
            "enabled": runtime.config.enabled,
            "inventory": {
                "ready": inventory.ready,
                "stale": inventory.stale,
                **inventory.snapshot_stats(),
            },
            "delivery": delivery.snapshot(),
        },
        headers={"Cache-Control": "no-store"},
    )


def install_reload_signal(state: State) -> None:
    """Reload on SIGHUP (where the platform has it)."""
    import signal

    loop = asyncio.get_running_loop()
    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(state.reload()))
