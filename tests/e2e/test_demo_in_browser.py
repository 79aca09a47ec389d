"""The demo, seen in a real browser: every image of every page loads from the stand-in CDN."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from ..support.net import wait_until_healthy
from .browser import require_chromium, visit

pytestmark = pytest.mark.browser


def _three_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base > 65000:
            continue
        try:
            held = []
            for port in (base, base + 1, base + 2):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no three consecutive free ports")


@pytest.fixture
async def demo():
    require_chromium()
    port = _three_free_ports()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "demo",
        "--port",
        str(port),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        await wait_until_healthy(f"http://127.0.0.1:{port}/", "the demo")
    except AssertionError:
        process.kill()
        raise
    yield port
    process.terminate()
    await asyncio.wait_for(process.wait(), 10)


async def test_demo_pages_load_every_image_from_the_cdn(demo):
    port = demo
    proxy, cdn = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 2}"
    pages = [f"{proxy}/", f"{proxy}/everything/", f"{proxy}/about/"]
    reports = await visit(pages, screenshot_prefix="demo")
    for report in reports:
        assert report.status == 200, report.url
        assert report.failed_requests == [], report.url
        assert report.console_errors == [], report.url
        uploads = [i for i in report.images if "/wp-content/uploads/" in i.src]
        assert uploads, f"{report.url} shows no upload images"
        for image in uploads:
            assert image.current_src.startswith(cdn), (report.url, image)
            assert image.natural_width > 0, (report.url, image)
        assert not [u for u in report.requested if u.startswith(proxy + "/wp-content/uploads/")], (
            report.url
        )


async def test_demo_pages_switched_off_load_every_image_locally(demo):
    port = demo
    proxy = f"http://127.0.0.1:{port}"
    reports = await visit([f"{proxy}/?rewriteproxy=off"])
    report = reports[0]
    assert report.failed_requests == []
    uploads = [i for i in report.images if "/wp-content/uploads/" in i.src]
    assert uploads
    for image in uploads:
        assert image.current_src.startswith(proxy + "/wp-content/uploads/"), image
        assert image.natural_width > 0, image
