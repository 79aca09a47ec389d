"""``rewriteproxy check``: one line per part, a JSON twin, and an exit status to act on.

Real parts only: WordPress is a loopback aiohttp app that answers as WordPress
does (its REST API Link header), the bucket is SeaweedFS, a delivery host or
Cloudinary is tests/support/deliveryhost.py, and the running proxy whose circuit
is reported is the real application on a real port.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web
from multidict import CIMultiDict

from rewriteproxy.admin import create_admin_app, families_of
from rewriteproxy.app import STATE, create_app
from rewriteproxy.commands.check import FAILED, OK, SKIPPED, check, wordpress_sign
from rewriteproxy.config import parse_config

from ..support.deliveryhost import DeliveryHost, eventually
from ..support.net import free_port
from ..support.s3server import S3Server

PREFIX = "wp-content/uploads/"
API_LINK = '<http://wp.test/wp-json/>; rel="https://api.w.org/"'


def rewriteproxy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rewriteproxy", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines(stdout: str) -> dict[str, list[str]]:
    """``part → [status, detail]`` of the human report."""
    return {
        p: rest.split(maxsplit=1)
        for p, rest in (line.split(maxsplit=1) for line in stdout.splitlines())
    }


async def start_wordpress(
    aiohttp_server, headers: dict[str, str] | None = None, page: bytes = b""
) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """A stand-in WordPress on loopback; returns its URL and the Host of each request."""
    hosts: list[str] = []

    async def front(request: web.Request) -> web.Response:
        hosts.append(request.headers.get("Host", ""))
        answer = {"Link": API_LINK} if headers is None else headers
        return web.Response(body=page or b"<html></html>", headers=answer, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", front)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), hosts


def s3_config(upstream: str, server: S3Server, bucket: str, port: int) -> str:
    return f"""
upstream: {upstream}
listen: {{host: 127.0.0.1, port: {port}}}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: s3
  s3: {{bucket: {bucket}, prefix: {PREFIX}, endpoint_url: "{server.endpoint_url}", addressing: path}}
inventory:
  s3:
    bucket: {bucket}
    prefix: {PREFIX}
    endpoint_url: "{server.endpoint_url}"
    region: {server.region}
    access_key_id: {server.access_key_id}
    secret_access_key: {server.secret_access_key}
"""


def local_config(
    upstream: str, uploads: Path, delivery: str, port: int | None = None, admin: int | None = None
) -> str:
    return f"""
upstream: {upstream}
listen: {{host: 127.0.0.1, port: {port or free_port()}}}
admin: {{listen: "127.0.0.1:{admin or free_port()}"}}
site: {{hosts: [wp.test], scheme: http}}
delivery:
{delivery}
inventory:
  local: {{path: {uploads}}}
