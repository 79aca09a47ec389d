"""What exists in the bucket: fetched whole in the background, plus HEAD lookups for misses.

:class:`S3Inventory` learns what ``bucket``/``prefix`` holds when it starts and
every ``refresh_seconds`` (the loop, the shared snapshot and the stats are
:class:`~.refreshing.RefreshingInventory`'s). With the machine's snapshot
store (``inventory.snapshot_dir``), the worker that leads asks, in this
order: the manifest ``sync`` published (:func:`publish_manifest`; one
conditional GET, a 304 when unchanged), the newest S3 Inventory report when
``report`` is configured (:mod:`.s3_report`), or a listing (paginated
``list_objects_v2``) streamed straight into the snapshot. Without a store
every worker lists into a compact in-memory :class:`~.listing.Listing`: the
reference the snapshot is tested against. A refresh that fails keeps
serving the last good answers (and retries after at most 30 s while there
were none yet); until the next one succeeds the inventory is ``stale`` and
its stats say since when, what failed and how many times in a row. With no
answers at all, nothing is known, so every upload keeps its local URL
(unless ``on_missing: rewrite``). Every boto3 call runs in a thread pool,
never on the event loop.

A key the listing does not hold (uploaded since the last refresh, say) may
trigger one ``HEAD`` in the background when ``lookup_on_miss`` is on; its
answer is cached for ``positive_ttl`` (found) or ``negative_ttl`` (missing, or
the HEAD failed), so a page view never waits on S3 and S3 sees at most one
HEAD per object per TTL. The page that caused the HEAD gets ``None`` (local
URL); later page views get the answer. No HEAD is sent before the first
answers are in (they will come soon, and a cold start must not send one HEAD
per image on the first pages), nor ever when ``lookup_on_miss`` is off. Both
caches are cleared whenever new answers are served, which supersede them.

Limits: the fetching thread holds the GIL while boto3 parses XML (about a
minute of CPU for a million keys), which slows that worker's event loop
during a listing; the in-memory path briefly holds two listings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cachetools import TTLCache

from ..media import FileInfo
from .config import S3InventoryConfig
from .listing import RESERVED, Listing, ListingBuilder, pack, page_entries, parse_etag, unpack
from .refreshing import Fetched, RefreshingInventory, SourceCancelled
from .s3_report import ReportError, latest_report, read_report, report_entries
from .shared import SnapshotStore
from .snapshot import Snapshot, write_snapshot

__all__ = [
    "MANIFEST_KEY",
    "S3Inventory",
    "bucket_entries",
    "fast_timestamp",
    "fetch_manifest",
    "head_object",
    "list_bucket",
    "make_client",
    "publish_manifest",
    "s3_identity",
]

log = logging.getLogger("rewriteproxy.inventory.s3")

MANIFEST_KEY = RESERVED + "manifest"  # below the prefix: the snapshot `sync` publishes
MAX_PENDING_HEADS = 256  # HEADs in flight at once; more misses simply wait for a later view


def fast_timestamp(value: str) -> datetime:
    """botocore's timestamp parser, minus dateutil for the ISO 8601 form listings use.

    boto3 spends about two thirds of a listing's CPU in dateutil parsing each
    object's ``LastModified``; ``datetime.fromisoformat`` reads S3's
    ``2024-05-01T12:00:00.000Z`` directly. Anything else (the RFC 1123 dates
    of HEAD responses) goes to botocore's own parser.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        from botocore.utils import parse_timestamp  # type: ignore[import-untyped]

        return parse_timestamp(value)  # type: ignore[no-any-return]
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def make_client(config: S3InventoryConfig, *, max_pool_connections: int = 10) -> Any:
    """A boto3 S3 client for ``config``: explicit keys if given, else the usual AWS chain."""
    import boto3  # type: ignore[import-untyped]
    import botocore.session  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    core = botocore.session.get_session()  # one per client: sessions are not thread-safe
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=fast_timestamp
    )
    session = boto3.session.Session(botocore_session=core)
    return session.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=Config(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=max_pool_connections,
        ),
    )


def list_bucket(
    client: Any, config: S3InventoryConfig, cancelled: Callable[[], bool] | None = None
) -> Listing:
    """The whole prefix, page by page (blocking: call it in a thread).

    ``cancelled`` is an optional ``() -> bool`` checked between pages.
    """
    builder = ListingBuilder(config.prefix)
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=config.bucket,
        Prefix=config.prefix,
        PaginationConfig={"PageSize": config.page_size},
    )
    for page in pages:
        if cancelled is not None and cancelled():
            raise SourceCancelled
        builder.add_page(page)
    return builder.build()


