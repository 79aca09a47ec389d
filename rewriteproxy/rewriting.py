"""Assembling the rewriting from config: locator + inventory + delivery → URL mapper → rewriters.

Everything here is built once per config load and then only called. The URL
mapper is the single decision point for one URL: is it a local upload, does
the inventory know it (and which version), and what is its delivery URL.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Config
from .delivery import DeliveryProvider, build_delivery
from .features import FeaturesConfig, build_handlers
from .formats.urltext import UrlSweep
from .html import HtmlRewriter
from .inventory import Inventory
from .media import FileInfo, UploadLocator, UploadRef
from .pipeline import BodyRewriter, Pipeline

__all__ = ["HTML_TYPES", "TEXT_TYPES", "UrlMapper", "build_pipeline"]

HTML_TYPES = ("text/html", "application/xhtml+xml")
# REST API answers, feeds, sitemaps and stylesheets: rewritten by URL shape (formats.urltext).
TEXT_TYPES = (
    "application/json", "application/ld+json", "application/rss+xml", "application/atom+xml",
    "application/rdf+xml", "application/xml", "text/xml", "text/css",
)


class UrlMapper:
    """``url → delivery URL | None``; ``None`` keeps the URL as it is."""

    __slots__ = ("_inventory", "_locator", "_provider", "_rewrite_missing")

    def __init__(
        self,
        locator: UploadLocator,
        inventory: Inventory,
        provider: DeliveryProvider,
        *,
        rewrite_missing: bool,
    ) -> None:
        self._locator = locator
        self._inventory = inventory
        self._provider = provider
        self._rewrite_missing = rewrite_missing

    def __call__(self, url: str, width: int | None = None) -> str | None:
        found = self.locate(url)
        if found is None:
            return None
        return self._provider.url_for(found[0], found[1], width)

    def locate(self, url: str) -> tuple[UploadRef, FileInfo | None] | None:
        """The upload ``url`` names and what the inventory knows of it, if it is to be delivered."""
        ref = self._locator.parse(url)
        if ref is None:
            return None
        info = self._inventory.lookup(ref.key)
        if info is None and not self._rewrite_missing:
            return None  # not known to exist on the delivery side: keep the local URL
        return ref, info


def build_url_mapper(config: Config, inventory: Inventory,
                     provider: DeliveryProvider | None = None) -> UrlMapper:
    return UrlMapper(
        UploadLocator(config.site.hosts, config.site.uploads_path),
        inventory,
        provider if provider is not None else build_delivery(config.delivery),
        rewrite_missing=config.inventory.on_missing == "rewrite",
    )


def build_pipeline(config: Config, inventory: Inventory) -> Pipeline:
    provider = build_delivery(config.delivery)
    mapper = build_url_mapper(config, inventory, provider)
    map_url: Callable[[str], str | None] = mapper
    html = HtmlRewriter(config.html)
    features: FeaturesConfig = config.features
    make_handlers = build_handlers(features, mapper, provider)
    every_page = features.every_page

    def rewrite_html(body: bytes, charset: str | None) -> bytes:
        # Without a feature that acts on every page, a page with no upload URL keeps
        # the engine's fast path (returned without scanning).
        if every_page or html.has_uploads(body):
            return html.rewrite(body, map_url, charset, make_handlers())
        return body

    sweep = UrlSweep(config.site.hosts, config.site.uploads_path)

    def rewrite_text(body: bytes, charset: str | None) -> bytes:
        # surrogateescape: bytes that are not valid in the charset survive untouched.
        encoding = charset or "utf-8"
        text = body.decode(encoding, "surrogateescape")
        new = sweep.rewrite(text, map_url)
        return body if new is text else new.encode(encoding, "surrogateescape")

    rewriters: dict[str, BodyRewriter] = {t: rewrite_html for t in HTML_TYPES}
    rewriters.update({t: rewrite_text for t in TEXT_TYPES})
    return Pipeline(rewriters)
