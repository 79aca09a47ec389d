"""Responsive images: ``srcset`` candidates cut from the original by a transforming provider.

For an image delivered through a provider that can resize (Cloudinary), the
candidates WordPress lists in ``srcset`` (its registered sub-sizes) are replaced
by one candidate per configured breakpoint, each a resize of the largest image
WordPress offered. The same rule applies to ``<picture><source srcset>`` and to
``<link rel="preload" as="image" imagesrcset>``, so a preloaded candidate list
is the one the image itself uses.

Which file to resize, and how wide it is (never go wider):

- ``srcset`` with ``w`` descriptors: the candidate with the largest width, and
  that width (WordPress lists only files of the image's own aspect ratio, so
  resizing that one keeps the shape; its largest is the original, the
  ``-scaled`` file or the largest sub-size).
- no ``srcset``: ``src``, whose width is known from WordPress's ``-WxH`` name,
  else from the ``width`` attribute (WordPress writes the file's own size
  there); with neither the image is left alone. Only images with a ``width``
  attribute or a ``sizes`` value get a generated ``srcset``: without either the
  browser would lay the image out at ``100vw``.
- ``srcset`` with density (``2x``) descriptors or without descriptors: left as
  WordPress wrote it (only its URLs are rewritten, by the engine).

Candidates: every breakpoint below the known width (and below ``max_width``),
then the known width itself capped at ``max_width``. The provider adds its
resize step (Cloudinary: ``c_limit,w_N``, which also never upscales). An image
whose ``src`` a ``<link rel="preload" as="image" href>`` without
``imagesrcset`` already asked for keeps its single ``src``, so the preload is
used. ``sizes``: kept when present; with ``sizes: auto`` an image without one
but with a ``width`` gets ``(max-width: Wpx) 100vw, Wpx`` (WordPress's own
default).

For providers that cannot resize (cdn, s3) this feature does nothing: the
engine maps WordPress's own candidates one by one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from rewriteproxy.formats.srcset import srcset_url_spans
from rewriteproxy.html import Element, ElementHandler
from rewriteproxy.media import FileInfo, UploadRef, wordpress_variant
from rewriteproxy.settings import Settings, not_allowed, rule

__all__ = [
    "KnownLists",
    "Locate",
    "ResponsiveConfig",
    "ResponsiveImages",
    "UrlFor",
]

Locate = Callable[[str], "tuple[UploadRef, FileInfo | None] | None"]
"""``url → (upload, what the inventory knows) | None`` (:meth:`UrlMapper.locate`)."""
UrlFor = Callable[[UploadRef, "FileInfo | None", "int | None"], "str | None"]
"""A provider's ``url_for(ref, info, width)``."""
KnownLists = dict[tuple[str, int], "tuple[FileInfo | None, str | None]"]
"""``(url, its width) → (the inventory answer a list was made from, the list or None)``."""
_KNOWN_SIZE = 10_000  # lists kept across documents; cleared when full

_WIDTH = re.compile(r"\s*([0-9]+)w\s*\Z")
_DIGITS = re.compile(r"\s*([0-9]+)(?:px)?\s*\Z")


def _positive(widths: tuple[int, ...]) -> tuple[int, ...]:
    for width in widths:
        if width <= 0:
            raise not_allowed("a list of positive numbers", width)
    return widths


class ResponsiveConfig(Settings):
    """``features.responsive``: srcset widths from a provider that can resize."""

    enabled: bool = True
    """Acts only when the delivery provider can resize (cloudinary)."""
    min_width: int = Field(200, ge=1)
    """The first breakpoint."""
    max_width: int = Field(2560, ge=1)
    """No candidate is wider than this (nor wider than the image)."""
    step: int = Field(200, ge=50)
    """Breakpoints are min_width, min_width + step, … up to max_width."""
    widths: Annotated[tuple[int, ...], AfterValidator(_positive)] = ()
    """An explicit breakpoint list, such as [320, 640, 1280]; replaces min_width, max_width
    and step."""
    sizes: Literal["auto", "keep"] = "auto"
    """auto: add WordPress's default sizes to an image that has a width and no sizes; keep:
    never add one."""

    @model_validator(mode="after")
    def _widths_in_order(self) -> ResponsiveConfig:
        if self.max_width < self.min_width:
            raise rule(
                f"{self.max_width} is not allowed: expected at least min_width ({self.min_width})",
                at="max_width",
            )
        return self

    @property
    def breakpoints(self) -> tuple[int, ...]:
        if self.widths:
            return tuple(sorted(set(self.widths)))
        return tuple(range(self.min_width, self.max_width + 1, self.step))


