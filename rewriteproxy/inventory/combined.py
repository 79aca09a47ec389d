"""Both sources configured: the bucket says what exists, the disk vetoes stale copies.

An upload is rewritten when the bucket holds it, with the bucket's version
(ETag / LastModified). When the uploads directory also holds the file and
its size differs from the bucket's, the bucket copy is out of date (the file
was replaced since the last ``sync``), so the upload counts as missing and
keeps its local URL until it is synced again. Equal sizes with different
contents cannot be told apart this way; ``rewriteproxy analyze`` can.
Files only in the bucket (local copies removed after offloading) are served
from the bucket.
"""

from __future__ import annotations

from typing import Any

from ..media import FileInfo
from .base import Inventory

__all__ = ["CombinedInventory"]


class CombinedInventory(Inventory):
    def __init__(self, bucket: Inventory, disk: Inventory) -> None:
        self.bucket = bucket
        self.disk = disk

    @property
    def ready(self) -> bool:
        return self.bucket.ready

    @property
    def stale(self) -> bool:
        return self.bucket.stale or self.disk.stale

    async def start(self) -> None:
        await self.disk.start()
        await self.bucket.start()

    async def close(self) -> None:
        await self.bucket.close()
        await self.disk.close()

    def lookup(self, key: str) -> FileInfo | None:
        info = self.bucket.lookup(key)
        if info is None:
            return None
        here = self.disk.lookup(key)
        if here is not None and None not in (here.size, info.size) and here.size != info.size:
            return None
        return info

    def snapshot_stats(self) -> dict[str, Any]:
        stats = self.bucket.snapshot_stats()
        stats["local"] = self.disk.snapshot_stats()
        return stats
