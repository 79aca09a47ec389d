"""Low-quality image placeholders (Cloudinary), as a CSS background of the image itself.

For each lazy-loaded ``<img>`` whose ``src`` Cloudinary delivers, the style
attribute gets a tiny derived image as its background::

    style="...;background-image:url(&quot;https://res.cloudinary.com/.../e_blur:2000,q_1,f_auto/...&quot;);
           background-size:cover;background-position:50% 50%;background-repeat:no-repeat"

The browser paints the background while the real image loads, and the real
image paints over it. ``src``, ``srcset`` and ``loading`` stay exactly as they
were: the browser's own lazy loading fetches the real image, with or without
JavaScript, and nothing is duplicated in ``<noscript>``.

Why a background and not the usual JavaScript swap (``src`` = placeholder,
real URL in ``data-src``): the page then needs no script at all to show its
images, WordPress's own markup is kept (other scripts and the image block's
``srcset``/``sizes`` still see what WordPress wrote), and a preload of the real
image still matches. The cost: an image with transparent parts would show the
placeholder through them, so only ``formats`` without transparency get one
(JPEG by default); and ``object-fit: contain`` letterboxing shows it at the
edges.

Styles (Cloudinary transformations, after the image's own size step):

- ``blur``: ``c_limit,w_<width>`` then ``e_blur:2000,q_1,f_auto``
- ``pixelate``: ``c_limit,w_<width>`` then ``e_pixelate,q_1,f_auto``
- ``predominant``: pads the image into a wide 4:1 box filled with its
  predominant colour, then crops one pixel from the padding's corner
  (:data:`PREDOMINANT`); stretched by ``background-size: cover`` it is a flat
  colour. An image wider than 4:1 gives a pixel of its own corner instead.

Only images that end up ``loading="lazy"`` (by :mod:`.lazy` or the page)
get one: an eager image is fetched at once and its placeholder would only
compete with it. Images with a background already in their style are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from rewriteproxy.html import Element, ElementHandler
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import Names, Settings

__all__ = ["EFFECTS", "PREDOMINANT", "PlaceholderConfig", "Placeholders"]

PREDOMINANT = "b_auto:predominant,c_pad,ar_4.0,w_iw/c_crop,g_north_east,h_1,w_1/f_auto,q_1"
EFFECTS = {
    "blur": "e_blur:2000,q_1,f_auto",
    "pixelate": "e_pixelate,q_1,f_auto",
    "predominant": PREDOMINANT,
}

Locate = Callable[[str], "tuple[UploadRef, FileInfo | None] | None"]
"""``url → (upload, what the inventory knows) | None`` (:meth:`UrlMapper.locate`)."""
EffectUrl = Callable[[UploadRef, "FileInfo | None", "int | None", str], "str | None"]
"""``(upload, info, width, transformation) → URL | None`` (``CloudinaryDelivery.effect_url``)."""


def _extensions(formats: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.lower().lstrip(".") for f in formats)


class PlaceholderConfig(Settings):
    """``features.placeholders``: a tiny Cloudinary-derived image shown until the real one loads."""

    style: Literal["none", "blur", "pixelate", "predominant"] = "none"
    """none, blur, pixelate or predominant (needs provider cloudinary)."""
    width: int = Field(32, ge=1, le=400)
    """Pixel width of the blur and pixelate images."""
    formats: Annotated[Names, AfterValidator(_extensions)] = ("jpg", "jpeg", "jpe")
    """File extensions that get one: images without transparency."""

    @property
    def enabled(self) -> bool:
        return self.style != "none"


class Placeholders(ElementHandler):
    """Per document: a placeholder background for each lazy Cloudinary image."""

    tags = frozenset({"img"})

    def __init__(self, config: PlaceholderConfig, locate: Locate, effect_url: EffectUrl) -> None:
        self._formats = frozenset(config.formats)
        self._width = None if config.style == "predominant" else config.width
        self._effect = EFFECTS[config.style]
        self._locate = locate
        self._effect_url = effect_url

    def element(self, element: Element) -> None:
        if (element.get("loading") or "").strip().lower() != "lazy":
            return
        if element.within("noscript") or element.within("template"):
            return
        style = element.get("style") or ""
        if "background" in style.lower():
            return
        found = self._locate((element.original("src") or "").strip())
        if found is None or found[0].extension not in self._formats:
            return
        url = self._effect_url(found[0], found[1], self._width, self._effect)
        if url is None or '"' in url or "\\" in url:
            return
        rule = (
            f'background-image:url("{url}");background-size:cover;'
            "background-position:50% 50%;background-repeat:no-repeat"
        )
        style = style.rstrip(" \t\n\f\r;")
        element.set("style", f"{style};{rule}" if style else rule)
