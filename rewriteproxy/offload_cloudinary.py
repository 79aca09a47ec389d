"""Offloading the uploads directory to Cloudinary: compare, then upload what it lacks.

The Cloudinary counterpart of :mod:`rewriteproxy.offload` (which it shares
the directory walk, the list of offloaded file types and the parallel upload
loop with). :func:`plan` lists the account the way the proxy's inventory does
(:func:`~rewriteproxy.inventory.cloudinary.list_resources`) and sorts every
local file:

- *derived*: a WordPress size (``photo-300x200.jpg``, ``photo-scaled.jpg``)
  that the URL builder delivers as a transformation of its master; it is
  never uploaded (with ``derive_originals: false`` there are none);
- *local*: a file this config keeps local (a PDF with ``other_files:
  local``), or one that is never offloaded (:func:`~rewriteproxy.offload.supported`);
- *clash*: a file whose public ID another file already takes (``photo.jpg``
  and ``photo.png`` are both ``photo``): the first in walk order is
  uploaded, the others are reported and stay local, because the inventory
  checks the format too;
- *synced*, *missing* or *changed*, for the rest.

Same content, without guessing: the sizes must be equal (``bytes``); when the
listing reports an ``etag`` it must be the local file's MD5; otherwise the
asset's ``version`` (its upload time) must not be older than the local
file's modification time, so a file replaced since its upload counts as
changed.

:func:`sync` uploads with the Upload API, ``public_id``, resource type and
format exactly as :meth:`~rewriteproxy.delivery.cloudinary.CloudinaryDelivery.stored_asset`
derives them (the URL builder's rule), ``overwrite`` on, in parallel threads,
files from ``large_file_bytes`` on in chunks (``upload_large``). An upload
whose answer names another format than expected is reported as failed: the
inventory would never find it under that format. Resumable by construction:
a new run plans again and skips what is there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .delivery.cloudinary import Asset, CloudinaryDelivery
from .delivery.versioning import VersioningConfig
from .inventory.cloudinary import (
    CloudinaryInventoryConfig,
    asset_key,
    list_resources,
    require_sdk,
    sdk_options,
)
from .media import FileInfo
from .offload import LocalFile, SyncResult, scan, supported, upload_all

__all__ = ["LARGE_FILE_BYTES", "CloudinaryPlan", "plan", "sync"]

LARGE_FILE_BYTES = 100 * 2**20  # the Upload API's limit for one request on most plans
CHUNK_BYTES = 20 * 2**20  # the SDK's default chunk size
UPLOAD_TIMEOUT = 600.0  # seconds per upload request


@dataclass
class CloudinaryPlan:
    synced: list[LocalFile] = field(default_factory=list)
    missing: list[LocalFile] = field(default_factory=list)
    changed: list[LocalFile] = field(default_factory=list)
    derived: list[LocalFile] = field(default_factory=list)
    local: list[LocalFile] = field(default_factory=list)
    clashes: list[tuple[LocalFile, str]] = field(
        default_factory=list
    )  # (file, the key it clashes with)
    assets: dict[str, Asset] = field(default_factory=dict)  # upload key -> where it goes

    @property
    def to_upload(self) -> list[LocalFile]:
        return self.missing + self.changed


def _same(local: LocalFile, remote: FileInfo) -> bool:
    if remote.size != local.size:
        return False
    if remote.etag:
        with local.path.open("rb") as handle:
            return hashlib.file_digest(handle, "md5").hexdigest() == remote.etag
    try:
        modified = local.path.stat().st_mtime
    except OSError:
        return False
    return remote.mtime is not None and int(modified) <= remote.mtime


def plan(config: CloudinaryInventoryConfig, root: Path) -> CloudinaryPlan:
    """Compare the uploads directory with the account (blocking: lists, and hashes when
    the listing has ETags)."""
    listing = list_resources(config).listing
    delivery = CloudinaryDelivery(config.account, VersioningConfig(), 0)
    result = CloudinaryPlan()
    taken: dict[str, str] = {}  # asset key -> the upload key that has it
    for local in scan(root):
        if not supported(local.key):
            result.local.append(local)
            continue
        if delivery.source_key(local.key) != local.key:
            result.derived.append(local)
            continue
        asset = delivery.stored_asset(local.key)
        if asset is None:
            result.local.append(local)
            continue
        key = asset_key(asset.resource_type, asset.public_id, "")  # the public ID alone
        if key in taken:
            result.clashes.append((local, taken[key]))
            continue
        taken[key] = local.key
        result.assets[local.key] = asset
        remote = listing.get(asset_key(*asset))
        if remote is None:
            result.missing.append(local)
        elif _same(local, remote):
            result.synced.append(local)
        else:
            result.changed.append(local)
    return result


def _upload(
    sdk: Any,
    config: CloudinaryInventoryConfig,
    local: LocalFile,
    asset: Asset,
    large_file_bytes: int,
    chunk_bytes: int,
) -> None:
    options = sdk_options(config.account, UPLOAD_TIMEOUT)
    options.update(
        public_id=asset.public_id,
        resource_type=asset.resource_type,
        type="upload",
        overwrite=True,
        unique_filename=False,
        use_filename=False,
        filename=local.path.name,  # the file's own name, never this machine's path
    )
    if local.size >= large_file_bytes:
        answer = sdk.uploader.upload_large(str(local.path), chunk_size=chunk_bytes, **options)
    else:
        answer = sdk.uploader.upload(str(local.path), **options)
    stored = asset_key(
        asset.resource_type, str(answer.get("public_id")), str(answer.get("format") or "")
    )
    if stored != asset_key(*asset):
        raise ValueError(
            f"Cloudinary stored it as {answer.get('public_id')!r} format "
            f"{answer.get('format')!r}; the proxy will keep its local URL"
        )


def sync(
    config: CloudinaryInventoryConfig,
    the_plan: CloudinaryPlan,
    files: Iterable[LocalFile],
    *,
    jobs: int = 4,
    large_file_bytes: int = LARGE_FILE_BYTES,
    chunk_bytes: int = CHUNK_BYTES,
    on_done: Callable[[LocalFile, str | None], None] | None = None,
) -> SyncResult:
    """Upload ``files`` (from ``the_plan``) with ``jobs`` threads; ``on_done(file, error)``
    after each one, as :func:`rewriteproxy.offload.upload_all`."""
    sdk = require_sdk()
    # The SDK shares one urllib3 pool of one connection per host, so parallel uploads
    # make urllib3 warn for every extra connection it closes; the uploads are unaffected.
    pool_log = logging.getLogger("urllib3.connectionpool")
    level = pool_log.level
    pool_log.setLevel(max(level, logging.ERROR))
    try:
        return upload_all(
            files,
            lambda local: _upload(
                sdk, config, local, the_plan.assets[local.key], large_file_bytes, chunk_bytes
            ),
            jobs=jobs,
            on_done=on_done,
        )
    finally:
        pool_log.setLevel(level)
