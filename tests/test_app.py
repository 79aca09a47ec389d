"""The running app: when a delivery host or the bucket listing fails, pages stay whole.

Real parts throughout: the proxy app on a loopback port in front of a real
upstream serving a page with upload URLs, a real HTTP delivery host
(:class:`tests.support.deliveryhost.DeliveryHost`) that the tests make
answer 503, hang or stop listening, and a real S3 server (SeaweedFS) for the
inventory. The probe runs every few hundredths of a second here; every wait
is a poll with a generous bound, never a timing assertion.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from rewriteproxy.admin import families_of, not_ready, open_circuits
from rewriteproxy.app import STATE, create_app
from rewriteproxy.config import parse_config
from rewriteproxy.metrics import render

from .support.deliveryhost import DeliveryHost, eventually
from .support.net import free_port
from .support.s3server import S3Server, start_s3_server, weed_binary

LOCAL = b"http://wp.test/wp-content/uploads/2024/05/photo-300x200.jpg"
PAGE = b'<html><head></head><body><img src="' + LOCAL + b'" alt=""></body></html>'
BROKEN = b"http://wp.test/wp-content/uploads/2024/05/broken.jpg"
TWO_IMAGES = PAGE.replace(b"</body>", b'<img src="' + BROKEN + b'" alt=""></body>')  # at /two/


def site_config(upstream: str, delivery: str, inventory: str = "") -> str:
    return f"""
