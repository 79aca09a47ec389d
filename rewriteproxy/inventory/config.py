"""The ``inventory:`` section of the config, as frozen models.

::

    inventory:
      s3:    {bucket: media, prefix: wp-content/uploads/, ...}   # optional
      local: {path: /var/www/html/wp-content/uploads}             # optional
      cloudinary: {refresh_seconds: 3600}                         # optional, instead of s3
      on_missing: local                                           # local | rewrite
      snapshot_dir: /var/lib/rewriteproxy/inventory                # "" = no shared snapshot

With no source configured the proxy has no inventory: every upload counts
as existing with an unknown version (see :class:`~.base.NullInventory`).
Every key, its default and its meaning is declared here and nowhere else (the
reference in the docs is generated from these models).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ..settings import Secret, Settings, checked, rule
from .cloudinary import CloudinaryInventoryConfig
from .shared import default_snapshot_dir

__all__ = [
    "ON_MISSING",
    "InventoryConfig",
    "LocalInventoryConfig",
    "ReportConfig",
    "S3InventoryConfig",
]

OnMissing = Literal["local", "rewrite"]
ON_MISSING: tuple[str, ...] = OnMissing.__args__  # type: ignore[attr-defined]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("")
    return value


def _normalised_prefix(prefix: str) -> str:
    """No leading slash, one trailing slash unless empty."""
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class ReportConfig(Settings):
    """``inventory.s3.report``: the bucket's S3 Inventory report (CSV), read instead of a
    listing."""

    prefix: str = Field(min_length=1)
    """Where S3 writes the report: <destination prefix>/<source bucket>/<config id>/."""
    bucket: str | None = None
    """The report's destination bucket; unset: the bucket itself."""

    @field_validator("prefix")
    @classmethod
    def _normalise_prefix(cls, prefix: str) -> str:
        return _normalised_prefix(prefix)


class S3InventoryConfig(Settings):
    """``inventory.s3``: where the offloaded uploads live and how often to list them."""

    bucket: str = Field(min_length=1)
    """The bucket that holds the uploads."""
    prefix: str = ""
    """Key prefix, such as wp-content/uploads/; a leading / is dropped and a trailing / added."""
    region: str | None = None
    """The bucket's region; unset: the AWS configuration's."""
    endpoint_url: Annotated[str | None, checked(_http_url, "an http(s) URL")] = None
    """The http(s) URL of an S3-compatible server (MinIO, SeaweedFS, R2…); unset: AWS."""
    access_key_id: Secret = None
    """Set both keys or neither (then: the usual AWS credential chain); write
    ${AWS_ACCESS_KEY_ID}."""
    secret_access_key: Secret = None
    """Goes with access_key_id; write it as ${AWS_SECRET_ACCESS_KEY}."""
    refresh_seconds: float = Field(300.0, ge=1)
    """Seconds between two full listings, made in the background."""
    lookup_on_miss: bool = True
    """A key missing from the listing triggers one background HEAD."""
    positive_ttl: float = Field(3600.0, ge=0)
    """Seconds a found HEAD answer is kept."""
    negative_ttl: float = Field(60.0, ge=0)
    """Seconds a missing or failed HEAD answer is kept."""
    cache_size: int = Field(100_000, ge=1)
    """Entries in each of the two HEAD answer caches."""
    startup_wait_seconds: float = Field(0.0, ge=0, le=300)
    """How long start-up waits for the first listing (0: serve at once, local URLs until
    then)."""
    page_size: int = Field(1000, ge=1, le=1000)
    """MaxKeys per list_objects_v2 call (S3 caps it at 1000)."""
    connect_timeout: float = Field(5.0, ge=0.1)
    """Seconds to connect, per S3 call."""
    read_timeout: float = Field(30.0, ge=0.1)
    """Seconds to read an answer, per S3 call."""
    manifest: bool = False
    """Read the manifest sync publishes (<prefix>.rewriteproxy/manifest) instead of listing.
    Only where sync is the bucket's one writer: an object deleted by anything else would
    stay linked (a broken image) until the next sync."""
    report: ReportConfig | None = None
    """An S3 Inventory report of the bucket, read instead of listing it."""

    @field_validator("prefix")
    @classmethod
    def _normalise_prefix(cls, prefix: str) -> str:
        """No leading slash, one trailing slash unless empty."""
        return _normalised_prefix(prefix)

    @model_validator(mode="after")
    def _credentials_go_together(self) -> S3InventoryConfig:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise rule(
                "access_key_id and secret_access_key go together",
                at="secret_access_key" if self.secret_access_key is None else "access_key_id",
            )
        return self

    def bucket_key(self, key: str) -> str:
        """The object key of an upload key (its path below the uploads base)."""
        return self.prefix + key


class LocalInventoryConfig(Settings):
    """``inventory.local``: the uploads directory on this host."""

    path: str = Field(min_length=1)
    """The WordPress uploads directory on this host."""
    ttl_seconds: float = Field(60.0, ge=0)
    """Seconds a found or not-found answer is cached."""
    cache_size: int = Field(100_000, ge=1)
    """Entries in the answer cache."""


class InventoryConfig(Settings):
    """``inventory``: which uploads exist, and their versions."""

    s3: S3InventoryConfig | None = None
    """The bucket the uploads are offloaded to."""
    local: LocalInventoryConfig | None = None
    """The uploads directory on this host."""
    on_missing: OnMissing = "local"
    """local: an upload the inventory does not know keeps its local URL, so nothing 404s;
    rewrite: rewrite it anyway (for fetch delivery, which needs no upload)."""
    cloudinary: CloudinaryInventoryConfig | None = None
    """The Cloudinary account of delivery.cloudinary, listed (instead of s3)."""
    snapshot_dir: str = "auto"
    """Where the machine's shared inventory snapshot lives (one worker fetches, every
    worker maps it); auto: $STATE_DIRECTORY/inventory, else
    <temp dir>/rewriteproxy-<uid>/inventory; "" = each worker keeps its own listing."""

    @property
    def snapshot_directory(self) -> str | None:
        """``snapshot_dir`` resolved on this host; ``None`` when switched off."""
        if self.snapshot_dir == "auto":
            return default_snapshot_dir()
        return self.snapshot_dir or None

    @model_validator(mode="after")
    def _one_remote_source(self) -> InventoryConfig:
        if self.cloudinary is not None and self.s3 is not None:
            raise rule("cannot be combined with inventory.s3", at="cloudinary")
        return self

    @property
    def rewrite_missing(self) -> bool:
        return self.on_missing == "rewrite"
