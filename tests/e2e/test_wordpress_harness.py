"""The WordPress harness serves a real, seeded WordPress on loopback.

These tests are the harness's specification: what later end-to-end tests may rely
on (pages naming the public host, nginx serving every sub-size WordPress made, the
REST, feed and sitemap endpoints, SQL straight to its database, application passwords)
and that stopping leaves nothing behind.
"""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conftest import wordpress_harness

if TYPE_CHECKING:
    from harness import Site, WordPress

pytestmark = pytest.mark.wordpress


def upload_path(site: Site, relative: str) -> str:
    return urllib.parse.urlsplit(site.uploads_url).path + "/" + relative


def test_home_page_names_uploads_under_the_public_address(wordpress: Site) -> None:
    resp = wordpress.get("/")
    assert resp.status == 200
    assert resp.content_type.startswith("text/html")
    assert f'src="{wordpress.uploads_url}/2024/03/'.encode() in resp.body
    assert b"srcset=" in resp.body


def test_nginx_serves_every_sub_size_wordpress_made(wordpress: Site) -> None:
    meta = wordpress.content["attachments"]["landscape"]["metadata"]
    folder = Path(meta["file"]).parent
    assert "medium" in meta["sizes"]  # e.g. mountain-lake-300x188.jpg
    for size in meta["sizes"].values():
        relative = f"{folder}/{size['file']}"
        resp = wordpress.get(upload_path(wordpress, relative))
        assert resp.status == 200, relative
        assert resp.content_type == "image/jpeg"
        assert resp.body == (wordpress.uploads_dir / relative).read_bytes()


def test_an_image_wider_than_2560_is_served_as_its_scaled_copy(wordpress: Site) -> None:
    panorama = wordpress.content["attachments"]["panorama"]
    assert panorama["url"].endswith("/wide-panorama-scaled.jpg")
    assert panorama["metadata"]["original_image"] == "wide-panorama.jpg"
    assert panorama["metadata"]["width"] == 2560
    for name in ("wide-panorama-scaled.jpg", "wide-panorama.jpg"):
        assert wordpress.get(upload_path(wordpress, f"2024/03/{name}")).status == 200


def test_rest_media_lists_every_attachment(wordpress: Site) -> None:
    resp = wordpress.get("/wp-json/wp/v2/media?per_page=100")
    assert resp.status == 200
    assert resp.content_type.startswith("application/json")
    listed = {item["source_url"] for item in json.loads(resp.body)}
    seeded = {a["url"] for a in wordpress.content["attachments"].values()}
    assert listed == seeded
    assert {"image/gif", "image/png", "application/pdf", "video/mp4"} <= {
        item["mime_type"] for item in json.loads(resp.body)
    }


def test_feed_lists_the_seeded_posts(wordpress: Site) -> None:
    resp = wordpress.get("/feed/")
    assert resp.status == 200
    assert resp.content_type.startswith("application/rss+xml")
    links = {item.findtext("link") for item in ET.fromstring(resp.body).iter("item")}
    posts = {p["url"] for p in wordpress.content["posts"].values() if p["type"] == "post"}
    assert links == posts


def test_sitemap_index_points_at_the_post_and_page_sitemaps(wordpress: Site) -> None:
    resp = wordpress.get("/wp-sitemap.xml")
    assert resp.status == 200
    ns = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {e.text for e in ET.fromstring(resp.body).findall("sm:sitemap/sm:loc", ns)}
    assert f"{wordpress.public_url}/wp-sitemap-posts-post-1.xml" in locs
    assert f"{wordpress.public_url}/wp-sitemap-posts-page-1.xml" in locs


def test_a_site_with_another_address_and_theme_starts_and_stops_without_a_trace(
    start_wordpress: Callable[..., WordPress],
) -> None:
    wp = start_wordpress(public_url="http://shop.example.test:8080", theme="twentytwentythree")
    assert wp.site is not None
    tmp, config, procs = wp.tmp, wp.config_file, list(wp.procs)
    assert wp.site.host == "shop.example.test:8080"
    resp = wp.site.get("/everything/")
    assert resp.status == 200
    assert b'src="http://shop.example.test:8080/wp-content/uploads/2024/03/' in resp.body
    assert b"wp-block-cover" in resp.body
    assert resp.headers.get("content-encoding") is None
    assert config.exists()

    wp.stop()

    assert tmp is not None and not tmp.exists()
    assert not config.exists()
    assert all(p.poll() is not None for p in procs)


def test_wordpress_redirects_a_request_that_names_another_port(wordpress: Site) -> None:
    # What a proxy in front must know: forward the public Host header, or WordPress
    # answers with a redirect to its own address instead of the page.
    loopback = urllib.parse.urlsplit(wordpress.base_url).netloc
    resp = wordpress.get("/gallery/", headers={"Host": loopback})
    assert resp.status == 301
    assert resp.headers["x-redirect-by"] == "WordPress"


def test_nginx_compresses_text_when_the_site_is_started_with_gzip(
    start_wordpress: Callable[..., WordPress],
) -> None:
    wp = start_wordpress(gzip=True)
    assert wp.site is not None
    for path in ("/everything/", "/feed/", "/wp-json/wp/v2/media"):
        resp = wp.site.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.headers["content-encoding"] == "gzip", path
        assert b"wp-content" in gzip.decompress(resp.body)  # JSON escapes the slashes around it
    image = wp.site.content["attachments"]["landscape"]["url"]
    resp = wp.site.get(urllib.parse.urlsplit(image).path, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in resp.headers


def test_sql_returns_rows_as_text_with_null_as_none(wordpress: Site) -> None:
    rows = wordpress.sql("SELECT 'a\\tb\\nc' AS text, NULL AS nothing, 7 AS number; SELECT 2 AS n;")
    assert rows == [{"text": "a\tb\nc", "nothing": None, "number": "7"}, {"n": "2"}]
    post = wordpress.content["posts"]["gallery"]
    stored = wordpress.sql(f"SELECT post_name, post_content FROM wp_posts WHERE ID = {post['id']};")
    assert stored[0]["post_name"] == "gallery"
    assert "<!-- wp:gallery" in (stored[0]["post_content"] or "")


def test_rows_containing_finds_a_string_in_any_text_column(wordpress: Site) -> None:
    hits = wordpress.rows_containing("mountain-lake-1024x640.jpg")
    found = {(h["table"], h["column"]) for h in hits}
    assert ("wp_posts", "post_content") in found  # the image blocks
    assert ("wp_postmeta", "meta_value") in found  # the attachment's metadata
    assert all("mountain-lake-1024x640.jpg" in (h["value"] or "") for h in hits)
    assert wordpress.rows_containing("no such text anywhere") == []


def test_application_passwords_need_a_local_environment_over_http(
    wordpress: Site, start_wordpress: Callable[..., WordPress]
) -> None:
    with pytest.raises(wordpress_harness.HarnessError, match="not available"):
        wordpress.create_application_password("refused")
    local = start_wordpress(constants={"WP_ENVIRONMENT_TYPE": "local"}).site
    assert local is not None
    password = local.create_application_password("allowed")
    assert len(password) == 24
    post = local.content["posts"]["gallery"]
    credentials = base64.b64encode(f"{local.admin_user}:{password}".encode()).decode()
    resp = local.get(
        f"/wp-json/wp/v2/posts/{post['id']}?context=edit",
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert resp.status == 200
    assert "<!-- wp:gallery" in json.loads(resp.body)["content"]["raw"]
