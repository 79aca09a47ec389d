"""What exists in the bucket: a background listing plus HEAD lookups for misses.

:class:`S3Inventory` lists ``bucket``/``prefix`` with boto3 (paginated
``list_objects_v2``) when it starts and every ``refresh_seconds``, and keeps
the result in memory as a compact :class:`~.listing.Listing`. A refresh that
fails keeps serving the last good listing (and retries after at most 30 s
while no listing has succeeded yet); until the next one succeeds the
inventory is ``stale`` and its stats say since when (``last_refresh``: the
listing served), what failed (``last_error``, ``last_error_at``) and how many
times in a row (``consecutive_failures``). With no listing at all, nothing is
known, so every upload keeps its local URL (unless ``on_missing: rewrite``).
Every boto3 call runs in a thread pool, never on the event loop; the listing
is built in the worker thread and swapped in with one assignment on the loop.

A key the listing does not hold (uploaded since the last refresh, say) may
trigger one ``HEAD`` in the background when ``lookup_on_miss`` is on; its
answer is cached for ``positive_ttl`` (found) or ``negative_ttl`` (missing, or
the HEAD failed), so a page view never waits on S3 and S3 sees at most one
HEAD per object per TTL. The page that caused the HEAD gets ``None`` (local
URL); later page views get the answer. No HEAD is sent before the first
listing completes (the listing will answer soon, and a cold start must not
send one HEAD per image on the first pages), nor ever when ``lookup_on_miss``
is off. Both caches are cleared by each successful refresh, which supersedes
them.

Limits: the listing thread holds the GIL while boto3 parses XML (about a
minute of CPU for a million keys), which slows the event loop during a
refresh; memory briefly doubles while a refresh replaces the listing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cachetools import TTLCache

from ..media import FileInfo
from .base import Inventory
from .config import S3InventoryConfig
from .listing import RESERVED, Listing, ListingBuilder, pack, page_entries, parse_etag, unpack
from .s3_report import ReportError, latest_report, read_report, report_entries
from .shared import SnapshotStore
from .snapshot import Snapshot, SnapshotError, write_snapshot

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

RETRY_FIRST_LISTING_SECONDS = 30.0
FOLLOW_SECONDS = 2.0  # how often a worker looks for a newer shared snapshot (one stat)
MANIFEST_KEY = RESERVED + "manifest"  # below the prefix: the snapshot `sync` publishes
MAX_PENDING_HEADS = 256  # HEADs in flight at once; more misses simply wait for a later view


class ListingCancelled(Exception):
    """The inventory was closed while a listing was running in its thread."""


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
            raise ListingCancelled
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
            raise ListingCancelled
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


class KeyTable(Protocol):
    """What lookups read: the in-memory :class:`Listing` or a mapped :class:`Snapshot`."""

    def get(self, key: str) -> FileInfo | None: ...

    def __len__(self) -> int: ...


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


class S3Inventory(Inventory):
    """The bucket's listing in memory, refreshed in the background; see the module docstring."""

    def __init__(
        self,
        config: S3InventoryConfig,
        executor: Executor | None = None,
        client: Any = None,
        store: SnapshotStore | None = None,
    ) -> None:
        self.config = config
        self._executor = executor
        self._own_executor = executor is None
        self._client = client
        self._store = store
        self._listing: KeyTable = Listing({}, {})
        self._snapshot: Snapshot | None = None  # the mapped shared snapshot, if served
        self._get: Callable[[str], FileInfo | None] = self._listing.get
        self._manifest_etag: str | None = None
        self._ordered = True  # S3 lists in key order; a store that does not is sorted instead
        self._retry_at = 0.0  # the leader's next attempt after a failed refresh (monotonic)
        self._served_from = "none"  # list, manifest or snapshot (mapped from the store)
        self._found: TTLCache[str, FileInfo] = _ttl_cache(config.cache_size, config.positive_ttl)
        self._missing: TTLCache[str, bool] = _ttl_cache(config.cache_size, config.negative_ttl)
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._closed = False
        self._stats: dict[str, Any] = {
            "refreshes": 0,
            "refresh_failures": 0,
            "last_refresh": None,
            "last_refresh_seconds": None,
            "last_refresh_pages": None,
            "last_error": None,
            "last_error_at": None,
            "consecutive_failures": 0,
            "head_lookups": 0,
            "head_errors": 0,
            "lists": 0,
            "manifest_gets": 0,
            "unchanged_refreshes": 0,  # the manifest answered 304: nothing to read
        }

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rewriteproxy-s3")
        if self._store is not None:
            try:
                self._store.prepare()
            except (OSError, SnapshotError) as exc:
                log.warning("no shared inventory snapshot, each worker lists: %s", exc)
                self._store = None
            else:
                self._follow()  # the last snapshot answers from the first request on
        self._task = asyncio.create_task(self._refresh_forever(), name="s3-inventory-refresh")
        if self.config.startup_wait_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_attempt.wait(), self.config.startup_wait_seconds)

    async def close(self) -> None:
        self._closed = True
        if self._store is not None:
            self._store.resign()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_executor and isinstance(self._executor, ThreadPoolExecutor):
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _refresh_forever(self) -> None:
        while True:
            if self._store is None:
                ok = await self.refresh()
                delay = self.config.refresh_seconds
                if not ok and not self._ready:
                    delay = min(delay, RETRY_FIRST_LISTING_SECONDS)
            else:
                await self._shared_round()
                delay = min(self.config.refresh_seconds, FOLLOW_SECONDS)
            await asyncio.sleep(delay)

    async def _shared_round(self) -> None:
        """Map a newer shared snapshot; if this process leads and one is due, refresh."""
        store = self._store
        assert store is not None
        self._follow()
        if not store.lead() or time.monotonic() < self._retry_at:
            return
        age = store.age()
        if age is not None and age < self.config.refresh_seconds and self._ready:
            return
        if not await self.refresh():
            delay = self.config.refresh_seconds
            if not self._ready:
                delay = min(delay, RETRY_FIRST_LISTING_SECONDS)
            self._retry_at = time.monotonic() + delay

    def _follow(self) -> None:
        """Map the store's snapshot if it is not the one served (one ``stat`` when it is)."""
        store = self._store
        assert store is not None
        if not store.changed(self._snapshot):
            return
        snapshot = store.load()
        if snapshot is not None:
            self._install(snapshot, "snapshot")
            self._stats["last_refresh"] = snapshot.created

    def _get_client(self) -> Any:
        if self._client is None:  # created in the worker thread: it takes a while
            self._client = make_client(self.config)
        return self._client

    def _list(self) -> Listing:
        return list_bucket(self._get_client(), self.config, cancelled=lambda: self._closed)

    def _fetch(self) -> tuple[KeyTable | None, str, int]:
        """A new table (``None``: the source is unchanged), how it was got, pages listed.

        Runs in a worker thread; with a store it writes the shared snapshot.
        """
        if self._store is None:
            listing = self._list()
            return listing, "list", listing.pages
        client = self._get_client()
        if self.config.manifest:
            self._stats["manifest_gets"] += 1
            got = fetch_manifest(client, self.config, self._store, self._manifest_etag)
            if got.unchanged:
                self._store.touch()
                return None, "manifest", 0
            if got.snapshot is not None:
                self._manifest_etag = got.etag
                return got.snapshot, "manifest", 0
        if self.config.report is not None:
            got_report = self._fetch_report(client)
            if got_report is not None:
                return got_report
        counter = PageCounter()
        entries = bucket_entries(client, self.config, lambda: self._closed, counter)
        try:
            snapshot = self._store.publish(entries, ordered=self._ordered)
        except ValueError:  # the store does not list in key order: sort, next time too
            self._ordered = False
            counter = PageCounter()
            entries = bucket_entries(client, self.config, lambda: self._closed, counter)
            snapshot = self._store.publish(entries, ordered=False)
        return snapshot, "list", counter.pages

    def _fetch_report(self, client: Any) -> tuple[KeyTable | None, str, int] | None:
        """The newest S3 Inventory report as a snapshot; ``None`` if S3 has written none yet."""
        assert self._store is not None and self.config.report is not None
        where = self.config.report.bucket or self.config.bucket
        key = latest_report(client, where, self.config.report.prefix)
        if key is None:
            return None
        report = read_report(client, where, key)
        if report.source_bucket != self.config.bucket:
            raise ReportError(f"{key} is a report of bucket {report.source_bucket!r}")
        current = self._snapshot
        if current is not None and current.header.get("report") == [key, report.created]:
            self._store.touch()
            return None, "report", 0
        entries = report_entries(client, where, report, self.config.prefix, lambda: self._closed)
        snapshot = self._store.publish(entries, meta={"report": [key, report.created]})
        return snapshot, "report", 0

    async def refresh(self) -> bool:
        """Ask the bucket once now; ``False`` (and the old answers kept) if that fails."""
        loop = asyncio.get_running_loop()
        started = time.time()
        try:
            table, how, pages = await loop.run_in_executor(self._executor, self._fetch)
        except ListingCancelled:
            return False
        except Exception as exc:  # any failure: keep serving the last good listing
            self._stats["refresh_failures"] += 1
            self._stats["consecutive_failures"] += 1
            self._stats["last_error"] = f"{type(exc).__name__}: {exc}"
            self._stats["last_error_at"] = time.time()
            log.warning(
                "listing s3://%s/%s failed, keeping %d known keys: %s",
                self.config.bucket,
                self.config.prefix,
                len(self._listing),
                exc,
            )
            return False
        finally:
            self._first_attempt.set()
        if how == "list":
            self._stats["lists"] += 1
        if table is not None:
            self._install(table, how)
        else:
            self._stats["unchanged_refreshes"] += 1
        self._stats["refreshes"] += 1
        self._stats["consecutive_failures"] = 0
        self._stats["last_refresh"] = time.time()
        self._stats["last_refresh_seconds"] = round(time.time() - started, 3)
        self._stats["last_refresh_pages"] = pages
        log.info(
            "%s s3://%s/%s: %d keys in %.1fs",
            {"list": "listed", "manifest": "read the manifest of"}.get(how, "read the report of"),
            self.config.bucket,
            self.config.prefix,
            len(self._listing),
            time.time() - started,
        )
        return True

    def _install(self, table: KeyTable, how: str) -> None:
        """Serve ``table`` from now on (on the loop: one assignment swaps it in)."""
        self._listing = table
        self._served_from = how
        self._snapshot = table if isinstance(table, Snapshot) else None
        # A bounded memo in front of the mapped file: pages ask for the same images again.
        self._get = (
            functools.lru_cache(maxsize=self.config.cache_size)(table.get)
            if self._snapshot is not None
            else table.get
        )
        self._found.clear()
        self._missing.clear()
        self._ready = True
        self._first_attempt.set()

    @property
    def stale(self) -> bool:
        if self._stats["consecutive_failures"]:
            return True
        if self._store is None or self._store.leading or not self._ready:
            return False
        # A worker that only maps: stale when the leader has not refreshed for too long.
        age = self._store.age()
        return age is not None and age > 2 * self.config.refresh_seconds + 60

    # -- the hot path --------------------------------------------------------

    def lookup(self, key: str) -> FileInfo | None:
        info = self._get(key)
        if info is not None:
            return info
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
            "source": "s3",
            "bucket": self.config.bucket,
            "prefix": self.config.prefix,
            "keys": len(self._listing),
            "ready": self._ready,
            "listing": _listing_state(self._ready, self.stale),
            **self._stats,
            "positive_cached": len(self._found),
            "negative_cached": len(self._missing),
            "heads_in_flight": len(self._pending),
            "served_from": self._served_from,
            "snapshot": self._snapshot_facts(),
        }

    def _snapshot_facts(self) -> dict[str, Any] | None:
        if self._store is None:
            return None
        snapshot = self._snapshot
        return {
            "path": str(self._store.path),
            "leader": self._store.leading,
            "bytes": snapshot.nbytes if snapshot is not None else None,
            "age_seconds": self._store.age(),
        }


def _listing_state(ready: bool, stale: bool) -> str:
    """``fresh`` (the last listing worked), ``stale`` (an older one is served) or ``none``."""
    if not ready:
        return "none"
    return "stale" if stale else "fresh"
