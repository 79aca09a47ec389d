"""Several sites behind one proxy: which site a request is for, and each site's own config.

A config names its sites either as one ``site`` (with the top-level ``delivery``
and ``inventory``) or as a list of ``sites``, each with its hosts, its uploads
path and optionally its own delivery and inventory. :func:`site_configs` turns
either into one single-site :class:`~rewriteproxy.config.Config` per site: the
view every per-site part is built from (the upload locator, the URL mapper, the
page cache, the features), so nothing built for one site can see another's
URLs or serve its pages.

:class:`Sites` selects the site of a request by its host (see
:func:`rewriteproxy.http.headers.request_host`): one dict lookup, exactly as
configured (``host`` or ``host:port``), then the host without its port. A
host no site names selects nothing; the proxy then passes the request
through untouched (bypass reason ``unknown-host``). A config of one ``site``
is as it always was: every request is for that site, whatever its host. Host names are compared
ASCII-lowercased; the port is never guessed from the scheme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Generic, TypeVar

from .config import Config, SiteConfig
from .inventory import Inventory, build_inventory
from .media import read_url

__all__ = ["Sites", "build_inventories", "inventory_key", "site_configs", "site_for_url"]

T = TypeVar("T")


def site_configs(config: Config) -> tuple[Config, ...]:
    """One single-site config per site of ``config`` (``config`` itself when it has one)."""
    if not config.sites:
        return (config,)
    views = []
    for block in config.sites:
        site = SiteConfig(
            hosts=block.hosts,
            uploads_path=block.uploads_path,
            uploads_aliases=block.uploads_aliases,
            scheme=block.scheme,
        )
        views.append(
            config.model_copy(
                update={
                    "site": site,
                    "sites": (),
                    "delivery": block.delivery or config.delivery,
                    "inventory": block.inventory or config.inventory,
                    "html": config.html.model_copy(update={"uploads_path": site.uploads_path}),
                }
            )
        )
    return tuple(views)


class Sites(Generic[T]):
    """``host → T`` (a site's pipeline, or its config), built once per config."""

    __slots__ = ("_by_host", "_default", "all")

    def __init__(self, sites: Iterable[tuple[Config, T]], default: T | None = None) -> None:
        """``default``: what a host of no site selects (the one site of a ``site`` config)."""
        self._default = default
        self.all: tuple[T, ...] = ()
        by_host: dict[str, T] = {}
        for view, value in sites:
            assert view.site is not None
            self.all += (value,)
            by_host.update(dict.fromkeys(view.site.hosts, value))
        self._by_host = by_host

    @classmethod
    def build(cls, config: Config, make: Callable[[Config], T]) -> Sites[T]:
        if not config.sites:
            only = make(config)
            return cls([(config, only)], default=only)
        return cls((view, make(view)) for view in site_configs(config))

    def select(self, host: str | None) -> T | None:
        """The site ``host`` (a Host header's value) names, or ``None``."""
        if self._default is not None:
            return self._default
        if not host:
            return None
        by_host = self._by_host
        found = by_host.get(host)
        if found is not None:
            return found
        host = host.lower()
        found = by_host.get(host)
        if found is not None or not host.endswith(tuple("0123456789")):
            return found
        name, colon, port = host.rpartition(":")
        if colon and port.isdigit() and not name.endswith(":"):  # not a bare IPv6 literal
            return by_host.get(name)
        return None


def inventory_key(view: Config) -> str:
    """What tells two inventory configs apart: sites with equal ones share one inventory."""
    return view.inventory.model_dump_json()


def build_inventories(
    config: Config, keep: Mapping[str, Inventory] | None = None
) -> dict[str, Inventory]:
    """One (not started) inventory per distinct inventory config of the sites, by
    :func:`inventory_key`; one found in ``keep`` (the running config's) is reused."""
    keep = keep or {}
    inventories: dict[str, Inventory] = {}
    for view in site_configs(config):
        key = inventory_key(view)
        if key not in inventories:
            inventories[key] = keep.get(key) or build_inventory(view.inventory)
    return inventories


def site_for_url(config: Config, url: str) -> Config | None:
    """The site view (:func:`site_configs`) whose hosts ``url``'s host is in, as the proxy
    selects it for a request to ``url``; the one site of a ``site`` config whatever the
    host; ``None`` when no site has it (or, with several sites, ``url`` names no host)."""
    reading = read_url(url)
    host = None if reading is None or reading.host is None else reading.host
    if host is not None and reading is not None and reading.port:
        host = f"{host}:{reading.port}"
    views = site_configs(config)
    return Sites([(view, view) for view in views], default=None if config.sites else config).select(
        host
    )
