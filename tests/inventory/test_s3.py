"""The bucket as inventory, against a real S3 server (SeaweedFS on loopback).

Every behaviour the proxy relies on is shown here with real HTTP, real
signatures and real pagination: listing page by page, serving while a refresh
runs, keeping the last good listing when the server dies, seeing a replaced
object after a refresh, and HEAD lookups for misses with their TTL caches.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.inventory import S3Inventory, S3InventoryConfig
from rewriteproxy.inventory.s3 import list_bucket
from tests.support.s3server import S3Server, free_port, start_s3_server, weed_binary

pytestmark = pytest.mark.s3

PREFIX = "wp-content/uploads/"


def settings(server: S3Server, bucket: str, **overrides: Any) -> S3InventoryConfig:
    base = S3InventoryConfig(
        bucket=bucket,
        prefix=PREFIX,
        region=server.region,
        endpoint_url=server.endpoint_url,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
        page_size=7,
        lookup_on_miss=False,
        startup_wait_seconds=30,
        connect_timeout=1,
        read_timeout=5,
    )
    return base.model_copy(update=overrides)


def put(server: S3Server, bucket: str, key: str, body: bytes) -> str:
    """Upload one object below the prefix; its MD5 (the ETag S3 gives it)."""
    server.client().put_object(Bucket=bucket, Key=PREFIX + key, Body=body)
    return hashlib.md5(body).hexdigest()


async def until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    """Wait for background work (a HEAD, a refresh) to show its effect; fail after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never became true"
        await asyncio.sleep(0.02)


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
async def started() -> AsyncIterator[Callable[[S3InventoryConfig], Any]]:
    inventories: list[S3Inventory] = []

    async def start(config: S3InventoryConfig) -> S3Inventory:
        inventory = S3Inventory(config)
        inventories.append(inventory)
        await inventory.start()
        return inventory

    yield start
    for inventory in inventories:
        await inventory.close()


