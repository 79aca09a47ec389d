"""The bucket through the machine's shared snapshot, against a real S3 server (SeaweedFS).

Several inventories with one ``snapshot_dir`` stand for the workers of one
machine (the lock is per open file, so they exclude each other as processes
do; ``tests/inventory/test_workers.py`` runs real forked workers). Shown
here: one lists and the others map its snapshot; a restart answers from the
last snapshot before any request to S3; ``sync``'s manifest replaces the
listing with one GET, and an unchanged manifest costs a 304.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.delivery.versioning import version_token
from rewriteproxy.inventory import S3Inventory, S3InventoryConfig
from rewriteproxy.inventory.s3 import MANIFEST_KEY, publish_manifest, s3_identity
from rewriteproxy.inventory.shared import SnapshotStore
from rewriteproxy.media import FileInfo
from tests.inventory.test_s3 import PREFIX, put, settings, until
from tests.support.s3server import S3Server, free_port

pytestmark = pytest.mark.s3


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket("shared")


Start = Callable[..., Any]


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[Start]:
    inventories: list[S3Inventory] = []

    async def start(config: S3InventoryConfig, directory: Path | None = None) -> S3Inventory:
        store = SnapshotStore(directory or tmp_path / "state", s3_identity(config))
        inventory = S3Inventory(config, store=store)
        inventories.append(inventory)
        await inventory.start()
        return inventory

    yield start
    for inventory in inventories:
        await inventory.close()


def fill(server: S3Server, bucket: str, count: int) -> dict[str, str]:
    return {
        f"2024/05/p{i:03}.jpg": put(server, bucket, f"2024/05/p{i:03}.jpg", b"jpeg%d" % i)
        for i in range(count)
    }


async def test_one_inventory_lists_and_the_others_map_its_snapshot(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    md5s = fill(s3_server, bucket, 30)
    config = settings(s3_server, bucket, manifest=False)
    leader = await started(config)
    followers = [await started(config) for _ in range(2)]
    for follower in followers:
        await until(lambda f=follower: f.ready)  # type: ignore[misc]
    every = [leader, *followers]
    assert sum(i.snapshot_stats()["lists"] for i in every) == 1
    assert [i.snapshot_stats()["snapshot"]["leader"] for i in every] == [True, False, False]
    for key, md5 in md5s.items():
        answers = {version_token(i.lookup(key)) for i in every}
        assert answers == {version_token(FileInfo(etag=md5))}
    assert followers[0].snapshot_stats()["served_from"] == "snapshot"


async def test_a_refresh_by_the_leader_reaches_every_worker(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    fill(s3_server, bucket, 3)
    config = settings(s3_server, bucket, manifest=False, refresh_seconds=1)
    leader = await started(config)
    follower = await started(config)
    await until(lambda: follower.ready)
    assert follower.lookup("2024/06/new.jpg") is None
    md5 = put(s3_server, bucket, "2024/06/new.jpg", b"new")
    await until(lambda: follower.lookup("2024/06/new.jpg") is not None)
    assert version_token(follower.lookup("2024/06/new.jpg")) == version_token(FileInfo(etag=md5))
    assert follower.snapshot_stats()["lists"] == 0 and leader.snapshot_stats()["lists"] >= 2


async def test_the_same_answers_as_the_in_memory_listing(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    fill(s3_server, bucket, 25)
    config = settings(s3_server, bucket, manifest=False)
    shared = await started(config)
    memory = S3Inventory(config)  # the reference: no store
    await memory.start()
    try:
        for i in range(27):
            key = f"2024/05/p{i:03}.jpg"
            a, b = shared.lookup(key), memory.lookup(key)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert (a.size, a.mtime, version_token(a)) == (b.size, b.mtime, version_token(b))
    finally:
        await memory.close()


async def test_a_restart_answers_from_the_last_snapshot_before_asking_s3(
    s3_server: S3Server, bucket: str, started: Start, tmp_path: Path
) -> None:
    md5s = fill(s3_server, bucket, 5)
    first = await started(settings(s3_server, bucket, manifest=False))
    assert first.ready
    await first.close()
    # The same bucket and prefix through an endpoint that does not answer: whatever is
    # known at once comes from the snapshot on disk.
    dead = settings(
        s3_server,
        bucket,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        startup_wait_seconds=0,
        connect_timeout=0.2,
    )
    again = await started(dead)
    assert again.ready
    assert version_token(again.lookup("2024/05/p003.jpg")) == version_token(
        FileInfo(etag=md5s["2024/05/p003.jpg"])
    )
    assert again.snapshot_stats()["served_from"] == "snapshot"


async def test_a_snapshot_of_another_prefix_is_not_used(
    s3_server: S3Server, bucket: str, started: Start, tmp_path: Path
) -> None:
    fill(s3_server, bucket, 2)
    await (await started(settings(s3_server, bucket, manifest=False))).close()
    other = settings(s3_server, bucket, prefix="elsewhere/", startup_wait_seconds=0)
    inventory = await started(other)
    assert inventory.lookup("2024/05/p001.jpg") is None


async def test_the_manifest_sync_publishes_replaces_the_listing_with_one_get(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    md5s = fill(s3_server, bucket, 12)
    config = settings(s3_server, bucket, manifest=True)
    assert publish_manifest(s3_server.client(), config) == 12
    inventory = await started(config)
    stats = inventory.snapshot_stats()
    assert (stats["lists"], stats["manifest_gets"], stats["served_from"]) == (0, 1, "manifest")
    for key, md5 in md5s.items():
        assert version_token(inventory.lookup(key)) == version_token(FileInfo(etag=md5))
    assert inventory.lookup(MANIFEST_KEY) is None  # the proxy's own object is no upload
    # Unchanged: the next refresh is a conditional GET answered 304.
    assert await inventory.refresh()
    stats = inventory.snapshot_stats()
    assert (stats["lists"], stats["manifest_gets"], stats["keys"]) == (0, 2, 12)
    assert stats["unchanged_refreshes"] == 1
    # Published again after a change: the next refresh brings it.
    new = put(s3_server, bucket, "2024/07/new.jpg", b"new upload")
    publish_manifest(s3_server.client(), config)
    assert await inventory.refresh()
    assert version_token(inventory.lookup("2024/07/new.jpg")) == version_token(FileInfo(etag=new))
    assert inventory.snapshot_stats()["lists"] == 0


async def test_without_a_manifest_the_bucket_is_listed(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    fill(s3_server, bucket, 2)
    inventory = await started(settings(s3_server, bucket, manifest=True))
    stats = inventory.snapshot_stats()
    assert (stats["lists"], stats["manifest_gets"], stats["keys"]) == (1, 1, 2)


async def test_by_default_the_manifest_is_not_read_and_the_bucket_is_listed(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    # A deletion by anything but sync would otherwise stay linked until the next sync.
    fill(s3_server, bucket, 2)
    publish_manifest(s3_server.client(), settings(s3_server, bucket))
    inventory = await started(settings(s3_server, bucket))
    stats = inventory.snapshot_stats()
    assert (stats["lists"], stats["manifest_gets"], stats["keys"]) == (1, 0, 2)


async def test_a_manifest_of_another_prefix_is_refused_and_reported(
    s3_server: S3Server, bucket: str, started: Start
) -> None:
    fill(s3_server, bucket, 2)
    other = settings(s3_server, bucket, prefix="")
    publish_manifest(s3_server.client(), other)
    client = s3_server.client()
    body = client.get_object(Bucket=bucket, Key=MANIFEST_KEY)["Body"].read()
    client.put_object(Bucket=bucket, Key=PREFIX + MANIFEST_KEY, Body=body)
    inventory = await started(settings(s3_server, bucket, manifest=True, startup_wait_seconds=5))
    assert not inventory.ready
    assert "another bucket or prefix" in inventory.snapshot_stats()["last_error"]
