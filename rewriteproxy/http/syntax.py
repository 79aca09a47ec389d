"""What may be written into an HTTP/1.1 message head, in either direction.

Both clients of the upstream (:mod:`rewriteproxy.http.client` and aiohttp's,
see :mod:`rewriteproxy.upstream`) check each request with
:func:`request_problem` before they write a byte of it, and each final answer
with :func:`answer_problem` before the proxy passes it on. The rules:

- a method and a header name are tokens (RFC 9110 §9.1, §5.1);
- a request target holds no space and no control character (RFC 9112 §3.2);
- a header value and a reason phrase hold no control character but HTAB
  (RFC 9110 §5.5, RFC 9112 §4): no CR, LF or NUL, and none of the others
  either, because aiohttp's writer refuses exactly these with a ``ValueError``
  (the proxy's own answers are written by it, so anything it refuses must be
  refused here, where it becomes a clean error);
- a final status is 100 to 599 (RFC 9110 §15) and not 101: the proxy never
  asks for a protocol switch (``Upgrade`` is hop-by-hop and never forwarded).

Bytes above 0x7F (``obs-text``) are allowed where the RFC allows them. Both
parsers of answers already refuse header names that are not tokens, so
answers are checked for what they let through. Each check returns what is
wrong, for the error message, or ``None``.
"""

from __future__ import annotations

import re
from typing import TypeAlias

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["answer_problem", "request_problem"]

_TCHAR = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(f"[{_TCHAR}]+")
# Names joined by ":" (not a tchar) are checked in one match instead of one per header.
_TOKENS = re.compile(f"[{_TCHAR}]+(?::[{_TCHAR}]+)*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))

Headers: TypeAlias = CIMultiDict[str] | CIMultiDictProxy[str]


def request_problem(method: str, target: str, headers: Headers) -> str | None:
    """Why this request cannot be written as it is, or ``None``."""
    if method not in _METHODS and _TOKEN.fullmatch(method) is None:
        return f"the method {method!r} is not a token"
    if not target or _SPACE_OR_CONTROL.search(target) is not None:
        return f"the request target {target!r} is empty or holds a space or a control character"
    if headers and _TOKENS.fullmatch(":".join(headers.keys())) is None:
        name = next(name for name in headers if _TOKEN.fullmatch(name) is None)
        return f"the header name {name!r} is not a token"
    return _values_problem(headers)


def answer_problem(status: int, reason: str, headers: Headers) -> str | None:
    """Why this final answer cannot be passed on to the client, or ``None``."""
    if status == 101:
        return "status 101 (a protocol switch), and no upgrade was asked for"
    if not 100 <= status <= 599:
        return f"status {status}, outside 100 to 599"
    if not _printable(reason):
        return f"the reason phrase {reason!r} holds a control character"
    return _values_problem(headers)


def _values_problem(headers: Headers) -> str | None:
    if _printable("".join(headers.values())):
        return None
    name = next(name for name, value in headers.items() if not _printable(value))
    return f"the value of the header {name!r} holds a control character"


def _printable(text: str) -> bool:
    # isprintable() is the fast yes for plain text; HTAB and non-ASCII take the exact rule.
    return text.isprintable() or _CONTROL.search(text) is None
