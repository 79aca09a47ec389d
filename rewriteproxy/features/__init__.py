"""Page-speed features applied on top of URL rewriting: one small module each.

Each feature's config section is a model beside it (``features.lazy`` is
:class:`~.lazy.LazyConfig`); :class:`FeaturesConfig` assembles them.

Defaults: the proxy's promise is that only upload URLs change unless the config
asks for more, so lazy loading, placeholders and preconnect are opt-in;
responsive is on because it only replaces URLs with other delivery URLs of the
same image (and acts only with a provider that can resize).

Each feature is an :class:`~rewriteproxy.html.ElementHandler` (see
:mod:`rewriteproxy.html.rewriter`) holding per-document state, so
:func:`build_handlers` (called once per config) returns a factory that makes
fresh handlers for each document. Handlers run in a fixed order on each tag:
responsive, lazy, placeholders (which reads the ``loading`` that lazy set),
preconnect.

A feature that cannot apply is simply not built: responsive without a
transforming provider, placeholders without Cloudinary (a config error, since
the user asked for something impossible), preconnect when URLs stay local.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

from rewriteproxy.delivery import DeliveryProvider
from rewriteproxy.features.lazy import LazyConfig, LazyLoading, marks_high_priority
from rewriteproxy.features.placeholders import (
    EffectUrl,
    PlaceholderConfig,
    Placeholders,
)
from rewriteproxy.features.preconnect import (
    Preconnect,
    PreconnectConfig,
    delivery_origin,
)
from rewriteproxy.features.responsive import (
    KnownLists,
    ResponsiveConfig,
    ResponsiveImages,
)
from rewriteproxy.html import ElementHandler
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import Settings

__all__ = [
    "FeatureMapper",
    "FeaturesConfig",
    "HandlerFactory",
    "LazyConfig",
    "PlaceholderConfig",
    "PreconnectConfig",
    "ResponsiveConfig",
    "build_handlers",
]

HandlerFactory = Callable[["FeatureMapper", bytes], list[ElementHandler]]
"""Fresh handlers for one document, given its mapper and the document itself."""


class FeaturesConfig(Settings):
    """``features``: page-speed features on top of URL rewriting."""

    responsive: ResponsiveConfig = ResponsiveConfig()
    """srcset widths from a provider that can resize."""
    lazy: LazyConfig = LazyConfig()
    """Native lazy loading."""
    placeholders: PlaceholderConfig = PlaceholderConfig()
    """Low-quality placeholders (cloudinary)."""
    preconnect: PreconnectConfig = PreconnectConfig()
    """A preconnect hint to the delivery host."""

    @property
    def every_page(self) -> bool:
        """True if some feature acts on pages without any upload URL (lazy loading)."""
        return self.lazy.enabled and self.lazy.pages == "all"


_P = ParamSpec("_P")
_R = TypeVar("_R")


class FeatureMapper(Protocol):
    """What the features need of :class:`rewriteproxy.rewriting.PageMapper`: which upload a
    URL names and whether it is delivered (widths and effects then go to the provider),
    and the provider's builders made to fail open per URL like the mapping itself."""

    def locate(self, url: str) -> tuple[UploadRef, FileInfo | None] | None: ...

    def guarded(self, build: Callable[_P, _R | None]) -> Callable[_P, _R | None]: ...


def build_handlers(config: FeaturesConfig, provider: DeliveryProvider) -> HandlerFactory:
    """A factory of fresh per-document handlers for ``config``; it may return ``[]``.

    The factory takes the document's mapper: the one the engine maps URLs with, so
    every inventory answer a feature relies on is seen by whoever watches that
    mapper (the page cache in :mod:`rewriteproxy.rewriting`); and the document,
    for what a feature must know of the whole page before its first tag.
    """
    makers: list[Callable[[FeatureMapper, bytes], ElementHandler]] = []
    if config.responsive.enabled and provider.transforms:
        responsive, breakpoints = config.responsive, config.responsive.breakpoints
        known: KnownLists = {}
        makers.append(
            lambda mapper, document: ResponsiveImages(
                responsive, breakpoints, mapper.locate, mapper.guarded(provider.url_for), known
            )
        )
    if config.lazy.enabled:
        lazy = config.lazy
        makers.append(
            lambda mapper, document: LazyLoading(
                lazy, lazy.fetchpriority and marks_high_priority(document)
            )
        )
    # Only Cloudinary derives images (the config refuses placeholders for the others).
    effect_url: EffectUrl | None = getattr(provider, "effect_url", None)
    if config.placeholders.enabled and effect_url is not None:
        placeholders = config.placeholders
        makers.append(
            lambda mapper, document: Placeholders(
                placeholders, mapper.locate, mapper.guarded(effect_url)
            )
        )
    origin = delivery_origin(provider) if config.preconnect.enabled else None
    if origin is not None:
        makers.append(lambda mapper, document: Preconnect(origin))

    def handlers(mapper: FeatureMapper, document: bytes) -> list[ElementHandler]:
        return [make(mapper, document) for make in makers]

    return handlers
