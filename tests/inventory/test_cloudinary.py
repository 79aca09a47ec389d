"""The Cloudinary account as inventory, through the official SDK.

The SDK talks real HTTP to a local stand-in for Cloudinary's Admin and Upload
APIs (:mod:`tests.support.cloudinaryserver`): Cloudinary is a hosted service
and these tests have no network, so the stand-in serves the documented
request and response shapes instead. Shown here: the listing page by page
(``max_results``, ``next_cursor``) per resource type below the folder, versions
and sizes as the assets report them, lookups that name the asset exactly as the
URL builder does, a failed refresh that keeps the last good listing and is
counted, the config's checks, and the auto-upload mapping check.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.config import load_config, parse_config
from rewriteproxy.delivery.cloudinary import CloudinaryConfig
from rewriteproxy.inventory import build_inventory
from rewriteproxy.inventory.cloudinary import (
    CloudinaryInventory,
    CloudinaryInventoryConfig,
    check_upload_mapping,
    list_resources,
    upload_mapping_report,
)
from rewriteproxy.media import FileInfo
from rewriteproxy.settings import ConfigError
from tests.support.cloudinaryserver import CloudinaryStandIn, threaded_stand_in


@pytest.fixture
def stand_in() -> Iterator[CloudinaryStandIn]:
    with threaded_stand_in() as server:
        yield server


def account(stand_in: CloudinaryStandIn, **overrides: Any) -> CloudinaryConfig:
    base = CloudinaryConfig(
        cloud_name=stand_in.cloud_name,
        folder="wp",
        api_key=stand_in.api_key,
        api_secret=stand_in.api_secret,
        api_base_url=stand_in.base_url,
        origin_base_url="https://wp.test/wp-content/uploads/",
    )
    return base.model_copy(update=overrides)


def settings(stand_in: CloudinaryStandIn, **overrides: Any) -> CloudinaryInventoryConfig:
    config = CloudinaryInventoryConfig(
        account=account(stand_in, **overrides.pop("account", {})),
        page_size=2,
        timeout=5,
        startup_wait_seconds=10,
    )
    # Unvalidated: the tests' refreshes are faster than the config allows.
    return config.model_copy(update=overrides)


@pytest.fixture
async def started() -> AsyncIterator[Callable[[CloudinaryInventoryConfig], Any]]:
    inventories: list[CloudinaryInventory] = []

    async def start(config: CloudinaryInventoryConfig) -> CloudinaryInventory:
        inventory = CloudinaryInventory(config)
        inventories.append(inventory)
        await inventory.start()
        return inventory

    yield start
    for inventory in inventories:
        await inventory.close()


def test_the_listing_follows_next_cursor_through_every_resource_type(
    stand_in: CloudinaryStandIn,
) -> None:
    for i in range(5):
        stand_in.put("image", f"wp/2024/05/photo-{i}", "jpg", b"x" * (i + 1))
    stand_in.put("video", "wp/2024/05/clip", "mp4", b"video")
    stand_in.put("video", "wp/2024/05/song", "mp3", b"audio")
    stand_in.put("raw", "wp/docs/report.pdf", "", b"%PDF")
    stand_in.put("image", "elsewhere/photo-0", "jpg", b"not ours")

    run = list_resources(settings(stand_in))
    assert run.listing.pages == 3 + 1  # five images two at a time, two videos in one page
    assert sorted(run.listing) == sorted(
        [f"image:wp/2024/05/photo-{i}.jpg" for i in range(5)]
        + ["video:wp/2024/05/clip.mp4", "video:wp/2024/05/song.mp3"]
    )
    pages = stand_in.calls("GET", "/resources/image/upload")
    assert [p.get("max_results") for p in pages] == ["2", "2", "2"]
    assert all(p["prefix"] == "wp/" for p in pages)
    assert "next_cursor" not in pages[0] and all("next_cursor" in p for p in pages[1:])
    assert run.rate_limit_remaining == stand_in.rate_limit - 1
    # Raw files are listed only when the builder delivers them.
    raw = list_resources(settings(stand_in, account={"other_files": "raw"}))
    assert "raw:wp/docs/report.pdf" in raw.listing


async def test_lookups_name_the_asset_the_url_builder_names(
    stand_in: CloudinaryStandIn, started: Any
) -> None:
    photo = stand_in.put("image", "wp/2024/05/photo", "jpg", b"jpeg bytes")
    stand_in.put("image", "wp/2024/05/photo.jpg", "webp", b"a converter's webp")
    stand_in.put("image", "wp/2024/05/scan", "jpg", b"from scan.jpeg")
    stand_in.put("video", "wp/2024/05/song", "mp3", b"audio")
    inventory = await started(settings(stand_in))
    assert inventory.ready and not inventory.stale

    info = inventory.lookup("2024/05/photo.jpg")
    assert info == FileInfo(size=len(b"jpeg bytes"), mtime=float(photo.version), etag=None)
    assert inventory.lookup("2024/05/photo.jpg.webp") is not None  # its own asset
    assert inventory.lookup("2024/05/scan.jpeg") is not None  # Cloudinary says jpg
    assert inventory.lookup("2024/05/song.mp3") is not None
    # Not uploaded, another format under the same public ID, or kept local by the config.
    assert inventory.lookup("2024/05/other.jpg") is None
    assert inventory.lookup("2024/05/photo.png") is None
    assert inventory.lookup("2024/05/report.pdf") is None
    # A size is never looked up itself: the proxy asks about its master (see test_rewriting).
    assert inventory.lookup("2024/05/photo-300x200.jpg") is None
    stats = inventory.snapshot_stats()
    assert stats["source"] == "cloudinary" and stats["keys"] == 4 and stats["listing"] == "fresh"


async def test_a_failed_refresh_keeps_the_last_listing_and_is_counted(
    stand_in: CloudinaryStandIn, started: Any
) -> None:
    stand_in.put("image", "wp/a", "jpg", b"a")
    inventory = await started(settings(stand_in))
    assert inventory.lookup("a.jpg") is not None

    stand_in.failing = True
    assert await inventory.refresh() is False
    assert await inventory.refresh() is False
    assert inventory.stale and inventory.lookup("a.jpg") is not None
    stats = inventory.snapshot_stats()
    assert stats["listing"] == "stale"
    assert stats["consecutive_failures"] == 2 and stats["refresh_failures"] == 2
    assert "500" in stats["last_error"]

    stand_in.failing = False
    stand_in.put("image", "wp/b", "jpg", b"b")
    assert await inventory.refresh() is True
    assert not inventory.stale and inventory.lookup("b.jpg") is not None


async def test_the_listing_is_refreshed_in_the_background(
    stand_in: CloudinaryStandIn, started: Any
) -> None:
    inventory = await started(settings(stand_in, refresh_seconds=0.05))
    assert inventory.lookup("late.jpg") is None
    stand_in.put("image", "wp/late", "jpg", b"uploaded since")
    for _ in range(200):
        if inventory.lookup("late.jpg") is not None:
            break
        await asyncio.sleep(0.02)
    assert inventory.lookup("late.jpg") is not None


async def test_wrong_credentials_leave_nothing_known(
    stand_in: CloudinaryStandIn, started: Any
) -> None:
    stand_in.put("image", "wp/a", "jpg", b"a")
    inventory = await started(settings(stand_in, account={"api_secret": "wrong"}))
    assert not inventory.ready and inventory.lookup("a.jpg") is None
    assert "401" in inventory.snapshot_stats()["last_error"]


# -- configuration ---------------------------------------------------------------


def config_text(delivery: str, inventory: str = "cloudinary: {refresh_seconds: 60}") -> str:
    return f"""
