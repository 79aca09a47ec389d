"""``rewriteproxy sync`` to Cloudinary, then the proxy in front of a site, end to end.

A real config file, the real ``sync`` command and the real proxy application;
Cloudinary itself is a local stand-in for its Admin and Upload APIs
(:mod:`tests.support.cloudinaryserver`), since it is a hosted service and these
tests have no network. What is shown: after ``sync``, the proxy's Cloudinary
inventory lists what was uploaded and pages are rewritten for exactly those
files (a sub-size through its master, with the master's version), while a
file that was never synced keeps its local URL; a second ``sync`` has
nothing to do.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from rewriteproxy.app import create_app
from rewriteproxy.commands import sync as sync_command
from rewriteproxy.config import load_config
from tests.support.cloudinaryserver import CloudinaryStandIn, threaded_stand_in

SITE = "http://wp.test/wp-content/uploads/2024/05/"
PAGE = f"""<!doctype html><html><head><title>t</title></head><body>
<img src="{SITE}photo-300x200.jpg" srcset="{SITE}photo-300x200.jpg 300w, {SITE}photo.jpg 1200w"
 sizes="(max-width: 300px) 100vw, 300px" width="300" height="200" alt="">
<audio src="{SITE}song.mp3"></audio>
<img src="{SITE}later.jpg" alt="">
<a href="{SITE}report.pdf">report</a>
</body></html>""".encode()


@pytest.fixture
def stand_in() -> Iterator[CloudinaryStandIn]:
    with threaded_stand_in() as server:
        yield server


@pytest.fixture
async def upstream(aiohttp_server: Any) -> str:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


def write_config(path: Path, upstream: str, stand_in: CloudinaryStandIn) -> Path:
    path.write_text(f"""
upstream: {upstream}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: cloudinary
  health: {{enabled: false}}
  cloudinary:
    cloud_name: {stand_in.cloud_name}
    folder: wp
    api_key: "${{CLOUDINARY_API_KEY}}"
    api_secret: "${{CLOUDINARY_API_SECRET}}"
    api_base_url: {stand_in.base_url}
inventory:
  cloudinary: {{startup_wait_seconds: 10}}
""")
    return path


def invoke(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sync_command.add_arguments(parser)
    return int(sync_command.run(parser.parse_args(list(argv))))


async def test_sync_then_pages_rewrite_exactly_what_cloudinary_has(
    tmp_path: Path,
    upstream: str,
    stand_in: CloudinaryStandIn,
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CLOUDINARY_API_KEY", stand_in.api_key)
    monkeypatch.setenv("CLOUDINARY_API_SECRET", stand_in.api_secret)
    config = write_config(tmp_path / "rewriteproxy.yaml", upstream, stand_in)
    uploads = tmp_path / "uploads"
    (uploads / "2024/05").mkdir(parents=True)
    for name, data in [
        ("photo.jpg", b"the master"),
        ("photo-300x200.jpg", b"a sub-size WordPress made"),
        ("song.mp3", b"audio"),
        ("report.pdf", b"%PDF"),
    ]:
        (uploads / "2024/05" / name).write_bytes(data)

    assert invoke("--config", str(config), str(uploads), "--dry-run") == 0
    out = capsys.readouterr()
    assert "would upload 2024/05/photo.jpg (10 bytes) as image wp/2024/05/photo" in out.out
    assert "1 sizes delivered from their masters, 1 kept local" in out.err
    assert stand_in.assets == {}

    assert invoke("--config", str(config), str(uploads)) == 0
    assert "uploaded 2 files" in capsys.readouterr().err
    assert sorted(stand_in.assets) == [("image", "wp/2024/05/photo"), ("video", "wp/2024/05/song")]
    # Uploaded to WordPress after the sync: on the site, not on Cloudinary.
    (uploads / "2024/05/later.jpg").write_bytes(b"new")

    client = await aiohttp_client(create_app(load_config(config)))
    response = await client.get("/2024/05/post/")
    assert response.status == 200
    page = (await response.read()).decode()
    photo = stand_in.assets[("image", "wp/2024/05/photo")].version
    song = stand_in.assets[("video", "wp/2024/05/song")].version
    res = "https://res.cloudinary.com/demo"
    assert (
        f'src="{res}/image/upload/c_lfill,g_center,h_200,w_300/f_auto,q_auto/v{photo}/wp/2024/05/photo.jpg"'
        in page
    )
    assert f"/f_auto,q_auto/v{photo}/wp/2024/05/photo.jpg 1200w" in page
    versions = re.findall(r"/v(\d+)/wp/2024/05/photo\.jpg", page)
    assert len(versions) > 2 and set(versions) == {str(photo)}  # src and srcset agree
    assert f'<audio src="{res}/video/upload/v{song}/wp/2024/05/song.mp3">' in page
    assert f'<img src="{SITE}later.jpg"' in page  # never synced: local
    assert f'href="{SITE}report.pdf"' in page  # kept local by the config
    assert not re.search(r"v\d+/wp/2024/05/photo-300x200", page)

    assert invoke("--config", str(config), str(uploads)) == 0
    err = capsys.readouterr().err
    assert "2 already synced, 1 missing" in err  # later.jpg, now
    assert ("image", "wp/2024/05/later") in stand_in.assets


@pytest.mark.parametrize(
    ("cloudinary", "argv", "message"),
    [
        ("{cloud_name: demo, folder: wp}", [], "needs delivery.cloudinary.api_key and api_secret"),
        (
            "{cloud_name: demo, delivery_type: fetch, api_key: k, api_secret: s}",
            [],
            "delivery_type is fetch: Cloudinary fetches from the origin",
        ),
        (
            "{cloud_name: demo, folder: wp, api_key: k, api_secret: s}",
            ["--delete"],
            "--delete is not supported for Cloudinary demo/wp",
        ),
    ],
)
def test_what_sync_cannot_do_with_cloudinary_it_says(
    tmp_path: Path,
    cloudinary: str,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "rewriteproxy.yaml"
    config.write_text(f"""
upstream: http://127.0.0.1:9
site: {{hosts: [wp.test]}}
delivery:
  provider: cloudinary
  cloudinary: {cloudinary}
""")
    assert invoke("--config", str(config), str(tmp_path), *argv) == 2
    assert message in capsys.readouterr().err
