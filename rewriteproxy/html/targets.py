"""Where URLs are looked for in HTML: attribute → value kind, declared as data.

A target names an attribute, on one tag (``("img", "src")``) or on any tag
(``(None, "data-src")``), and what kind of value it holds (:class:`Kind`).
The defaults below cover HTML itself, WordPress core and the plugins whose
markup is common on WordPress sites; each says where it comes from, and
``docs/features.md`` lists them. The ``html.attributes`` config adds to them
or turns one off (:func:`parse_target_key`, :data:`DECLARED_KINDS`); the
engine (:class:`rewriteproxy.html.HtmlRewriter`) builds its lookup tables from
both once per config.

What a kind means for a value (after its character references are decoded):

- ``url``: the whole value is one URL (surrounding whitespace kept);
- ``srcset``: a ``srcset`` list;
- ``css``: CSS declarations or values, ``url(...)`` and ``image-set(...)`` in them;
- ``json``: JSON (or a JavaScript object literal); a string value that is as a
  whole an upload URL (or a srcset list) changes, nothing else does, and the
  replacement is written with the escaping the value used (``\\/``, ``\\u0026``,
  and, in the attribute, ``&quot;``): only the changed strings' bytes change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ANY_TAG",
    "DECLARED_KINDS",
    "DEFAULT_TARGETS",
    "TARGETS",
    "Kind",
    "Target",
    "parse_target_key",
]


class Kind(Enum):
    """What an attribute's value holds."""

    URL = "url"  # one URL (surrounding whitespace kept)
    SRCSET = "srcset"
    CSS = "css"  # declarations, as in style="..."
    JSON = "json"
    URL_OR_CSS = "url-or-css"  # lazy-loading backgrounds: CSS if it holds "url(", else a URL
    META_URL = "meta-url"  # <meta content>, only for the names in MEDIA_META_NAMES


DECLARED_KINDS: dict[str, Kind | None] = {
    "url": Kind.URL,
    "srcset": Kind.SRCSET,
    "css": Kind.CSS,
    "json": Kind.JSON,
    "url-or-css": Kind.URL_OR_CSS,
    "none": None,  # turns a default target off
}
"""The kinds ``html.attributes`` may declare, by name."""


@dataclass(frozen=True, slots=True)
class Target:
    """One attribute that may hold URLs: on ``tag`` only, or on any tag (``None``)."""

    tag: str | None
    attribute: str
    kind: Kind
    source: str  # whose markup it is: "HTML", "WordPress core", a plugin's name


_HTML = "HTML"
_CORE = "WordPress core"

