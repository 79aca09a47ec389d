"""The delivery contract: from one local upload to the URL the page should use instead.

A provider is given an :class:`~rewriteproxy.media.UploadRef` (and, when the
inventory knows the file, a :class:`~rewriteproxy.media.FileInfo`) and returns
the delivery URL, or ``None`` to keep the local URL (an expected miss, such as
a PDF that Cloudinary is told not to serve). Providers are pure: no I/O, no
clock, no database; the same input always gives the same URL, which is what
lets :class:`CachedProvider` keep results in a bounded LRU cache.

Every provider is one module beside this one; :mod:`.registry` names them.
:class:`NullDelivery` (``provider: none``) keeps every local URL: it is the
default and the test double.

Limits: the cache is shared by the threads that call a provider (a lock guards
it), and is sized in entries, not bytes.
"""

from __future__ import annotations

import abc
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from cachetools import LRUCache

from rewriteproxy.media import FileInfo, UploadRef

__all__ = [
    "CachedProvider",
    "DeliveryProvider",
    "NullDelivery",
    "SiteContext",
    "base_url",
    "matching",
    "without_scheme",
]


@dataclass(frozen=True, slots=True)
class SiteContext:
    """What delivery needs to know of the site itself, taken from the ``site`` section.

    ``canonical_url`` is the site's own scheme and host (``https://wp.test``)
    when the config states it; Cloudinary's fetch delivery needs an absolute
    origin URL and will not guess a scheme.
    """

    hosts: tuple[str, ...]
    uploads_path: str
    canonical_url: str | None = None

    @property
    def uploads_base_url(self) -> str | None:
        """The absolute URL of the uploads directory, when the canonical URL is known."""
        if self.canonical_url is None:
            return None
        return self.canonical_url.rstrip("/") + "/" + self.uploads_path.strip("/") + "/"


class DeliveryProvider(abc.ABC):
    """Turns a local upload into its delivery URL.

    ``transforms`` says whether the provider can resize (Cloudinary can, a plain
    CDN or bucket cannot): callers building ``srcset`` candidates ask for a
    ``width`` only from a transforming provider; the others ignore it.
    """

    name: ClassVar[str]
    transforms: ClassVar[bool] = False

    @abc.abstractmethod
    def url_for(
        self, ref: UploadRef, info: FileInfo | None = None, width: int | None = None
    ) -> str | None:
        """The delivery URL of ``ref``, or ``None`` to keep the local URL."""

    @abc.abstractmethod
    def owns(self, url: str) -> bool:
        """True if ``url`` is already on the delivery side (rewriting it again would be wrong)."""

    def source_key(self, key: str) -> str:
        """The upload key of the file that ``key`` is delivered from, so the inventory is
        asked about that file (whether it exists, and its version): ``key`` itself,
        unless the provider serves it as a transformation of another file (Cloudinary
        delivers a WordPress size from its master)."""
        return key


class NullDelivery(DeliveryProvider):
    """Keeps every local URL: the default provider, and the test double."""

    name = "none"

    def url_for(
        self, ref: UploadRef, info: FileInfo | None = None, width: int | None = None
    ) -> str | None:
        return None

    def owns(self, url: str) -> bool:
        return False


# (path, query, fragment, inventory facts, width), plus whatever else a provider's
# derived URLs depend on (a transformation, for Cloudinary's effect URLs).
_CacheKey = tuple[object, ...]
_Cache = LRUCache[_CacheKey, "str | None"]
_MISSING = object()


class CachedProvider(DeliveryProvider):
    """A provider whose results are kept in a bounded LRU cache.

    Subclasses implement :meth:`build`; ``url_for`` answers repeated requests
    from the cache. The key is everything ``build`` may read: the path as
    written, query, fragment, the inventory facts and the width (never the
    whole URL, so ``/wp-content/uploads/a.jpg`` and its absolute form share an
    entry). ``cache_size=0`` turns the cache off (the benchmark's cold case).
    """

    def __init__(self, cache_size: int) -> None:
        self._cache: _Cache | None = LRUCache(maxsize=cache_size) if cache_size > 0 else None
        # Derived URLs (placeholders) apart, so they never push delivery URLs out.
        self._derived: _Cache | None = LRUCache(maxsize=cache_size) if cache_size > 0 else None
        self._lock = threading.Lock()

    def url_for(
        self, ref: UploadRef, info: FileInfo | None = None, width: int | None = None
    ) -> str | None:
        key = (ref.path, ref.query, ref.fragment, info, width)
        url = self._recall(self._cache, key)
        if url is _MISSING:
            url = self._keep(self._cache, key, self.build(ref, info, width))
        return url  # type: ignore[return-value]

    def remembered(self, key: _CacheKey, build: Callable[[], str | None]) -> str | None:
        """``build()``, kept in a cache of the same size beside the delivery URLs': for
        URLs a provider derives besides its delivery URLs (``key`` says all they depend on)."""
        url = self._recall(self._derived, key)
        if url is _MISSING:
            url = self._keep(self._derived, key, build())
        return url  # type: ignore[return-value]

    def _recall(self, cache: _Cache | None, key: _CacheKey) -> object:
        """The URL kept under ``key`` (``None`` included), or ``_MISSING``."""
        if cache is None:
            return _MISSING
        with self._lock:
            return cache.get(key, _MISSING)

    def _keep(self, cache: _Cache | None, key: _CacheKey, url: str | None) -> str | None:
        if cache is not None:
            with self._lock:
                cache[key] = url
        return url

    @abc.abstractmethod
    def build(self, ref: UploadRef, info: FileInfo | None, width: int | None) -> str | None:
        """The uncached delivery URL; must be a pure function of its arguments and config."""


def base_url(value: str, *, protocol_relative: bool = False) -> str:
    """A configured base URL, checked and ending in ``/``; ``ValueError`` says what is wrong.

    ``http``/``https`` with a host; ``//host/path`` too when ``protocol_relative``.
    A query or fragment is refused: paths are appended to the base.
    """
    probe = "https:" + value if protocol_relative and value.startswith("//") else value
    parts = urlsplit(probe)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "an absolute http(s) URL with a host"
            + (" (or //host/path)" if protocol_relative else "")
        )
    if parts.query or parts.fragment or any(c.isspace() for c in value):
        raise ValueError("no query, fragment or spaces: file paths are appended to it")
    return value if value.endswith("/") else value + "/"


def without_scheme(url: str) -> str:
    """``url`` from its ``//`` on, lower-cased, for scheme-blind prefix checks in ``owns``."""
    slashes = url.find("//")
    return url[slashes:].lower() if slashes >= 0 else url.lower()


def matching(pattern: str, expected: str) -> Callable[[str], str]:
    """A value check for :func:`~rewriteproxy.settings.checked`: the whole value must match
    ``pattern``."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(expected)
        return value

    return check