class PageCounter:
    """How many ``list_objects_v2`` calls a streamed listing took."""

    def __init__(self) -> None:
        self.pages = 0


def bucket_entries(
    client: Any,
    config: S3InventoryConfig,
    cancelled: Callable[[], bool] | None = None,
    counter: PageCounter | None = None,
) -> Iterator[tuple[str, FileInfo]]:
    """The whole prefix as ``(key, facts)`` in S3's key order, page by page (blocking)."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=config.bucket,
        Prefix=config.prefix,
        PaginationConfig={"PageSize": config.page_size},
    )
    for page in pages:
        if cancelled is not None and cancelled():
            raise SourceCancelled
        if counter is not None:
            counter.pages += 1
        yield from page_entries(page, config.prefix)


def s3_identity(config: S3InventoryConfig) -> dict[str, str]:
    """What a snapshot of this bucket is of; the endpoint is left out (it may differ per host)."""
    return {"source": "s3", "bucket": config.bucket, "prefix": config.prefix}


def publish_manifest(client: Any, config: S3InventoryConfig) -> int:
    """List the prefix and upload it as the manifest proxies read (blocking); returns keys."""
    from .shared import fingerprint

    identity = s3_identity(config)
    header = {"fingerprint": fingerprint(identity), "identity": identity, "made_by": "sync"}
    with tempfile.TemporaryDirectory(prefix="rewriteproxy-manifest-") as workdir:
        path = os.path.join(workdir, "manifest")
        count = write_snapshot(path, bucket_entries(client, config), header, ordered=True)
        client.upload_file(
            path,
            config.bucket,
            config.bucket_key(MANIFEST_KEY),
            ExtraArgs={"ContentType": "application/octet-stream", "CacheControl": "no-cache"},
        )
    return count


@dataclass(frozen=True, slots=True)
class Manifest:
    """What asking for the manifest gave: a new snapshot, ``unchanged`` (304) or ``absent``."""

    snapshot: Snapshot | None = None
    etag: str | None = None
    unchanged: bool = False


def fetch_manifest(
    client: Any, config: S3InventoryConfig, store: SnapshotStore, etag: str | None
) -> Manifest:
    """One conditional GET of the manifest; a new one is checked whole and put in place."""
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    extra = {"IfNoneMatch": etag} if etag else {}
    try:
        response = client.get_object(
            Bucket=config.bucket, Key=config.bucket_key(MANIFEST_KEY), **extra
        )
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code")
        if status == 304 or code in ("304", "NotModified"):
            return Manifest(etag=etag, unchanged=True)
        if status == 404 or code in ("404", "NoSuchKey"):
            return Manifest()
        raise
    fd, name = tempfile.mkstemp(dir=store.directory, prefix=".manifest-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response["Body"].iter_chunks(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        snapshot = store.adopt(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    return Manifest(snapshot=snapshot, etag=response.get("ETag"))


def head_object(client: Any, config: S3InventoryConfig, key: str) -> FileInfo | None:
    """One object's facts, or ``None`` if it does not exist (blocking: call it in a thread)."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=config.bucket, Key=config.bucket_key(key))
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return None
        raise
    etag_text = head.get("ETag", "").strip('"')
    etag = parse_etag(etag_text)
    modified = head.get("LastModified")
    mtime = int(modified.timestamp()) if modified is not None else 0
    packed = pack(int(head.get("ContentLength", 0)), mtime, etag)
    return unpack(packed, None if etag is not None or not etag_text else etag_text)


def _ttl_cache(size: int, ttl: float) -> TTLCache[str, Any]:
    return TTLCache(maxsize=size, ttl=ttl)


