"""The inventory contract: what exists on the delivery side, and which version.

The rewriter asks one question per upload URL while it rewrites a page:
``inventory.lookup(key)``. The answer is a :class:`~rewriteproxy.media.FileInfo`
(the upload exists; size and version as far as the source tells) or ``None``
(not known to exist: the rewriter keeps the local URL unless ``on_missing:
rewrite``). ``lookup`` is synchronous and must never block or await: it is
called on the event loop, possibly hundreds of times per page. Sources that
need I/O (listing a bucket, asking S3 about one object) do it in the
background and answer later page views from memory.

``key`` is :attr:`rewriteproxy.media.UploadRef.key`: the path below the
uploads base, percent-decoded (``2024/05/photo-300x200.jpg``). Each source
maps it to its own name space (a bucket prefix, a directory).

Lifecycle: ``await start()`` returns quickly and begins any background work;
``ready`` turns true once the first full answer is available (first listing
done); ``await close()`` stops background work. ``snapshot_stats()`` returns
plain JSON-able values for the metrics; ``stale`` is true
while the source's last background refresh failed (it then answers from the
last good one, or from nothing if there never was one).

Implementations: :class:`NullInventory` (nothing configured; the default and
a test double), :class:`~.local.LocalInventory`, :class:`~.s3.S3Inventory`,
:class:`~.combined.CombinedInventory`; :func:`~.registry.build_inventory`
picks them from config.
"""

from __future__ import annotations

import abc
from typing import Any

from ..media import FileInfo

__all__ = ["Inventory", "NullInventory"]


class Inventory(abc.ABC):
    """Base contract; see the module docstring."""

    _ready: bool = False
    # True when ``lookup`` gives each key one answer for the object's whole life and has
    # no side effect: an answer once used is still valid, so it need not be asked again.
    fixed: bool = False

    @property
    def ready(self) -> bool:
        """True once the first full answer is available (for S3: the first listing)."""
        return self._ready

    @property
    def stale(self) -> bool:
        """True while the last background refresh failed (sources without one: never)."""
        return False

    async def start(self) -> None:  # noqa: B027 - sources without background work keep it
        """Begin background work. Must return quickly."""

    async def close(self) -> None:  # noqa: B027
        """Stop background work and release resources."""

    @abc.abstractmethod
    def lookup(self, key: str) -> FileInfo | None:
        """What is known of ``key``, from memory only; ``None`` = not known to exist."""

    @abc.abstractmethod
    def snapshot_stats(self) -> dict[str, Any]:
        """JSON-able facts for the metrics (keys, refreshes, last refresh, last error)."""


class NullInventory(Inventory):
    """No inventory configured: every upload exists, version unknown (``FileInfo()``)."""

    _ready = True
    fixed = True
    _UNKNOWN = FileInfo()

    def lookup(self, key: str) -> FileInfo | None:
        return self._UNKNOWN

    def snapshot_stats(self) -> dict[str, Any]:
        return {"source": "none"}
