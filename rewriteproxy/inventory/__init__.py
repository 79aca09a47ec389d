"""Knowing the media without the database: which uploads exist, and their versions.

See :mod:`.base` for the contract the rewriter calls (``lookup(key)``),
:mod:`.config` for the ``inventory:`` section, and :mod:`.registry` for how
the sources (``s3``, ``cloudinary``, ``local``) are put together.
"""

from .base import Inventory, NullInventory
from .cloudinary import CloudinaryInventory, CloudinaryInventoryConfig
from .combined import CombinedInventory
from .config import (
    InventoryConfig,
    LocalInventoryConfig,
    S3InventoryConfig,
)
from .local import LocalInventory
from .registry import SOURCES, build_inventory
from .s3 import S3Inventory

__all__ = [
    "SOURCES",
    "CloudinaryInventory",
    "CloudinaryInventoryConfig",
    "CombinedInventory",
    "Inventory",
    "InventoryConfig",
    "LocalInventory",
    "LocalInventoryConfig",
    "NullInventory",
    "S3Inventory",
    "S3InventoryConfig",
    "build_inventory",
]
