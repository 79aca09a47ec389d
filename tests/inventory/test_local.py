"""The uploads directory as inventory: regular files exist, mtime is the version."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rewriteproxy.inventory import LocalInventory, LocalInventoryConfig
from rewriteproxy.media import FileInfo


def make(root: Path, ttl: float = 60.0) -> LocalInventory:
    return LocalInventory(LocalInventoryConfig(path=str(root), ttl_seconds=ttl))


def put(root: Path, key: str, data: bytes = b"jpeg", mtime: int = 1_700_000_000) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_a_file_exists_with_its_size_and_mtime(tmp_path: Path) -> None:
    put(tmp_path, "2024/05/photo 1.jpg", b"12345", mtime=1_700_000_123)
    inventory = make(tmp_path)
    assert inventory.ready
    assert inventory.lookup("2024/05/photo 1.jpg") == FileInfo(size=5, mtime=1_700_000_123.0)


def test_missing_files_and_directories_are_not_found(tmp_path: Path) -> None:
    put(tmp_path, "2024/05/a.jpg")
    inventory = make(tmp_path)
    assert inventory.lookup("2024/05/b.jpg") is None
    assert inventory.lookup("2024/05") is None


@pytest.mark.parametrize(
    "key",
    [
        "../secret.jpg",
        "2024/../../secret.jpg",
        "/etc/passwd",
        "2024//a.jpg",
        "./a.jpg",
        "a\x00.jpg",
        "",
    ],
)
def test_keys_that_could_leave_the_directory_are_not_found(tmp_path: Path, key: str) -> None:
    uploads = tmp_path / "uploads"
    put(uploads, "a.jpg")
    put(tmp_path, "secret.jpg")
    assert make(uploads).lookup(key) is None


def test_answers_are_cached_for_the_ttl(tmp_path: Path) -> None:
    inventory = make(tmp_path, ttl=3600)
    assert inventory.lookup("new.jpg") is None
    put(tmp_path, "new.jpg")
    assert inventory.lookup("new.jpg") is None  # the miss is remembered
    assert inventory.snapshot_stats()["stats"] == 1


def test_with_no_ttl_every_lookup_sees_the_disk(tmp_path: Path) -> None:
    inventory = make(tmp_path, ttl=0)
    assert inventory.lookup("new.jpg") is None
    put(tmp_path, "new.jpg", mtime=1_700_000_500)
    assert inventory.lookup("new.jpg") == FileInfo(size=4, mtime=1_700_000_500.0)
    put(tmp_path, "new.jpg", b"replaced", mtime=1_700_000_900)
    assert inventory.lookup("new.jpg") == FileInfo(size=8, mtime=1_700_000_900.0)
