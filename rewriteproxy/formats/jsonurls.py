"""URLs that are whole JSON strings: ld+json blocks, inline script data, JSON attributes.

WordPress and its plugins print data for scripts with ``wp_json_encode``, which
escapes ``/`` as ``\\/`` (``"https:\\/\\/example.com\\/wp-content\\/uploads\\/a.jpg"``);
WooCommerce's ``data-product_variations`` attribute holds the same JSON. This
module finds every double-quoted string literal, decodes its escapes and, when
the whole decoded string is a candidate URL, asks ``map_url`` for a replacement.
The replacement is written back in the same escaping: ``\\/`` if the original
escaped slashes, ``\\u0026``-style if the original escaped ``& < > '`` that way,
non-ASCII as ``\\uXXXX`` if the original was pure ASCII with such escapes.

It works on JSON and, deliberately, on script code too: it never parses the
program, it only looks at ``"..."`` literals (skipping ``'...'`` and template
strings and comments, so ``'<img src="...">'`` is left alone), and only a
literal whose entire content is a URL without whitespace, or a srcset list as a
whole (``"URL 300w, URL 600w"``, as in WooCommerce variation data), is ever
changed. A URL inside a longer string (HTML in a JSON value, prose) is not
touched. ``<`` in a replacement is always written ``\\u003C`` so the text can
sit inside ``<script>`` safely.

In JSON proper (``values_only``: JSON attributes, ld+json and JSON scripts)
only values change: a string followed by ``:`` is an object key and stays,
even when it is a URL (a map keyed by URL must keep finding its entries). In
script code a ``:`` after a string may end a ternary's branch, so there every
whole-URL string is a candidate.

Limit: a regular expression literal holding a quote (``/"/``) can misalign the
reading of the rest of that script; the whole-URL rule keeps that from changing
anything but whole-URL strings.
"""

from __future__ import annotations

import json
import re

from rewriteproxy.formats import Edit, MapUrl, apply_edits
from rewriteproxy.formats.srcset import rewrite_srcset, srcset_url_spans

__all__ = ["rewrite_json_strings"]

# Double-quoted strings are the candidates; single-quoted and template strings
# and comments are matched only to be skipped, so a "..." inside them is not one.
# (Written as "unrolled loops", [^"\\]*(?:\\.[^"\\]*)*, which Python's engine runs about
# three times faster than the equivalent (?:[^"\\]|\\.)*.)
_TOKEN = re.compile(
    r'"([^"\\\n\r]*(?:\\.[^"\\\n\r]*)*)"'
    r"|'[^'\\\n\r]*(?:\\.[^'\\\n\r]*)*'|`[^`\\]*(?:\\.[^`\\]*)*`|//[^\n]*|/\*.*?(?:\*/|\Z)",
    re.DOTALL,
)
_WHITESPACE = re.compile(r"\s")
_KEY_END = re.compile(r"[\t\n\r ]*:")  # what follows an object key in JSON
_HEX_ESCAPED = re.compile(r"\\u00(?:26|3[cCeE]|27)")
_NON_ASCII_ESCAPED = re.compile(r"\\u(?!00[0-7])[0-9a-fA-F]{4}")
# A whole string that is a srcset list: "URL 300w, URL 600w" (WooCommerce variation data).
_SRCSET_STRING = re.compile(
    r"(?:https?:)?/\S*\s+\d+(?:\.\d+)?[wx](?:\s*,\s*(?:https?:)?/\S*\s+\d+(?:\.\d+)?[wx])*\s*"
)


def _decode(raw: str) -> str | None:
    if "\\" not in raw:
        return raw
    plain = raw.replace("\\/", "/")  # wp_json_encode's only escape in a URL
    if "\\" not in plain:  # every backslash was one of those: nothing else to decode
        return plain
    try:
        value = json.loads('"' + raw + '"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _encode(value: str, raw: str) -> str:
    """``value`` as the body of a JSON string, escaped the way ``raw`` was."""
    ascii_only = raw.isascii() and bool(_NON_ASCII_ESCAPED.search(raw))
    text = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
    if "\\/" in raw:
        text = text.replace("/", "\\/")
    if _HEX_ESCAPED.search(raw):
        text = text.replace("&", "\\u0026").replace(">", "\\u003E").replace("'", "\\u0027")
    return text.replace("<", "\\u003C")


def rewrite_json_strings(text: str, map_url: MapUrl, values_only: bool = False) -> list[Edit]:
    """Edits that replace each whole-string URL ``map_url`` maps; ``[]`` when none changes.

    ``values_only``: ``text`` is JSON, whose object keys are never changed.
    """
    edits: list[Edit] = []
    for m in _TOKEN.finditer(text):
        raw = m.group(1)
        if not raw or ("/" not in raw):
            continue
        if values_only and _KEY_END.match(text, m.end()):
            continue
        value = _decode(raw)
        if value is None or not value:
            continue
        new = _srcset_string(value, map_url) if _WHITESPACE.search(value) else map_url(value)
        if new is None or new == value:
            continue
        edits.append((m.start(1), m.end(1), _encode(new, raw)))
    return edits


def _srcset_string(value: str, map_url: MapUrl) -> str | None:
    """The rewritten value of a string that is, as a whole, a srcset list; else ``None``."""
    if not _SRCSET_STRING.fullmatch(value) or not srcset_url_spans(value):
        return None
    edits = rewrite_srcset(value, map_url)
    return apply_edits(value, edits) if edits else None
