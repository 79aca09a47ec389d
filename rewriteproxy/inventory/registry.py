"""From :class:`~.config.InventoryConfig` to a running :class:`~.base.Inventory`.

Sources are registered by name (the key under ``inventory:``); nothing is
loaded from dotted paths. With no source the result is :class:`NullInventory`;
with ``s3`` (or ``cloudinary``) and ``local`` together,
:class:`~.combined.CombinedInventory`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from .base import Inventory, NullInventory
from .cloudinary import CloudinaryInventory, cloudinary_identity
from .combined import CombinedInventory
from .config import InventoryConfig
from .local import LocalInventory
from .s3 import S3Inventory, s3_identity
from .shared import SnapshotStore

__all__ = ["SOURCES", "build_inventory"]

# name -> builder(source config, executor for blocking calls, snapshot directory or None)
SOURCES: dict[str, Callable[[Any, Executor | None, str | None], Inventory]] = {
    "s3": lambda config, executor, snapshots: S3Inventory(
        config,
        executor,
        store=SnapshotStore(snapshots, s3_identity(config)) if snapshots else None,
    ),
    "local": lambda config, _executor, _snapshots: LocalInventory(config),
    "cloudinary": lambda config, executor, snapshots: CloudinaryInventory(
        config,
        executor,
        store=SnapshotStore(snapshots, cloudinary_identity(config.account)) if snapshots else None,
    ),
}


def build_inventory(config: InventoryConfig, executor: Executor | None = None) -> Inventory:
    """The inventory for ``config`` (not started: the caller awaits ``start()``)."""
    built = {
        name: SOURCES[name](source, executor, config.snapshot_directory)
        for name, source in (
            ("s3", config.s3),
            ("cloudinary", config.cloudinary),
            ("local", config.local),
        )
        if source is not None
    }
    remote = built.get("s3") or built.get("cloudinary")
    if remote is not None and "local" in built:
        return CombinedInventory(remote, built["local"])
    if built:
        return next(iter(built.values()))
    return NullInventory()
