"""What Cloudinary holds: the account's assets, listed through the Admin API in the background.

:class:`CloudinaryInventory` lists the assets below ``delivery.cloudinary.folder``
with the official SDK (``cloudinary.api.resources``, type ``upload``, once per
resource type: ``image`` and ``video`` (which holds audio), and ``raw`` when
``other_files: raw``; ``max_results`` up to 500 a page, followed by
``next_cursor``) when it starts and every ``refresh_seconds``: in one
worker per machine, into the shared snapshot the others map (the refresh
loop and the snapshot are :class:`~.refreshing.RefreshingInventory`'s), or
without ``inventory.snapshot_dir`` in every worker, into a compact
:class:`~.listing.Listing`. Each asset becomes one entry, built through the
same page contract the S3 source uses (:func:`listing_page`), keyed by
:func:`asset_key`; its size is the asset's ``bytes``, its modification time
the asset's ``version`` (so a delivery URL carries ``v<version>``, the number
Cloudinary itself gives the upload), and its ETag the asset's ``etag`` when
the listing reports one.

A lookup maps the upload key to the asset the URL builder would name
(:meth:`~rewriteproxy.delivery.cloudinary.CloudinaryDelivery.stored_asset`),
so "only what Cloudinary has is rewritten" holds by construction: the
inventory and the URL agree on the public ID. The format must agree too
(``photo.png`` is not the asset uploaded from ``photo.jpg``), with the
spellings Cloudinary normalises (``jpeg``/``jpe`` → ``jpg``, ``tif`` →
``tiff``) taken as equal.

Refreshes behave as the S3 source's: a failed one keeps the last good listing
(``stale``, with ``last_error``, ``last_error_at`` and
``consecutive_failures`` in the stats) and is retried after at most 30 s while
no listing has succeeded yet; every SDK call runs in a worker thread. There
is no lookup of single misses: the Admin API is rate-limited per hour (the
stats keep the last ``rate_limit_remaining`` it reported), so a file uploaded
since the last refresh keeps its local URL until the next one.

The SDK is optional (``pip install 'rewriteproxy[cloudinary]'``): the config
refuses ``inventory.cloudinary`` without it. It is always given its
credentials and API base (``upload_prefix``) per call, never through its
global configuration, so two configs in one process cannot mix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic.json_schema import SkipJsonSchema

from ..delivery.cloudinary import Asset, CloudinaryConfig, CloudinaryDelivery
from ..delivery.registry import DeliveryConfig
from ..delivery.versioning import VersioningConfig
from ..media import FileInfo
from ..settings import INTERNAL, Settings, rule
from .listing import Listing, ListingBuilder, page_entries
from .refreshing import Fetched, RefreshingInventory, SourceCancelled
from .shared import SnapshotStore

__all__ = [
    "FORMAT_ALIASES",
    "CloudinaryInventory",
    "CloudinaryInventoryConfig",
    "MappingCheck",
    "SdkMissing",
    "asset_key",
    "check_upload_mapping",
    "cloudinary_identity",
    "list_resources",
    "listing_page",
    "require_sdk",
    "resource_types",
    "sdk_options",
    "upload_mapping_report",
    "uploads_listed",
    "with_account",
]

log = logging.getLogger("rewriteproxy.inventory.cloudinary")

RETRY_FIRST_LISTING_SECONDS = 30.0
MAX_RESULTS = 500  # the Admin API's largest page
FORMAT_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "tif": "tiff"}
INSTALL_HINT = "pip install 'rewriteproxy[cloudinary]'"


class SdkMissing(ImportError):
    """The Cloudinary SDK is not installed."""


def require_sdk() -> Any:
    """The ``cloudinary`` package, or :class:`SdkMissing` saying how to install it."""
    try:
        import cloudinary  # type: ignore[import-untyped]
        import cloudinary.api  # type: ignore[import-untyped]
        import cloudinary.uploader  # type: ignore[import-untyped]
    except ImportError as exc:
        raise SdkMissing(f"the Cloudinary SDK is not installed ({INSTALL_HINT})") from exc
    return cloudinary


@dataclass(frozen=True, slots=True)
class _Refused:
    """Why ``account`` cannot be filled in; validating it raises that."""

    reason: str


def _usable_account(value: object) -> object:
    if isinstance(value, _Refused):
        raise rule(value.reason)
    return value


class CloudinaryInventoryConfig(Settings):
    """``inventory.cloudinary``: the assets of the delivery.cloudinary account, listed."""

    account: SkipJsonSchema[Annotated[CloudinaryConfig, BeforeValidator(_usable_account)]] = Field(
        json_schema_extra=INTERNAL
    )
    """delivery.cloudinary (cloud, folder, keys): taken from there, not a key of this section."""
    refresh_seconds: float = Field(3600.0, ge=1)
    """Full listing this often, in the background (mind the Admin API's hourly rate limit)."""
    startup_wait_seconds: float = Field(0.0, ge=0, le=300)
    """How long start-up waits for the first listing (0: serve at once, local URLs until
    then)."""
    page_size: int = Field(MAX_RESULTS, ge=1, le=MAX_RESULTS)
    """Assets per Admin API call (max_results)."""
    timeout: float = Field(30.0, ge=0.1)
    """Seconds per Admin API call."""


def with_account(section: Mapping[str, Any], delivery: DeliveryConfig | None) -> dict[str, Any]:
    """The file's ``inventory.cloudinary`` with ``account`` filled in from the validated
    ``delivery`` section (``None`` when that section is invalid), or why it cannot be."""
    if "account" in section:
        return {**section, "account": _Refused("is delivery.cloudinary's: write it there")}
    account = delivery.settings if delivery is not None else None
    reason = None
    if delivery is None:
        reason = "needs a valid delivery section (see its errors)"
    elif delivery.provider != "cloudinary" or not isinstance(account, CloudinaryConfig):
        reason = "needs delivery.provider cloudinary (it lists that account)"
    elif account.delivery_type != "upload":
        reason = "needs delivery.cloudinary.delivery_type upload (fetched files are not listed)"
    elif not account.has_api_credentials:
        reason = (
            "needs delivery.cloudinary.api_key and api_secret "
            "(write them as ${CLOUDINARY_API_KEY} and ${CLOUDINARY_API_SECRET})"
        )
    else:
        try:
            require_sdk()
        except SdkMissing as exc:
            reason = str(exc)
    return {**section, "account": account if reason is None else _Refused(reason)}


def sdk_options(account: CloudinaryConfig, timeout: float) -> dict[str, Any]:
    """The per-call options that point the SDK at the account (and at ``api_base_url``)."""
    options: dict[str, Any] = {
        "cloud_name": account.cloud_name,
        "api_key": account.api_key,
        "api_secret": account.api_secret,
        "timeout": timeout,
    }
    if account.api_base_url is not None:
        options["upload_prefix"] = account.api_base_url
    return options


def resource_types(account: CloudinaryConfig) -> tuple[str, ...]:
    """The resource types the URL builder delivers from (audio is ``video``)."""
    return ("image", "video", "raw") if account.other_files == "raw" else ("image", "video")


def asset_key(resource_type: str, public_id: str, format_: str) -> str:
    """The listing's key of one asset: resource type, public ID and normalised format."""
    format_ = FORMAT_ALIASES.get(format_.lower(), format_.lower())
    return f"{resource_type}:{public_id}.{format_}" if format_ else f"{resource_type}:{public_id}"


def _key_of(asset: Asset) -> str:
    return asset_key(asset.resource_type, asset.public_id, asset.format)


def listing_page(resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Admin API resources as a page in the listing's contract (S3's ``Contents`` shape)."""
    contents = []
    for resource in resources:
        resource_type = str(resource.get("resource_type", ""))
        format_ = "" if resource_type == "raw" else str(resource.get("format") or "")
        version = resource.get("version")
        item: dict[str, Any] = {
            "Key": asset_key(resource_type, str(resource["public_id"]), format_),
            "Size": int(resource.get("bytes") or 0),
        }
        if isinstance(version, int) and version > 0:
            item["LastModified"] = datetime.fromtimestamp(version, UTC)
        if resource.get("etag"):
            item["ETag"] = str(resource["etag"])
        contents.append(item)
    return {"Contents": contents}


ListingCancelled = SourceCancelled  # what list_resources raises when closed meanwhile


@dataclass
class ListingRun:
    """What one full listing learnt besides the assets."""

    listing: Listing
    rate_limit_remaining: int | None = None


def _pages(
    sdk: Any, account: CloudinaryConfig, resource_type: str, page_size: int, timeout: float
) -> Iterator[Any]:
    options = sdk_options(account, timeout)
    if account.folder:
        options["prefix"] = account.folder + "/"
    cursor: str | None = None
    while True:
        if cursor is not None:
            options["next_cursor"] = cursor
        page = sdk.api.resources(
            resource_type=resource_type, type="upload", max_results=page_size, **options
        )
        yield page
        cursor = page.get("next_cursor")
        if not cursor:
            return


def list_resources(
    config: CloudinaryInventoryConfig, cancelled: Callable[[], bool] | None = None
) -> ListingRun:
    """Every asset below the folder, page by page (blocking: call it in a thread)."""
    sdk = require_sdk()
    builder = ListingBuilder("")
    remaining: int | None = None
    for resource_type in resource_types(config.account):
        for page in _pages(sdk, config.account, resource_type, config.page_size, config.timeout):
            if cancelled is not None and cancelled():
                raise ListingCancelled
            builder.add_page(listing_page(page.get("resources", ())))
            remaining = getattr(page, "rate_limit_remaining", remaining)
    return ListingRun(builder.build(), remaining)


def uploads_listed(listing: Listing, account: CloudinaryConfig) -> Iterator[tuple[str, FileInfo]]:
    """An upload key naming each listed asset below the folder, with its facts (for
    ``check``'s sample: the key's URL names that asset)."""
    folder = account.folder + "/" if account.folder else ""
    for key in listing:
        resource_type, _, name = key.partition(":")
        if resource_type in ("image", "video", "raw") and name.startswith(folder):
            info = listing.get(key)
            if info is not None:
                yield name[len(folder) :], info


def cloudinary_identity(account: CloudinaryConfig) -> dict[str, str]:
    """What a snapshot of the account is of: cloud, folder and the resource types listed."""
    return {
        "source": "cloudinary",
        "cloud": account.cloud_name,
        "folder": account.folder,
        "types": ",".join(resource_types(account)),
    }


class _RateLimit:
    """The last ``rate_limit_remaining`` a listing's pages reported."""

    def __init__(self) -> None:
        self.remaining: int | None = None
        self.pages = 0


def _entries(
    config: CloudinaryInventoryConfig, cancelled: Callable[[], bool], seen: _RateLimit
) -> Iterator[tuple[str, FileInfo]]:
    """Every asset below the folder as ``(asset key, facts)``, page by page (blocking)."""
    sdk = require_sdk()
    for resource_type in resource_types(config.account):
        for page in _pages(sdk, config.account, resource_type, config.page_size, config.timeout):
            if cancelled():
                raise SourceCancelled
            seen.pages += 1
            seen.remaining = getattr(page, "rate_limit_remaining", seen.remaining)
            yield from page_entries(listing_page(page.get("resources", ())), "")


class CloudinaryInventory(RefreshingInventory):
    """The account's assets, refreshed in the background; see the module docstring.

    With the machine's snapshot store (``inventory.snapshot_dir``) one worker
    lists the account and the others map the snapshot, as for S3; without one,
    each worker keeps the listing in its own memory.
    """

    source = "cloudinary"
    _KEYS_REMEMBERED = 100_000  # upload key -> asset key, a pure function worth caching

    def __init__(
        self,
        config: CloudinaryInventoryConfig,
        executor: Executor | None = None,
        store: SnapshotStore | None = None,
    ) -> None:
        super().__init__(
            refresh_seconds=config.refresh_seconds,
            startup_wait_seconds=config.startup_wait_seconds,
            executor=executor,
            store=store,
        )
        self.config = config
        self._stored = CloudinaryDelivery(config.account, VersioningConfig(), 0).stored_asset
        self._keys: dict[str, str | None] = {}
        self._stats["rate_limit_remaining"] = None

    def describe(self) -> str:
        return f"Cloudinary {self.config.account.cloud_name}/{self.config.account.folder}"

    def fetch(self) -> Fetched:
        if self.store is None:  # each worker its own listing in memory
            run = list_resources(self.config, lambda: self.cancelled)
            self._stats["rate_limit_remaining"] = run.rate_limit_remaining
            return Fetched(run.listing, "list", run.listing.pages)
        seen = _RateLimit()
        snapshot = self.publish(_entries(self.config, lambda: self.cancelled, seen))
        self._stats["rate_limit_remaining"] = seen.remaining
        return Fetched(snapshot, "list", seen.pages)

    def asset_key(self, key: str) -> str | None:
        """The listing key of the asset that holds upload ``key``; ``None`` if none would."""
        known = self._keys.get(key, self)
        if known is not self:
            return known  # type: ignore[return-value]
        asset = self._stored(key)
        found = None if asset is None else _key_of(asset)
        if len(self._keys) >= self._KEYS_REMEMBERED:
            self._keys.clear()
        self._keys[key] = found
        return found

    def lookup(self, key: str) -> FileInfo | None:
        found = self.asset_key(key)
        return None if found is None else self._get(found)

    def snapshot_stats(self) -> dict[str, Any]:
        return {
            **super().snapshot_stats(),
            "cloud_name": self.config.account.cloud_name,
            "folder": self.config.account.folder,
        }


@dataclass(frozen=True, slots=True)
class MappingCheck:
    """What ``check`` learnt of the folder's auto-upload mapping."""

    ok: bool
    message: str


def check_upload_mapping(account: CloudinaryConfig, timeout: float = 10.0) -> MappingCheck:
    """Whether Cloudinary auto-uploads ``folder`` from the origin (blocking: Admin API).

    With upload delivery and no inventory, every upload URL points at
    ``<folder>/<path>``; an upload mapping from that folder to the uploads
    directory's URL (``origin_base_url``) makes Cloudinary fetch each file on
    its first request. ``ok`` only when the mapping exists and its template is
    that URL.
    """
    if not account.folder:
        return MappingCheck(
            False, "auto-upload needs delivery.cloudinary.folder (mappings map a folder)"
        )
    if not account.has_api_credentials:
        return MappingCheck(False, "no api_key and api_secret: the mapping cannot be checked")
    try:
        sdk = require_sdk()
    except SdkMissing as exc:
        return MappingCheck(False, str(exc))
    expected = (account.origin_base_url or "").rstrip("/") + "/"
    try:
        mapping = sdk.api.upload_mapping(account.folder, **sdk_options(account, timeout))
    except sdk.exceptions.NotFound:
        return MappingCheck(
            False,
            f"folder {account.folder!r} has no upload mapping: files never uploaded will 404 "
            f"(map it to {expected} or configure inventory.cloudinary)",
        )
    except Exception as exc:  # the API is unreachable or refuses the credentials
        return MappingCheck(False, f"the Admin API did not answer: {type(exc).__name__}: {exc}")
    template = str(mapping.get("template") or "")
    if template.rstrip("/") + "/" != expected:
        return MappingCheck(
            False,
            f"folder {account.folder!r} is mapped to {template!r}, not to {expected!r}",
        )
    return MappingCheck(True, f"folder {account.folder!r} auto-uploads from {template}")


def upload_mapping_report(config: Any, timeout: float = 10.0) -> MappingCheck | None:
    """For ``check``: the auto-upload mapping of a :class:`~rewriteproxy.config.Config`
    that relies on one (Cloudinary upload delivery without ``inventory.cloudinary``),
    when it has the credentials to ask; ``None`` when there is nothing to check."""
    account = config.delivery.settings
    if config.delivery.provider != "cloudinary" or not isinstance(account, CloudinaryConfig):
        return None
    if account.delivery_type != "upload" or config.inventory.cloudinary is not None:
        return None
    if not account.has_api_credentials:
        return None
    return check_upload_mapping(account, timeout)
