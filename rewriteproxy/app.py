"""The aiohttp application: state, lifecycle, reload, health and metrics endpoints.

The app holds one :class:`Runtime` (the config and everything built from it)
and swaps it whole on reload, so a request always sees one consistent config.
A reload that fails validation is logged and counted, and the last good
runtime keeps serving. ``enabled: false`` takes effect for the next request.

The inventory is the only part with a life of its own (background listing);
it is kept across reloads when its config did not change, and replaced (the
new one started, the old one closed) when it did.
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

from .config import Config, ConfigError, load_config
from .http.buffering import Buffers
from .http.sendwatch import SendWatch
from .inventory import Inventory, build_inventory
from .metrics import Metrics
from .pipeline import Pipeline
from .proxy import ByteBudget, handle, rewriting_thread
from .rewriting import build_pipeline
from .upstream import Upstream

__all__ = ["STATE", "Runtime", "State", "create_app"]

log = logging.getLogger("rewriteproxy")


@dataclass(frozen=True)
class Runtime:
    config: Config
    inventory: Inventory
    pipeline: Pipeline


@dataclass
class State:
    runtime: Runtime
    config_path: Path | None = None
    metrics: Metrics = field(default_factory=Metrics)
    budget: ByteBudget = field(default_factory=ByteBudget)  # pages held for rewriting
    rewriter: ThreadPoolExecutor = field(default_factory=rewriting_thread)  # big pages
    buffers: Buffers = field(default_factory=Buffers)  # request and response bodies held
    sends: SendWatch = field(default_factory=SendWatch)  # the send timeout of every answer
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
        self.runtime = Runtime(config, inventory, build_pipeline(config, inventory))
        if inventory is not old.inventory:
            await old.inventory.close()
        self.metrics.reloads["ok"] += 1
        log.info("config reloaded from %s (enabled: %s)", self.config_path, config.enabled)
        return True


STATE = web.AppKey("state", State)


def _with(config: Config, **changes: object) -> Config:
    from dataclasses import replace

    return replace(config, **changes)  # type: ignore[arg-type]


def create_app(config: Config, config_path: str | Path | None = None) -> web.Application:
    inventory = build_inventory(config.inventory)
    state = State(
        Runtime(config, inventory, build_pipeline(config, inventory)),
        Path(config_path) if config_path else None,
    )
    app = web.Application(client_max_size=0)  # bodies stream through; no size cap of ours
    app[STATE] = state

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        state.upstream = Upstream(config.upstream, config.proxy)
        await state.runtime.inventory.start()
        yield
        await state.upstream.close()
        await state.runtime.inventory.close()
        state.rewriter.shutdown(wait=False)

    app.cleanup_ctx.append(lifecycle)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        proxy = state.runtime.config.proxy
        if request.path == proxy.health_path:
            return _health(state)
        if request.path == proxy.metrics_path:
            return web.Response(
                text=state.metrics.render(_gauges(state)), content_type="text/plain"
            )
        return await handle(request, state)

    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


def _gauges(state: State) -> dict[str, float]:
    runtime = state.runtime
    return {
        "enabled": float(runtime.config.enabled),
        "inventory_ready": float(runtime.inventory.ready),
    }


def _health(state: State) -> web.Response:
    runtime = state.runtime
    return web.json_response(
        {
            "status": "ok",
            "pid": os.getpid(),
            "enabled": runtime.config.enabled,
            "inventory": {"ready": runtime.inventory.ready, **runtime.inventory.snapshot_stats()},
        },
        headers={"Cache-Control": "no-store"},
    )


def install_reload_signal(state: State) -> None:
    """Reload on SIGHUP (where the platform has it)."""
    import signal

    loop = asyncio.get_running_loop()
    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(state.reload()))
