"""The ``s3`` provider: direct URLs of the objects in a bucket.

The object key is ``prefix`` + the upload's path below the uploads base,
percent-decoded (the name on disk), so ``2024/05/café.jpg`` with prefix
``wp-content/uploads/`` is the object ``wp-content/uploads/2024/05/café.jpg``.
The inventory lists the same keys.

URL shapes:

- AWS, virtual-hosted: ``https://<bucket>.s3.<region>.amazonaws.com/<key>``
- AWS, path style: ``https://s3.<region>.amazonaws.com/<bucket>/<key>``
- S3-compatible store (``endpoint_url``), path style: ``<endpoint_url>/<bucket>/<key>``,
  virtual-hosted: ``<scheme>://<bucket>.<endpoint host>/<key>``

``addressing: auto`` picks virtual-hosted on AWS, except for bucket names with
dots (AWS's wildcard TLS certificate does not cover them), and path style for
a custom endpoint (what MinIO, SeaweedFS and most others serve without DNS
set-up).

The key is escaped in full (``+`` too: S3 reads a literal ``+`` in a path as a
space). A bucket serves an object by its key only, so ``versioning.style:
path`` is refused for this provider; the query style works (S3 ignores
unknown query parameters). Sized files are delivered as they are; ``width``
is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from rewriteproxy.delivery.base import (
    CachedProvider,
    SiteContext,
    base_url,
    matching,
    without_scheme,
)
from rewriteproxy.delivery.versioning import VersioningConfig, version_token, with_query
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import Section

__all__ = ["ADDRESSING", "S3Config", "S3Delivery", "parse_s3"]

ADDRESSING = ("auto", "virtual", "path")

_bucket = matching(
    r"[a-z0-9](?!.*\.\.)[a-z0-9.-]{1,61}[a-z0-9]",
    "3 to 63 lower-case letters, digits, dots and hyphens",
)
_region = matching(r"[a-z0-9-]+", "a region name such as eu-west-1")


@dataclass(frozen=True, slots=True)
class S3Config:
    """``delivery.s3``."""

    bucket: str
    region: str = "us-east-1"
    prefix: str = ""
    endpoint_url: str | None = None
    addressing: str = "auto"

    @property
    def object_base_url(self) -> str:
        """The URL that object keys are appended to (without ``prefix``)."""
        style = self.addressing
        if style == "auto":
            style = "path" if self.endpoint_url or "." in self.bucket else "virtual"
        if self.endpoint_url is None:
            if style == "virtual":
                return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/"
            return f"https://s3.{self.region}.amazonaws.com/{self.bucket}/"
        if style == "path":
            return f"{self.endpoint_url}{self.bucket}/"
        parts = urlsplit(self.endpoint_url)
        return f"{parts.scheme}://{self.bucket}.{parts.netloc}{parts.path}"


def parse_s3(section: Section, site: SiteContext) -> S3Config:
    if not section.has("bucket"):
        raise section.error("bucket", "is required for provider s3")
    bucket = section.parsed("bucket", "", _bucket, "a bucket name")
    region = section.parsed("region", "us-east-1", _region, "a region name")
    prefix = section.text("prefix", "").strip("/")
    endpoint = section.parsed("endpoint_url", None, base_url, "an http(s) URL")
    addressing = section.choice("addressing", "auto", ADDRESSING)
    section.done()
    return S3Config(bucket, region, prefix + "/" if prefix else "", endpoint, addressing)


class S3Delivery(CachedProvider):
    name = "s3"
    transforms = False

    def __init__(self, config: S3Config, versioning: VersioningConfig, cache_size: int) -> None:
        super().__init__(cache_size)
        self._base = config.object_base_url + quote(config.prefix, safe="/")
        self._owned = without_scheme(self._base)
        self._versioned = versioning.style == "query"
        self._param = versioning.param

    def build(self, ref: UploadRef, info: FileInfo | None, width: int | None) -> str | None:
        token = version_token(info) if self._versioned else None
        fragment = "#" + ref.fragment if ref.fragment else ""
        return (
            self._base
            + quote(ref.key, safe="/")
            + with_query(ref.query, self._param, token)
            + fragment
        )

    def owns(self, url: str) -> bool:
        return without_scheme(url).startswith(self._owned)
