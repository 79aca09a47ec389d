"""The admin listener: readiness as the parts report it, and metrics that add up across
workers (a real ``serve --workers 2`` process, real sockets, a real origin)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from rewriteproxy.admin import create_admin_app, families_of
from rewriteproxy.app import STATE, create_app
from rewriteproxy.config import parse_config

from .conftest import CDN, PAGE, REWRITTEN_SRC, make_config
from .support.deliveryhost import DeliveryHost, eventually
from .support.net import children_of, free_port, process_holding, wait_until_healthy


async def admin_of(aiohttp_client: Any, proxy: web.Application) -> TestClient:
    return await aiohttp_client(create_admin_app(families_of(proxy[STATE])))  # type: ignore[no-any-return]


async def ready_of(admin: TestClient) -> tuple[int, str]:
    response = await admin.get("/ready")
    return response.status, await response.text()


@pytest.fixture
async def upstream(aiohttp_server: Any) -> str:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def test_ready_health_and_metrics_of_a_serving_proxy(upstream, aiohttp_client):
    proxy = await aiohttp_client(create_app(make_config(upstream)))
    await (await proxy.get("/")).read()
    admin = await admin_of(aiohttp_client, proxy.app)
    assert await ready_of(admin) == (200, "ready\n")
    health = await admin.get("/health")
    assert health.status == 200 and health.headers["Cache-Control"] == "no-store"
    metrics = await admin.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await metrics.text()
    assert 'rewriteproxy_requests_total{outcome="rewritten"} 1.0' in text
    assert 'rewriteproxy_upload_urls_rewritten_total{provider="cdn"} 1.0' in text
    assert 'rewriteproxy_upload_urls_kept_local_total{reason="not_an_upload"} 1.0' in text
    assert "rewriteproxy_rewrite_cache_misses_total 1.0" in text
    assert "rewriteproxy_request_duration_seconds_count 1.0" in text
    assert "rewriteproxy_added_latency_seconds_count 1.0" in text
    assert "rewriteproxy_rewrite_duration_seconds_count 1.0" in text
    assert "rewriteproxy_workers 1.0" in text and "rewriteproxy_inventory_ready 1.0" in text


async def test_a_page_served_again_counts_its_urls_again_as_a_cache_hit(upstream, aiohttp_client):
    proxy = await aiohttp_client(create_app(make_config(upstream)))
    for _ in range(3):
        assert REWRITTEN_SRC in await (await proxy.get("/")).read()
    metrics = proxy.app[STATE].metrics
    assert metrics.value("rewriteproxy_rewrite_cache_hits_total") == 2
    assert metrics.value("rewriteproxy_rewrite_cache_misses_total") == 1
    assert metrics.value("rewriteproxy_upload_urls_rewritten_total", provider="cdn") == 3


async def test_urls_the_inventory_does_not_know_are_kept_local_and_counted_so(
    upstream, aiohttp_client, tmp_path
):
    (tmp_path / "uploads").mkdir()  # an empty uploads directory: nothing exists
    extra = f"inventory: {{local: {{path: {tmp_path / 'uploads'}}}}}"
    proxy = await aiohttp_client(create_app(make_config(upstream, extra)))
    assert await (await proxy.get("/")).read() == PAGE
    assert (
        proxy.app[STATE].metrics.value(
            "rewriteproxy_upload_urls_kept_local_total", reason="missing"
        )
        == 1
    )


async def test_not_ready_before_a_worker_serves(upstream, aiohttp_client):
    proxy = create_app(make_config(upstream))  # built, not started
    admin = await admin_of(aiohttp_client, proxy)
    assert await ready_of(admin) == (503, "not ready: no worker serving yet (config not loaded)\n")


async def test_not_ready_until_the_inventory_s_first_listing(upstream, aiohttp_client):
    extra = f"""
inventory:
  s3:
    bucket: media
    endpoint_url: http://127.0.0.1:{free_port()}
    access_key_id: k
    secret_access_key: s
    region: us-east-1
    connect_timeout: 0.2
    read_timeout: 0.5
"""
    proxy = await aiohttp_client(create_app(make_config(upstream, extra)))
    admin = await admin_of(aiohttp_client, proxy.app)
    assert await ready_of(admin) == (503, "not ready: the inventory's first listing is not done\n")
    assert await (await proxy.get("/")).read() == PAGE  # served meanwhile, with local URLs


@pytest.mark.parametrize("requires_delivery", [False, True])
async def test_an_open_delivery_circuit_is_named_and_gates_ready_only_if_asked(
    upstream, aiohttp_client, requires_delivery
):
    async with DeliveryHost() as cdn:
        config = parse_config(f"""
upstream: {upstream}
site: {{hosts: [wp.test]}}
delivery:
  provider: cdn
  cdn: {{base_url: "{cdn.base_url}wp-content/uploads/"}}
  health: {{interval: 0.05, timeout: 0.3}}