upstream: http://127.0.0.1:9
site: {{hosts: [wp.test]}}
delivery:
  provider: cloudinary
  cloudinary: {{cloud_name: demo, folder: wp, {delivery}}}
inventory: {{{inventory}}}
"""


KEYS = "api_key: '${K}', api_secret: '${S}'"
ENV = {"K": "KEY123", "S": "TOPSECRET"}


def test_the_inventory_lists_the_delivery_account() -> None:
    config = parse_config(config_text(KEYS + ", api_base_url: 'http://api.test/'"), environ=ENV)
    source = config.inventory.cloudinary
    assert isinstance(source, CloudinaryInventoryConfig)
    assert source.refresh_seconds == 60 and source.page_size == 500
    assert source.account is config.delivery.settings
    assert source.account.api_base_url == "http://api.test"
    assert "TOPSECRET" not in repr(config) and "KEY123" not in repr(config)
    assert isinstance(build_inventory(config.inventory), CloudinaryInventory)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (config_text(""), r"inventory\.cloudinary.*needs delivery\.cloudinary\.api_key"),
        (
            config_text(KEYS + ", delivery_type: fetch"),
            r"inventory\.cloudinary.*delivery_type upload",
        ),
        (
            config_text(KEYS).replace("provider: cloudinary", "provider: none"),
            r"inventory\.cloudinary.*needs delivery\.provider cloudinary",
        ),
        (
            config_text(KEYS, "cloudinary: {}, s3: {bucket: b}"),
            r"inventory\.cloudinary.*cannot be combined with inventory\.s3",
        ),
        (config_text(KEYS, "cloudinary: {page_size: 501}"), r"page_size"),
        (config_text(KEYS, "cloudinary: {every: 5}"), r"inventory\.cloudinary\.every.*unknown key"),
    ],
)
def test_config_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text, environ=ENV)


def test_without_the_sdk_the_config_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m == "cloudinary" or m.startswith("cloudinary.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cloudinary", None)  # import cloudinary now fails
    with pytest.raises(ConfigError, match=r"inventory\.cloudinary.*rewriteproxy\[cloudinary\]"):
        parse_config(config_text(KEYS), environ=ENV)
    # URLs need no SDK: without the inventory the same delivery loads.
    parse_config(config_text(KEYS, ""), environ=ENV)


# -- the auto-upload mapping, for check ----------------------------------------------


def test_the_upload_mapping_is_checked_against_the_origin(stand_in: CloudinaryStandIn) -> None:
    missing = check_upload_mapping(account(stand_in), timeout=5)
    assert not missing.ok and "no upload mapping" in missing.message
    stand_in.mappings["wp"] = "https://old.test/uploads/"
    wrong = check_upload_mapping(account(stand_in), timeout=5)
    assert not wrong.ok and "https://old.test/uploads/" in wrong.message
    stand_in.mappings["wp"] = "https://wp.test/wp-content/uploads"
    right = check_upload_mapping(account(stand_in), timeout=5)
    assert right.ok, right.message
    assert stand_in.calls("GET", "/upload_mappings")[-1] == {"folder": "wp"}


def test_a_mapping_needs_a_folder_and_credentials_and_an_answer(
    stand_in: CloudinaryStandIn,
) -> None:
    assert not check_upload_mapping(account(stand_in, folder="")).ok
    assert not check_upload_mapping(account(stand_in, api_key=None)).ok
    denied = check_upload_mapping(account(stand_in, api_secret="wrong"), timeout=5)
    assert not denied.ok and "did not answer" in denied.message


def test_check_asks_about_the_mapping_only_where_one_is_relied_on(
    stand_in: CloudinaryStandIn,
) -> None:
    relied_on = parse_config(
        config_text(
            f"api_key: '${{K}}', api_secret: '${{S}}', api_base_url: '{stand_in.base_url}'", ""
        ),
        environ={"K": stand_in.api_key, "S": stand_in.api_secret},
    )
    stand_in.mappings["wp"] = "https://wp.test/wp-content/uploads/"
    report = upload_mapping_report(relied_on, timeout=5)
    assert report is not None and report.ok, report
    # Listed by the inventory instead, or no keys to ask with: nothing to check.
    assert upload_mapping_report(parse_config(config_text(KEYS), environ=ENV)) is None
    assert upload_mapping_report(parse_config(config_text("", ""), environ=ENV)) is None


def test_the_example_config_loads() -> None:
    config = load_config(
        Path(__file__).parents[2] / "conf/cloudinary-synced.yaml",
        environ={"CLOUDINARY_API_KEY": "k", "CLOUDINARY_API_SECRET": "s"},
    )
    assert config.inventory.cloudinary is not None
    assert config.inventory.cloudinary.account.folder == "wp"


async def test_with_a_snapshot_dir_one_inventory_lists_the_account_and_answers_alike(
    stand_in: CloudinaryStandIn, started: Any, tmp_path: Path
) -> None:
    from rewriteproxy.inventory.cloudinary import cloudinary_identity
    from rewriteproxy.inventory.shared import SnapshotStore

    for i in range(5):
        stand_in.put("image", f"wp/2024/05/photo-{i}", "jpg", b"x" * (i + 1))
    stand_in.put("video", "wp/2024/05/song", "mp3", b"audio")
    config = settings(stand_in)
    memory = await started(config)  # the reference: each worker's own listing
    shared = []
    for _ in range(2):
        store = SnapshotStore(tmp_path, cloudinary_identity(config.account))
        inventory = CloudinaryInventory(config, store=store)
        await inventory.start()
        shared.append(inventory)
    try:
        listed = len(stand_in.calls("GET", "/resources/image/upload"))
        assert listed == 2 * 3  # the reference's listing and the leader's, 3 pages each
        for key in [f"2024/05/photo-{i}.jpg" for i in range(6)] + ["2024/05/song.mp3"]:
            answers = {i.lookup(key) for i in shared}
            reference = memory.lookup(key)
            assert answers == {reference}  # no ETag here: the snapshot's answer is the same
        assert [i.snapshot_stats()["served_from"] for i in shared] == ["list", "snapshot"]
    finally:
        for inventory in shared:
            await inventory.close()
