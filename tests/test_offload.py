"""Offloading against a real S3 server (SeaweedFS): analyze counts, sync, resume, delete."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.inventory import S3InventoryConfig
from rewriteproxy.offload import (
    LocalFile,
    content_type,
    delete_extra,
    multipart_etag,
    plan,
    scan,
    supported,
    sync,
)
from tests.support.s3server import S3Server, s3_server_fixture

PREFIX = "wp-content/uploads/"
PART = 5 * 1024 * 1024  # the smallest part size S3 accepts


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: Any) -> Iterator[S3Server]:
    yield from s3_server_fixture(tmp_path_factory)


@pytest.fixture
def target(s3_server: S3Server) -> tuple[Any, S3InventoryConfig]:
    bucket = s3_server.new_bucket("offload")
    config = S3InventoryConfig(
        bucket=bucket,
        prefix=PREFIX,
        endpoint_url=s3_server.endpoint_url,
        region=s3_server.region,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
    )
    return s3_server.client(), config


def write(root: Path, key: str, data: bytes) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    for i in range(12):
        write(root, f"2024/05/photo-{i}.jpg", b"jpeg" * (i + 1))
    write(root, "2024/05/doc.pdf", b"%PDF-1.4 tiny")
    write(root, "2024/05/index.php", b"<?php // never offloaded")
    write(root, ".htaccess", b"deny from all")
    return root


# -- pure parts ------------------------------------------------------------------------


def test_what_is_offloaded() -> None:
    assert supported("2024/05/photo.JPG") and supported("elementor/css/post-12.css")
    for key in ("2024/05/index.php", ".htaccess", "2024/.hidden/a.jpg", "README", "x.log"):
        assert not supported(key)
    assert not supported("a" * 1030 + ".jpg")


def test_content_types() -> None:
    assert content_type("a.jpg") == "image/jpeg"
    assert content_type("a.webp") == "image/webp"
    assert content_type("a.avif") == "image/avif"
    assert content_type("a.svg") == "image/svg+xml"
    assert content_type("a.unknownext") == "application/octet-stream"


def test_multipart_etag_is_the_md5_of_the_part_md5s() -> None:
    parts = [hashlib.md5(b"a").digest(), hashlib.md5(b"b").digest()]
    assert multipart_etag(parts) == hashlib.md5(b"".join(parts)).hexdigest() + "-2"


def test_scan_lists_every_file_with_posix_keys(uploads: Path) -> None:
    keys = [f.key for f in scan(uploads)]
    assert keys[0] == ".htaccess" and "2024/05/doc.pdf" in keys and len(keys) == 15


def test_scan_never_follows_a_link_out_of_the_uploads(uploads: Path, tmp_path: Path) -> None:
    # Whoever may write into the uploads (the web server's user) must not get sync to
    # publish a file only the syncing user can read.
    outside = tmp_path / "private"
    write(outside, "credentials.jpg", b"aws_secret_access_key")
    (uploads / "2024/05/leak.jpg").symlink_to(outside / "credentials.jpg")
    (uploads / "2024/linked").symlink_to(outside, target_is_directory=True)
    (uploads / "2024/05/alias.jpg").symlink_to(uploads / "2024/05/photo-1.jpg")
    keys = [f.key for f in scan(uploads)]
    assert "2024/05/alias.jpg" in keys and len(keys) == 16  # a link within them is a file
    assert not any("leak" in k or "linked" in k for k in keys)


# -- against the server ---------------------------------------------------------------


def test_analyze_counts_synced_unsynced_and_unsupported(
    uploads: Path, target: tuple[Any, S3InventoryConfig]
) -> None:
    client, config = target
    client.put_object(Bucket=config.bucket, Key=PREFIX + "2024/05/photo-0.jpg", Body=b"jpeg")
    client.put_object(Bucket=config.bucket, Key=PREFIX + "2024/05/photo-1.jpg", Body=b"JPEGjpeg")
    client.put_object(Bucket=config.bucket, Key=PREFIX + "2024/05/photo-2.jpg", Body=b"short")
    client.put_object(Bucket=config.bucket, Key=PREFIX + "2023/01/deleted.jpg", Body=b"old")
    summary = plan(client, config, uploads).summary()
    assert summary["synced"] == {"files": 1, "bytes": 4}
    # photo-1: same size, other content; photo-2: other size
    assert summary["changed"] == {"files": 2, "bytes": 8 + 12}
    assert summary["missing"]["files"] == 10
    assert summary["unsynced"]["files"] == 12
    assert summary["unsupported"] == {"files": 2, "bytes": 24 + 13}
    assert summary["extra"]["files"] == 1


def test_sync_uploads_with_type_cache_control_and_md5_then_has_nothing_left(
    uploads: Path, target: tuple[Any, S3InventoryConfig]
) -> None:
    client, config = target
    result = sync(
        client,
        config,
        plan(client, config, uploads).to_upload,
        jobs=3,
        cache_control="public, max-age=600",
    )
    assert (len(result.uploaded), result.failed) == (13, [])
    head = client.head_object(Bucket=config.bucket, Key=PREFIX + "2024/05/doc.pdf")
    assert head["ContentType"] == "application/pdf"
    assert head["CacheControl"] == "public, max-age=600"
    assert head["Metadata"]["md5"] == hashlib.md5(b"%PDF-1.4 tiny").hexdigest()
    again = plan(client, config, uploads)
    assert (len(again.synced), again.to_upload) == (13, [])


def test_an_interrupted_sync_resumes_where_it_stopped(
    uploads: Path, target: tuple[Any, S3InventoryConfig]
) -> None:
    client, config = target
    done: list[LocalFile] = []

    def stop_after_five(local: LocalFile, error: str | None) -> None:
        done.append(local)
        if len(done) == 5:
            raise KeyboardInterrupt  # what Ctrl-C does in the command

    with pytest.raises(KeyboardInterrupt):
        sync(
            client, config, plan(client, config, uploads).to_upload, jobs=2, on_done=stop_after_five
        )
    middle = plan(client, config, uploads)
    assert 5 <= len(middle.synced) < 13  # the ones in flight at the stop may finish too
    resumed = sync(client, config, middle.to_upload, jobs=2)
    assert len(resumed.uploaded) == 13 - len(middle.synced)  # nothing uploaded twice
    assert plan(client, config, uploads).to_upload == []


def test_large_files_go_in_parts_and_still_count_as_synced(
    tmp_path: Path, target: tuple[Any, S3InventoryConfig]
) -> None:
    client, config = target
    root = tmp_path / "big"
    write(root, "2024/05/video.mp4", b"v" * PART + b"w" * 1000)
    sync(client, config, plan(client, config, root, PART).to_upload, part_size=PART)
    head = client.head_object(Bucket=config.bucket, Key=PREFIX + "2024/05/video.mp4")
    assert head["ETag"].strip('"').endswith("-2")  # a multipart ETag, not the file's MD5
    assert len(plan(client, config, root, PART).synced) == 1
    # Another part size cannot reproduce the ETag; the MD5 kept in metadata settles it.
    assert len(plan(client, config, root, 6 * 1024 * 1024).synced) == 1
    write(root, "2024/05/video.mp4", b"v" * PART + b"X" * 1000)
    assert len(plan(client, config, root, PART).changed) == 1


def test_delete_removes_what_no_longer_exists_locally(
    uploads: Path, target: tuple[Any, S3InventoryConfig]
) -> None:
    client, config = target
    client.put_object(Bucket=config.bucket, Key=PREFIX + "2023/01/deleted.jpg", Body=b"old")
    client.put_object(Bucket=config.bucket, Key="outside-the-prefix.jpg", Body=b"kept")
    the_plan = plan(client, config, uploads)
    assert the_plan.extra == ["2023/01/deleted.jpg"]
    assert delete_extra(client, config, the_plan.extra) == 1
    left = client.list_objects_v2(Bucket=config.bucket)["Contents"]
    assert [o["Key"] for o in left] == ["outside-the-prefix.jpg"]
