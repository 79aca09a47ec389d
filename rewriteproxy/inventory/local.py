"""What exists in the uploads directory on this host: ``stat`` with a TTL cache.

The common single-host setup mounts WordPress's uploads directory beside the
proxy. An upload exists when ``<path>/<key>`` is a regular file; its version
is the file's modification time (whole seconds) and its size comes along.

Answers (found or not) are cached for ``ttl_seconds``. The ``stat`` itself is
done inline in :meth:`LocalInventory.lookup`: on a local disk it is a kernel
metadata lookup (microseconds, usually from the inode cache), cheaper than
handing it to a thread. This assumes a local filesystem; an uploads
directory on a network mount can stall, and then the S3 inventory is the
right source.

Keys that could leave the directory (``..``, empty segments, NUL) are simply
not found.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from cachetools import TTLCache

from ..media import FileInfo
from .base import Inventory
from .config import LocalInventoryConfig

__all__ = ["LocalInventory", "stat_upload"]

_UNSEEN = object()


def _safe(key: str) -> bool:
    if not key or "\x00" in key or "\\" in key:
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


def stat_upload(root: str, key: str) -> FileInfo | None:
    """The facts of ``root/key`` if it is a regular file inside ``root``, else ``None``."""
    if not _safe(key):
        return None
    try:
        st = os.stat(os.path.join(root, key))
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FileInfo(size=st.st_size, mtime=float(int(st.st_mtime)))


class LocalInventory(Inventory):
    """Uploads on this host's disk; ready at once (nothing to list up front)."""

    _ready = True

    def __init__(self, config: LocalInventoryConfig) -> None:
        self.config = config
        self._root = os.path.abspath(config.path)
        self._cache: TTLCache[str, FileInfo | None] = TTLCache(
            maxsize=config.cache_size, ttl=config.ttl_seconds
        )
        self._stats = {"stats": 0, "hits": 0}

    def lookup(self, key: str) -> FileInfo | None:
        cached = self._cache.get(key, _UNSEEN)
        if cached is not _UNSEEN:
            self._stats["hits"] += 1
            return cached  # type: ignore[return-value]
        self._stats["stats"] += 1
        info = stat_upload(self._root, key)
        self._cache[key] = info
        return info

    def snapshot_stats(self) -> dict[str, Any]:
        return {
            "source": "local",
            "path": self._root,
            "ready": True,
            "cached": len(self._cache),
            **self._stats,
        }