"""


def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    (folder / "2024" / "05").mkdir(parents=True)
    (folder / "2024" / "05" / "notes.txt").write_text("not an image")
    (folder / "2024" / "05" / "photo.jpg").write_bytes(b"jpeg")
    return folder


@pytest.mark.s3
async def test_everything_answers_and_it_exits_0(tmp_path, aiohttp_server, s3_server: S3Server):  # type: ignore[no-untyped-def]
    upstream, hosts = await start_wordpress(aiohttp_server)
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    for key in ("2024/05/a-readme.txt", "2024/05/photo.jpg", "2024/06/other.png"):
        client.put_object(Bucket=bucket, Key=PREFIX + key, Body=b"bytes of " + key.encode())
    client.put_object(Bucket=bucket, Key="elsewhere/x.jpg", Body=b"outside the prefix")
    config = tmp_path / "c.yaml"
    config.write_text(s3_config(upstream, s3_server, bucket, free_port()))

    done = await asyncio.to_thread(rewriteproxy, "--config", str(config))
    assert done.returncode == 0, done.stdout
    report = lines(done.stdout)
    assert list(report) == ["config", "upstream", "inventory", "delivery", "circuit"]
    assert report["config"] == [OK, f"{config} is valid: rewriting on, delivery s3, inventory s3"]
    assert report["upstream"][0] == OK
    assert "WordPress: its REST API Link header <http://wp.test/wp-json/>" in report["upstream"][1]
    assert hosts == ["wp.test"]  # asked as the proxy asks: for the site's host
    assert report["inventory"] == [OK, f"s3://{bucket}/{PREFIX} lists 3 objects"]
    # The image the listing holds, from the bucket's public URL: a real object, a real 200.
    delivered = f"{s3_server.endpoint_url}/{bucket}/{PREFIX}2024/05/photo.jpg"
    assert report["delivery"][0] == OK
    assert report["delivery"][1].startswith(f"{delivered}")
    assert "answered 200 OK (2024/05/photo.jpg is in the inventory)" in report["delivery"][1]
    assert report["circuit"][0] == SKIPPED  # no proxy running: not a failure
    assert done.stderr == ""

    as_json = await asyncio.to_thread(rewriteproxy, "--config", str(config), "--json")
    assert as_json.returncode == 0
    document = json.loads(as_json.stdout)
    assert document["ok"] is True
    assert datetime.fromisoformat(document["checked_at"]).tzinfo is not None
    parts = {p["part"]: p for p in document["parts"]}
    assert [p["status"] for p in document["parts"]] == [OK, OK, OK, OK, SKIPPED]
    assert parts["inventory"]["bucket"] == {"url": f"s3://{bucket}/{PREFIX}", "objects": 3}
    assert parts["inventory"]["sample"] == "2024/05/photo.jpg"
    assert parts["delivery"]["http_status"] == 200


async def test_a_known_object_the_delivery_host_lacks_is_a_failure(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    upstream, _ = await start_wordpress(aiohttp_server)
    async with DeliveryHost() as cdn:
        cdn.answer(404)
        config = tmp_path / "c.yaml"
        delivery = f"  provider: cdn\n  cdn: {{base_url: '{cdn.base_url}media/'}}"
        config.write_text(local_config(upstream, uploads(tmp_path), delivery))
        done = await asyncio.to_thread(rewriteproxy, "--config", str(config))
    assert done.returncode == 1
    report = lines(done.stdout)
    assert report["inventory"] == [OK, f"{tmp_path / 'uploads'} holds 2 files"]
    assert report["delivery"][0] == "FAILED"
    assert "answered 404 Not Found (2024/05/photo.jpg is in the inventory)" in report["delivery"][1]
    assert [path for _, path in cdn.requests] == ["/media/2024/05/photo.jpg"]


async def test_cloudinary_resizes_the_sample_too(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    upstream, _ = await start_wordpress(aiohttp_server)
    async with DeliveryHost() as cloudinary:  # a stand-in reached through cname over http
        delivery = (
            "  provider: cloudinary\n"
            f"  cloudinary: {{cloud_name: demo, secure: false, cname: '{cloudinary.host}'}}"
        )
        config = parse_config(local_config(upstream, uploads(tmp_path), delivery))
        results = {r.part: r for r in await check(config, 5, 30)}
        assert results["delivery"].status == OK
        assert results["cloudinary"].status == OK
        assert "/c_limit,w_100/" in results["cloudinary"].facts["url"]

        # Strict transformations: Cloudinary refuses a transformation not allowed.
        cloudinary.answer_for(results["cloudinary"].facts["url"].split(cloudinary.host, 1)[1], 401)
        results = {r.part: r for r in await check(config, 5, 30)}
    assert results["delivery"].status == OK
    assert results["cloudinary"].status == FAILED


async def test_a_site_that_is_not_wordpress_fails(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    upstream, _ = await start_wordpress(aiohttp_server, headers={}, page=b"<h1>It works!</h1>")
    config = parse_config(local_config(upstream, uploads(tmp_path), "  provider: none"))
    results = {r.part: r for r in await check(config, 5, 30)}
    assert results["upstream"].status == FAILED
    assert "shows no sign of WordPress" in results["upstream"].detail
    assert results["delivery"].status == SKIPPED  # provider none


def test_wordpress_shows_itself_by_its_link_header_a_redirect_or_its_paths() -> None:
    assert wordpress_sign(CIMultiDict(Link=API_LINK), b"") == (
        "its REST API Link header <http://wp.test/wp-json/>"
    )
    redirect = CIMultiDict({"X-Redirect-By": "WordPress", "Location": "https://wp.test/"})
    assert wordpress_sign(redirect, b"") == "a WordPress redirect to https://wp.test/"
    page = b'<link rel="stylesheet" href="/wp-includes/css/dist/block-library/style.min.css">'
    assert wordpress_sign(CIMultiDict(), page) == "/wp-includes/ in the page"
    assert wordpress_sign(CIMultiDict(Link="</feed>; rel=alternate"), b"<p>hello</p>") is None


async def test_an_unreachable_upstream_fails_and_everything_is_on_stdout(tmp_path):  # type: ignore[no-untyped-def]
    config = tmp_path / "c.yaml"
    config.write_text(
        local_config(f"http://127.0.0.1:{free_port()}", uploads(tmp_path), "  provider: none")
    )
    done = await asyncio.to_thread(rewriteproxy, "--config", str(config), "--timeout", "2")
    assert done.returncode == 1
    assert lines(done.stdout)["upstream"][0] == "FAILED"
    assert "is not reachable" in lines(done.stdout)["upstream"][1]
    assert done.stderr == ""


async def test_the_running_proxy_reports_an_open_circuit(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    upstream, _ = await start_wordpress(aiohttp_server)
    async with DeliveryHost() as cdn:
        port, admin = free_port(), free_port()
        delivery = (
            f"  provider: cdn\n  cdn: {{base_url: '{cdn.base_url}'}}\n"
            f"  health: {{interval: 0.05, probe_url: '{cdn.base_url}2024/05/photo.jpg'}}"
        )
        config = parse_config(local_config(upstream, uploads(tmp_path), delivery, port, admin))
        app = create_app(config)
        await aiohttp_server(app, port=port)  # the proxy this config describes, running
        admin_app = create_admin_app(families_of(app[STATE]))
        await aiohttp_server(admin_app, port=admin)  # and its admin listener
        results = {r.part: r for r in await check(config, 5, 30)}
        assert results["circuit"].status == OK
        assert results["circuit"].detail == f"{cdn.host} closed"

        cdn.answer(503)  # the probe's known object fails: the circuit opens

        async def circuit() -> str:
            return {r.part: r for r in await check(config, 5, 30)}["circuit"].detail

        await eventually(lambda: _opened(circuit), what="the circuit to open")
        results = {r.part: r for r in await check(config, 5, 30)}
    assert results["circuit"].status == FAILED
    assert results["circuit"].detail == f"{cdn.host} open"
    assert results["circuit"].facts["hosts"] == {cdn.host: {"state": "open"}}


async def _opened(circuit) -> bool:  # type: ignore[no-untyped-def]
    return str(await circuit()).endswith(" open")


def test_an_invalid_config_exits_2_and_says_why_on_stdout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstream: http://x\nsite:\n  hosts: [wp.test]\n  uplods_path: /x/\n")
    done = rewriteproxy("--config", str(bad))
    assert done.returncode == 2
    said = f"{bad}: site.uplods_path (line 4): unknown key; did you mean uploads_path?"
    assert lines(done.stdout)["config"] == ["FAILED", said]
    as_json = rewriteproxy("--config", str(bad), "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["parts"] == [
        {"part": "config", "status": FAILED, "detail": said}
    ]
