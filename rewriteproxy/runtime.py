"""What one worker runs on: the config and everything built from it, and what outlives it.

:class:`Runtime` is one config and the parts built from it (inventory,
delivery health, pipeline, bypass rules); :class:`State` holds the current
runtime and what lasts across reloads (metrics, the byte budget, buffers, the
rewriting thread, the upstream pool). :meth:`State.reload` swaps the runtime
whole, so a request always sees one consistent config. A reload that fails
validation is logged and counted, and the last good runtime keeps serving.

Two parts have a life of their own: the inventory (background listing) and
the delivery health (a background probe of each delivery host, see
:mod:`rewriteproxy.delivery.health`). Each is kept across reloads when its
config did not change, and replaced (the new one started, the old one
closed) when it did. A new delivery health takes over the circuit of the
host still delivered from, so a reload does not link pages to a host known
to be down.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .budget import ByteBudget
from .bypass import Bypass
from .config import Config, ConfigError, load_config
from .delivery.health import DeliveryHealth, Transition
from .delivery.registry import delivery_host
from .http.buffering import Buffers
from .http.sendwatch import SendWatch
from .inventory import Inventory
from .logthrottle import LogThrottle
from .metrics import Metrics
from .pipeline import Pipeline
from .requestlog import AccessLog
from .rewriting import build_pipeline
from .sites import Sites, build_inventories, inventory_key, site_configs
from .upstream import Upstream

__all__ = ["Runtime", "State", "proxy_logs", "rewriting_thread"]

log = logging.getLogger("rewriteproxy")


def rewriting_thread() -> ThreadPoolExecutor:
    """The one thread big pages are rewritten in (per worker process).

    One, not a pool: rewriting holds the GIL, so more threads add no speed,
    only more pages' worth of transient memory at once (docs/performance.md).
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewriteproxy-rewrite")


def proxy_logs() -> LogThrottle:
    """The proxy's log (per worker process): an error repeated by every request is written
    at most once a second, with a count of the others."""
    return LogThrottle(logging.getLogger("rewriteproxy.proxy"))


@dataclass(frozen=True)
class Runtime:
    config: Config
    inventories: dict[str, Inventory]  # one per distinct inventory config of the sites
    health: DeliveryHealth
    sites: Sites[Pipeline]  # each site's own pipeline (and page cache), by host
    bypass: Bypass

    @classmethod
    def build(
        cls, config: Config, inventories: dict[str, Inventory], health: DeliveryHealth
    ) -> Runtime:
        sites = Sites.build(
            config,
            lambda view: build_pipeline(view, inventories[inventory_key(view)], health=health),
        )
        return cls(config, inventories, health, sites, Bypass(config.bypass))

    @property
    def inventory(self) -> Inventory:
        """The first site's inventory (the only one with one site)."""
        return next(iter(self.inventories.values()))


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
    access_log: AccessLog = field(default_factory=AccessLog)  # one line per request
    upstream: Upstream = field(init=False)

    @classmethod
    def build(
        cls, config: Config, config_path: str | Path | None = None, metrics: Metrics | None = None
    ) -> State:
        """The state for ``config``, its parts built but not started."""
        metrics = metrics if metrics is not None else Metrics()
        health = delivery_health(config, metrics)
        runtime = Runtime.build(config, build_inventories(config), health)
        metrics.delivering_with(config.delivery.provider)
        state = cls(runtime, Path(config_path) if config_path else None, metrics)
        state.access_log = AccessLog(config.log.format == "json", config.log.access)
        return state

    async def start(self) -> None:
        self.upstream = Upstream(self.runtime.config.upstream, self.runtime.config.proxy)
        for inventory in self.runtime.inventories.values():
            await inventory.start()
        await self.runtime.health.start()

    async def close(self) -> None:
        await self.upstream.close()
        await self.runtime.health.close()
        for inventory in self.runtime.inventories.values():
            await inventory.close()
        self.rewriter.shutdown(wait=False)

    def sample(self) -> None:
        """Copy the running parts' state into the metrics (see :meth:`Metrics.sample`)."""
        runtime = self.runtime
        self.metrics.sample(
            runtime.config.enabled, tuple(runtime.inventories.values()), runtime.health
        )

    async def reload(self) -> bool:
        """Load the config file again; on any error keep serving the current one."""
        if self.config_path is None:
            return False
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.metrics.reloaded(ok=False)
            log.error("reload failed, keeping the running config: %s", exc)
            return False
        old = self.runtime
        if config.listen != old.config.listen or config.upstream != old.config.upstream:
            log.warning("listen and upstream changes take effect on restart only")
            config = config.model_copy(
                update={"listen": old.config.listen, "upstream": old.config.upstream}
            )
        inventories = build_inventories(config, keep=old.inventories)
        for key, inventory in inventories.items():
            if inventory is not old.inventories.get(key):
                await inventory.start()
        health = old.health
        if _deliveries(config) != _deliveries(old.config):
            health = delivery_health(config, self.metrics)
            health.take_over(old.health, _delivery_hosts(config))
            await health.start()
        self.runtime = Runtime.build(config, inventories, health)
        for key, inventory in old.inventories.items():
            if inventories.get(key) is not inventory:
                await inventory.close()
        if health is not old.health:
            await old.health.close()
        self.metrics.delivering_with(config.delivery.provider)
        self.metrics.reloaded(ok=True)
        log.info("config reloaded from %s (enabled: %s)", self.config_path, config.enabled)
        return True


def delivery_health(config: Config, metrics: Metrics) -> DeliveryHealth:
    """A new (not started) probe of ``config``'s delivery hosts, counting into ``metrics``."""

    def count(transition: Transition) -> None:
        metrics.circuit_changed(transition.host, transition.after)

    return DeliveryHealth(config.delivery.health, on_transition=count)


def _deliveries(config: Config) -> list[object]:
    return [view.delivery for view in site_configs(config)]


def _delivery_hosts(config: Config) -> tuple[str, ...]:
    hosts = (delivery_host(view.delivery) for view in site_configs(config))
    return tuple(dict.fromkeys(h for h in hosts if h is not None))
