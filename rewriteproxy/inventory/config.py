"""The ``inventory:`` section of the config, parsed once into frozen dataclasses.

::

    inventory:
      s3:    {bucket: media, prefix: wp-content/uploads/, ...}   # optional
      local: {path: /var/www/html/wp-content/uploads}             # optional
      cloudinary: {refresh_seconds: 3600}    # optional, instead of s3 (see .cloudinary)
      on_missing: local                                           # local | rewrite

With no source configured the proxy has no inventory: every upload counts
as existing with an unknown version (see :class:`~.base.NullInventory`).
Every key, its default and its meaning is listed in docs/inventory.md; the
defaults live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..settings import Section
from .cloudinary import CloudinaryInventoryConfig, parse_cloudinary_inventory

__all__ = [
    "ON_MISSING",
    "InventoryConfig",
    "LocalInventoryConfig",
    "S3InventoryConfig",
    "parse_inventory",
    "parse_local",
    "parse_s3",
]

ON_MISSING = ("local", "rewrite")


@dataclass(frozen=True, slots=True)
class S3InventoryConfig:
    """Where the offloaded uploads live and how often to list them."""

    bucket: str
    prefix: str = ""  # normalised: no leading slash, one trailing slash unless empty
    region: str | None = None
    endpoint_url: str | None = None  # any S3-compatible store; None = AWS
    access_key_id: str | None = None  # None = the usual AWS credential chain
    secret_access_key: str | None = None
    refresh_seconds: float = 300.0
    lookup_on_miss: bool = True
    positive_ttl: float = 3600.0
    negative_ttl: float = 60.0
    cache_size: int = 100_000  # entries in each HEAD result cache
    startup_wait_seconds: float = 0.0
    page_size: int = 1000  # MaxKeys per list_objects_v2 call (S3 caps it at 1000)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def bucket_key(self, key: str) -> str:
        """The object key of an upload key (its path below the uploads base)."""
        return self.prefix + key

    def __repr__(self) -> str:  # never print the secret
        hidden = "***" if self.secret_access_key else None
        return (
            f"S3InventoryConfig(bucket={self.bucket!r}, prefix={self.prefix!r}, "
            f"endpoint_url={self.endpoint_url!r}, secret_access_key={hidden})"
        )


@dataclass(frozen=True, slots=True)
class LocalInventoryConfig:
    """The uploads directory on this host."""

    path: str
    ttl_seconds: float = 60.0
    cache_size: int = 100_000


@dataclass(frozen=True, slots=True)
class InventoryConfig:
    s3: S3InventoryConfig | None = None
    local: LocalInventoryConfig | None = None
    on_missing: str = "local"  # one of ON_MISSING
    cloudinary: CloudinaryInventoryConfig | None = None

    @property
    def rewrite_missing(self) -> bool:
        return self.on_missing == "rewrite"


def _normalise_prefix(prefix: str) -> str:
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def parse_s3(section: Section) -> S3InventoryConfig:
    bucket = section.text("bucket", "")
    if not bucket:
        raise section.error("bucket", "is required: the bucket that holds the uploads")
    endpoint = section.optional_str("endpoint_url")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise section.error("endpoint_url", f"{endpoint!r} is not allowed: expected an http(s) URL")
    access = section.secret("access_key_id")
    secret = section.secret("secret_access_key")
    if (access is None) != (secret is None):
        raise section.error(
            "secret_access_key" if secret is None else "access_key_id",
            "access_key_id and secret_access_key go together",
        )
    config = S3InventoryConfig(
        bucket=bucket,
        prefix=_normalise_prefix(section.text("prefix", "")),
        region=section.optional_str("region"),
        endpoint_url=endpoint,
        access_key_id=access,
        secret_access_key=secret,
        refresh_seconds=section.number("refresh_seconds", 300.0, minimum=1),
        lookup_on_miss=section.flag("lookup_on_miss", True),
        positive_ttl=section.number("positive_ttl", 3600.0, minimum=0),
        negative_ttl=section.number("negative_ttl", 60.0, minimum=0),
        cache_size=section.integer("cache_size", 100_000, minimum=1),
        startup_wait_seconds=section.number("startup_wait_seconds", 0.0, minimum=0, maximum=300),
        page_size=section.integer("page_size", 1000, minimum=1, maximum=1000),
        connect_timeout=section.number("connect_timeout", 5.0, minimum=0.1),
        read_timeout=section.number("read_timeout", 30.0, minimum=0.1),
    )
    section.done()
    return config


def parse_local(section: Section) -> LocalInventoryConfig:
    path = section.text("path", "")
    if not path:
        raise section.error("path", "is required: the WordPress uploads directory")
    config = LocalInventoryConfig(
        path=path,
        ttl_seconds=section.number("ttl_seconds", 60.0, minimum=0),
        cache_size=section.integer("cache_size", 100_000, minimum=1),
    )
    section.done()
    return config


def parse_inventory(section: Section, delivery: Any = None) -> InventoryConfig:
    """Read ``inventory``; ``delivery`` (the parsed ``delivery`` section) names the
    Cloudinary account that ``inventory.cloudinary`` lists."""
    s3 = parse_s3(section.section("s3")) if section.has("s3") else None
    local = parse_local(section.section("local")) if section.has("local") else None
    cloudinary = None
    if section.has("cloudinary"):
        if s3 is not None:
            raise section.error("cloudinary", "cannot be combined with inventory.s3")
        cloudinary = parse_cloudinary_inventory(section, delivery)
    config = InventoryConfig(
        s3=s3,
        local=local,
        on_missing=section.choice("on_missing", "local", ON_MISSING),
        cloudinary=cloudinary,
    )
    section.done()
    return config
