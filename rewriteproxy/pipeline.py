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

Failing open also works per URL: a rewriter is handed a :class:`Page`, which
says which URL the body answers (relative URLs in it resolve against that) and
collects the URLs that could not be mapped (an error in a delivery URL
builder keeps that one URL local, the rest of the page is still rewritten).
The count and the first error come back in the :class:`Result`, for the
caller to count and log once per body.
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
    "Page",
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


@dataclass(slots=True)
class Page:
    """What one body's rewrite knows of its request, and what it learns on the way.

    ``url``: the request target the body answers (``/blog/post/?p=1``, or an
    absolute URL), the base of its relative URLs; ``""`` when unknown (relative
    URLs then stay as they are). ``url_errors`` counts the URLs whose mapping
    raised (each kept local); ``first_url_error`` names the first of them;
    ``counts``, what the rewrite did with the URLs it was handed.
    """

    url: str = ""
    url_errors: int = 0
    first_url_error: str | None = None
    counts: UrlCounts = field(default_factory=UrlCounts)

    def url_failed(self, url: str, error: BaseException) -> None:
        """Note that mapping ``url`` raised ``error`` (the URL is kept as it was)."""
        self.url_errors += 1
        if self.first_url_error is None:
            self.first_url_error = f"{url[:200]!r}: {type(error).__name__}: {error}"


class BodyRewriter(Protocol):
    """Rewrites one body as sent, in content coding ``coding`` (``""``: none), for ``page``.

    Returns the new body in the same coding, or the input object itself when
    nothing changed; :func:`recode` does the decoding and encoding around the
    rewrite of the plain document.
    """

    def __call__(self, body: bytes, charset: str | None, coding: str, page: Page) -> bytes: ...


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
    url_errors: int = 0  # URLs kept local because mapping them raised (Page.url_errors)
    url_error: str | None = None  # the first of them, named
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

    def apply(
        self,
        body: bytes,
        content_type: str | None,
        content_encoding: str = "",
        url: str = "",
    ) -> Result:
        """``body`` rewritten; ``url`` is the request target it answers (see :class:`Page`)."""
        rewriter = self.rewriters.get(media_type(content_type))
        if rewriter is None:
            return Result("unchanged")
        page = Page(url)
        started = time.perf_counter()
        try:
            new = rewriter(body, charset_of(content_type), content_encoding, page)
            status: Status = "unchanged" if new is body else "rewritten"
        except Exception as exc:  # fail open: the client gets the upstream's bytes
            return Result(
                "failed",
                seconds=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}",
                counts=page.counts,
            )
        return Result(
            status,
            None if new is body else new,
            seconds=time.perf_counter() - started,
            url_errors=page.url_errors,
            url_error=page.first_url_error,
            counts=page.counts,
        )