""")
        proxy = await aiohttp_client(create_app(config))
        admin = await aiohttp_client(
            create_admin_app(families_of(proxy.app[STATE]), requires_delivery)
        )
        await (await proxy.get("/")).read()  # its URL becomes the probe's target
        await eventually(lambda: cdn.requests, what="a probe")
        assert await ready_of(admin) == (200, "ready\n")
        cdn.answer(503)

        async def says_open() -> bool:
            if requires_delivery:
                expected = (503, f"not ready: delivery circuit open for {cdn.host}\n")
            else:  # pages are correct with local URLs; every replica shares the CDN
                expected = (200, f"ready, with local URLs: delivery circuit open for {cdn.host}\n")
            return await ready_of(admin) == expected

        await eventually(says_open, what="/ready naming the open circuit")
        cdn.answer(200)

        async def ready_again() -> bool:
            return (await ready_of(admin))[0] == 200

        await eventually(ready_again, what="ready again")


# -- several workers: one admin listener, the sums ---------------------------------------

WORKERS_CONFIG = """
upstream: {upstream}
listen: {{host: 127.0.0.1, port: {port}}}
site: {{hosts: [wp.test]}}
delivery:
  provider: cdn
  cdn: {{base_url: "{cdn}"}}
  health: {{enabled: false}}
admin: {{listen: "127.0.0.1:{admin}"}}
log: {{format: json}}
"""


@pytest.fixture
async def two_workers(upstream: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    port, admin = free_port(), free_port()
    config = tmp_path / "c.yaml"
    config.write_text(WORKERS_CONFIG.format(upstream=upstream, port=port, admin=admin, cdn=CDN))
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "rewriteproxy", "serve", "--config", str(config), "--workers", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(temp)},  # where the metric files' directory goes
        limit=1 << 20,
    )
    lines: list[str] = []

    async def read_log() -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            lines.append(line.decode(errors="replace"))

    reader = asyncio.ensure_future(read_log())
    served = {"process": process, "port": port, "admin": f"http://127.0.0.1:{admin}"}
    served.update(log=lines, temp=temp)
    try:
        await wait_until_healthy(f"http://127.0.0.1:{admin}/health", "the admin listener")
        await eventually(lambda: _sample(served, "rewriteproxy_workers") == 2, what="2 workers")
        yield served
    finally:
        if process.returncode is None:
            process.terminate()
        served["code"] = await asyncio.wait_for(process.wait(), 20)
        await asyncio.wait_for(reader, 10)


def _scrape(served: dict[str, Any]) -> str:
    import urllib.request

    with urllib.request.urlopen(served["admin"] + "/metrics", timeout=5) as response:
        return str(response.read().decode())


def _sample(served: dict[str, Any], name: str) -> float | None:
    try:
        text = _scrape(served)
    except OSError:
        return None
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


async def test_the_admin_listener_sums_every_worker_s_metrics(two_workers):
    served = two_workers
    holders = []
    for _ in range(40):  # a new connection each time: the kernel spreads them
        reader, writer = await asyncio.open_connection("127.0.0.1", served["port"])
        writer.write(b"GET / HTTP/1.1\r\nHost: wp.test\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        assert head.startswith(b"HTTP/1.1 200") and length
        assert REWRITTEN_SRC in await reader.readexactly(int(length.group(1)))
        holders.append(
            process_holding(writer.get_extra_info("socket"), children_of(served["process"].pid))
        )
        writer.close()
    assert len(set(holders) - {None}) == 2, "both workers served some"

    # Each worker hands its counts over once a second.
    rewritten = 'rewriteproxy_requests_total{outcome="rewritten"}'
    await eventually(lambda: _sample(served, rewritten) == 40, what="40 requests in the sum")
    text = _scrape(served)
    assert re.search(r"^rewriteproxy_request_duration_seconds_count 40\.0$", text, re.M)
    assert re.search(
        r'^rewriteproxy_upload_urls_rewritten_total\{provider="cdn"\} 40\.0$', text, re.M
    )
    assert re.search(r"^rewriteproxy_workers 2\.0$", text, re.M)
    async with aiohttp.ClientSession() as session:
        async with session.get(served["admin"] + "/ready") as response:
            assert (response.status, await response.text()) == (200, "ready\n")
        async with session.get(f"http://127.0.0.1:{served['port']}/-/rewriteproxy/health") as r:
            assert r.status == 200 and REWRITTEN_SRC in await r.read()  # WordPress's page
    await eventually(lambda: _access_lines(served) == 41, what="41 access lines")
    duration = "rewriteproxy_request_duration_seconds_count"
    await eventually(lambda: _sample(served, duration) == 41, what="41 requests timed")

    worker = next(pid for pid in children_of(served["process"].pid) if pid in holders)
    os.kill(worker, signal.SIGKILL)  # restarted by the parent; its gauges go, its counts stay
    await eventually(
        lambda: (
            worker not in children_of(served["process"].pid)
            and len(children_of(served["process"].pid)) == 3
            and _sample(served, "rewriteproxy_workers") == 2
        ),
        what="the worker replaced",
    )
    assert _sample(served, duration) == 41


def _access_lines(served: dict[str, Any]) -> int:
    entries = []
    for line in served["log"]:
        entry = json.loads(line)  # every line, events too, is one JSON object
        if entry.get("type") == "access":
            entries.append(entry)
    return len(entries)


async def test_the_metric_files_go_when_the_server_stops(upstream, tmp_path, two_workers):
    served = two_workers
    (metric_files,) = served["temp"].iterdir()  # one private directory, and nothing else
    assert metric_files.name.startswith("rewriteproxy-metrics-") and any(metric_files.iterdir())
    served["process"].terminate()
    assert await asyncio.wait_for(served["process"].wait(), 20) == 0
    assert list(served["temp"].iterdir()) == []
