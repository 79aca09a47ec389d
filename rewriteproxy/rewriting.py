"""Assembling the rewriting from config: locator + inventory + delivery → URL mapper → rewriters.

Everything here is built once per config load and then only called. The URL
mapper is the single decision point for one URL: is it a local upload, does
the inventory know it (and which version), what is its delivery URL, and is
the host of that URL working (:mod:`rewriteproxy.delivery.health`: while its
circuit is open, the local URL is kept).

Rewritten bodies are kept in a :class:`RewriteCache` (one per pipeline, so a
reload starts empty): the same page served again is not rewritten again as
long as every inventory answer the first rewrite used is still the same and no
delivery host's circuit has changed state since. It is
keyed on the body as the upstream sent it, compressed or not, so a compressed
page served again is not decompressed and compressed again either.

Each body is mapped through a :class:`PageMapper`: the shared mapper as that one
page sees it, with its path-relative URLs resolved against the page's URL (or
its ``<base href>``; a style sheet's against its own URL) and every failure to
map one URL kept to that URL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar
from urllib.parse import urljoin

from cachetools import LRUCache

from .config import Config, SiteConfig
from .delivery import DeliveryProvider, build_delivery
from .delivery.health import DeliveryHealth
from .features import FeaturesConfig, build_handlers
from .formats import apply_edits
from .formats.css import rewrite_css
from .formats.identifiers import Identifiers, Span
from .formats.urltext import UrlSweep
from .html import HtmlRewriter
from .html.rewriter import Memo
from .inventory import Inventory
from .media import FileInfo, UploadLocator, UploadRef
from .pipeline import BodyRewriter, Page, Pipeline, UrlCounts, recode

__all__ = [
    "HTML_TYPES",
    "JSON_TYPES",
    "TEXT_TYPES",
    "XML_TYPES",
    "PageMapper",
    "RewriteCache",
    "UrlMapper",
    "build_pipeline",
]

HTML_TYPES = ("text/html", "application/xhtml+xml")
# REST API answers, feeds, sitemaps and stylesheets: rewritten by URL shape (formats.urltext),
# with the identifiers of JSON and XML left alone (formats.identifiers).
JSON_TYPES = ("application/json", "application/ld+json")
XML_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
TEXT_TYPES = (*JSON_TYPES, *XML_TYPES, "text/css")


class UrlMapper:
    """``url → delivery URL | None``; ``None`` keeps the URL as it is.

    Answers are remembered across pages (a site's pages share most of their
    URLs) as ``(url, width) → (inventory key, answer, delivery URL)``; a
    remembered delivery URL is used only while the inventory still gives the
    same answer for its key, so it is never staler than a fresh one. The
    memory is a dict cleared when it reaches ``_MEMO_SIZE`` entries: every
    operation on it is atomic under the GIL, which matters because big pages
    are rewritten in worker threads.

    The memory holds delivery URLs whatever the health of their host; the
    circuit is asked on every answer, after it, so an open circuit takes
    effect for the next URL and a closed one brings the remembered URLs back.
    Each delivery URL built afresh is reported to ``health`` as a probe target.

    The inventory is asked about the file a URL is delivered from
    (:meth:`DeliveryProvider.source_key`): for a size Cloudinary derives from
    its master, the master, whose existence and version the URL depends on.
    """

    __slots__ = (
        "_answers",
        "_counts",
        "_fixed",
        "_health",
        "_locator",
        "_lookup",
        "_memo",
        "_provider",
        "_rewrite_missing",
        "_source_key",
    )

    def __init__(
        self,
        locator: UploadLocator,
        inventory: Inventory,
        provider: DeliveryProvider,
        *,
        rewrite_missing: bool,
        health: DeliveryHealth | None = None,
    ) -> None:
        self._locator = locator
        self._lookup: Callable[[str], FileInfo | None] = inventory.lookup
        self._fixed = inventory.fixed
        self._provider = provider
        self._source_key = provider.source_key
        self._rewrite_missing = rewrite_missing
        self._health = health if health is not None else DeliveryHealth()  # never blocks
        self._memo: dict[tuple[str, int | None], _Memo] = {}
        self._answers: tuple[int, dict[str, Memo]] = (self._health.generation, {})
        self._counts = UrlCounts()  # read by nobody: see ``recording``

    @property
    def uploads_path(self) -> str:
        return self._locator.uploads_path

    @property
    def generation(self) -> int:
        """Changes whenever a delivery host is blocked or unblocked (see ``RewriteCache``)."""
        return self._health.generation

    def pure_answers(self, base: str = "") -> Memo | None:
        """``url → answer`` for the URLs pages with this ``base`` (the URL their relative
        URLs resolve against, see :class:`PageMapper`) had so far, to be used and filled
        in as the engine's memo across those pages; ``None`` when answers may change
        from page to page.

        They cannot while the inventory's answers never change (no inventory configured)
        and no delivery host is blocked: then an answer depends on the URL and the base
        alone, and the engine need not call the mapper, a Python call per distinct URL
        per page, for a URL an earlier page had (the same page again, with a new nonce).
        A change of the hosts' health starts new memos; so does reaching
        ``_SHARED_BASES`` bases or ``_MEMO_SIZE`` URLs in all.
        """
        if not self._fixed or self._health.blocking:
            return None
        generation, memos = self._answers
        memo = memos.get(base)
        # The size is tested on every call: a known base's memo keeps growing when its
        # page names new URLs each time (a nonce in a script). tuple(): a copy taken at
        # once, as pages in worker threads may add a base meanwhile.
        if (
            generation != self._health.generation
            or (memo is None and len(memos) >= _SHARED_BASES)
            or sum(map(len, tuple(memos.values()))) >= _MEMO_SIZE
        ):
            memos = {}
            self._answers = (self._health.generation, memos)
        return memos.setdefault(base, Memo())

    def forget_answers(self, base: str = "") -> None:
        """Drop the memo of pages with ``base`` (one of its answers was a failure)."""
        self._answers[1].pop(base, None)

    def recording(self, answers: Answers | None, counts: UrlCounts) -> UrlMapper:
        """The same mapper, noting in ``answers`` every inventory answer it used (``None``:
        no noting) and counting in ``counts`` what it did with each URL."""
        lookup = self._lookup
        noted: Answers = answers if answers is not None else {}

        def recorded(key: str) -> FileInfo | None:
            info = lookup(key)
            first = noted.setdefault(key, info)
            # Identity first: sources hand out the same object for an unchanged answer,
            # and "!=" on a dataclass always runs its Python-level __eq__.
            if first is not info and first != info:  # changed while the page was rewritten
                noted[_UNSTABLE] = None
            return info

        clone = UrlMapper.__new__(UrlMapper)
        # Answers that never change need no noting.
        noting = answers is not None and not self._fixed
        clone._locator, clone._fixed = self._locator, self._fixed
        clone._lookup = recorded if noting else lookup
        clone._provider, clone._rewrite_missing = self._provider, self._rewrite_missing
        clone._source_key = self._source_key
        clone._memo, clone._health, clone._answers = self._memo, self._health, self._answers
        clone._counts = counts
        return clone

    def still_valid(self, keys: tuple[str, ...], answers: tuple[FileInfo | None, ...]) -> bool:
        """True if the inventory gives ``answers[i]`` for ``keys[i]`` again, for every ``i``."""
        if self._fixed:  # it always does when no inventory is configured
            return True
        # One pass in C: a tuple comparison tests identity before ==, and sources
        # reuse their answer objects. A Python loop over the pairs cost twice as much.
        return tuple(map(self._lookup, keys)) == answers

    def __call__(self, url: str, width: int | None = None) -> str | None:
        memo = self._memo
        health = self._health
        counts = self._counts
        known = memo.get((url, width))
        if known is not None:
            key, was, new = known
            if key is None:
                counts.kept_not_an_upload += 1
                return None
            if self._fixed or (info := self._lookup(key)) is was or info == was:
                # The answer cannot have changed, or has not: only the host's health can.
                return self._counted(new, was, health)
        ref = self._locator.parse(url)
        if ref is None:
            new, key, info = None, None, None
        else:
            key = self._source_key(ref.key)
            info = self._lookup(key)
            if info is None and not self._rewrite_missing:
                new = None  # not known to exist on the delivery side: keep the local URL
            else:
                new = self._provider.url_for(ref, info, width)
                if new is not None:
                    health.saw(new)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[(url, width)] = (key, info, new)
        if key is None:
            counts.kept_not_an_upload += 1
            return None
        return self._counted(new, info, health)

    def _counted(
        self, new: str | None, info: FileInfo | None, health: DeliveryHealth
    ) -> str | None:
        """``new`` unless its host is down (the local URL, which WordPress serves, stays)."""
        counts = self._counts
        if new is None:
            if info is None and not self._rewrite_missing:
                counts.kept_missing += 1
            else:
                counts.kept_no_delivery_url += 1
            return None
        if health.blocking and health.blocks(new):
            counts.kept_circuit_open += 1
            return None
        counts.rewritten += 1
        return new

    def guarded(self, build: Callable[_P, _R | None]) -> Callable[_P, _R | None]:
        """``build`` itself: outside a page an error is the caller's (see :class:`PageMapper`)."""
        return build

    def locate(self, url: str) -> tuple[UploadRef, FileInfo | None] | None:
        """The upload ``url`` names and what the inventory knows of it, if it is delivered."""
        ref = self._locator.parse(url)
        if ref is None:
            return None
        info = self._lookup(self._source_key(ref.key))
        if info is None and not self._rewrite_missing:
            return None  # not known to exist on the delivery side: keep the local URL
        health = self._health
        if health.blocking:
            url_there = self._provider.url_for(ref, info)
            if url_there is not None and health.blocks(url_there):
                return None  # its host is down: no widths or effects from it either
        return ref, info


