"""The aiohttp application: routes and lifecycle.

The app holds one :class:`~.runtime.State`, which starts with the app and
closes with it, and swaps its runtime whole on reload (:mod:`.runtime`).
``enabled: false`` takes effect for the next request.

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
from pathlib import Path

from aiohttp import web

from .config import Config
from .delivery.health import CLOSED
from .metrics import CIRCUIT_STATE_VALUES, LabelledGauge
from .proxy import handle
from .runtime import State

__all__ = ["STATE", "create_app", "install_reload_signal"]

log = logging.getLogger("rewriteproxy")


STATE = web.AppKey("state", State)


def create_app(config: Config, config_path: str | Path | None = None) -> web.Application:
    state = State.build(config, config_path)
    app = web.Application(client_max_size=0)  # bodies stream through; no size cap of ours
    app[STATE] = state

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await state.start()
        yield
        await state.close()

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
