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

from dataclasses import dataclass
from urllib.parse import quote

from rewriteproxy.delivery.base import CachedProvider, SiteContext, base_url, without_scheme
from rewriteproxy.delivery.versioning import VersioningConfig, version_token, with_query
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import Section

__all__ = ["CdnConfig", "CdnDelivery", "escape_path", "parse_cdn"]

# Everything that may stand in a URL path as it is, including "%" so that
# escapes already present are not escaped twice.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class CdnConfig:
    """``delivery.cdn``."""

    base_url: str
    force_https: bool = False


def parse_cdn(section: Section, site: SiteContext) -> CdnConfig:
    if not section.has("base_url"):
        raise section.error("base_url", "is required for provider cdn")
    url = section.parsed(
        "base_url", "", lambda v: base_url(v, protocol_relative=True), "a base URL"
    )
    force_https = section.flag("force_https", False)
    section.done()
    if force_https:
        url = "https:" + url[url.index("//") :]
    return CdnConfig(url, force_https)


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
