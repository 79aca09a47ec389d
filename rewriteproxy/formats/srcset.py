"""``srcset`` lists (img, source, link imagesrcset, lazy-loading ``data-srcset``).

Parsed by the WHATWG "parse a srcset attribute" rules, as far as finding the
URLs goes: candidates are separated by commas, but a URL runs until whitespace,
so a URL may itself contain commas (Cloudinary delivery URLs such as
``.../image/upload/f_auto,q_auto/v1/a.jpg`` do); trailing commas of a URL are
separators, and descriptors (``300w``, ``2x``, even ``foo(a, b)``) run to the
next comma outside parentheses.

Only the URL spans are ever edited: whitespace, commas and descriptors stay as
they were. A replacement that contains whitespace or ends in a comma could not
be read back as one URL, so such a replacement is refused (the URL is kept).
"""

from __future__ import annotations

import re

from rewriteproxy.formats import Edit, MapUrl

__all__ = ["rewrite_srcset", "safe_in_srcset", "srcset_url_spans"]

# One candidate: separators, then the URL (a run of non-whitespace, less trailing
# commas), then either those trailing commas (no descriptors follow) or the
# descriptors up to the comma that ends the candidate (parentheses may hold commas).
_CANDIDATE = re.compile(
    r"[\t\n\f\r ,]*+([^\t\n\f\r ]*[^\t\n\f\r ,])"
    r"(?:,+(?=[\t\n\f\r ]|\Z)|[\t\n\f\r ]*+(?:[^,(]|\([^)]*(?:\)|\Z))*+,?)"
)


def srcset_url_spans(value: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` span of every candidate's URL in ``value``, in order."""
    return [m.span(1) for m in _CANDIDATE.finditer(value)]


def safe_in_srcset(url: str) -> bool:
    """Whether ``url`` reads back as one whole URL when written into a srcset list: no
    whitespace, and no comma at either end."""
    # Five substring tests: several times faster than one regex search with anchors.
    return (
        bool(url)
        and url[0] != ","
        and url[-1] != ","
        and not (" " in url or "\t" in url or "\n" in url or "\f" in url or "\r" in url)
    )


def rewrite_srcset(value: str, map_url: MapUrl) -> list[Edit]:
    """Edits that replace each candidate URL ``map_url`` maps; ``[]`` when none changes."""
    edits: list[Edit] = []
    for start, end in srcset_url_spans(value):
        new = map_url(value[start:end])
        if new is None or new == value[start:end] or not safe_in_srcset(new):
            continue
        edits.append((start, end, new))
    return edits
