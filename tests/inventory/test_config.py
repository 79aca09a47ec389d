"""The ``inventory:`` section: defaults, normalisation and errors that name the key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from rewriteproxy.config import load_config
from rewriteproxy.inventory.config import (
    InventoryConfig,
    LocalInventoryConfig,
    S3InventoryConfig,
)
from rewriteproxy.inventory.shared import default_snapshot_dir
from rewriteproxy.settings import ConfigError
from tests.support.config import validate_section


def parse(data: dict[str, Any] | None, environ: dict[str, str] | None = None) -> InventoryConfig:
    return validate_section(InventoryConfig, data, "inventory", environ)


def test_nothing_configured_means_no_sources_and_local_urls_for_misses() -> None:
    assert parse({}) == InventoryConfig(s3=None, local=None, on_missing="local")


def test_the_shared_snapshot_lives_in_a_private_state_directory_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    assert parse({}).snapshot_dir == "auto"
    assert parse({}).snapshot_directory == default_snapshot_dir()
    assert f"rewriteproxy-{os.geteuid()}" in default_snapshot_dir()
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))  # systemd's StateDirectory=
    assert parse({}).snapshot_directory == str(tmp_path / "inventory")


def test_snapshot_dir_can_be_set_or_switched_off() -> None:
    assert parse({"snapshot_dir": "/var/lib/rp"}).snapshot_directory == "/var/lib/rp"
    assert parse({"snapshot_dir": ""}).snapshot_directory is None


def test_the_manifest_is_read_only_when_switched_on() -> None:
    assert parse({"s3": {"bucket": "media"}}).s3.manifest is False  # type: ignore[union-attr]
    report = parse({"s3": {"bucket": "m", "report": {"prefix": "/inv/m/daily"}}}).s3.report  # type: ignore[union-attr]
    assert report is not None and (report.prefix, report.bucket) == ("inv/m/daily/", None)
    assert parse({"s3": {"bucket": "m", "manifest": True}}).s3.manifest is True  # type: ignore[union-attr]


def test_s3_defaults() -> None:
    config = parse({"s3": {"bucket": "media"}}).s3
    assert config == S3InventoryConfig(bucket="media")
    assert (config.prefix, config.refresh_seconds, config.lookup_on_miss) == ("", 300.0, True)
    assert (config.positive_ttl, config.negative_ttl, config.startup_wait_seconds) == (
        3600.0,
        60.0,
        0.0,
    )
    assert config.page_size == 1000


def test_full_s3_section_with_secrets_from_the_environment() -> None:
    config = parse(
        {
            "s3": {
                "bucket": "media",
                "prefix": "/wp-content/uploads",
                "region": "eu-west-1",
                "endpoint_url": "http://127.0.0.1:8333",
                "refresh_seconds": 60,
                "lookup_on_miss": False,
                "positive_ttl": 10,
                "negative_ttl": 5,
                "access_key_id": "${KEY}",
                "secret_access_key": "${SECRET}",
                "startup_wait_seconds": 2,
                "page_size": 7,
                "cache_size": 50,
            },
            "on_missing": "rewrite",
        },
        environ={"KEY": "AKIA1", "SECRET": "s3cr3t"},
    )
    assert config.rewrite_missing
    s3 = config.s3
    assert s3 is not None
    assert s3.prefix == "wp-content/uploads/"  # no leading slash, one trailing slash
    assert s3.bucket_key("2024/05/a.jpg") == "wp-content/uploads/2024/05/a.jpg"
    assert (s3.access_key_id, s3.secret_access_key) == ("AKIA1", "s3cr3t")
    assert (s3.page_size, s3.cache_size, s3.lookup_on_miss) == (7, 50, False)
    assert "s3cr3t" not in repr(s3)


def test_local_section() -> None:
    config = parse({"local": {"path": "/srv/uploads", "ttl_seconds": 5}})
    assert config.local == LocalInventoryConfig(path="/srv/uploads", ttl_seconds=5.0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"s3": {}}, "inventory.s3.bucket: is required"),
        ({"s3": {"bucket": "m", "endpoint_url": "ftp://x"}}, "inventory.s3.endpoint_url"),
        ({"s3": {"bucket": "m", "access_key_id": "a"}}, "go together"),
        ({"s3": {"bucket": "m", "page_size": 5000}}, "inventory.s3.page_size"),
        ({"s3": {"bucket": "m", "refresh": 5}}, "inventory.s3.refresh: unknown key"),
        ({"local": {}}, "inventory.local.path: is required"),
        ({"on_missing": "guess"}, "inventory.on_missing"),
        ({"gcs": {}}, "inventory.gcs: unknown key"),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse(data)


def test_a_secret_that_is_not_a_string_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"s3": {"bucket": "m", "access_key_id": "a", "secret_access_key": [12345678]}})
    assert "12345678" not in str(caught.value)
    assert "inventory.s3.secret_access_key: the secret (not shown) is not allowed" in str(
        caught.value
    )


CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.name)
def test_the_example_configs_inventory_sections_parse(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    # inventory.cloudinary lists the account that the delivery section names.
    environ = {"CLOUDINARY_API_KEY": "key", "CLOUDINARY_API_SECRET": "secret"}
    inventory = load_config(path, environ=environ).inventory
    if inventory.cloudinary is None:  # then the section stands alone
        assert inventory == parse(data.get("inventory"), environ)
