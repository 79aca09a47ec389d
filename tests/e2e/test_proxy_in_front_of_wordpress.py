"""The proxy in front of a real WordPress: every upload URL moves to the CDN, nothing else changes.

Each page is fetched twice, straight from WordPress and through the proxy, and
the two must be equal once every upload URL (local in one, delivery in the
other) is masked. That is the byte-preserving promise, checked on the output
of a real WordPress 6.1 for pages, the REST API, the feed and the sitemaps.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING

import pytest
from aiohttp.test_utils import TestClient

from rewriteproxy.app import create_app
from rewriteproxy.config import parse_config

if TYPE_CHECKING:
    from harness import Site

pytestmark = pytest.mark.wordpress

CDN_HOST = "cdn.example.net"


def _url_pattern(host: str) -> re.Pattern[bytes]:
    slash = rb"(?:\\?/)"
    return re.compile(
        rb"(?:https?:)?" + slash + slash + re.escape(host.encode()) + slash
        + rb"wp-content" + slash + rb"uploads" + slash + rb"""[^\s"'<>(),\\&]+(?:\\/[^\s"'<>(),\\&]+)*"""
    )


LOCAL = _url_pattern("wp.test")
DELIVERED = _url_pattern(CDN_HOST)


def mask(body: bytes, pattern: re.Pattern[bytes]) -> bytes:
    return pattern.sub(b"<UPLOAD-URL>", body)


@pytest.fixture
async def proxy(wordpress: Site, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    config = parse_config(f"""
upstream: {wordpress.base_url}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: cdn
  cdn: {{base_url: "https://{CDN_HOST}/wp-content/uploads/"}}
""")
    return await aiohttp_client(create_app(config))


def _paths(wordpress: Site) -> list[str]:
    posts = wordpress.content["posts"]
    post_paths = [urllib.parse.urlsplit(p["url"]).path for p in posts.values()]
    return ["/", *post_paths, "/wp-json/wp/v2/media?per_page=100",
            "/wp-json/wp/v2/posts?per_page=100", "/feed/"]


async def test_every_upload_url_points_to_the_cdn_and_nothing_else_changes(wordpress, proxy):
    checked = 0
    for path in _paths(wordpress):
        direct = wordpress.get(path)
        assert direct.status == 200, path
        through = await proxy.get(path, headers=wordpress.headers)
        body = await through.read()
        assert through.status == 200, path
        assert LOCAL.search(body) is None, (path, LOCAL.search(body))
        assert LOCAL.search(direct.body), f"{path} has no upload URL to rewrite"
        assert DELIVERED.search(body), path
        assert mask(body, DELIVERED) == mask(direct.body, LOCAL), path
        checked += 1
    assert checked >= 6


async def test_sitemaps_pass_through_unchanged(wordpress, proxy):
    for path in ("/wp-sitemap.xml", "/wp-sitemap-posts-post-1.xml"):
        direct = wordpress.get(path)
        through = await proxy.get(path, headers=wordpress.headers)
        assert through.status == direct.status == 200
        assert await through.read() == direct.body


async def test_logged_in_users_and_wp_admin_see_local_urls(wordpress, proxy):
    login = await proxy.post(
        "/wp-login.php",
        data={"log": wordpress.admin_user, "pwd": wordpress.admin_password,
              "testcookie": "1", "redirect_to": "/wp-admin/"},
        headers={**wordpress.headers, "Cookie": "wordpress_test_cookie=WP%20Cookie%20check"},
        allow_redirects=False,
    )
    assert login.status == 302, await login.text()
    cookies = "; ".join(
        c.split(";", 1)[0] for c in login.headers.getall("Set-Cookie")
        if "wordpress_" in c and "deleted" not in c
    )
    assert "wordpress_logged_in_" in cookies
    headers = {**wordpress.headers, "Cookie": cookies}

    home = await (await proxy.get("/", headers=headers)).read()
    assert LOCAL.search(home) and not DELIVERED.search(home)

    admin = await proxy.get("/wp-admin/upload.php", headers=headers)
    assert admin.status == 200
    assert not DELIVERED.search(await admin.read())
