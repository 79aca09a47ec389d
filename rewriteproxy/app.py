"""The aiohttp application: routes and lifecycle.

The app holds one :class:`~.runtime.State`, which starts with the app and
closes with it, and swaps its runtime whole on reload (:mod:`.runtime`).
``enabled: false`` takes effect for the next request.

Health, readiness and metrics are not here: they are on the admin listener
(:mod:`.admin`), so every path of the public port is WordPress's. Each worker
copies its running parts' state into its gauges once a second
(:meth:`~.metrics.Metrics.sample`), which is what the admin listener reads
when it serves several workers.

A request with a chunked body is the last one read from its connection: its
answer says ``Connection: close``. aiohttp's C parser hands the last trailer
field of a chunked body to the next request on the connection as a header of
its own, and the trailers are not shown to the application, so the proxy
cannot tell which requests carried one; ending the connection is what keeps a
trailer from ever becoming a header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from .config import Config
from .proxy import handle, stamp
from .runtime import State

__all__ = ["STATE", "create_app"]

log = logging.getLogger("rewriteproxy")


STATE = web.AppKey("state", State)


SAMPLE_SECONDS = 1.0  # how often a worker copies its parts' state into its gauges


def create_app(config: Config, config_path: str | Path | None = None) -> web.Application:
    state = State.build(config, config_path)
    app = web.Application(client_max_size=0)  # bodies stream through; no size cap of ours
    app[STATE] = state

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await state.start()
        sampling = asyncio.create_task(_sample_forever(state), name="rewriteproxy-metrics")
        state.metrics.serving(True)
        yield
        state.metrics.serving(False)
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
        await state.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_response_prepare.append(stamp)
    app.on_response_prepare.append(_last_on_connection_after_a_chunked_body)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        return await handle(request, state)

    app.router.add_route("*", r"/{tail:[\s\S]*}", dispatch)  # every path, line breaks too
    return app


async def _sample_forever(state: State) -> None:
    while True:
        state.sample()
        await asyncio.sleep(SAMPLE_SECONDS)


async def _last_on_connection_after_a_chunked_body(
    request: web.Request, response: web.StreamResponse
) -> None:
    # The parser takes no other transfer coding in a request, so any is chunked.
    if "Transfer-Encoding" in request.headers:
        response.force_close()  # called before the head is written, after aiohttp set Connection
        response.headers["Connection"] = "close"
