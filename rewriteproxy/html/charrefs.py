"""Attribute values: character references decoded with an offset map, and escaping for writing.

Decoding follows the WHATWG rules for attribute values: numeric references
(``&#038;``, ``&#x2F;``, with or without ``;``), named references with ``;``,
and the legacy named references without ``;`` (``&amp``, ``&copy``) except when
the next character is ``=`` or alphanumeric (so ``?a=1&copy=2`` stays a query).
Unlike :func:`html.unescape`, :func:`decode_attribute` also returns where each
decoded character came from, so an edit found in the decoded value (one URL in
a ``srcset``, one string in a JSON attribute) can be applied to the original
text and everything around it keeps its original bytes.

:func:`escape_attribute` writes a replacement for a given quote style so it can
never end the attribute early: ``&`` always becomes ``&amp;``, the delimiting
quote becomes a reference, and for an unquoted value it tells the caller when
quotes must be added.
"""

from __future__ import annotations

import re
from html.entities import html5

__all__ = ["decode_attribute", "escape_attribute", "needs_quotes"]

_REF = re.compile(r"&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|([A-Za-z][A-Za-z0-9]*);?)")
_LONGEST_NAME = max(len(k) for k in html5)
_UNQUOTED_UNSAFE = re.compile(r"[\t\n\f\r \"'=<>`]")


def _numeric(code: int) -> str:
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    if 0x80 <= code <= 0x9F:  # the windows-1252 reading the HTML standard prescribes
        try:
            return bytes([code]).decode("cp1252")
        except UnicodeDecodeError:
            return chr(code)
    return chr(code)


def _named(text: str, match: re.Match[str]) -> tuple[str, int] | None:
    """Decoded text and the end of the reference, or ``None`` when it stays literal."""
    name = match.group(3)
    end = match.end()
    if text[end - 1] == ";" and name + ";" in html5:
        return html5[name + ";"], end
    # Legacy references without ";": the longest known prefix, unless "=" or an
    # alphanumeric follows it (then it is part of a query string, not a reference).
    for length in range(min(len(name), _LONGEST_NAME), 1, -1):
        if name[:length] in html5:
            after = match.start(3) + length
            following = text[after] if after < len(text) else ""
            if following == "=" or (following.isalnum() and following.isascii()):
                return None
            return html5[name[:length]], after
    return None


def decode_attribute(text: str) -> tuple[str, list[int] | None]:
    """The decoded value and, for each decoded character plus the end, its offset in ``text``.

    When ``text`` holds no reference the map is ``None`` (offsets are the identity).
    """
    if "&" not in text:
        return text, None
    out: list[str] = []
    offsets: list[int] = []
    pos = 0
    for m in _REF.finditer(text):
        if m.start() < pos:
            continue
        if m.group(1) is not None:
            decoded: str | None = _numeric(int(m.group(1), 16) if len(m.group(1)) < 9 else 0)
            end = m.end()
        elif m.group(2) is not None:
            decoded = _numeric(int(m.group(2)) if len(m.group(2)) < 9 else 0)
            end = m.end()
        else:
            found = _named(text, m)
            decoded, end = found if found is not None else (None, m.end())
        if decoded is None:
            continue
        out.append(text[pos : m.start()])
        offsets.extend(range(pos, m.start()))
        out.append(decoded)
        offsets.extend([m.start()] * len(decoded))
        pos = end
    out.append(text[pos:])
    offsets.extend(range(pos, len(text) + 1))
    return "".join(out), offsets


def needs_quotes(value: str) -> bool:
    """Whether ``value`` cannot be written as an unquoted attribute value."""
    return not value or bool(_UNQUOTED_UNSAFE.search(value))


def escape_attribute(value: str, quote: str) -> str:
    """``value`` escaped for an attribute delimited by ``quote`` (``'"'``, ``"'"`` or ``""``).

    For ``""`` (unquoted) the caller must check :func:`needs_quotes` on the whole
    new value first and switch to double quotes if it says so.
    """
    text = value.replace("&", "&amp;")
    if quote == '"':
        return text.replace('"', "&quot;")
    if quote == "'":
        return text.replace("'", "&#39;")
    return text
