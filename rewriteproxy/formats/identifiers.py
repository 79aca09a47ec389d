"""Where identifiers stand in JSON and XML text: values that must never change.

A REST answer's ``guid`` (``"guid":{"rendered":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/…"}``
for an attachment) and a feed's ``<guid>`` are identifiers: clients dedupe and
sync on them, so they must stay what WordPress stored even when they look like
upload URLs. :class:`Identifiers` finds the spans of such values, for the
configured names (``bypass.identifiers``, default ``guid``), as a JSON key's
whole value (a string, or an object or array with everything in it) or an XML
element's text; the URL sweep then leaves those spans alone.

It reads only as much structure as that needs: JSON strings (so a brace inside
one does not count) and nesting; an XML element of the name, with or without a
namespace prefix, up to its closing tag. Text where the names do not occur is
settled by one substring search per name.
"""

from __future__ import annotations

import re

__all__ = ["Identifiers", "Span"]

Span = tuple[int, int]

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_STRUCTURE = re.compile(r'[{}\[\]"]')


class Identifiers:
    """The identifier values of one config's names in a text; :meth:`spans` is the hot path."""

    __slots__ = ("_json_key", "_names", "_xml_open")

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = tuple(dict.fromkeys(names))
        alternatives = "|".join(re.escape(n) for n in sorted(self._names, key=len, reverse=True))
        self._json_key = re.compile(rf'"(?:{alternatives})"\s*:\s*') if names else None
        self._xml_open = (
            re.compile(rf"<((?:[\w.-]+:)?(?:{alternatives}))(?=[\s/>])[^>]*>") if names else None
        )

    def spans(self, text: str) -> list[Span]:
        """Ordered, non-overlapping spans of ``text`` holding identifier values."""
        if self._json_key is None or not any(n in text for n in self._names):
            return []
        found = [*self._json_values(text), *self._xml_texts(text)]
        found.sort()
        merged: list[Span] = []
        for start, end in found:
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def _json_values(self, text: str) -> list[Span]:
        assert self._json_key is not None
        spans = []
        for key in self._json_key.finditer(text):
            start = key.end()
            end = _json_value_end(text, start)
            if end is not None:
                spans.append((start, end))
        return spans

    def _xml_texts(self, text: str) -> list[Span]:
        assert self._xml_open is not None
        spans = []
        for tag in self._xml_open.finditer(text):
            if tag.group(0).endswith("/>"):
                continue
            close = re.compile(rf"</{re.escape(tag.group(1))}\s*>").search(text, tag.end())
            # Unclosed: everything to the end is its text, as far as the sweep may know.
            spans.append((tag.end(), close.start() if close else len(text)))
        return spans


def _json_value_end(text: str, start: int) -> int | None:
    """The end of the JSON value at ``start``: a string, or a whole object or array."""
    if start >= len(text):
        return None
    first = text[start]
    if first == '"':
        string = _JSON_STRING.match(text, start)
        return string.end() if string else len(text)
    if first not in "{[":
        return None  # a number, true, null: nothing a URL could be
    depth = 0
    pos = start
    while (mark := _JSON_STRUCTURE.search(text, pos)) is not None:
        char = mark.group(0)
        if char == '"':
            string = _JSON_STRING.match(text, mark.start())
            if string is None:
                return len(text)
            pos = string.end()
            continue
        depth += 1 if char in "{[" else -1
        pos = mark.end()
        if depth == 0:
            return pos
    return len(text)  # never closed: the rest of the text belongs to it
