"""The ``cdn`` provider: the same file, served from another base URL.

``delivery.cdn.base_url`` replaces the local uploads base, so
``https://wp.test/wp-content/uploads/2024/05/a.jpg`` becomes
``https://cdn.example.net/wp-content/uploads/2024/05/a.jpg`` (a host swap) or
``https://cdn.example.net/media/2024/05/a.jpg`` (another path root). The CDN
is assumed to pull from the site, or from a bucket that mirrors the uploads
directory, under that base.

The path is kept as the page wrote it (existing percent-escapes stay as they
are); only characters that are invalid in a URL (spaces, non-ASCII) are
escaped. The page's own query and fragment are kept. Sized files are delivered
as they are: a plain CDN cannot resize, so ``width`` is ignored.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from pydantic import model_validator

from rewriteproxy.delivery.base import CachedProvider, base_url, without_scheme
from rewriteproxy.delivery.versioning import VersioningConfig, version_token, with_query
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import Settings, checked

__all__ = ["CdnConfig", "CdnDelivery", "escape_path"]

# Everything that may stand in a URL path as it is, including "%" so that
# escapes already present are not escaped twice.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def _cdn_base(value: str) -> str:
    return base_url(value, protocol_relative=True)


class CdnConfig(Settings):
    """``delivery.cdn``: the same files, served from another base URL."""

    base_url: Annotated[str, checked(_cdn_base, "a base URL")]
    """The URL that replaces the uploads base: a host swap
    (https://cdn.example.net/wp-content/uploads/), another path root
    (https://media.example.net/site1/) or protocol-relative (//cdn.example.net/...)."""
    force_https: bool = False
    """Rewrite an http:// or // base_url to https://."""

    @model_validator(mode="after")
    def _forced_https(self) -> CdnConfig:
        if self.force_https and not self.base_url.startswith("https:"):
            # Still inside its own validation: no one has seen the instance yet.
            https = "https:" + self.base_url[self.base_url.index("//") :]
            object.__setattr__(self, "base_url", https)
        return self


def escape_path(path: str) -> str:
    """``path`` with only the characters a URL cannot carry escaped."""
    return quote(path, safe=_PATH_SAFE)


class CdnDelivery(CachedProvider):
    name = "cdn"
    transforms = False

    def __init__(self, config: CdnConfig, versioning: VersioningConfig, cache_size: int) -> None:
        super().__init__(cache_size)
        self._base = config.base_url
        self._owned = without_scheme(config.base_url)
        self._style = versioning.style
        self._param = versioning.param

    def build(self, ref: UploadRef, info: FileInfo | None, width: int | None) -> str | None:
        token = version_token(info) if self._style != "none" else None
        base = self._base
        if token is not None and self._style == "path":
            base = f"{base}{self._param}-{token}/"
            token = None
        fragment = "#" + ref.fragment if ref.fragment else ""
        return base + escape_path(ref.path) + with_query(ref.query, self._param, token) + fragment

    def owns(self, url: str) -> bool:
        return without_scheme(url).startswith(self._owned)
