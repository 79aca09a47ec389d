"""URL-bearing text formats, as pure functions over strings.

Each module here finds the URLs in one format (``srcset`` lists, CSS, JSON
strings) and reports the edits a URL mapper asks for as ``(start, end,
replacement)`` spans over the string it was given. They know nothing of HTML
(the caller decodes character references first and maps the spans back) and
nothing of which URLs are uploads (the ``map_url`` callable decides: it returns
the replacement URL, or ``None`` to keep the URL as it is).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Edit", "MapUrl", "apply_edits"]

MapUrl = Callable[[str], "str | None"]
"""Called with one candidate URL (decoded); returns its replacement or ``None``."""

Edit = tuple[int, int, str]
"""Replace ``text[start:end]`` by the string; spans never overlap and come in order."""


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with the (ordered, non-overlapping) edits applied."""
    if not edits:
        return text
    parts: list[str] = []
    pos = 0
    for start, end, replacement in edits:
        parts.append(text[pos:start])
        parts.append(replacement)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
