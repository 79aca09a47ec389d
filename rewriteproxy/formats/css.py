"""URLs in CSS: ``url(...)`` and the strings of ``image-set(...)``.

Works on a style sheet (a ``<style>`` block) and on a declaration list (a
``style`` attribute, after its character references are decoded, so
``url(&quot;a.jpg&quot;)`` arrives as ``url("a.jpg")``) alike, because only
tokens are looked at, never rules.

What is found: ``url(a.jpg)``, ``url("a.jpg")``, ``url('a.jpg')`` (any case,
with spaces inside the parentheses), and in ``image-set()`` /
``-webkit-image-set()`` both ``url()`` arguments and bare strings. Comments and
other strings are skipped, so a ``url(`` inside ``/* ... */`` or ``content:
"url(x)"`` stays as it is. A URL written with CSS escapes (a backslash) is
left alone: decoding it exactly is more than this module promises.

A replacement keeps the original quoting. If it needs quoting the original did
not have (whitespace, quotes or parentheses in an unquoted ``url()``) it is
written as a double-quoted string; quotes, backslashes and newlines inside a
string are escaped so the replacement can never end the string early.
"""

from __future__ import annotations

import re

from rewriteproxy.formats import Edit, MapUrl

__all__ = ["rewrite_css"]

# Every token begins with "/", a quote or "(", so the search skips all other characters
# in C; a "(" counts only after "url" or "image-set" (looked behind, any case). Letting
# tokens begin at "u", "i" or "-" instead would make the search try the pattern at every
# one of those letters, which are most of a style sheet.
_TOKENS = re.compile(
    r"""
    /\*.*?(?:\*/|\Z)                                  # a comment: skipped
  | "[^"\\\n]*(?:\\.[^"\\\n]*)*"                        # any other string: skipped
  | '[^'\\\n]*(?:\\.[^'\\\n]*)*'
  | \(
    (?:
      (?<=url\()(?P<url>\s*(?:"(?P<udq>[^"\\\n]*)"|'(?P<usq>[^'\\\n]*)'|(?P<ubare>[^\s"'()\\]*))\s*\))
    | (?<=image-set\()(?P<set>)                        # its arguments are scanned below
    | (?<=url\()                                        # a url( we cannot read: skipped
    )
    """,
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
# The arguments of image-set(...): strings, url(...) and nested parentheses, up to the closing ")".
_SET_BODY = re.compile(
    r"""(?:[^()"']|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"""
    r"""|\((?:[^()"']|"[^"]*"|'[^']*')*\))*\)"""
)
# Its URLs; a string with escapes is matched whole only to be skipped, so that reading
# resumes after it, never at its closing quote (where a second pass would misread it).
_SET_STRING = re.compile(
    r"""(?P<url>url\(\s*(?:"[^"\\\n]*"|'[^'\\\n]*'|[^\s"'()\\]*)\s*\))"""
    r"""|"(?P<dq>[^"\\\n]*)"|'(?P<sq>[^'\\\n]*)'"""
    r"""|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'""",
    re.IGNORECASE,
)
_NEEDS_QUOTES = re.compile(r"[\s\"'()\\]")


def _string(value: str, quote: str) -> str:
    """``value`` escaped for a CSS string delimited by ``quote`` (without the delimiters)."""
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return escaped.replace("\n", "\\a ").replace("\r", "\\d ").replace("\f", "\\c ")


def _quoted_edit(start: int, end: int, old: str, quote: str, map_url: MapUrl) -> Edit | None:
    new = map_url(old)
    if new is None or new == old:
        return None
    return (start, end, _string(new, quote))


def _bare_edit(start: int, end: int, old: str, map_url: MapUrl) -> Edit | None:
    """An unquoted ``url()`` argument; quoted in the replacement only if it has to be."""
    if not old:
        return None
    new = map_url(old)
    if new is None or new == old:
        return None
    if _NEEDS_QUOTES.search(new):
        return (start, end, '"' + _string(new, '"') + '"')
    return (start, end, new)


def _url_edit(match: re.Match[str], map_url: MapUrl) -> Edit | None:
    for group, quote in (("udq", '"'), ("usq", "'")):
        if match.group(group) is not None:
            return _quoted_edit(
                match.start(group), match.end(group), match.group(group), quote, map_url
            )
    return _bare_edit(match.start("ubare"), match.end("ubare"), match.group("ubare"), map_url)


def _image_set_edits(css: str, start: int, end: int, map_url: MapUrl) -> list[Edit]:
    edits: list[Edit] = []
    for m in _SET_STRING.finditer(css, start, end):
        if m.group("dq") is not None or m.group("sq") is not None:
            group = "dq" if m.group("dq") is not None else "sq"
            edit = _quoted_edit(
                m.start(group), m.end(group), m.group(group), '"' if group == "dq" else "'", map_url
            )
        elif m.group("url") is not None:
            inner = _TOKENS.match(css, m.start() + 3)  # at the "(" of its "url("
            edit = _url_edit(inner, map_url) if inner and inner.group("url") else None
        else:
            continue  # a string with escapes
        if edit is not None:
            edits.append(edit)
    return edits


def rewrite_css(css: str, map_url: MapUrl) -> list[Edit]:
    """Edits that replace each URL ``map_url`` maps; ``[]`` when none changes."""
    edits: list[Edit] = []
    pos = 0
    while True:
        m = _TOKENS.search(css, pos)
        if m is None:
            return edits
        pos = m.end()
        if m.group("url") is not None:
            edit = _url_edit(m, map_url)
            if edit is not None:
                edits.append(edit)
        elif m.group("set") is not None:
            body = _SET_BODY.match(css, pos)
            if body is None:
                continue
            edits.extend(_image_set_edits(css, pos, body.end(), map_url))
            pos = body.end()