_Memo = tuple[str | None, FileInfo | None, str | None]
_MEMO_SIZE = 50_000  # URLs remembered across pages (about 10 MB at most)
_SHARED_BASES = 64  # page bases with a memo of answers (UrlMapper.pure_answers)

_P = ParamSpec("_P")
_R = TypeVar("_R")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_C0_OR_SPACE = "".join(map(chr, range(0x21)))  # what a browser strips from a URL's ends


def _path_relative(url: str) -> str | None:
    """``url`` as a browser reads it if it is path-relative (``a.jpg``, ``../x/a.jpg``),
    else ``None`` (absolute, protocol- or root-relative, query or fragment only, empty)."""
    if url.startswith(("https:", "http:", "/")):  # nearly every URL a page holds
        return None
    url = url.strip(_C0_OR_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    if not url or url[0] in "/\\?#" or _SCHEME.match(url) is not None:
        return None
    return url


_ANY_ORIGIN = "http://h"


def join_url(base: str, url: str) -> str:
    """``url`` resolved against ``base`` as a browser does (RFC 3986), also when ``base``
    is root-relative (the request target): urljoin alone keeps an excess ``..`` there."""
    if base.startswith("/") and not base.startswith("//"):
        return urljoin(_ANY_ORIGIN + base, url).removeprefix(_ANY_ORIGIN)
    return urljoin(base, url)


def _base_of(page_url: str, href: str) -> str:
    """What a page's relative URLs resolve against: its ``<base href>``, or, as in a
    browser, the page's own URL when the href is no URL (``http://[::1``)."""
    try:
        return join_url(page_url, href)
    except ValueError:
        return page_url


def _directory(url: str) -> str:
    """The part of ``url`` its path-relative URLs keep: up to the last ``/`` of its path."""
    path = url.partition("#")[0].partition("?")[0]
    return path[: path.rfind("/") + 1]


class PageMapper:
    """The :class:`UrlMapper` as one body uses it; built per body, never shared.

    A path-relative URL is resolved against ``base`` (the page's URL, its
    ``<base href>``, or a style sheet's own URL) and mapped like an absolute
    one; with no ``base`` it is kept. Any exception while mapping one URL (a
    delivery URL builder that raises on a strange name) keeps that URL as it is
    and is noted in the :class:`Page`, so the rest of the body is still rewritten.
    """

    __slots__ = ("_base", "_hint", "_mapper", "_page", "_resolves_all")

    def __init__(self, mapper: UrlMapper, page: Page, base: str = "") -> None:
        self._mapper = mapper
        self._page = page
        self._base = base
        uploads = mapper.uploads_path.lower()
        # A relative URL can reach the uploads only through the last segment of their
        # path, unless the base is inside them already (a style sheet in the uploads).
        self._resolves_all = uploads in base.lower()
        self._hint = uploads.strip("/").rpartition("/")[2]

    def absolute(self, url: str) -> str | None:
        """``url`` resolved against the base when it is path-relative and may name an
        upload; ``None`` otherwise."""
        if not self._base:
            return None
        relative = _path_relative(url)
        if relative is None or not (self._resolves_all or self._hint in relative.lower()):
            return None
        return join_url(self._base, relative)

    def __call__(self, url: str, width: int | None = None) -> str | None:
        try:
            absolute = self.absolute(url) if self._base else None
            return self._mapper(url if absolute is None else absolute, width)
        except Exception as exc:  # fail open for this URL only
            self._page.url_failed(url, exc)
            return None

    def relative_only(self, url: str) -> str | None:
        """:meth:`__call__` for path-relative URLs; every other URL is kept."""
        try:
            absolute = self.absolute(url)
            return None if absolute is None else self._mapper(absolute)
        except Exception as exc:
            self._page.url_failed(url, exc)
            return None

    def locate(self, url: str) -> tuple[UploadRef, FileInfo | None] | None:
        """:meth:`UrlMapper.locate`, relative URLs resolved, failures kept local."""
        try:
            absolute = self.absolute(url) if self._base else None
            return self._mapper.locate(url if absolute is None else absolute)
        except Exception as exc:
            self._page.url_failed(url, exc)
            return None

    def guarded(self, build: Callable[_P, _R | None]) -> Callable[_P, _R | None]:
        """``build`` (a delivery URL builder a feature calls itself), failing open per URL:
        an exception becomes ``None`` and is noted like a failed mapping."""
        page = self._page

        def safe(*args: _P.args, **kwargs: _P.kwargs) -> _R | None:
            try:
                return build(*args, **kwargs)
            except Exception as exc:
                page.url_failed(str(getattr(args[0], "url", "")) if args else "", exc)
                return None

        return safe


Answers = dict[str, FileInfo | None]
_UNSTABLE = "\0unstable"  # not a key any upload can have (keys come from URL paths)


@dataclass(frozen=True, slots=True)
class _Entry:
    body: bytes  # the input, compared whole on every hit: the key alone proves nothing
    output: bytes | None  # None: the body needed no change
    keys: tuple[str, ...]  # the inventory keys the rewrite asked about, and
    answers: tuple[FileInfo | None, ...]  # the answer it used for each
    generation: int  # of the delivery hosts' health when the rewrite began
    url_errors: int  # the URLs the rewrite kept local because mapping them raised,
    url_error: str | None  # and the first of them: a hit reports them again
    counts: UrlCounts  # what the rewrite did with the URLs, counted again on each hit


class RewriteCache:
    """Rewritten bodies of recently seen bodies, bounded in bytes (LRU).

    The key is the body's length and a hash of a 512-byte sample taken at even
    steps over it, with the charset and the kind of rewriter; a hit then
    compares the whole body with the one the entry was made from (a memcmp,
    about 1 us for 50 KB, where SHA-256 of it took 29 us), so two bodies
    sharing a key only cost a miss, never a wrong answer. The configuration is
    fixed for the cache's life. What a
    rewrite produces depends on the body, the config and the inventory's
    answers, so each entry records every ``inventory.lookup`` answer the
    rewrite used, and a hit is served only when the inventory gives all of
    them again (the lookups a rewrite would make anyway, without the HTML
    work). A cached page is therefore never staler than a fresh rewrite:
    there is no extra staleness bound. That holds while the rewriters read the
    inventory only through the :class:`UrlMapper` they are given. The same goes
    for the health of the delivery hosts: an entry is served only under the
    health generation it was made in, so a page rewritten while a host was
    up is never served once its circuit opens, nor a page left local while it
    was down once it closes; a rewrite that a transition overtook is not kept.

    Thread-safe (big pages are rewritten in worker threads). ``max_bytes=0``
    turns it off.
    """

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._max_entry = max_bytes // 8  # a few huge pages must not flush everything else
        self._entries: LRUCache[tuple[object, ...], _Entry] | None = (
            LRUCache(maxsize=max_bytes, getsizeof=_entry_size) if max_bytes > 0 else None
        )
        self._lock = threading.Lock()

    def rewrite(
        self,
        kind: bytes,
        body: bytes,
        charset: str | None,
        mapper: UrlMapper,
        rewrite: Callable[[bytes, UrlMapper], bytes],
        coding: str = "",
        page: Page | None = None,
    ) -> bytes:
        """``rewrite(body, mapper)``, or its earlier answer when still valid.

        ``body`` may be compressed (``coding``, part of the key); ``rewrite`` then
        decodes and encodes too, so a hit costs neither. ``page``: the body's
        request (the directory of its URL is part of the key, since relative URLs
        resolve against it), where a hit notes the URL failures and URL counts of
        the first rewrite, and whether it was a hit.
        """
        page = page if page is not None else Page()
        entries = self._entries
        if entries is None or len(body) > self._max_entry:
            return rewrite(body, mapper.recording(None, page.counts))
        key = (*_key(body, kind, charset, coding), _directory(page.url))
        with self._lock:
            entry = entries.get(key)
        generation = mapper.generation
        if (
            entry is not None
            and entry.generation == generation
            and entry.body == body
            and mapper.still_valid(entry.keys, entry.answers)
        ):
            if entry.url_errors:
                page.url_errors += entry.url_errors
                page.first_url_error = page.first_url_error or entry.url_error
            page.counts.cache_hits += 1
            page.counts.add(entry.counts)
            return body if entry.output is None else entry.output
        page.counts.cache_misses += 1
        answers: Answers = {}
        errors_before = page.url_errors
        fresh = UrlCounts()
        new = rewrite(body, mapper.recording(answers, fresh))
        page.counts.add(fresh)
        if _UNSTABLE not in answers and mapper.generation == generation:
            keys = tuple(answers)
            output = None if new is body else new
            entry = _Entry(
                body,
                output,
                keys,
                tuple(answers.values()),
                generation,
                page.url_errors - errors_before,
                page.first_url_error,
                fresh,
            )
            with self._lock:
                entries[key] = entry
        return new


_SAMPLE = 512  # bytes of the body its key hashes, taken at even steps over the whole body


def _key(body: bytes, kind: bytes, charset: str | None, coding: str) -> tuple[object, ...]:
    # A strided sample touches every part of the page (start, end and all between) at a
    # cost that does not grow with the page; the full comparison happens on a hit.
    return (len(body), hash(body[:: len(body) // _SAMPLE + 1]), kind, charset, coding)


def _entry_size(entry: _Entry) -> int:
    output = len(entry.output) if entry.output is not None else 0
    return 256 + len(entry.body) + output + 64 * len(entry.keys)


def build_url_mapper(
    config: Config,
    inventory: Inventory,
    provider: DeliveryProvider | None = None,
    health: DeliveryHealth | None = None,
) -> UrlMapper:
    """The mapper for ``config`` (one site's, see :func:`rewriteproxy.sites.site_configs`);
    without ``health`` no delivery host is ever blocked."""
    site = _one_site(config)
    return UrlMapper(
        UploadLocator(site.hosts, site.uploads_path, site.uploads_aliases),
        inventory,
        provider if provider is not None else build_delivery(config.delivery),
        rewrite_missing=config.inventory.on_missing == "rewrite",
        health=health,
    )


def _one_site(config: Config) -> SiteConfig:
    if config.site is None:
        raise ValueError("a config of several sites: build each from site_configs(config)")
    return config.site


def build_pipeline(
    config: Config,
    inventory: Inventory,
    cache: RewriteCache | None = None,
    health: DeliveryHealth | None = None,
    provider: DeliveryProvider | None = None,
) -> Pipeline:
    """The pipeline for ``config`` (one site's, see :func:`rewriteproxy.sites.site_configs`:
    each site has its own, page cache included); ``cache`` defaults to a new :class:`RewriteCache`;
    ``health`` (the running probe's, in the server) decides which hosts pages may link to;
    ``provider`` defaults to the one ``config.delivery`` names."""
    provider = provider if provider is not None else build_delivery(config.delivery)
    map_url = build_url_mapper(config, inventory, provider, health)
    outputs = RewriteCache() if cache is None else cache
    html = HtmlRewriter(config.html)
    features: FeaturesConfig = config.features
    make_handlers = build_handlers(features, provider)
    every_page = features.every_page
    limit = config.proxy.max_rewrite_bytes  # for decoded bodies too, not only as sent

    def rewrite_page(body: bytes, mapper: UrlMapper, charset: str | None, page: Page) -> bytes:
        # Without a feature that acts on every page, a page with no upload URL keeps
        # the engine's fast path (returned without scanning). Tested here, after the
        # cache, not before it: a cache hit costs less than this search of the page.
        if not every_page and not html.has_uploads(body):
            return body
        href = html.base_href(body, charset)
        base = page.url if href is None else _base_of(page.url, href)
        on_page = PageMapper(mapper, page, base)
        handlers = make_handlers(on_page, body)
        memo = mapper.pure_answers(base)
        new = html.rewrite(body, on_page, charset, handlers, memo, checked=not every_page)
        if memo is not None and page.url_errors:
            mapper.forget_answers(base)  # so that later pages note those failures too
        return new

    def cached(
        kind: bytes, rewrite_plain: Callable[[bytes, UrlMapper, str | None, Page], bytes]
    ) -> BodyRewriter:
        """A body rewriter: ``rewrite_plain`` on the decoded body, behind the page cache,
        which is keyed on the body as sent (so a hit is neither decoded nor encoded)."""

        def rewrite(body: bytes, charset: str | None, coding: str, page: Page) -> bytes:
            return outputs.rewrite(
                kind,
                body,
                charset,
                map_url,
                lambda b, m: recode(
                    b, coding, lambda plain: rewrite_plain(plain, m, charset, page), limit
                ),
                coding,
                page,
            )

        return rewrite

    site = _one_site(config)
    sweep = UrlSweep(site.hosts, site.uploads_path, site.uploads_aliases)
    identifiers = Identifiers(config.bypass.identifiers)

    def text_rewriter(
        kind: bytes, keep: Callable[[str], list[Span]], style_sheet: bool = False
    ) -> BodyRewriter:
        def rewrite_text(plain: bytes, m: UrlMapper, charset: str | None, page: Page) -> bytes:
            # A style sheet's relative url() resolves against its own URL; other texts'
            # relative strings are not known to be URLs at all, so they stay.
            on_page = PageMapper(m, page, page.url if style_sheet else "")
            return _sweep_text(sweep, keep, plain, on_page, charset, style_sheet)

        return cached(kind, rewrite_text)

    rewriters: dict[str, BodyRewriter] = dict.fromkeys(HTML_TYPES, cached(b"h", rewrite_page))
    rewriters.update(dict.fromkeys(JSON_TYPES, text_rewriter(b"j", identifiers.json_spans)))
    rewriters.update(dict.fromkeys(XML_TYPES, text_rewriter(b"x", identifiers.xml_spans)))
    rewriters["text/css"] = text_rewriter(b"c", lambda text: [], style_sheet=True)
    return Pipeline(rewriters)


def _sweep_text(
    sweep: UrlSweep,
    identifier_spans: Callable[[str], list[Span]],
    body: bytes,
    map_url: PageMapper,
    charset: str | None,
    style_sheet: bool = False,
) -> bytes:
    # surrogateescape: bytes that are not valid in the charset survive untouched.
    encoding = charset or "utf-8"
    decoded = text = body.decode(encoding, "surrogateescape")
    if style_sheet and ("url(" in text or "URL(" in text.upper()):
        # The relative url() the sweep cannot see; the absolute ones are left to it.
        text = apply_edits(text, rewrite_css(text, map_url.relative_only))
    keep = identifier_spans(text)
    if not keep:
        new = sweep.rewrite(text, map_url)
    else:  # identifier values (REST guid, <guid>) stay as they are: sweep between them
        parts: list[str] = []
        pos = 0
        for start, end in keep:
            parts += (sweep.rewrite(text[pos:start], map_url), text[start:end])
            pos = end
        parts.append(sweep.rewrite(text[pos:], map_url))
        new = "".join(parts)
        if new == text:
            new = text
    return body if new is decoded else new.encode(encoding, "surrogateescape")
