"""Sources known by fetching them whole now and then, shared by the workers of a machine.

A bucket, a Cloudinary account or any other source that can say everything
it holds is known the same way: fetched whole in a background thread when
the proxy starts and every ``refresh_seconds``, answered from memory (or a
mapped file) between fetches. :class:`RefreshingInventory` is that common
part: the refresh loop, keeping the last good answers when a fetch fails,
the machine's shared snapshot (:mod:`.shared`: one worker fetches, the
others map), readiness, staleness and the stats health shows.

A source subclasses it and implements :meth:`~RefreshingInventory.fetch`,
which runs in a thread and returns a :class:`Fetched`: the new table (a
mapped :class:`~.snapshot.Snapshot`, or for the in-memory reference path a
:class:`~.listing.Listing`), ``None`` when the source says nothing changed,
and how it was got. A source that yields ``(key, FileInfo)`` pairs turns them
into a snapshot with :meth:`~RefreshingInventory.publish`, which writes the
shared file when there is a store (this worker leads) and a private one
otherwise; a fetch only ever runs in the leader. :meth:`lookup` answers from
the table; a source may override :meth:`on_miss` (S3 sends a ``HEAD``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ..media import FileInfo
from .base import Inventory
from .shared import SnapshotStore
from .snapshot import Snapshot, SnapshotError, open_snapshot, write_snapshot

__all__ = ["FOLLOW_SECONDS", "Fetched", "KeyTable", "RefreshingInventory", "SourceCancelled"]

log = logging.getLogger("rewriteproxy.inventory")

RETRY_FIRST_FETCH_SECONDS = 30.0
FOLLOW_SECONDS = 2.0  # how often a worker looks for a newer shared snapshot (one stat)


class SourceCancelled(Exception):
    """The inventory was closed while a fetch was running in its thread."""


class KeyTable(Protocol):
    """What lookups read: a mapped :class:`Snapshot` or the in-memory reference listing."""

    def get(self, key: str) -> FileInfo | None: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one fetch gave: a new table, or ``None`` when the source is unchanged."""

    table: KeyTable | None
    how: str  # "list", "manifest", "report"...: shown as ``served_from``
    pages: int = 0  # requests it took, where the source counts them


class _Empty:
    def get(self, key: str) -> FileInfo | None:
        return None

    def __len__(self) -> int:
        return 0


