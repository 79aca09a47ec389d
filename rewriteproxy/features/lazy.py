"""Native lazy loading and a fetch priority for the likely largest image (LCP).

Rules, per document, in document order:

- Images inside ``<noscript>`` or ``<template>`` are not looked at (they are
  fallbacks or inert markup) and do not count.
- The first ``eager_images`` images are not lazy-loaded. The first of them that
  is not explicitly ``loading="lazy"`` and not small (``width`` times ``height``
  below :data:`SMALL_PIXELS`, when both are given: logos, icons) gets
  ``fetchpriority="high"``, unless some image before it already has a
  ``fetchpriority`` or the page marks any element ``fetchpriority="high"``
  itself (WordPress 6.3+ does, for what it takes to be the LCP image): a page
  ends with at most one high-priority image, and it is the page's own choice
  when it made one. WordPress core follows the same rule (no high priority on
  a lazy image).
- The page's own priority marks are kept: an image with ``fetchpriority="high"``
  or any explicit ``loading`` (``eager`` included) is never made lazy, wherever
  it stands; it counts towards ``eager_images`` like any image.
- Every later image without a ``loading`` attribute gets ``loading="lazy"``.
- Every image without ``decoding`` gets ``decoding="async"`` (``decoding`` is an
  image attribute only).
- With ``iframes``, every ``<iframe>`` without ``loading`` gets
  ``loading="lazy"``; iframes do not count towards ``eager_images``.
- Never touched: an explicit ``loading`` value (whatever it says), images or
  iframes with a class in ``skip_classes``, and images another lazy loader
  handles (``data-src``, ``data-lazy-src`` or ``data-srcset`` with no ``src``, an
  empty one or a ``data:`` placeholder). These still count as images.
- ``width`` and ``height`` are never changed, so reserving space keeps working.

Limits: "first in the document" is a guess at "first on screen": a hidden
carousel slide or an off-canvas menu image counts like any other.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from rewriteproxy.features.responsive import pixels
from rewriteproxy.html import Element, ElementHandler
from rewriteproxy.settings import Names, Settings

__all__ = ["SMALL_PIXELS", "LazyConfig", "LazyLoading", "marks_high_priority"]

SMALL_PIXELS = 50_000  # below this area an image is not worth a high fetch priority
DEFAULT_SKIP_CLASSES = ("skip-lazy", "no-lazy", "cld-bypass-lazy")
_LAZY_LOADER_ATTRIBUTES = ("data-src", "data-lazy-src", "data-srcset", "data-lazy-srcset")


def _stripped(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n.strip() for n in names if n.strip())


class LazyConfig(Settings):
    """``features.lazy``: native lazy loading of images and iframes."""

    enabled: bool = False
    """Opt-in: by default only upload URLs change."""
    eager_images: int = Field(1, ge=0)
    """The first N images are never lazy-loaded (the likely largest contentful paint)."""
    fetchpriority: bool = True
    """The first eager image that is not small gets fetchpriority="high" (unless the page
    marks one itself)."""
    decoding: bool = True
    """decoding="async" on images without decoding."""
    iframes: bool = True
    """loading="lazy" on iframes without loading."""
    skip_classes: Annotated[Names, AfterValidator(_stripped)] = DEFAULT_SKIP_CLASSES
    """Images and iframes with one of these classes are not touched."""
    pages: Literal["all", "with_uploads"] = "all"
    """all: every HTML page; with_uploads: only pages with an upload URL."""


def handled_elsewhere(element: Element) -> bool:
    """True if a JavaScript lazy loader owns this image (real URL in data-*, placeholder src)."""
    if not any(element.get(name) for name in _LAZY_LOADER_ATTRIBUTES):
        return False
    src = (element.get("src") or "").strip()
    return not src or src[:5].lower() == "data:"


def _small(element: Element) -> bool:
    width, height = pixels(element.get("width")), pixels(element.get("height"))
    return width is not None and height is not None and width * height < SMALL_PIXELS


class LazyLoading(ElementHandler):
    """Per document: counts images, adds ``loading``, ``decoding`` and ``fetchpriority``."""

    def __init__(self, config: LazyConfig, page_has_high_priority: bool = False) -> None:
        self._config = config
        self._skip = frozenset(config.skip_classes)
        self._images = 0
        self._priority_given = not config.fetchpriority or page_has_high_priority
        self.tags = frozenset({"img", "iframe"} if config.iframes else {"img"})

    def element(self, element: Element) -> None:
        if element.within("noscript") or element.within("template"):
            return
        skipped = bool(self._skip.intersection((element.get("class") or "").split()))
        if element.name == "iframe":
            if not skipped and element.get("loading") is None:
                element.set("loading", "lazy")
            return
        self._images += 1
        if skipped or handled_elsewhere(element):
            return
        if self._config.decoding and element.get("decoding") is None:
            element.set("decoding", "async")
        loading = element.get("loading")
        priority = element.get("fetchpriority")
        if self._images <= self._config.eager_images:
            if priority is not None:
                self._priority_given = True
            elif (
                not self._priority_given
                and (loading or "").strip().lower() != "lazy"
                and not _small(element)
            ):
                element.set("fetchpriority", "high")
                self._priority_given = True
            return
        if loading is None and (priority or "").strip().lower() != "high":
            element.set("loading", "lazy")


_HIGH_PRIORITY = re.compile(rb"""fetchpriority\s*=\s*["']?\s*high\b""", re.IGNORECASE)


def marks_high_priority(document: bytes) -> bool:
    """True if the page marks something ``fetchpriority="high"`` itself (a byte search:
    a mark inside a script or ``<noscript>`` counts too, which only means we add none)."""
    return b"riority" in document and _HIGH_PRIORITY.search(document) is not None
