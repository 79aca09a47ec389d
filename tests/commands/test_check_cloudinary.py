"""``rewriteproxy check`` with Cloudinary's API: the account listed, or the auto-upload mapping.

Cloudinary's Admin API is a local stand-in (:mod:`tests.support.cloudinaryserver`):
it is a hosted service and these tests have no network. The delivery host is
tests/support/deliveryhost.py reached through ``cname`` over http, and WordPress a
loopback app that answers as WordPress does, as in test_check.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rewriteproxy.commands.check import FAILED, OK, check
from rewriteproxy.config import parse_config
from tests.support.cloudinaryserver import CloudinaryStandIn, threaded_stand_in

from ..support.deliveryhost import DeliveryHost
from ..support.net import free_port
from .test_check import start_wordpress


@pytest.fixture
def stand_in() -> Iterator[CloudinaryStandIn]:
    with threaded_stand_in() as server:
        yield server


def config_text(upstream: str, stand_in: CloudinaryStandIn, host: str, inventory: str) -> str:
    return f"""
upstream: {upstream}
listen: {{host: 127.0.0.1, port: {free_port()}}}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: cloudinary
  cloudinary:
    cloud_name: {stand_in.cloud_name}
    folder: wp
    secure: false
    cname: "{host}"
    api_key: "{stand_in.api_key}"
    api_secret: "{stand_in.api_secret}"
    api_base_url: {stand_in.base_url}
{inventory}
"""


async def test_the_account_is_listed_and_its_sample_delivered(
    aiohttp_server: Any, stand_in: CloudinaryStandIn
) -> None:
    upstream, _ = await start_wordpress(aiohttp_server)
    photo = stand_in.put("image", "wp/2024/05/photo", "jpg", b"jpeg")
    stand_in.put("raw", "wp/2024/05/notes.txt", "", b"not delivered")
    async with DeliveryHost() as cloudinary:
        config = parse_config(
            config_text(upstream, stand_in, cloudinary.host, "inventory: {cloudinary: {}}")
        )
        results = {r.part: r for r in await check(config, 5, 30)}
    assert results["config"].detail.endswith("inventory cloudinary")
    assert results["inventory"].status == OK
    assert results["inventory"].detail == "Cloudinary demo/wp lists 1 assets"
    assert results["inventory"].facts["sample"] == "2024/05/photo.jpg"
    assert results["delivery"].status == OK
    assert f"/v{photo.version}/wp/2024/05/photo.jpg" in results["delivery"].facts["url"]
    assert "mapping" not in results  # listed: no mapping is relied on


async def test_auto_upload_delivery_has_its_mapping_checked(
    aiohttp_server: Any, stand_in: CloudinaryStandIn
) -> None:
    upstream, _ = await start_wordpress(aiohttp_server)
    async with DeliveryHost() as cloudinary:
        config = parse_config(config_text(upstream, stand_in, cloudinary.host, ""))
        missing = {r.part: r for r in await check(config, 5, 30)}["mapping"]
        stand_in.mappings["wp"] = "http://wp.test/wp-content/uploads/"
        mapped = {r.part: r for r in await check(config, 5, 30)}["mapping"]
    assert missing.status == FAILED and "folder 'wp' has no upload mapping" in missing.detail
    assert mapped.status == OK
    assert mapped.detail == "folder 'wp' auto-uploads from http://wp.test/wp-content/uploads/"