DEFAULT_TARGETS: tuple[Target, ...] = (
    # HTML's own URL attributes.
    Target("img", "src", Kind.URL, _HTML),
    Target("img", "srcset", Kind.SRCSET, _HTML),
    Target("source", "src", Kind.URL, _HTML),
    Target("source", "srcset", Kind.SRCSET, _HTML),
    Target("video", "src", Kind.URL, _HTML),
    Target("video", "poster", Kind.URL, _HTML),
    Target("audio", "src", Kind.URL, _HTML),
    Target("track", "src", Kind.URL, _HTML),
    Target("a", "href", Kind.URL, _HTML),
    Target("area", "href", Kind.URL, _HTML),
    Target("link", "href", Kind.URL, _HTML),
    Target("link", "imagesrcset", Kind.SRCSET, _HTML),
    Target("meta", "content", Kind.META_URL, _HTML),  # og:image, twitter:image, ...
    Target("image", "href", Kind.URL, _HTML),  # SVG <image>
    Target("image", "xlink:href", Kind.URL, _HTML),
    Target("input", "src", Kind.URL, _HTML),
    Target("object", "data", Kind.URL, _HTML),
    Target("embed", "src", Kind.URL, _HTML),
    Target("body", "background", Kind.URL, _HTML),
    Target("table", "background", Kind.URL, _HTML),
    Target("td", "background", Kind.URL, _HTML),
    Target("th", "background", Kind.URL, _HTML),
    Target(None, "style", Kind.CSS, _HTML),
    # WordPress core: the gallery block's full-size link, the image block's lightbox
    # (Interactivity API context, WordPress 6.4 and 6.5; later versions put the URL in
    # a JSON <script>, which is rewritten as JSON anyway).
    Target(None, "data-full-url", Kind.URL, _CORE),
    Target(None, "data-wp-context", Kind.JSON, _CORE),
    # Lazy loaders: the real URL waits in a data-* attribute.
    Target(None, "data-src", Kind.URL, "lazy loaders (Smush, EWWW, a3, LiteSpeed, lazysizes)"),
    Target(
        None, "data-srcset", Kind.SRCSET, "lazy loaders (Smush, EWWW, a3, LiteSpeed, lazysizes)"
    ),
    Target(None, "data-lazy-src", Kind.URL, "WP Rocket, Jetpack"),
    Target(None, "data-lazy-srcset", Kind.SRCSET, "WP Rocket, Jetpack"),
    Target(None, "data-bg", Kind.URL_OR_CSS, "WP Rocket, Smush (background images)"),
    Target(None, "data-bg-hidpi", Kind.URL_OR_CSS, "WP Rocket (vanilla-lazyload)"),
    Target(None, "data-bg-multi", Kind.CSS, "WP Rocket (vanilla-lazyload)"),
    Target(None, "data-bg-multi-hidpi", Kind.CSS, "WP Rocket (vanilla-lazyload)"),
    Target(None, "data-background", Kind.URL_OR_CSS, "themes' lazy backgrounds"),
    Target(None, "data-back", Kind.URL_OR_CSS, "EWWW (background images)"),
    Target(None, "data-src-webp", Kind.URL, "EWWW (JavaScript WebP)"),
    Target(None, "data-srcset-webp", Kind.SRCSET, "EWWW (JavaScript WebP)"),
    Target(None, "data-src-img", Kind.URL, "EWWW (JavaScript WebP)"),
    Target(None, "data-srcset-img", Kind.SRCSET, "EWWW (JavaScript WebP)"),
    Target(None, "data-poster", Kind.URL, "lazy loaders (video posters)"),
    # Jetpack's carousel.
    Target(None, "data-orig-file", Kind.URL, "Jetpack"),
    Target(None, "data-medium-file", Kind.URL, "Jetpack"),
    Target(None, "data-large-file", Kind.URL, "Jetpack"),
    # WooCommerce: the product gallery and the variations form.
    Target(None, "data-large_image", Kind.URL, "WooCommerce"),
    Target(None, "data-thumb", Kind.URL, "WooCommerce"),
    Target(None, "data-thumb-srcset", Kind.SRCSET, "WooCommerce"),
    Target(None, "data-product_variations", Kind.JSON, "WooCommerce"),
    # Elementor: section, container and widget settings (background_image.url,
    # background_slideshow_gallery[].url, ...).
    Target(None, "data-settings", Kind.JSON, "Elementor"),
)
"""The built-in targets, in the order ``docs/features.md`` lists them."""

TARGETS: dict[tuple[str, str], Kind] = {
    (t.tag, t.attribute): t.kind for t in DEFAULT_TARGETS if t.tag is not None
}
"""(tag, attribute) → kind, for the defaults that mean a URL only on that tag."""

ANY_TAG: dict[str, Kind] = {t.attribute: t.kind for t in DEFAULT_TARGETS if t.tag is None}
"""attribute → kind, for the defaults that hold URLs on whatever tag they appear."""

_TAG_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
ATTRIBUTE_NAME = re.compile(r"[a-z_:@][a-z0-9_.:@-]*\Z")


def parse_target_key(key: str) -> tuple[str | None, str]:
    """``"div.data-settings"`` → ``("div", "data-settings")``; ``"data-wp-context"`` →
    ``(None, "data-wp-context")``. Lowercased; ``ValueError`` for anything else."""
    key = key.strip().lower()
    tag, dot, attribute = key.partition(".")
    if not dot:
        tag, attribute = "", key
    elif not _TAG_NAME.match(tag):
        raise ValueError(f"{tag!r} is not a tag name")
    if not ATTRIBUTE_NAME.match(attribute):
        raise ValueError(f"{attribute!r} is not an attribute name")
    return (tag or None), attribute