upstream: {upstream}
site: {{hosts: [wp.test]}}
delivery:
{delivery}
{inventory}
"""


def cdn_delivery(cdn: DeliveryHost, health: str = "{interval: 0.05, timeout: 0.3}") -> str:
    return f"""  provider: cdn
  cdn: {{base_url: "{cdn.base_url}wp-content/uploads/"}}
  health: {health}"""


@pytest.fixture
async def cdn() -> AsyncIterator[DeliveryHost]:
    async with DeliveryHost() as host:
        yield host


@pytest.fixture
async def upstream(aiohttp_server: Any) -> str:
    async def page(request: web.Request) -> web.Response:
        body = TWO_IMAGES if request.path == "/two/" else PAGE
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


Start = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def start(aiohttp_client: Any) -> Start:
    async def start_app(config_text: str, config_path: Path | None = None) -> TestClient:
        return await aiohttp_client(create_app(parse_config(config_text), config_path))  # type: ignore[no-any-return]

    return start_app


async def page_of(client: TestClient, path: str = "/post/") -> bytes:
    response = await client.get(path)
    assert response.status == 200
    return await response.read()


async def health_of(client: TestClient) -> dict[str, Any]:
    """What the admin listener's /ready says, with the parts' own accounts of themselves."""
    state = client.app[STATE]  # type: ignore[index]
    families = families_of(state)()
    reasons = not_ready(families)
    circuits = open_circuits(families)  # named by /ready, not gating it (tests/test_admin.py)
    return {
        "status": "not ready" if reasons else ("local URLs" if circuits else "ok"),
        "reasons": reasons,
        "inventory": state.runtime.inventory.snapshot_stats(),
        "delivery": state.runtime.health.snapshot(),
    }


def metrics_of(client: TestClient) -> str:
    return render(families_of(client.app[STATE])()).decode()  # type: ignore[index]


def rewritten_for(cdn: DeliveryHost, page: bytes) -> bool:
    return (cdn.base_url + "wp-content/uploads/2024/05/photo-300x200.jpg").encode() in page


# -- a delivery host that fails ------------------------------------------------------


async def test_when_the_cdn_fails_pages_get_local_urls_and_get_the_cdn_back_after(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    client = await start(site_config(upstream, cdn_delivery(cdn)))
    assert rewritten_for(cdn, await page_of(client))
    await eventually(
        lambda: ("HEAD", "/wp-content/uploads/2024/05/photo-300x200.jpg") in cdn.requests
    )
    assert (await health_of(client))["status"] == "ok"

    cdn.answer(503)

    async def local_again() -> bool:
        return await page_of(client) == PAGE  # byte for byte what the upstream sent

    await eventually(local_again, what="pages with local URLs")
    health = await health_of(client)
    host = health["delivery"]["hosts"][cdn.host]
    assert health["status"] == "local URLs" and host["state"] in ("open", "half_open")
    assert health["reasons"] == []  # ready: pages are correct, with local URLs
    assert host["last_error"].endswith(": 503") and host["last_error_at"] is not None
    metrics = metrics_of(client)
    assert f'rewriteproxy_delivery_circuit_state{{host="{cdn.host}"}} 2.0' in metrics
    assert (
        f'rewriteproxy_delivery_circuit_transitions_total{{host="{cdn.host}",to="open"}} 1.0'
        in (metrics)
    )

    cdn.answer(200)

    async def rewritten_again() -> bool:
        return rewritten_for(cdn, await page_of(client))

    await eventually(rewritten_again, what="pages rewritten again")
    health = await health_of(client)
    assert health["status"] == "ok"
    assert health["delivery"]["hosts"][cdn.host]["state"] == "closed"
    assert health["delivery"]["rewriting_to"] == [cdn.host]


async def test_one_image_the_cdn_fails_for_does_not_take_the_others_off_it(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    client = await start(site_config(upstream, cdn_delivery(cdn)))
    cdn.answer_for("/wp-content/uploads/2024/05/broken.jpg", 503)
    assert rewritten_for(cdn, await page_of(client, "/two/"))  # the broken one built last

    await eventually(lambda: len(cdn.requests) >= 8)
    health = await health_of(client)
    host = health["delivery"]["hosts"][cdn.host]
    assert health["status"] == "ok" and host["transitions"] == 0
    assert host["last_broken"].endswith("/wp-content/uploads/2024/05/broken.jpg: 503")
    assert rewritten_for(cdn, await page_of(client, "/two/"))


async def test_a_frozen_cdn_is_found_out_by_the_probe_timeout(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    client = await start(site_config(upstream, cdn_delivery(cdn)))
    assert rewritten_for(cdn, await page_of(client))
    cdn.hang()

    async def local_again() -> bool:
        return await page_of(client) == PAGE

    await eventually(local_again, what="pages with local URLs")
    host = (await health_of(client))["delivery"]["hosts"][cdn.host]
    assert "no answer within 0.3 s" in host["last_error"]
    cdn.answer(200)

    async def rewritten_again() -> bool:
        return rewritten_for(cdn, await page_of(client))

    await eventually(rewritten_again, what="pages rewritten again")


async def test_a_cdn_that_stops_listening_gives_local_urls_until_it_listens_again(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    client = await start(site_config(upstream, cdn_delivery(cdn)))
    assert rewritten_for(cdn, await page_of(client))
    await cdn.go_away()

    async def local_again() -> bool:
        return await page_of(client) == PAGE

    await eventually(local_again, what="pages with local URLs")
    assert "Connect" in (await health_of(client))["delivery"]["hosts"][cdn.host]["last_error"]
    await cdn.come_back()

    async def rewritten_again() -> bool:
        return rewritten_for(cdn, await page_of(client))

    await eventually(rewritten_again, what="pages rewritten again")


async def test_a_dead_cdn_at_start_is_found_by_the_configured_probe_url(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    probe = cdn.base_url + "wp-content/uploads/health.png"
    delivery = cdn_delivery(cdn, f'{{interval: 0.05, timeout: 0.3, probe_url: "{probe}"}}')
    cdn.answer(503)
    client = await start(site_config(upstream, delivery))

    async def opened() -> bool:
        host = (await health_of(client))["delivery"]["hosts"].get(cdn.host)
        return host is not None and host["state"] == "open"

    await eventually(opened, what="the circuit opening before any page was served")
    assert await page_of(client) == PAGE
    assert {path for _, path in cdn.requests} == {"/wp-content/uploads/health.png"}


async def test_with_health_off_a_dead_cdn_is_still_linked_to(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    client = await start(site_config(upstream, cdn_delivery(cdn, "{enabled: false}")))
    await cdn.go_away()
    for _ in range(5):
        assert rewritten_for(cdn, await page_of(client))
    assert (await health_of(client))["delivery"] == {
        "enabled": False,
        "rewriting_to": [],
        "hosts": {},
    }


async def test_a_reload_that_keeps_the_delivery_config_keeps_the_probe_and_its_state(
    cdn: DeliveryHost, upstream: str, start: Start, tmp_path: Path
) -> None:
    path = tmp_path / "rewriteproxy.yaml"
    path.write_text(site_config(upstream, cdn_delivery(cdn)))
    client = await start(path.read_text(), path)
    assert rewritten_for(cdn, await page_of(client))
    await cdn.go_away()

    async def local_again() -> bool:
        return await page_of(client) == PAGE

    await eventually(local_again, what="pages with local URLs")
    state = client.app[STATE]  # type: ignore[index]
    probe = state.runtime.health
    path.write_text(path.read_text() + "\nenabled: true\n")
    assert await state.reload()
    assert state.runtime.health is probe and await page_of(client) == PAGE
    path.write_text(site_config(upstream, cdn_delivery(cdn, "{interval: 0.05, timeout: 0.2}")))
    assert await state.reload()
    assert state.runtime.health is not probe and probe._task is None  # the old one stopped


async def test_a_reload_that_changes_the_delivery_config_keeps_a_dead_cdn_blocked(
    cdn: DeliveryHost, upstream: str, start: Start, tmp_path: Path
) -> None:
    path = tmp_path / "rewriteproxy.yaml"
    path.write_text(site_config(upstream, cdn_delivery(cdn)))
    client = await start(path.read_text(), path)
    assert rewritten_for(cdn, await page_of(client))
    await cdn.go_away()

    async def local_again() -> bool:
        return await page_of(client) == PAGE

    await eventually(local_again, what="pages with local URLs")
    state = client.app[STATE]  # type: ignore[index]
    probe = state.runtime.health
    path.write_text(site_config(upstream, cdn_delivery(cdn, "{interval: 0.05, timeout: 0.2}")))
    assert await state.reload()
    assert state.runtime.health is not probe
    assert await page_of(client) == PAGE  # still local: the new probe knows the host is down
    health = await health_of(client)
    assert health["status"] == "local URLs"
    assert health["delivery"]["hosts"][cdn.host]["state"] in ("open", "half_open")

    await cdn.come_back()

    async def rewritten_again() -> bool:
        return rewritten_for(cdn, await page_of(client))

    await eventually(rewritten_again, what="pages rewritten again")


# -- the inventory ---------------------------------------------------------------------


async def test_no_listing_at_all_means_local_urls_and_health_says_why(
    cdn: DeliveryHost, upstream: str, start: Start
) -> None:
    inventory = f"""
