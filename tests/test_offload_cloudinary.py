"""Offloading to Cloudinary through the official SDK: plan, upload, resume, what stays out.

The SDK talks real HTTP to a local stand-in for Cloudinary's Admin and Upload
APIs (:mod:`tests.support.cloudinaryserver`), because Cloudinary is a hosted
service and these tests have no network; the stand-in serves the documented
request and response shapes. Every public ID is checked against the URL the
proxy writes for the same file, with the SDK's ``cloudinary_url`` as oracle.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudinary.utils
import pytest

from rewriteproxy.delivery.cloudinary import CloudinaryConfig, CloudinaryDelivery
from rewriteproxy.delivery.versioning import VersioningConfig
from rewriteproxy.inventory.cloudinary import CloudinaryInventoryConfig
from rewriteproxy.media import UploadRef
from rewriteproxy.offload_cloudinary import plan, sync
from tests.support.cloudinaryserver import CloudinaryStandIn, threaded_stand_in


@pytest.fixture
def stand_in() -> Iterator[CloudinaryStandIn]:
    with threaded_stand_in() as server:
        yield server


def target(stand_in: CloudinaryStandIn, **account: Any) -> CloudinaryInventoryConfig:
    return CloudinaryInventoryConfig(
        account=CloudinaryConfig(
            cloud_name=stand_in.cloud_name,
            folder="wp",
            api_key=stand_in.api_key,
            api_secret=stand_in.api_secret,
            api_base_url=stand_in.base_url,
            **account,
        ),
        page_size=3,
        timeout=5,
    )


def write(root: Path, key: str, data: bytes) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    write(root, "2024/05/photo.jpg", b"master jpeg")
    write(root, "2024/05/photo-300x200.jpg", b"a sub-size")
    write(root, "2024/05/photo-scaled.jpg", b"the big-image downscale")
    write(root, "2024/05/photo.jpg.webp", b"a converter's webp")
    write(root, "2024/05/clip.mp4", b"video")
    write(root, "2024/05/song.mp3", b"audio")
    write(root, "2024/05/scan.jpeg", b"a jpeg named .jpeg")
    write(root, "2024/05/my photo été.png", b"png")
    write(root, "2024/05/report.pdf", b"%PDF")
    write(root, "2024/05/index.php", b"<?php")
    return root


def keys(files: list[Any]) -> list[str]:
    return sorted(f.key for f in files)


UPLOADED = [
    "2024/05/clip.mp4",
    "2024/05/my photo été.png",
    "2024/05/photo.jpg",
    "2024/05/photo.jpg.webp",
    "2024/05/scan.jpeg",
    "2024/05/song.mp3",
]


def test_sync_uploads_each_master_under_the_public_id_its_url_names(
    stand_in: CloudinaryStandIn, uploads: Path
) -> None:
    config = target(stand_in)
    first = plan(config, uploads)
    assert keys(first.missing) == UPLOADED
    assert keys(first.derived) == ["2024/05/photo-300x200.jpg", "2024/05/photo-scaled.jpg"]
    assert keys(first.local) == ["2024/05/index.php", "2024/05/report.pdf"]
    assert first.synced == first.changed == first.clashes == []

    done: list[tuple[str, str | None]] = []
    result = sync(
        config, first, first.to_upload, jobs=2, on_done=lambda f, e: done.append((f.key, e))
    )
    assert result.failed == [] and sorted(done) == [(k, None) for k in UPLOADED]

    delivery = CloudinaryDelivery(config.account, VersioningConfig(), 0)
    for key in UPLOADED:
        asset = delivery.stored_asset(key)
        assert asset is not None
        stored = stand_in.assets[(asset.resource_type, asset.public_id)]
        assert stored.data == (uploads / key).read_bytes()
        assert stored.filename == key.rsplit("/", 1)[1]  # never this machine's path
        # The URL the proxy writes names exactly that asset (the SDK is the oracle).
        url = delivery.url_for(UploadRef("", key.replace(" ", "%20")))
        oracle, _ = cloudinary.utils.cloudinary_url(
            stored.public_id,
            resource_type=stored.resource_type,
            format=key.rsplit(".", 1)[1].lower(),
            transformation=[{"fetch_format": "auto", "quality": "auto"}]
            if stored.resource_type == "image" or key.endswith(".mp4")
            else [],
            cloud_name=stand_in.cloud_name,
            secure=True,
            force_version=False,
        )
        assert url == oracle
    # Audio is a video asset; the converter's sibling is not the master.
    assert ("video", "wp/2024/05/song") in stand_in.assets
    assert stand_in.assets[("image", "wp/2024/05/photo.jpg")].data == b"a converter's webp"
    assert stand_in.assets[("image", "wp/2024/05/photo")].data == b"master jpeg"
    assert len(stand_in.calls("POST", "/upload")) == len(UPLOADED)


def test_a_second_run_resumes_and_a_replaced_file_is_uploaded_again(
    stand_in: CloudinaryStandIn, uploads: Path
) -> None:
    config = target(stand_in)
    sync(config, (first := plan(config, uploads)), first.to_upload)
    again = plan(config, uploads)
    assert keys(again.synced) == UPLOADED and again.to_upload == []

    # Replaced since its upload: another size, or the same size written later.
    write(uploads, "2024/05/clip.mp4", b"a longer video")
    photo = write(uploads, "2024/05/photo.jpg", b"master JPEG")
    uploaded = stand_in.assets[("image", "wp/2024/05/photo")]
    uploaded.version -= 100  # uploaded a while ago, and written since
    os.utime(photo, (uploaded.version + 1, uploaded.version + 1))
    changed = plan(config, uploads)
    assert keys(changed.changed) == ["2024/05/clip.mp4", "2024/05/photo.jpg"]
    before = stand_in.assets[("image", "wp/2024/05/photo")].version
    assert sync(config, changed, changed.to_upload).failed == []
    assert stand_in.assets[("image", "wp/2024/05/photo")].version > before
    assert plan(config, uploads).to_upload == []


def test_with_etags_in_the_listing_the_content_decides(
    stand_in: CloudinaryStandIn, uploads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = target(stand_in)
    sync(config, (first := plan(config, uploads)), first.to_upload)
    # A listing that reports each asset's MD5 (the stand-in's listings leave it out).
    original = type(stand_in.assets[("image", "wp/2024/05/photo")]).resource

    def with_etag(self: Any, cloud: str) -> dict[str, Any]:
        return original(self, cloud) | {"etag": hashlib.md5(self.data).hexdigest()}

    monkeypatch.setattr(type(stand_in.assets[("image", "wp/2024/05/photo")]), "resource", with_etag)
    photo = write(uploads, "2024/05/photo.jpg", b"master JPEG")  # same size, other bytes
    os.utime(photo, (1, 1))  # and an mtime that would look old
    assert keys(plan(config, uploads).changed) == ["2024/05/photo.jpg"]


def test_files_sharing_a_public_id_upload_once_and_say_so(
    stand_in: CloudinaryStandIn, tmp_path: Path
) -> None:
    root = tmp_path / "uploads"
    write(root, "a/logo.png", b"png")
    write(root, "a/logo.jpg", b"jpg")
    config = target(stand_in)
    the_plan = plan(config, root)
    assert keys(the_plan.missing) == ["a/logo.jpg"]
    assert [(f.key, other) for f, other in the_plan.clashes] == [("a/logo.png", "a/logo.jpg")]


def test_raw_files_and_derivation_follow_the_delivery_config(
    stand_in: CloudinaryStandIn, uploads: Path
) -> None:
    config = target(stand_in, other_files="raw", derive_originals=False)
    the_plan = plan(config, uploads)
    assert "2024/05/report.pdf" in keys(the_plan.missing)
    assert "2024/05/photo-300x200.jpg" in keys(the_plan.missing)
    assert the_plan.derived == []
    assert sync(config, the_plan, the_plan.to_upload).failed == []
    assert stand_in.assets[("raw", "wp/2024/05/report.pdf")].format == ""


def test_large_files_go_up_in_chunks(stand_in: CloudinaryStandIn, tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    body = bytes(range(256)) * 40
    write(root, "2024/05/film.mp4", body)
    config = target(stand_in)
    the_plan = plan(config, root)
    result = sync(config, the_plan, the_plan.to_upload, large_file_bytes=1000, chunk_bytes=4096)
    assert result.failed == []
    assert stand_in.assets[("video", "wp/2024/05/film")].data == body
    assert len(stand_in.calls("POST", "/video/upload")) == 3


def test_an_upload_cloudinary_files_under_another_format_is_a_failure(
    stand_in: CloudinaryStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stand-in names formats by extension, as Cloudinary does for these: .jpe is jpg,
    # and an aliased spelling is still found.
    root = tmp_path / "uploads"
    write(root, "x.jpe", b"jpeg")
    config = target(stand_in)
    the_plan = plan(config, root)
    assert sync(config, the_plan, the_plan.to_upload).failed == []
    assert plan(config, root).to_upload == []
    # A file Cloudinary stores as something else can never be found: reported, not hidden.
    stand_in.assets.clear()
    write(root, "y.png", b"png")
    the_plan = plan(config, root)
    put = CloudinaryStandIn.put

    def as_webp(self: Any, resource_type: str, public_id: str, format_: str, data: bytes) -> Any:
        return put(self, resource_type, public_id, "webp", data)

    monkeypatch.setattr(CloudinaryStandIn, "put", as_webp)
    result = sync(config, the_plan, the_plan.to_upload)
    assert sorted(f.key for f, _ in result.failed) == ["x.jpe", "y.png"]
    assert all("keep its local URL" in error for _, error in result.failed)
