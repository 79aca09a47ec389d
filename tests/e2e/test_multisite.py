"""The proxy in front of a real WordPress multisite network: each site's uploads go to its own CDN folder.

A private WordPress 6.1 (the harness) is made a subdomain network through
WordPress's own API (tests/e2e/wordpress/network.php): the main site wp.test
and two more sites, one.wp.test and two.wp.test, each with an image uploaded
into its own ``uploads/sites/<id>/`` folder and a post showing it. The proxy's
``sites`` list gives each its own uploads path, its own delivery folder and its
own inventory (the site's uploads folder on disk). Every page is fetched
through the proxy with the Host a browser would send; each site's upload URLs
must point into its own delivery folder, never another site's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp.test_utils import TestClient

from rewriteproxy.app import create_app
from rewriteproxy.config import parse_config

if TYPE_CHECKING:
    from harness import WordPress

pytestmark = pytest.mark.wordpress

CDN = "https://cdn.example.net"
SUBSITES = ("one", "two")


@pytest.fixture
def network(start_wordpress: Callable[..., WordPress]) -> tuple[WordPress, list[dict[str, Any]]]:
    wp = start_wordpress()
    return wp, wp.make_network(SUBSITES)


def config_text(wp: WordPress, reports: list[dict[str, Any]]) -> str:
    assert wp.site is not None
    uploads = wp.site.uploads_dir
    blocks = [
        f"""  - hosts: [wp.test]
    scheme: http
    delivery: {{provider: cdn, cdn: {{base_url: "{CDN}/main/"}}}}
    inventory: {{local: {{path: "{uploads}"}}}}"""
    ]
    for name, report in zip(SUBSITES, reports, strict=True):
        blog_id = report["blog_id"]
        blocks.append(
            f"""  - hosts: [{name}.wp.test]
    scheme: http
    uploads_path: /wp-content/uploads/sites/{blog_id}/
    delivery: {{provider: cdn, cdn: {{base_url: "{CDN}/{name}/"}}}}
    inventory: {{local: {{path: "{uploads}/sites/{blog_id}"}}}}"""
        )
    return f"upstream: {wp.site.base_url}\nsites:\n" + "\n".join(blocks) + "\n"


async def test_each_subsites_images_go_to_its_own_delivery_folder_and_never_another(
    network: tuple[WordPress, list[dict[str, Any]]], aiohttp_client: Any
) -> None:
    wp, reports = network
    client: TestClient = await aiohttp_client(create_app(parse_config(config_text(wp, reports))))
    assert wp.site is not None
    for name, report in zip(SUBSITES, reports, strict=True):
        host = f"{name}.wp.test"
        image = report["image_url"]
        blog_id = report["blog_id"]
        # What WordPress itself wrote: the site's own host and its own uploads folder.
        assert image.startswith(f"http://{host}/wp-content/uploads/sites/{blog_id}/2024/03/")
        direct = wp.site.get(report["post_url"].removeprefix(f"http://{host}"), {"Host": host})
        stem = image.rsplit(".", 1)[0]  # the post shows a sub-size (stem-WxH.jpg) of it
        assert direct.status == 200 and f'src="{stem}-'.encode() in direct.body

        response = await client.get(
            report["post_url"].removeprefix(f"http://{host}"), headers={"Host": host}
        )
        page = await response.read()
        assert response.status == 200
        file = stem.removeprefix(f"http://{host}/wp-content/uploads/sites/{blog_id}/")
        # A sub-size, in this site's folder, versioned from this site's inventory.
        delivered = rf'src="{re.escape(CDN)}/{name}/{file}-\d+x\d+\.jpg\?v=\w+"'.encode()
        assert re.search(delivered, page), re.findall(rb"<img[^>]*>", page)
        assert f"/wp-content/uploads/sites/{blog_id}/".encode() not in page  # every size moved
        others = [o for o in ("main", *SUBSITES) if o != name]
        assert not any(f"{CDN}/{other}/".encode() in page for other in others)
        for srcset in re.findall(rb'srcset="([^"]+)"', page):
            assert all(c.strip().startswith(f"{CDN}/{name}/".encode()) for c in srcset.split(b","))

    # The main site's own pages keep to the main folder (it has its own uploads too).
    home = await client.get("/", headers={"Host": "wp.test"})
    body = await home.read()
    assert home.status == 200 and f"{CDN}/main/".encode() in body
    assert not any(f"{CDN}/{name}/".encode() in body for name in SUBSITES)

    # A host of no configured site is passed through as WordPress answered it (a network
    # sends an unknown domain to its main site).
    direct = wp.site.get("/", {"Host": "elsewhere.test"})
    stranger = await client.get("/", headers={"Host": "elsewhere.test"}, allow_redirects=False)
    assert (stranger.status, await stranger.read()) == (direct.status, direct.body)
    assert stranger.headers.get("Location") == direct.headers.get("location")