inventory:
  s3:
    bucket: media
    endpoint_url: http://127.0.0.1:{free_port()}
    access_key_id: k
    secret_access_key: s
    region: us-east-1
    startup_wait_seconds: 20
    connect_timeout: 0.2
    read_timeout: 0.5
"""
    client = await start(site_config(upstream, cdn_delivery(cdn), inventory))
    assert await page_of(client) == PAGE
    health = await health_of(client)
    stats = health["inventory"]
    assert health["reasons"] == ["the inventory's first listing is not done"]
    assert (stats["ready"], stats["listing"]) == (False, "none")
    assert "Connect" in stats["last_error"] and stats["last_error_at"] is not None
    metrics = metrics_of(client)
    assert "rewriteproxy_inventory_stale 1.0" in metrics
    assert re.search(r"^rewriteproxy_inventory_refresh_failures_total [1-9]", metrics, re.M)
    assert not re.search(r"^rewriteproxy_inventory_last_listing_age_seconds ", metrics, re.M)


@pytest.mark.s3
@pytest.mark.skipif(weed_binary() is None, reason="SeaweedFS (`weed`) is not installed")
async def test_a_listing_that_fails_keeps_the_last_good_one_and_health_says_since_when(
    cdn: DeliveryHost, upstream: str, start: Start, tmp_path: Path
) -> None:
    with start_s3_server(tmp_path / "doomed") as s3:
        client = await start(site_config(upstream, cdn_delivery(cdn), inventory_of(s3)))
        await eventually(lambda: client.app[STATE].runtime.inventory.ready)  # type: ignore[index]
        page = await page_of(client)
        assert rewritten_for(cdn, page) and b"?v=" in page  # the version from the listing
        listed = (await health_of(client))["inventory"]
        assert (listed["listing"], listed["keys"]) == ("fresh", 1)

        s3.kill()  # the bucket goes away mid-run
        inventory = client.app[STATE].runtime.inventory  # type: ignore[index]
        assert not await inventory.refresh()
        assert await page_of(client) == page  # served from the last good listing
        health = await health_of(client)
        stats = health["inventory"]
        # Ready still: the first listing is done, and a stale one serves; the metrics say so.
        assert health["status"] == "ok"
        assert "rewriteproxy_inventory_stale 1.0" in metrics_of(client)
        assert (stats["listing"], stats["consecutive_failures"]) == ("stale", 1)
        assert stats["last_refresh"] == listed["last_refresh"]  # the listing being served
        assert stats["last_error"] and stats["last_error_at"] >= stats["last_refresh"]
        assert health["delivery"]["hosts"][cdn.host]["state"] == "closed"  # another host


def inventory_of(s3: S3Server) -> str:
    bucket = s3.new_bucket()
    s3.client().put_object(
        Bucket=bucket, Key="wp-content/uploads/2024/05/photo-300x200.jpg", Body=b"jpeg"
    )
    settings = {
        "bucket": bucket,
        "prefix": "wp-content/uploads/",
        "endpoint_url": s3.endpoint_url,
        "access_key_id": s3.access_key_id,
        "secret_access_key": s3.secret_access_key,
        "region": s3.region,
        "startup_wait_seconds": 30,
        "refresh_seconds": 3600,
        "lookup_on_miss": False,
        "connect_timeout": 0.5,
        "read_timeout": 2,
    }
    return "inventory:\n  s3: " + json.dumps(settings)