def width_candidates(value: str) -> list[tuple[str, int]] | None:
    """``(url, width)`` of each candidate, or ``None`` unless every one has a ``w`` descriptor."""
    spans = srcset_url_spans(value)
    found: list[tuple[str, int]] = []
    for i, (start, end) in enumerate(spans):
        stop = spans[i + 1][0] if i + 1 < len(spans) else len(value)
        match = _WIDTH.match(value[end:stop].rstrip().rstrip(","))
        if match is None:
            return None
        found.append((value[start:end], int(match[1])))
    return found or None


def pixels(value: str | None) -> int | None:
    """A ``width`` attribute as a whole number of pixels, or ``None``."""
    match = _DIGITS.match(value) if value else None
    return int(match[1]) if match and int(match[1]) > 0 else None


class ResponsiveImages(ElementHandler):
    """Per document: rebuilds ``srcset``/``imagesrcset`` from breakpoints."""

    tags = frozenset({"img", "source", "link"})

    def __init__(
        self,
        config: ResponsiveConfig,
        breakpoints: tuple[int, ...],
        locate: Locate,
        url_for: UrlFor,
        known: KnownLists,
    ) -> None:
        """``known``: lists made for earlier documents, shared by every handler of one
        pipeline (the breakpoints and the provider are the same for all of them)."""
        self._config = config
        self._breakpoints = breakpoints
        self._locate = locate
        self._url_for = url_for
        self._known = known
        self._preloaded: set[str] = set()  # hrefs preloaded without imagesrcset
        # (url, width) → srcset: a picture's sources, its img and a preload share one list
        self._made: dict[tuple[str, int], str | None] = {}

    def element(self, element: Element) -> None:
        if element.name == "img":
            self._image(element)
        elif element.name == "source":
            self._rebuild(element, "srcset")
        elif _is_image_preload(element):
            if element.has("imagesrcset"):
                self._rebuild(element, "imagesrcset")
            elif (href := element.original("href")) is not None:
                self._preloaded.add(href.strip())

    def _image(self, element: Element) -> None:
        if element.has("srcset"):
            self._rebuild(element, "srcset")
            return
        src = (element.original("src") or "").strip()
        if not src or src in self._preloaded:
            return
        shown = pixels(element.get("width"))
        if shown is None and not element.has("sizes"):
            return  # without sizes or a width the browser would lay it out at 100vw
        variant = wordpress_variant(src.partition("?")[0].partition("#")[0])
        own = variant.width if variant is not None and variant.width else None
        if variant is not None and variant.scaled:
            own = None
        own = own or shown
        if own is None:
            return
        srcset = self._srcset(src, own)
        if srcset is None:
            return
        element.set("srcset", srcset)
        if self._config.sizes == "auto" and not element.has("sizes") and shown:
            element.set("sizes", f"(max-width: {shown}px) 100vw, {shown}px")

    def _rebuild(self, element: Element, attribute: str) -> None:
        candidates = width_candidates(element.original(attribute) or "")
        if candidates is None:
            return
        url, own = max(candidates, key=lambda c: c[1])
        srcset = self._srcset(url, own)
        if srcset is not None:
            element.set(attribute, srcset)

    def _srcset(self, url: str, own: int) -> str | None:
        """Candidates of ``url`` (``own`` pixels wide) at each breakpoint; ``None`` if < 2."""
        key = (url, own)
        if key not in self._made:
            self._made[key] = self._make(url, own)
        return self._made[key]

    def _make(self, url: str, own: int) -> str | None:
        found = self._locate(url)
        if found is None:
            return None  # not an upload, or not delivered: leave the list alone
        ref, info = found
        # Keyed on the URL as resolved: a relative one names another file on another page.
        known = self._known.get((ref.url, own))
        # Made before from the same inventory answer: the same list (a list is one
        # provider call per breakpoint, most of what this feature costs a fresh page).
        if known is not None and (known[0] is info or known[0] == info):
            return known[1]
        srcset = self._build(ref, info, own)
        if len(self._known) >= _KNOWN_SIZE:
            self._known.clear()
        self._known[(ref.url, own)] = (info, srcset)
        return srcset

    def _build(self, ref: UploadRef, info: FileInfo | None, own: int) -> str | None:
        top = min(own, self._config.max_width)
        widths = [w for w in self._breakpoints if w < top]
        widths.append(top)
        seen: set[str] = set()
        parts: list[str] = []
        for width in widths:
            new = self._url_for(ref, info, width)
            if new is None:
                return None
            if new in seen or any(c in new for c in " \t\n\f\r"):
                continue
            seen.add(new)
            parts.append(f"{new} {width}w")
        return ", ".join(parts) if len(parts) > 1 else None


def _is_image_preload(element: Element) -> bool:
    rel = (element.get("rel") or "").lower().split()
    return "preload" in rel and (element.get("as") or "").strip().lower() == "image"
