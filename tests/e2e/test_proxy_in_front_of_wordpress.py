"""The proxy in front of a real WordPress: every upload URL moves to the CDN, nothing else changes.

Each page is fetched twice, straight from WordPress and through the proxy, and
the two must be equal once every upload URL (local in one, delivery in the
other) is masked. That is the byte-preserving promise, checked on the output
of a real WordPress 6.1, with its classic theme and with its block theme, for
the home page, every post, a page, the REST API, the feed and the sitemaps.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import replace
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
        rb"(?:https?:)?"
        + slash
        + slash
        + re.escape(host.encode())
        + slash
        + rb"wp-content"
        + slash
        + rb"uploads"
        + slash
        + rb"""[^\s"'<>(),\\&]+(?:\\/[^\s"'<>(),\\&]+)*"""
    )


LOCAL = _url_pattern("wp.test")
DELIVERED = _url_pattern(CDN_HOST)


def mask(body: bytes, pattern: re.Pattern[bytes]) -> bytes:
    return pattern.sub(b"<UPLOAD-URL>", body)


def _without_per_request_values(body: bytes) -> bytes:
    """An admin screen with the values WordPress changes on each request masked.

    With no e-mail hash to pick one by, WordPress picks one of its avatar servers
    (0-2.gravatar.com) at random; ``userSettings`` and the editor's post lock
    carry the current time.
    """
    body = re.sub(rb"\b[0-2]\.gravatar\.com", b"N.gravatar.com", body)
    body = re.sub(rb'"activePostLock":"[0-9]+:', b'"activePostLock":"T:', body)
    return re.sub(rb'"time":"[0-9]+"', b'"time":"T"', body)


@pytest.fixture(params=["classic", "block"])
def site(request: pytest.FixtureRequest) -> Site:
    """The session's WordPress with each of the two kinds of theme."""
    name = "wordpress" if request.param == "classic" else "block_theme_wordpress"
    site: Site = request.getfixturevalue(name)
    return site


@pytest.fixture
async def proxy(site: Site, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    config = parse_config(f"""
upstream: {site.base_url}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: cdn
  cdn: {{base_url: "https://{CDN_HOST}/wp-content/uploads/"}}
  health: {{enabled: false}}  # the CDN is a name only: a probe would turn rewriting off
""")
    return await aiohttp_client(create_app(config))


def _paths(site: Site) -> list[str]:
    posts = site.content["posts"]
    post_paths = [urllib.parse.urlsplit(p["url"]).path for p in posts.values()]
    return [
        "/",
        *post_paths,
        "/wp-json/wp/v2/media?per_page=100",
        "/wp-json/wp/v2/posts?per_page=100",
        "/feed/",
    ]


GUID = re.compile(rb'"guid":\{"rendered":"[^"]*"\}')


async def test_every_upload_url_points_to_the_cdn_and_nothing_else_changes(site, proxy):
    checked = 0
    types = {p["type"] for p in site.content["posts"].values()}
    assert types == {"post", "page"}
    for path in _paths(site):
        direct = site.get(path)
        assert direct.status == 200, path
        through = await proxy.get(path, headers=site.headers)
        body = await through.read()
        assert through.status == 200, path
        # Identifiers stay local (an attachment's REST guid is its file URL): byte for byte,
        # and out of the comparison below.
        assert GUID.findall(body) == GUID.findall(direct.body), path
        body, direct = GUID.sub(b"", body), replace(direct, body=GUID.sub(b"", direct.body))
        assert LOCAL.search(body) is None, (path, LOCAL.search(body))
        assert LOCAL.search(direct.body), f"{path} has no upload URL to rewrite"
        assert DELIVERED.search(body), path
        assert mask(body, DELIVERED) == mask(direct.body, LOCAL), path
        checked += 1
    assert checked >= 6


async def test_sitemaps_pass_through_unchanged(site, proxy):
    # WordPress's own sitemaps list pages, not media: there is no upload URL to move.
    for path in ("/wp-sitemap.xml", "/wp-sitemap-posts-post-1.xml", "/wp-sitemap-posts-page-1.xml"):
        direct = site.get(path)
        through = await proxy.get(path, headers=site.headers)
        assert through.status == direct.status == 200
        assert LOCAL.search(direct.body) is None, path
        assert await through.read() == direct.body


async def test_logged_in_users_and_wp_admin_pass_through_untouched(site, proxy):
    login = await proxy.post(
        "/wp-login.php",
        data={
            "log": site.admin_user,
            "pwd": site.admin_password,
            "testcookie": "1",
            "redirect_to": "/wp-admin/",
        },
        headers={**site.headers, "Cookie": "wordpress_test_cookie=WP%20Cookie%20check"},
        allow_redirects=False,
    )
    assert login.status == 302, await login.text()
    cookies = "; ".join(
        c.split(";", 1)[0]
        for c in login.headers.getall("Set-Cookie")
        if "wordpress_" in c and "deleted" not in c
    )
    assert "wordpress_logged_in_" in cookies
    headers = {**site.headers, "Cookie": cookies}

    # Logged in, every page comes back as WordPress sent it, admin screens included
    # (nonces are stable for one session, so all bytes repeat but three values).
    edit = f"/wp-admin/post.php?post={site.content['posts']['everything']['id']}&action=edit"
    with_uploads = ("/", "/everything/", "/wp-admin/upload.php?mode=list", edit)
    for path in ("/wp-admin/", *with_uploads):
        direct = site.get(path, headers)
        through = await proxy.get(path, headers=headers, allow_redirects=False)
        body = await through.read()
        assert through.status == direct.status == 200, path
        if path in with_uploads:
            assert LOCAL.search(body), f"{path} has no upload URL that could have been rewritten"
        assert not DELIVERED.search(body), path
        assert _without_per_request_values(body) == _without_per_request_values(direct.body), path


# Post content with its upload URLs written path-relative to the page, as hand-written HTML
# or a relative-URL plugin leaves them (WordPress itself writes absolute ones). Priority 20:
# after wp_filter_content_tags, so srcset lists are relative too.
RELATIVE_UPLOADS = r"""<?php
add_filter('the_content', function ($content) {
    $path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
    $dir = substr($path, 0, strrpos($path, '/') + 1);
    $up = str_repeat('../', substr_count($dir, '/') - 1);
    return str_replace(home_url('/wp-content/uploads/'), $up . 'wp-content/uploads/', $content);
}, 20);
"""
RELATIVE = re.compile(rb"""(?<=["'\s,(])(?:\.\./)*wp-content/uploads/[^\s"'<>(),\\&]+""")


async def test_path_relative_upload_urls_in_real_content_are_resolved_and_rewritten(site, proxy):
    with site.mu_plugin("relative-uploads", RELATIVE_UPLOADS):
        for path in ("/everything/", "/about/"):
            direct = site.get(path)
            assert direct.status == 200, path
            relative = RELATIVE.findall(direct.body)
            assert relative and all(r.startswith(b"../wp-content/") for r in relative), path
            through = await proxy.get(path, headers=site.headers)
            body = await through.read()
            assert RELATIVE.search(body) is None and LOCAL.search(body) is None, path
            assert mask(body, DELIVERED) == mask(mask(direct.body, LOCAL), RELATIVE), path
