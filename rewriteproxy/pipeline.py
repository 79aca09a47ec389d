"""Choose a rewriter by content type, then decode → rewrite → encode, failing open.

This is the one code path every body goes through, in the proxy and in the
``rewrite`` command alike. A :class:`Pipeline` maps media types to rewriters
(HTML, and by URL shape JSON, XML and CSS). A rewriter is handed the body as
the upstream sent it, with its content coding, and does decode → rewrite →
encode through :func:`recode`; that way a rewriter that keeps earlier answers
(the page cache) can key them on the bytes as sent and give a page served
again without decoding or compressing it again. Whatever goes wrong inside (a
corrupt gzip stream, an engine bug, a bad charset), the result is ``"failed"``
with the error named, and the caller serves the upstream's original bytes and
logs it (the proxy through its throttled log: :meth:`Pipeline.apply` may run
in a worker thread, and a broken origin fails every page).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .http import codings

__all__ = [
    "BodyRewriter",
    "Pipeline",
    "Result",
    "UrlCounts",
    "charset_of",
    "media_type",
    "recode",
]


class UrlCounts:
    """What one rewrite did with the URLs it was handed, counted as plain integers.

    A rewrite adds to one of these per URL and the proxy adds the totals to its
    metrics once per page (a metric update per URL would cost more than the URL).
    ``kept_*``: URLs left as they were, and why.
    """

    __slots__ = (
        "cache_hits",
        "cache_misses",
        "kept_circuit_open",
        "kept_missing",
        "kept_no_delivery_url",
        "kept_not_an_upload",
        "rewritten",
    )

    def __init__(self) -> None:
        self.rewritten = 0  # upload URLs that now point to the delivery side
        self.kept_missing = 0  # uploads the inventory does not know (on_missing: keep)
        self.kept_circuit_open = 0  # uploads whose delivery host is down
        self.kept_no_delivery_url = 0  # uploads the provider has no URL for
        self.kept_not_an_upload = 0  # URLs the engine asked about that are not uploads
        self.cache_hits = 0  # pages served from the page cache
        self.cache_misses = 0  # pages rewritten afresh (and then kept)

    def add(self, other: UrlCounts) -> None:
        """Adds the URL counts of ``other`` (a page's, served again), not its cache counts."""
        self.rewritten += other.rewritten
        self.kept_missing += other.kept_missing
        self.kept_circuit_open += other.kept_circuit_open
        self.kept_no_delivery_url += other.kept_no_delivery_url
        self.kept_not_an_upload += other.kept_not_an_upload


class BodyRewriter(Protocol):
    """Rewrites one body as sent, in content coding ``coding`` (``""``: none), counting
    what it did with its URLs in ``counts``.

    Returns the new body in the same coding, or the input object itself when
    nothing changed; :func:`recode` does the decoding and encoding around the
    rewrite of the plain document.
    """

    def __call__(
        self, body: bytes, charset: str | None, coding: str, counts: UrlCounts
    ) -> bytes: ...


def recode(
    body: bytes, coding: str, rewrite: Callable[[bytes], bytes], limit: int = 1 << 62
) -> bytes:
    """``rewrite`` applied to ``body`` decoded from ``coding``, encoded back; ``body`` itself
    when ``rewrite`` returns its input unchanged (nothing is encoded then).

    A body that would decode to more than ``limit`` bytes raises
    :class:`~rewriteproxy.http.codings.CodingError` before it is decoded whole, so a
    small compressed body cannot unpack past the limit identity bodies have.
    """
    if not coding:
        return rewrite(body)
    plain = codings.decode(body, coding, limit)
    new = rewrite(plain)
    return body if new is plain else codings.encode(new, coding)


Status = Literal["rewritten", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class Result:
    status: Status
    body: bytes | None = None  # the new encoded body when status == "rewritten"
    seconds: float = 0.0
    error: str | None = None
    counts: UrlCounts | None = None  # None: no rewriter ran


# Both are asked about every response, and a site sends a handful of distinct
# Content-Type values: remembering the answers saves the string work each time.
@functools.lru_cache(maxsize=256)
def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


@functools.lru_cache(maxsize=256)
def charset_of(content_type: str | None) -> str | None:
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


@dataclass(frozen=True)
class Pipeline:
    rewriters: Mapping[str, BodyRewriter] = field(default_factory=dict)

    def handles(self, content_type: str | None) -> bool:
        return media_type(content_type) in self.rewriters

    def apply(self, body: bytes, content_type: str | None, content_encoding: str = "") -> Result:
        rewriter = self.rewriters.get(media_type(content_type))
        if rewriter is None:
            return Result("unchanged")
        counts = UrlCounts()
        started = time.perf_counter()
        try:
            new = rewriter(body, charset_of(content_type), content_encoding, counts)
            if new is body:
                return Result("unchanged", seconds=time.perf_counter() - started, counts=counts)
        except Exception as exc:  # fail open: the client gets the upstream's bytes
            return Result(
                "failed",
                seconds=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}",
                counts=counts,
            )
        return Result("rewritten", new, seconds=time.perf_counter() - started, counts=counts)
