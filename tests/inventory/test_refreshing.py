"""The contract every whole-source inventory (S3, Cloudinary...) is built on.

A source here is a plain dict behind :class:`RefreshingInventory`: what it
holds is what ``fetch`` publishes. That is the whole of what a new source
writes; refreshing, sharing the snapshot between workers, keeping old
answers on failure and the stats come with the base class.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.inventory.refreshing import Fetched, RefreshingInventory
from rewriteproxy.inventory.shared import SnapshotStore
from rewriteproxy.media import FileInfo


class DictSource(RefreshingInventory):
    """Holds ``objects``; ``fail`` makes the next fetch raise, ``same`` report no change."""

    source = "dict"

    def __init__(self, objects: dict[str, FileInfo], store: SnapshotStore | None) -> None:
        super().__init__(refresh_seconds=3600, startup_wait_seconds=5, store=store)
        self.objects = objects
        self.fail = False
        self.same = False
        self.fetches = 0

    def fetch(self) -> Fetched:
        self.fetches += 1
        if self.fail:
            raise ConnectionError("the source is down")
        if self.same:
            return Fetched(None, "dict")
        # In no particular order, as an API's pages come: publish sorts.
        return Fetched(self.publish(reversed(list(self.objects.items()))), "dict")


Make = Callable[..., Any]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Make]:
    made: list[DictSource] = []

    async def build(objects: dict[str, FileInfo], shared: bool = True) -> DictSource:
        store = SnapshotStore(tmp_path, {"source": "dict", "name": "test"}) if shared else None
        inventory = DictSource(objects, store)
        made.append(inventory)
        await inventory.start()
        return inventory

    yield build
    for inventory in made:
        await inventory.close()


OBJECTS = {
    "2024/05/b.jpg": FileInfo(size=2, mtime=1.7e9, etag="e2"),
    "2024/05/a.jpg": FileInfo(size=1, mtime=1.7e9),
}


@pytest.mark.parametrize("shared", [True, False])
async def test_what_the_source_holds_is_what_lookups_answer(make: Make, shared: bool) -> None:
    inventory = await make(dict(OBJECTS), shared=shared)
    assert inventory.ready and inventory.snapshot_stats()["keys"] == 2
    assert inventory.lookup("2024/05/a.jpg") == FileInfo(size=1, mtime=1.7e9)
    b = inventory.lookup("2024/05/b.jpg")
    assert b is not None and b.size == 2 and b.etag_token is not None
    assert inventory.lookup("2024/05/c.jpg") is None


async def test_only_the_leader_fetches_and_the_others_map(make: Make) -> None:
    leader = await make(dict(OBJECTS))
    follower = await make({})  # would publish nothing if it ever fetched
    assert (leader.fetches, follower.fetches) == (1, 0)
    assert follower.lookup("2024/05/a.jpg") == FileInfo(size=1, mtime=1.7e9)
    assert follower.snapshot_stats()["served_from"] == "snapshot"


async def test_a_failed_fetch_keeps_the_answers_and_says_so(make: Make) -> None:
    inventory = await make(dict(OBJECTS))
    inventory.fail = True
    assert not await inventory.refresh()
    assert inventory.stale and "the source is down" in inventory.snapshot_stats()["last_error"]
    assert inventory.lookup("2024/05/a.jpg") is not None
    inventory.fail = False
    inventory.objects["2024/06/new.jpg"] = FileInfo(size=3)
    assert await inventory.refresh()
    assert not inventory.stale and inventory.lookup("2024/06/new.jpg") == FileInfo(size=3)


async def test_an_unchanged_source_is_not_read_again(make: Make) -> None:
    inventory = await make(dict(OBJECTS))
    inventory.same = True
    assert await inventory.refresh()
    stats = inventory.snapshot_stats()
    assert (stats["unchanged_refreshes"], stats["keys"]) == (1, 2)