class S3Inventory(RefreshingInventory):
    """The bucket, fetched whole in the background and answered from memory or the snapshot.

    See the module docstring; the refresh loop and the shared snapshot are
    :class:`~.refreshing.RefreshingInventory`'s.
    """

    source = "s3"

    def __init__(
        self,
        config: S3InventoryConfig,
        executor: Executor | None = None,
        client: Any = None,
        store: SnapshotStore | None = None,
    ) -> None:
        super().__init__(
            refresh_seconds=config.refresh_seconds,
            startup_wait_seconds=config.startup_wait_seconds,
            cache_size=config.cache_size,
            executor=executor,
            store=store,
        )
        self.config = config
        self._client = client
        self._manifest_etag: str | None = None
        self._ordered = True  # S3 lists in key order; a store that does not is sorted instead
        self._found: TTLCache[str, FileInfo] = _ttl_cache(config.cache_size, config.positive_ttl)
        self._missing: TTLCache[str, bool] = _ttl_cache(config.cache_size, config.negative_ttl)
        self._pending: set[str] = set()
        self._stats.update(head_lookups=0, head_errors=0, lists=0, manifest_gets=0)

    def describe(self) -> str:
        return f"s3://{self.config.bucket}/{self.config.prefix}"

    def _get_client(self) -> Any:
        if self._client is None:  # created in the worker thread: it takes a while
            self._client = make_client(self.config)
        return self._client

    # -- fetching (in a worker thread) --------------------------------------------

    def fetch(self) -> Fetched:
        """The sync manifest if there is one, else the newest report if configured, else a list.

        Without a store this is the in-memory reference: a :class:`Listing`.
        """
        client = self._get_client()
        if self.store is None:
            self._stats["lists"] += 1
            listing = list_bucket(client, self.config, cancelled=lambda: self.cancelled)
            return Fetched(listing, "list", listing.pages)
        if self.config.manifest:
            self._stats["manifest_gets"] += 1
            got = fetch_manifest(client, self.config, self.store, self._manifest_etag)
            if got.unchanged:
                return Fetched(None, "manifest")
            if got.snapshot is not None:
                self._manifest_etag = got.etag
                return Fetched(got.snapshot, "manifest")
        if self.config.report is not None:
            from_report = self._fetch_report(client)
            if from_report is not None:
                return from_report
        self._stats["lists"] += 1
        counter = PageCounter()
        entries = bucket_entries(client, self.config, lambda: self.cancelled, counter)
        try:
            snapshot = self.publish(entries, ordered=self._ordered)
        except ValueError:  # the store does not list in key order: sort, next time too
            self._ordered = False
            counter = PageCounter()
            entries = bucket_entries(client, self.config, lambda: self.cancelled, counter)
            snapshot = self.publish(entries, ordered=False)
        return Fetched(snapshot, "list", counter.pages)

    def _fetch_report(self, client: Any) -> Fetched | None:
        """The newest S3 Inventory report as a snapshot; ``None`` if S3 has written none yet."""
        assert self.config.report is not None
        where = self.config.report.bucket or self.config.bucket
        key = latest_report(client, where, self.config.report.prefix)
        if key is None:
            return None
        report = read_report(client, where, key)
        if report.source_bucket != self.config.bucket:
            raise ReportError(f"{key} is a report of bucket {report.source_bucket!r}")
        current = self.current_snapshot
        if current is not None and current.header.get("report") == [key, report.created]:
            return Fetched(None, "report")
        entries = report_entries(client, where, report, self.config.prefix, lambda: self.cancelled)
        return Fetched(self.publish(entries, meta={"report": [key, report.created]}), "report")

    # -- the hot path --------------------------------------------------------------

    def on_install(self) -> None:
        self._found.clear()
        self._missing.clear()

    def on_miss(self, key: str) -> FileInfo | None:
        info = self._found.get(key)
        if info is not None:
            return info
        if key in self._missing:
            return None
        if self.config.lookup_on_miss and self._ready:
            self._schedule_head(key)
        return None

    def _schedule_head(self, key: str) -> None:
        if key in self._pending or len(self._pending) >= MAX_PENDING_HEADS or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop (a script): no background work
            return
        self._pending.add(key)
        self._stats["head_lookups"] += 1
        future = loop.run_in_executor(self._executor, self._head, key)
        future.add_done_callback(lambda done: self._head_done(key, done))

    def _head(self, key: str) -> FileInfo | None:
        return head_object(self._get_client(), self.config, key)

    def _head_done(self, key: str, done: asyncio.Future[FileInfo | None]) -> None:
        # Runs on the event loop thread, so the caches are only ever touched there.
        self._pending.discard(key)
        if done.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            self._stats["head_errors"] += 1
            self._missing[key] = True  # unknown counts as missing until the TTL ends
            return
        info = done.result()
        if info is None:
            self._missing[key] = True
        else:
            self._found[key] = info

    def snapshot_stats(self) -> dict[str, Any]:
        return {
            **super().snapshot_stats(),
            "bucket": self.config.bucket,
            "prefix": self.config.prefix,
            "positive_cached": len(self._found),
            "negative_cached": len(self._missing),
            "heads_in_flight": len(self._pending),
        }
