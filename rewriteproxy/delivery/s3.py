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

from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from pydantic import field_validator

from rewriteproxy.delivery.base import CachedProvider, base_url, matching, without_scheme
from rewriteproxy.delivery.versioning import VersioningConfig, version_token, with_query
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import Settings, checked

__all__ = ["ADDRESSING", "S3Config", "S3Delivery"]

Addressing = Literal["auto", "virtual", "path"]
ADDRESSING: tuple[str, ...] = Addressing.__args__  # type: ignore[attr-defined]

_bucket = matching(
    r"[a-z0-9](?!.*\.\.)[a-z0-9.-]{1,61}[a-z0-9]",
    "3 to 63 lower-case letters, digits, dots and hyphens",
)
_region = matching(r"[a-z0-9-]+", "a region name such as eu-west-1")


class S3Config(Settings):
    """``delivery.s3``: direct URLs of the objects in a bucket."""

    bucket: Annotated[str, checked(_bucket, "a bucket name")]
    """The bucket that holds the uploads."""
    region: Annotated[str, checked(_region, "a region name")] = "us-east-1"
    """The bucket's AWS region (used in AWS host names)."""
    prefix: str = ""
    """Key prefix: object key = prefix + the path below the uploads base, percent-decoded."""
    endpoint_url: Annotated[str | None, checked(base_url, "an http(s) URL")] = None
    """An S3-compatible store, such as http://127.0.0.1:8333 (SeaweedFS, MinIO, R2…);
    unset: AWS."""
    addressing: Addressing = "auto"
    """virtual (https://<bucket>.s3.<region>.amazonaws.com/<key>), path
    (https://s3.<region>.amazonaws.com/<bucket>/<key>, or <endpoint_url>/<bucket>/<key>) or
    auto: virtual-hosted on AWS, path style for bucket names with dots (AWS's certificate does
    not cover them) and for an endpoint_url."""

    @field_validator("prefix")
    @classmethod
    def _one_trailing_slash(cls, prefix: str) -> str:
        prefix = prefix.strip("/")
        return prefix + "/" if prefix else ""

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
