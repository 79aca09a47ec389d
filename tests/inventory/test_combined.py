"""Bucket and disk together: the bucket decides, a local file of another size vetoes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewriteproxy.inventory import CombinedInventory, Inventory, LocalInventory
from rewriteproxy.inventory.config import LocalInventoryConfig
from rewriteproxy.media import FileInfo


class DictInventory(Inventory):
    """A test double standing in for the bucket (the S3 source has its own real-server tests)."""

    def __init__(self, known: dict[str, FileInfo], ready: bool = True) -> None:
        self.known = known
        self._ready = ready
        self.failing = False

    @property
    def stale(self) -> bool:
        return self.failing

    def lookup(self, key: str) -> FileInfo | None:
        return self.known.get(key)

    def snapshot_stats(self) -> dict[str, Any]:
        return {"source": "dict", "keys": len(self.known)}


def combined(tmp_path: Path, known: dict[str, FileInfo], ready: bool = True) -> Inventory:
    (tmp_path / "same.jpg").write_bytes(b"12345")
    (tmp_path / "stale.jpg").write_bytes(b"1234567")
    (tmp_path / "local-only.jpg").write_bytes(b"1")
    disk = LocalInventory(LocalInventoryConfig(path=str(tmp_path)))
    return CombinedInventory(DictInventory(known, ready), disk)


def test_the_bucket_decides_existence_and_version(tmp_path: Path) -> None:
    in_bucket = FileInfo(size=5, mtime=1.0, etag="e" * 32)
    removed_locally = FileInfo(size=9, mtime=2.0, etag="f" * 32)
    inventory = combined(tmp_path, {"same.jpg": in_bucket, "gone.jpg": removed_locally})
    assert inventory.lookup("same.jpg") == in_bucket
    assert inventory.lookup("gone.jpg") == removed_locally
    assert inventory.lookup("local-only.jpg") is None


def test_a_local_file_of_another_size_means_the_bucket_copy_is_stale(tmp_path: Path) -> None:
    inventory = combined(tmp_path, {"stale.jpg": FileInfo(size=5, mtime=1.0, etag="e" * 32)})
    assert inventory.lookup("stale.jpg") is None


def test_ready_and_stats_follow_the_bucket(tmp_path: Path) -> None:
    inventory = combined(tmp_path, {}, ready=False)
    assert not inventory.ready
    stats = inventory.snapshot_stats()
    assert stats["source"] == "dict" and stats["local"]["source"] == "local"


def test_it_is_stale_while_the_bucket_is(tmp_path: Path) -> None:
    inventory = combined(tmp_path, {})
    assert isinstance(inventory, CombinedInventory) and not inventory.stale
    assert isinstance(inventory.bucket, DictInventory)
    inventory.bucket.failing = True
    assert inventory.stale
