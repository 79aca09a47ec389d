"""Version suffixes, so that a replaced upload never stays stale in a CDN cache.

The version comes only from facts the inventory reports (an S3 ETag or
LastModified, or the local file's mtime): with no facts there is no version,
never an invented one. :func:`version_token` turns those facts into a short
hash; the plain CDN and S3 providers put it in the URL as a query parameter
(``?v=1a2b3c4d``) or a leading path segment (``v-1a2b3c4d/2024/05/a.jpg``,
which the CDN must strip with an edge rule); Cloudinary uses its own
``v<unix time>`` segment instead (:func:`unix_version`).

The ETag wins over the mtime when both are known: re-uploading identical
bytes then keeps the URL (and the CDN's cached copy).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import field_validator

from rewriteproxy.media import FileInfo
from rewriteproxy.settings import Settings, not_allowed

__all__ = [
    "VERSIONING_STYLES",
    "VersioningConfig",
    "etag_token",
    "unix_version",
    "version_token",
    "with_query",
]

VersioningStyle = Literal["query", "path", "none"]
VERSIONING_STYLES: tuple[str, ...] = VersioningStyle.__args__  # type: ignore[attr-defined]


class VersioningConfig(Settings):
    """``delivery.versioning``: how cdn and s3 URLs carry a file's version."""

    style: VersioningStyle = "query"
    """How cdn and s3 URLs carry a known version: query → ?v=<hash>; path →
    <base_url>v-<hash>/2024/05/a.jpg (cdn only, and the CDN must strip that segment with an
    edge rule); none → never (this also turns off the origin query of Cloudinary fetch)."""
    param: str = "v"
    """The query parameter's name (and the path segment's prefix); with Cloudinary fetch, also
    the parameter added to the origin URL."""

    @field_validator("param")
    @classmethod
    def _url_safe(cls, param: str) -> str:
        if not param or not all(c.isalnum() or c in "-_." for c in param):
            raise not_allowed("letters, digits, - _ .")
        return param


def version_token(info: FileInfo | None) -> str | None:
    """A short, stable hash of the file's version, or ``None`` when nothing is known."""
    if info is None:
        return None
    if info.etag:
        return etag_token(info.etag)
    if info.etag_token:
        return info.etag_token
    if info.mtime is not None:
        # Milliseconds: S3 reports whole seconds, local disks nanoseconds; either
        # way two writes of a file a millisecond apart are not worth telling apart.
        source = f"mtime:{info.mtime:.3f}:{info.size}"
        return _token(source)
    return None


def etag_token(etag: str) -> str:
    """The version token of an ETag: 8 hex digits, all a URL needs to change with the ETag."""
    return _token("etag:" + etag)


def _token(source: str) -> str:
    return hashlib.blake2b(source.encode(), digest_size=4).hexdigest()


def unix_version(info: FileInfo | None) -> int | None:
    """The file's modification time in whole seconds (Cloudinary's ``v<number>``), if known."""
    if info is None or info.mtime is None:
        return None
    return int(info.mtime)


def with_query(query: str, param: str, token: str | None) -> str:
    """``query`` (without ``?``) plus ``param=token``, rendered with its ``?``, or ``""``."""
    if token is not None:
        query = f"{query}&{param}={token}" if query else f"{param}={token}"
    return "?" + query if query else ""
