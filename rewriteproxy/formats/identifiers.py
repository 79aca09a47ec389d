"""Where identifiers stand in JSON and XML text: values that must never change.

A REST answer's ``guid`` (``"guid":{"rendered":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/…"}``
for an attachment) and a feed's ``<guid>`` are identifiers: clients dedupe and
sync on them, so they must stay what WordPress stored even when they look like
upload URLs. :class:`Identifiers` finds the spans of such values for the
configured names (``bypass.identifiers``, default ``guid``): in JSON, a key's
whole value (a string, or an object or array with everything in it); in XML,
an element's text. The URL sweep then leaves those spans alone. Each format is
looked for only in its own content types, so a feed quoting JSON or a REST
answer quoting markup is not misread.

It reads only as much structure as that needs: JSON strings (so a brace inside
one does not count) and nesting; an XML element of the name, with or without a
namespace prefix, up to its closing tag. A value that is never closed runs to
the end of the text (its URLs stay local: the safe side). Every pass moves
forward only, and a key or tag inside a value already found is skipped, so
the cost is linear in the text whatever its nesting. Text where the names do
not occur is settled by one substring search per name.
"""

from __future__ import annotations

import re

__all__ = ["Identifiers", "Span"]

Span = tuple[int, int]

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_STRUCTURE = re.compile(r'[{}\[\]"]')


class Identifiers:
    """The identifier values of one config's names; ``json_spans``/``xml_spans`` are hot paths."""

    __slots__ = ("_closers", "_json_key", "_names", "_xml_open")

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = tuple(dict.fromkeys(names))
        alternatives = "|".join(re.escape(n) for n in sorted(self._names, key=len, reverse=True))
        self._json_key = re.compile(rf'"(?:{alternatives})"\s*:\s*') if names else None
        self._xml_open = (
            re.compile(rf"<((?:[\w.-]+:)?(?:{alternatives}))(?=[\s/>])[^>]*>") if names else None
        )
        self._closers: dict[str, re.Pattern[str]] = {}

    def _present(self, text: str) -> bool:
        return any(n in text for n in self._names)

    def json_spans(self, text: str) -> list[Span]:
        """Ordered, non-overlapping spans of the JSON values of identifier keys."""
        if self._json_key is None or not self._present(text):
            return []
        spans: list[Span] = []
        pos = 0
        while (key := self._json_key.search(text, pos)) is not None:
            start = key.end()
            end = _json_value_end(text, start)
            if end is None:  # a number, true, null: nothing a URL could be
                pos = start
                continue
            spans.append((start, end))
            pos = end  # keys inside this value are part of it
        return spans

    def xml_spans(self, text: str) -> list[Span]:
        """Ordered, non-overlapping spans of the text of identifier elements."""
        if self._xml_open is None or not self._present(text):
            return []
        spans: list[Span] = []
        pos = 0
        while (tag := self._xml_open.search(text, pos)) is not None:
            if tag.group(0).endswith("/>"):
                pos = tag.end()
                continue
            close = self._closer(tag.group(1)).search(text, tag.end())
            if close is None:  # never closed: the rest is its text, as far as we may know
                spans.append((tag.end(), len(text)))
                break
            spans.append((tag.end(), close.start()))
            pos = close.end()
        return spans

    def _closer(self, name: str) -> re.Pattern[str]:
        closer = self._closers.get(name)
        if closer is None:
            if len(self._closers) > 64:  # prefixes come from the text: keep the memo bounded
                self._closers.clear()
            closer = self._closers[name] = re.compile(rf"</{re.escape(name)}\s*>")
        return closer


def _json_value_end(text: str, start: int) -> int | None:
    """The end of the JSON value at ``start``: a string, or a whole object or array."""
    if start >= len(text):
        return None
    first = text[start]
    if first == '"':
        string = _JSON_STRING.match(text, start)
        return string.end() if string else len(text)
    if first not in "{[":
        return None
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