async def test_the_whole_prefix_is_listed_page_by_page(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    md5s = {
        f"2024/05/img-{i:02}.jpg": put(s3_server, bucket, f"2024/05/img-{i:02}.jpg", b"x" * (i + 1))
        for i in range(20)
    }
    s3_server.client().put_object(Bucket=bucket, Key="other/outside.jpg", Body=b"no")
    inventory = await started(settings(s3_server, bucket))
    assert inventory.ready
    stats = inventory.snapshot_stats()
    assert (stats["keys"], stats["last_refresh_pages"]) == (20, 3)  # 7 + 7 + 6
    for i, (key, md5) in enumerate(sorted(md5s.items())):
        info = inventory.lookup(key)
        assert info is not None
        assert (info.size, info.etag) == (i + 1, md5)
        assert info.mtime is not None and info.mtime > 1_600_000_000
    assert inventory.lookup("../other/outside.jpg") is None
    assert inventory.lookup("2024/05/img-99.jpg") is None


async def test_before_the_first_listing_nothing_is_known_and_nothing_fails(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    put(s3_server, bucket, "a.jpg", b"abc")
    inventory = await started(
        settings(s3_server, bucket, startup_wait_seconds=0, lookup_on_miss=True)
    )
    # start() returned without waiting: pages are served with local URLs meanwhile,
    # and no HEAD is sent for them.
    assert not inventory.ready
    assert inventory.lookup("a.jpg") is None
    assert inventory.snapshot_stats()["head_lookups"] == 0
    await until(lambda: inventory.ready)
    assert inventory.lookup("a.jpg") is not None


async def test_an_unreachable_bucket_at_start_gives_local_urls_not_errors(started: Any) -> None:
    dead = S3InventoryConfig(
        bucket="media",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
        access_key_id="k",
        secret_access_key="s",
        startup_wait_seconds=10,
        connect_timeout=0.5,
        read_timeout=1,
    )
    inventory = await started(dead)  # waits for the first attempt only, which fails
    assert not inventory.ready
    assert inventory.lookup("a.jpg") is None
    stats = inventory.snapshot_stats()
    assert stats["refresh_failures"] == 1 and "Connect" in stats["last_error"]
    assert inventory.stale and stats["listing"] == "none"


async def test_wrong_credentials_are_reported(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    config = settings(s3_server, bucket, secret_access_key="wrong")
    inventory = await started(config)
    assert not inventory.ready
    assert "SignatureDoesNotMatch" in inventory.snapshot_stats()["last_error"]


async def test_pages_are_served_from_the_old_listing_while_a_refresh_runs(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    for i in range(60):
        put(s3_server, bucket, f"old-{i}.jpg", b"old")
    inventory = await started(settings(s3_server, bucket, page_size=3))
    put(s3_server, bucket, "new.jpg", b"new")
    refresh = asyncio.create_task(inventory.refresh())
    answers = []
    while not refresh.done():  # the event loop keeps running: boto3 works in a thread
        answers.append(inventory.lookup("old-7.jpg"))
        await asyncio.sleep(0)
    assert await refresh
    assert len(answers) > 1 and None not in answers
    assert inventory.lookup("new.jpg") is not None


async def test_the_background_refresh_picks_up_new_objects(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    inventory = await started(settings(s3_server, bucket, refresh_seconds=1))
    assert inventory.lookup("later.jpg") is None
    put(s3_server, bucket, "later.jpg", b"later")
    await until(lambda: inventory.lookup("later.jpg") is not None)
    assert inventory.snapshot_stats()["refreshes"] >= 2


async def test_a_replaced_object_shows_its_new_version_after_a_refresh(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    first = put(s3_server, bucket, "2024/05/logo.png", b"version one")
    inventory = await started(settings(s3_server, bucket))
    before = inventory.lookup("2024/05/logo.png")
    assert before is not None and before.etag == first
    second = put(s3_server, bucket, "2024/05/logo.png", b"version two, longer")
    assert inventory.lookup("2024/05/logo.png") == before  # until the next listing
    assert await inventory.refresh()
    after = inventory.lookup("2024/05/logo.png")
    assert after is not None and (after.etag, after.size) == (second, 19)


async def test_a_miss_sends_one_head_and_later_views_get_its_answer(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    inventory = await started(settings(s3_server, bucket, lookup_on_miss=True))
    md5 = put(s3_server, bucket, "2024/06/fresh.jpg", b"uploaded after the listing")
    assert inventory.lookup("2024/06/fresh.jpg") is None  # this page view does not wait
    await until(lambda: inventory.snapshot_stats()["heads_in_flight"] == 0)
    info = inventory.lookup("2024/06/fresh.jpg")
    assert info is not None and (info.etag, info.size) == (md5, 26)
    for _ in range(5):
        inventory.lookup("2024/06/fresh.jpg")
    assert inventory.snapshot_stats()["head_lookups"] == 1


async def test_a_missing_object_is_asked_about_once_per_negative_ttl(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    inventory = await started(settings(s3_server, bucket, lookup_on_miss=True))
    assert inventory.lookup("nowhere.jpg") is None
    await until(lambda: inventory.snapshot_stats()["heads_in_flight"] == 0)
    for _ in range(5):
        assert inventory.lookup("nowhere.jpg") is None
    stats = inventory.snapshot_stats()
    assert (stats["head_lookups"], stats["negative_cached"]) == (1, 1)


async def test_with_lookup_on_miss_off_s3_is_never_asked_per_object(
    s3_server: S3Server, bucket: str, started: Any
) -> None:
    inventory = await started(settings(s3_server, bucket, lookup_on_miss=False))
    put(s3_server, bucket, "fresh.jpg", b"fresh")
    for _ in range(3):
        assert inventory.lookup("fresh.jpg") is None
        await asyncio.sleep(0.05)
    assert inventory.snapshot_stats()["head_lookups"] == 0


@pytest.mark.skipif(weed_binary() is None, reason="SeaweedFS (`weed`) is not installed")
async def test_when_the_server_dies_the_last_good_listing_keeps_serving(
    tmp_path: Path, started: Any
) -> None:
    with start_s3_server(tmp_path / "doomed") as doomed:
        bucket = doomed.new_bucket()
        md5 = put(doomed, bucket, "2024/05/kept.jpg", b"still here")
        inventory = await started(settings(doomed, bucket, lookup_on_miss=True))
        assert inventory.lookup("2024/05/kept.jpg") is not None
        doomed.kill()
        assert not await inventory.refresh()
        info = inventory.lookup("2024/05/kept.jpg")
        assert info is not None and info.etag == md5
        stats = inventory.snapshot_stats()
        assert stats["ready"] and stats["keys"] == 1 and stats["last_error"]
        # ...and says so: stale since the listing it serves, what failed, and how often.
        assert inventory.stale and stats["listing"] == "stale"
        assert stats["consecutive_failures"] == 1
        assert stats["last_error_at"] >= stats["last_refresh"]
        assert not await inventory.refresh()
        assert inventory.snapshot_stats()["consecutive_failures"] == 2
        # A miss while the server is down: the failed HEAD counts as "missing" for the TTL.
        assert inventory.lookup("2024/05/unknown.jpg") is None
        await until(lambda: inventory.snapshot_stats()["heads_in_flight"] == 0)
        assert inventory.snapshot_stats()["head_errors"] == 1


async def test_a_listing_that_works_again_ends_the_staleness(
    s3_server: S3Server, started: Any
) -> None:
    name = f"later-{uuid.uuid4().hex[:10]}"  # a bucket that does not exist yet
    inventory = await started(settings(s3_server, name, startup_wait_seconds=30))
    assert not inventory.ready and inventory.stale
    assert "NoSuchBucket" in inventory.snapshot_stats()["last_error"]
    s3_server.client().create_bucket(Bucket=name)
    put(s3_server, name, "a.jpg", b"abc")
    assert await inventory.refresh()
    stats = inventory.snapshot_stats()
    assert not inventory.stale and (stats["listing"], stats["consecutive_failures"]) == ("fresh", 0)
    assert stats["last_error"] is not None  # the history stays; "listing" says it is over
    assert inventory.lookup("a.jpg") is not None


def test_list_bucket_is_usable_without_an_event_loop(s3_server: S3Server, bucket: str) -> None:
    put(s3_server, bucket, "a.jpg", b"a")
    config = settings(s3_server, bucket)
    listing = list_bucket(s3_server.client(), config)
    assert list(listing) == ["a.jpg"]


def test_timestamps_of_listings_and_heads_parse_to_the_same_instant() -> None:
    from datetime import UTC, datetime

    from rewriteproxy.inventory.s3 import fast_timestamp

    expected = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
    assert fast_timestamp("2024-05-01T12:30:15.000Z") == expected  # ListObjectsV2
    assert fast_timestamp("Wed, 01 May 2024 12:30:15 GMT") == expected  # HEAD Last-Modified
    assert fast_timestamp("2024-05-01T12:30:15") == expected  # no zone: UTC, as botocore does
