"""Which inventory a config builds."""

from __future__ import annotations

from rewriteproxy.delivery.cloudinary import CloudinaryConfig
from rewriteproxy.inventory import (
    SOURCES,
    CloudinaryInventory,
    CloudinaryInventoryConfig,
    CombinedInventory,
    InventoryConfig,
    LocalInventory,
    LocalInventoryConfig,
    NullInventory,
    S3Inventory,
    S3InventoryConfig,
    build_inventory,
)

S3 = S3InventoryConfig(bucket="media")
LOCAL = LocalInventoryConfig(path="/srv/uploads")
CLOUDINARY = CloudinaryInventoryConfig(
    account=CloudinaryConfig(cloud_name="demo", api_key="k", api_secret="s")
)


def test_sources_are_registered_by_their_config_key() -> None:
    assert sorted(SOURCES) == ["cloudinary", "local", "s3"]


def test_no_source_builds_the_null_inventory() -> None:
    assert isinstance(build_inventory(InventoryConfig()), NullInventory)


def test_one_source_builds_that_source() -> None:
    assert isinstance(build_inventory(InventoryConfig(s3=S3)), S3Inventory)
    assert isinstance(build_inventory(InventoryConfig(local=LOCAL)), LocalInventory)
    assert isinstance(build_inventory(InventoryConfig(cloudinary=CLOUDINARY)), CloudinaryInventory)


def test_both_sources_build_the_combination_led_by_the_bucket() -> None:
    inventory = build_inventory(InventoryConfig(s3=S3, local=LOCAL))
    assert isinstance(inventory, CombinedInventory)
    assert isinstance(inventory.bucket, S3Inventory)
    assert isinstance(inventory.disk, LocalInventory)


def test_cloudinary_and_the_disk_build_the_combination_led_by_cloudinary() -> None:
    inventory = build_inventory(InventoryConfig(cloudinary=CLOUDINARY, local=LOCAL))
    assert isinstance(inventory, CombinedInventory)
    assert isinstance(inventory.bucket, CloudinaryInventory)
