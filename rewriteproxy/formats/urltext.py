"""Upload URLs found by their shape in any text: REST JSON, feeds, sitemaps, CSS files.

These bodies are not HTML, and what matters in them is where a URL string
starts and ends, wherever it stands: a JSON value, HTML inside a JSON value
(``content.rendered``), a feed's ``<enclosure url>``, a sitemap's
``<image:loc>``, escaped markup in a feed's description, a ``url()`` in CSS.
So instead of parsing each format, one regular expression built from the
config finds every URL that *looks like* a local upload:

- on one of the site's hosts (``http``/``https``/protocol-relative) or
  root-relative, directly under the uploads path;
- in plain form or with JSON's ``\\/`` escapes (``https:\\/\\/wp.test\\/wp-content\\/…``);
- ending at the first character WordPress never leaves in an upload's file
  name: whitespace, quotes, ``< > ( ) [ ] { } , ; \\ &`` (``sanitize_file_name``
  strips them all, so no real upload URL is cut short by this).

A match must start a URL, not continue a longer one (``https://other.host/wp-content/…``,
``https://other.host/?u=/wp-content/…``, ``https://other.host?@//wp.test/…``): it is
taken only at the start of the text or after whitespace, a quote, ``( < > [ ,`` or a
backtick, after a quote written as a character reference (``&quot;``, ``&#039;``), or
after the ``=`` of an attribute (``src=``, not a query's ``?u=`` or ``&u=``).
Each match is unescaped, handed to ``map_url`` (which decides by the same rule as
for every other format, :class:`rewriteproxy.media.UploadLocator`), and the
replacement written back with the same ``\\/`` escaping; everything else stays as
it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["UrlSweep"]

_URL_CHARS = r"""[^\s"'<>()\[\]{},;\\&]"""
# What may stand right before a URL; "=" and ";" only in the forms _starts_a_url checks.
_BEFORE_URL = r"""(?:(?<=[\s"'(<>\[,`=;])|^)"""
# An attribute name and its "=", preceded by what may precede an attribute name.
_ATTRIBUTE_EQUALS = re.compile(r"""[\s<"'][A-Za-z_:][\w:.-]*=\Z""")
_QUOTE_REFERENCE = re.compile(r"&(?:quot|apos|#0*3[49]|#[xX]0*2[27]);\Z")


def _starts_a_url(text: str, start: int) -> bool:
    """Whether a match at ``start`` (after a character _BEFORE_URL allows) starts a URL."""
    before = text[start - 1] if start else ""
    if before == "=":
        return _ATTRIBUTE_EQUALS.search(text, max(0, start - 64), start) is not None
    if before == ";":
        return _QUOTE_REFERENCE.search(text, max(0, start - 12), start) is not None
    return True


class UrlSweep:
    """Finds and rewrites upload URLs in text. ``rewrite`` is the hot path."""

    __slots__ = ("_needles", "_pattern")

    def __init__(
        self, hosts: tuple[str, ...], uploads_path: str, aliases: tuple[str, ...] = ()
    ) -> None:
        """``aliases``: more uploads paths, each some path followed by ``uploads_path``
        (see :class:`rewriteproxy.media.UploadLocator`)."""
        slash = r"\\?/"

        def spelled(path: str) -> str:
            return slash.join(re.escape(s) for s in path.strip("/").split("/") if s)

        path = slash + spelled(uploads_path) + slash
        tail = "/" + uploads_path.strip("/") + "/"
        leads = sorted(
            (spelled(a.removesuffix(tail)) for a in aliases if a.endswith(tail)),
            key=len,
            reverse=True,
        )
        if leads:  # the part of each alias before uploads_path, optional
            path = f"(?:{slash}(?:{'|'.join(leads)}))?" + path
        host = "|".join(re.escape(h) for h in sorted(hosts, key=len, reverse=True))
        origin = rf"(?:(?:[hH][tT][tT][pP][sS]?:)?{slash}{slash}(?:{host})(?::\d+)?)"
        rest = rf"{_URL_CHARS}+(?:{slash}{_URL_CHARS}+)*"
        self._pattern = re.compile(rf"{_BEFORE_URL}(?:{origin})?{path}{rest}", re.IGNORECASE)
        plain = uploads_path.strip("/")
        self._needles = (plain, plain.replace("/", "\\/"))

    def rewrite(self, text: str, map_url: Callable[[str], str | None]) -> str:
        """``text`` with every mapped upload URL replaced; the same object when none is."""
        if not any(n in text for n in self._needles):
            return text
        parts: list[str] = []
        pos = 0
        for match in self._pattern.finditer(text):
            found = match.group(0)
            if not _starts_a_url(text, match.start()):
                continue
            escaped = "\\/" in found
            new = map_url(found.replace("\\/", "/") if escaped else found)
            if new is None:
                continue
            parts.append(text[pos : match.start()])
            parts.append(new.replace("/", "\\/") if escaped else new)
            pos = match.end()
        if not parts:
            return text
        parts.append(text[pos:])
        return "".join(parts)
