"""The contract's null implementation: nothing configured means every upload exists."""

from __future__ import annotations

from rewriteproxy.inventory import Inventory, NullInventory
from rewriteproxy.media import FileInfo


async def test_null_inventory_knows_every_key_with_no_version() -> None:
    inventory: Inventory = NullInventory()
    await inventory.start()
    assert inventory.ready
    info = inventory.lookup("2024/05/anything.jpg")
    assert info == FileInfo()
    assert info is not None and not info.known_version
    assert inventory.snapshot_stats() == {"source": "none"}
    await inventory.close()