class RefreshingInventory(Inventory):
    """The common part of whole-source inventories; see the module docstring."""

    source = "inventory"  # the name in stats and logs

    def __init__(
        self,
        *,
        refresh_seconds: float,
        startup_wait_seconds: float = 0.0,
        cache_size: int = 100_000,
        executor: Executor | None = None,
        store: SnapshotStore | None = None,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.startup_wait_seconds = startup_wait_seconds
        self.cache_size = cache_size
        self._executor = executor
        self._own_executor = executor is None
        self._store = store
        self._table: KeyTable = _Empty()
        self._snapshot: Snapshot | None = None  # the table, when it is a mapped snapshot
        self._get: Callable[[str], FileInfo | None] = self._table.get
        self._served_from = "none"
        self._retry_at = 0.0  # the leader's next attempt after a failed fetch (monotonic)
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._closed = False
        self._stats: dict[str, Any] = {
            "refreshes": 0,
            "refresh_failures": 0,
            "unchanged_refreshes": 0,  # the source said nothing changed: nothing was read
            "last_refresh": None,
            "last_refresh_seconds": None,
            "last_refresh_pages": None,
            "last_error": None,
            "last_error_at": None,
            "consecutive_failures": 0,
        }

    # -- what a source provides ------------------------------------------------

    def describe(self) -> str:
        """The source in log lines (``s3://bucket/prefix``)."""
        return self.source

    def fetch(self) -> Fetched:  # pragma: no cover - every source overrides it
        """Everything the source holds now (blocking: runs in a thread). Sources override it."""
        raise NotImplementedError

    def on_miss(self, key: str) -> FileInfo | None:
        """The answer for a key the table lacks; by default: not known to exist."""
        return None

    def on_install(self) -> None:
        """A new table is served: answers remembered beside the old one are superseded."""

    @property
    def cancelled(self) -> bool:
        """True once closed; a long fetch checks it between requests."""
        return self._closed

    def publish(
        self,
        entries: Iterable[tuple[str, FileInfo]],
        *,
        ordered: bool = False,
        meta: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """``entries`` as a snapshot: the machine's shared one, or this worker's own (blocking)."""
        if self._store is not None:
            return self._store.publish(entries, ordered=ordered, meta=meta)
        fd, name = tempfile.mkstemp(prefix="rewriteproxy-inventory-")
        os.close(fd)
        try:
            write_snapshot(name, entries, dict(meta or {}), ordered=ordered)
            return open_snapshot(name)  # the mapping outlives the name
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def store(self) -> SnapshotStore | None:
        return self._store

    async def start(self) -> None:
        if self._task is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=4, thread_name_prefix=f"rewriteproxy-{self.source}"
            )
        if self._store is not None:
            try:
                self._store.prepare()
            except (OSError, SnapshotError) as exc:
                log.warning("no shared inventory snapshot, each worker fetches: %s", exc)
                self._store = None
            else:
                self._follow()  # the last snapshot answers from the first request on
        self._task = asyncio.create_task(
            self._refresh_forever(), name=f"{self.source}-inventory-refresh"
        )
        if self.startup_wait_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_attempt.wait(), self.startup_wait_seconds)

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

    def _retry_delay(self) -> float:
        delay = self.refresh_seconds
        return delay if self._ready else min(delay, RETRY_FIRST_FETCH_SECONDS)

    async def _refresh_forever(self) -> None:
        while True:
            if self._store is None:
                ok = await self.refresh()
                delay = self.refresh_seconds if ok else self._retry_delay()
            else:
                await self._shared_round()
                delay = min(self.refresh_seconds, FOLLOW_SECONDS)
            await asyncio.sleep(delay)

    async def _shared_round(self) -> None:
        """Map a newer shared snapshot; if this process leads and a fetch is due, fetch."""
        store = self._store
        assert store is not None
        self._follow()
        if not store.lead() or time.monotonic() < self._retry_at:
            return
        age = store.age()
        if age is not None and age < self.refresh_seconds and self._ready:
            return
        if not await self.refresh():
            self._retry_at = time.monotonic() + self._retry_delay()

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

    async def refresh(self) -> bool:
        """Fetch the source once now; ``False`` (and the old answers kept) if that fails."""
        loop = asyncio.get_running_loop()
        started = time.time()
        try:
            fetched = await loop.run_in_executor(self._executor, self.fetch)
        except SourceCancelled:
            return False
        except Exception as exc:  # any failure: keep serving the last good answers
            self._stats["refresh_failures"] += 1
            self._stats["consecutive_failures"] += 1
            self._stats["last_error"] = f"{type(exc).__name__}: {exc}"
            self._stats["last_error_at"] = time.time()
            log.warning(
                "fetching %s failed, keeping %d known keys: %s",
                self.describe(),
                len(self._table),
                exc,
            )
            return False
        finally:
            self._first_attempt.set()
        if fetched.table is not None:
            self._install(fetched.table, fetched.how)
        else:
            self._stats["unchanged_refreshes"] += 1
            if self._store is not None:
                self._store.touch()
        self._stats["refreshes"] += 1
        self._stats["consecutive_failures"] = 0
        self._stats["last_refresh"] = time.time()
        self._stats["last_refresh_seconds"] = round(time.time() - started, 3)
        self._stats["last_refresh_pages"] = fetched.pages
        log.info(
            "%s %s: %d keys in %.1fs (%s)",
            "fetched" if fetched.table is not None else "unchanged:",
            self.describe(),
            len(self._table),
            time.time() - started,
            fetched.how,
        )
        return True

    def _install(self, table: KeyTable, how: str) -> None:
        """Serve ``table`` from now on (on the loop: one assignment swaps it in)."""
        self._table = table
        self._served_from = how
        self._snapshot = table if isinstance(table, Snapshot) else None
        # A bounded memo in front of a mapped file: pages ask for the same images again.
        self._get = (
            functools.lru_cache(maxsize=self.cache_size)(table.get)
            if self._snapshot is not None
            else table.get
        )
        self.on_install()
        self._ready = True
        self._first_attempt.set()

    # -- answers -------------------------------------------------------------------

    @property
    def current_snapshot(self) -> Snapshot | None:
        """The mapped snapshot served now, if any (a fetch may compare against its header)."""
        return self._snapshot

    def lookup(self, key: str) -> FileInfo | None:
        info = self._get(key)
        return info if info is not None else self.on_miss(key)

    @property
    def stale(self) -> bool:
        if self._stats["consecutive_failures"]:
            return True
        if self._store is None or self._store.leading or not self._ready:
            return False
        # A worker that only maps: stale when the leader has not refreshed for too long.
        age = self._store.age()
        return age is not None and age > 2 * self.refresh_seconds + 60

    def snapshot_stats(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "keys": len(self._table),
            "ready": self._ready,
            "listing": _listing_state(self._ready, self.stale),
            **self._stats,
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
    """``fresh`` (the last refresh worked), ``stale`` (older answers are served) or ``none``."""
    if not ready:
        return "none"
    return "stale" if stale else "fresh"
