"""Several sites: the ``sites`` list, selection by host, and what each site keeps to itself.

The proxy tests run the real app on a loopback port in front of a real upstream
that answers every host with the same bytes (as a multisite network's pages
share their markup), so a page cache or mapper shared between sites would show.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from rewriteproxy.app import STATE, create_app
from rewriteproxy.commands import url as url_command
from rewriteproxy.config import ConfigError, parse_config
from rewriteproxy.delivery.cloudinary import CloudinaryConfig
from rewriteproxy.sites import Sites, build_inventories, site_configs, site_for_url

TWO_SITES = """
upstream: http://127.0.0.1:8080
delivery:
  provider: cdn
  cdn: {base_url: "https://cdn.test/main/"}
sites:
  - hosts: [example.test, www.example.test]
  - hosts: [blog.example.test]
    uploads_path: /wp-content/uploads/sites/2/
    delivery:
      provider: cdn
      cdn: {base_url: "https://cdn.test/blog/"}
"""


def test_each_site_is_a_single_site_config_with_its_own_or_the_top_level_sections() -> None:
    config = parse_config(TWO_SITES)
    main, blog = site_configs(config)
    assert main.site is not None and main.site.hosts == ("example.test", "www.example.test")
    assert main.delivery == config.delivery  # none of its own: the top-level one
    assert blog.site is not None and blog.site.uploads_path == "/wp-content/uploads/sites/2/"
    assert blog.html.uploads_path == "/wp-content/uploads/sites/2/"
    assert blog.delivery.settings is not None
    assert blog.delivery.settings.base_url == "https://cdn.test/blog/"  # type: ignore[union-attr]
    assert not main.sites and not blog.sites


def test_a_single_site_config_is_its_own_one_site() -> None:
    config = parse_config("upstream: http://127.0.0.1:8080\nsite: {hosts: [wp.test]}\n")
    assert site_configs(config) == (config,)
    assert config.site is not None and config.sites == ()


def test_a_host_in_two_sites_is_refused_naming_both() -> None:
    text = TWO_SITES.replace("[blog.example.test]", "[blog.example.test, www.example.test]")
    with pytest.raises(
        ConfigError,
        match=r"sites\[1\]\.hosts \(line \d+\): host www.example.test is in sites\[0\] and sites\[1\]",
    ):
        parse_config(text)


def test_site_and_sites_together_are_refused_and_one_of_them_is_required() -> None:
    with pytest.raises(ConfigError, match="site and sites cannot both be set"):
        parse_config(TWO_SITES + "site: {hosts: [other.test]}\n")
    with pytest.raises(ConfigError, match=r"site \(one site\) or sites \(several\)"):
        parse_config("upstream: http://127.0.0.1:8080\n")


def test_a_typo_in_a_site_is_named_by_its_place_in_the_list() -> None:
    with pytest.raises(
        ConfigError, match=r"sites\[1\]\.hostz \(line \d+\): unknown key; did you mean hosts"
    ):
        parse_config(TWO_SITES.replace("  - hosts: [blog", "  - hostz: [x]\n    hosts: [blog"))


def test_fetch_delivery_fetches_from_the_selected_sites_own_host() -> None:
    config = parse_config(
        """
upstream: http://127.0.0.1:8080
delivery:
  provider: cloudinary
  cloudinary: {cloud_name: demo, delivery_type: fetch}
sites:
  - hosts: [example.test]
  - hosts: [shop.test]
    scheme: http
    uploads_path: /wp-content/uploads/sites/3/
"""
    )
    origins = []
    for view in site_configs(config):
        assert isinstance(view.delivery.settings, CloudinaryConfig)
        origins.append(view.delivery.settings.origin_base_url)
    assert origins == [
        "https://example.test/wp-content/uploads/",
        "http://shop.test/wp-content/uploads/sites/3/",
    ]


def test_a_host_selects_its_site_as_configured_then_without_its_port() -> None:
    config = parse_config(
        TWO_SITES.replace("[blog.example.test]", "[blog.example.test, b.test:8443]")
    )
    sites = Sites.build(config, lambda view: view.site.canonical_host if view.site else "")
    assert sites.select("www.example.test") == "example.test"
    assert sites.select("WWW.Example.TEST:8080") == "example.test"
    assert sites.select("b.test:8443") == "blog.example.test"
    assert sites.select("b.test") is None  # configured with its port only
    assert sites.select("b.test:9") is None
    assert sites.select("other.test") is None
    assert sites.select("[::1]:8080") is None
    assert sites.select("") is None


def test_with_one_site_every_host_is_that_site_as_before() -> None:
    config = parse_config("upstream: http://127.0.0.1:8080\nsite: {hosts: [wp.test]}\n")
    sites = Sites.build(config, lambda view: "the site")
    assert sites.select("127.0.0.1:8000") == sites.select("") == "the site"


def test_sites_with_the_same_inventory_share_one_and_a_site_of_its_own_has_its_own(
    tmp_path: Path,
) -> None:
    shared = f"inventory: {{local: {{path: {tmp_path}}}}}\n"
    assert len(build_inventories(parse_config(TWO_SITES + shared))) == 1
    own = TWO_SITES.replace(
        "    delivery:\n",
        f"    inventory: {{local: {{path: {tmp_path / 'blog'}}}}}\n    delivery:\n",
    )
    assert len(build_inventories(parse_config(own + shared))) == 2


def test_a_sites_own_cloudinary_inventory_lists_its_own_deliverys_account() -> None:
    cloudinary = "{provider: cloudinary, cloudinary: {cloud_name: NAME, api_key: k, api_secret: s}}"
    text = f"""
upstream: http://127.0.0.1:8080
delivery: {cloudinary.replace("NAME", "main")}
sites:
  - hosts: [a.test]
  - hosts: [b.test]
    delivery: {cloudinary.replace("NAME", "bee")}
    inventory: {{cloudinary: {{}}}}
"""
    b = site_configs(parse_config(text, environ={}))[1]
    assert b.inventory.cloudinary is not None
    assert b.inventory.cloudinary.account.cloud_name == "bee"
    without = text.replace(
        "    delivery: {provider: cloudinary, cloudinary: {cloud_name: bee", "    #"
    )
    with pytest.raises(ConfigError, match=r"sites\[1\]\.inventory\.cloudinary.*own delivery"):
        parse_config(without, environ={})


# -- through the proxy --------------------------------------------------------------

# The same bytes for every host: root-relative URLs, read as the requested site's own.
PAGE = (
    b'<html><body><img src="/wp-content/uploads/2024/05/a.jpg" alt="">'
    b'<img src="/wp-content/uploads/sites/2/2024/05/b.jpg" alt=""></body></html>'
)


@pytest.fixture
async def upstream(aiohttp_server: Any) -> str:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get(r"/{tail:[\s\S]*}", page)  # every path, as WordPress takes them
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def proxy(aiohttp_client: Any, upstream: str) -> TestClient:
    config = parse_config(TWO_SITES.replace("http://127.0.0.1:8080", upstream))
    return await aiohttp_client(create_app(config))  # type: ignore[no-any-return]


async def page_for(client: TestClient, host: str) -> bytes:
    response = await client.get("/post/", headers={"Host": host})
    assert response.status == 200
    return await response.read()


async def test_each_site_gets_its_own_delivery_and_never_the_other_sites_cached_page(
    aiohttp_client: Any, upstream: str
) -> None:
    client = await proxy(aiohttp_client, upstream)
    for _ in range(2):  # the second round is served from each site's page cache
        main = await page_for(client, "www.example.test")
        blog = await page_for(client, "blog.example.test")
        assert b'src="https://cdn.test/main/2024/05/a.jpg"' in main
        assert b'src="https://cdn.test/main/sites/2/2024/05/b.jpg"' in main
        assert b'src="/wp-content/uploads/2024/05/a.jpg"' in blog  # not under its uploads
        assert b'src="https://cdn.test/blog/2024/05/b.jpg"' in blog
        assert b"cdn.test/main/" not in blog and b"cdn.test/blog/" not in main


async def test_a_host_of_no_site_passes_through_untouched_and_is_counted(
    aiohttp_client: Any, upstream: str
) -> None:
    client = await proxy(aiohttp_client, upstream)
    assert await page_for(client, "stranger.test") == PAGE
    assert client.app is not None
    assert client.app[STATE].metrics.bypasses_by_reason()["unknown-host"] == 1


async def test_a_trusted_proxys_forwarded_host_selects_the_site_a_strangers_does_not(
    aiohttp_client: Any, upstream: str
) -> None:
    client = await proxy(aiohttp_client, upstream)  # the test client connects from 127.0.0.1
    response = await client.get(
        "/post/", headers={"Host": "origin.internal", "X-Forwarded-Host": "blog.example.test"}
    )
    assert b"https://cdn.test/blog/2024/05/b.jpg" in await response.read()
    config = parse_config(
        TWO_SITES.replace("http://127.0.0.1:8080", upstream) + "proxy: {trusted_proxies: []}\n"
    )
    stranger = await aiohttp_client(create_app(config))
    response = await stranger.get(
        "/post/", headers={"Host": "origin.internal", "X-Forwarded-Host": "blog.example.test"}
    )
    assert await response.read() == PAGE


async def test_a_path_with_an_encoded_line_break_is_proxied_like_any_other(
    aiohttp_client: Any, upstream: str
) -> None:
    client = await proxy(aiohttp_client, upstream)  # the router matches the decoded path
    response = await client.get("/post/%0A%0D/", headers={"Host": "blog.example.test"})
    assert response.status == 200
    assert b"https://cdn.test/blog/2024/05/b.jpg" in await response.read()


# -- the commands -------------------------------------------------------------------


def test_url_takes_the_site_from_the_urls_host(tmp_path: Path, capsys: Any) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(TWO_SITES)

    def url(address: str) -> tuple[int, str]:
        args = url_command_args(address, config_file)
        code = url_command.run(args)
        out = capsys.readouterr()
        return code, (out.out or out.err).strip()

    blog_image = "https://blog.example.test/wp-content/uploads/sites/2/2024/05/b.jpg"
    assert url(blog_image) == (0, "https://cdn.test/blog/2024/05/b.jpg")
    main_image = "https://example.test/wp-content/uploads/sites/2/2024/05/b.jpg"
    assert url(main_image) == (0, "https://cdn.test/main/sites/2/2024/05/b.jpg")
    code, said = url("https://stranger.test/wp-content/uploads/a.jpg")
    assert code == 1 and "not an upload URL of any site" in said
    code, said = url("/wp-content/uploads/a.jpg")  # no host: no site to choose
    assert code == 1


def url_command_args(address: str, config_file: Path) -> Any:
    import argparse

    parser = argparse.ArgumentParser()
    url_command.add_arguments(parser)
    return parser.parse_args([address, "--config", str(config_file)])


def test_site_for_url_reads_the_host_as_a_browser_does() -> None:
    config = parse_config(TWO_SITES)
    blog = site_for_url(config, "HTTPS://Blog.Example.Test/x/")
    assert blog is not None and blog.site is not None
    assert blog.site.canonical_host == "blog.example.test"
    assert site_for_url(config, "/x/") is None


def test_rewrite_takes_the_site_from_the_urls_host(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(TWO_SITES)

    def rewrite(*options: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "rewriteproxy",
                "rewrite",
                "--config",
                str(config_file),
                *options,
            ],
            input=PAGE,
            capture_output=True,
            check=True,
        )

    blog = rewrite("--url", "https://blog.example.test/post/").stdout
    assert b"https://cdn.test/blog/2024/05/b.jpg" in blog and b"cdn.test/main" not in blog
    main = rewrite("--url", "https://example.test/post/").stdout
    assert b"https://cdn.test/main/sites/2/2024/05/b.jpg" in main
    stranger = rewrite("--url", "https://stranger.test/post/")
    assert stranger.stdout == PAGE and b"'unknown-host'" in stranger.stderr


# -- a subdirectory network: one host, one uploads directory, several URL paths to it ----

SUBDIRECTORY = """
upstream: http://127.0.0.1:8080
site:
  hosts: [example.test]
  uploads_aliases: [/blog/wp-content/uploads/, /shop/wp-content/uploads]
delivery:
  provider: cdn
  cdn: {base_url: "https://cdn.test/uploads/"}
"""


def test_a_subdirectory_sites_uploads_are_the_same_directory_under_its_path() -> None:
    from rewriteproxy.inventory import NullInventory
    from rewriteproxy.rewriting import build_pipeline

    pipeline = build_pipeline(parse_config(SUBDIRECTORY), NullInventory())
    page = (
        b'<img src="https://example.test/blog/wp-content/uploads/sites/2/2024/05/a.jpg">'
        b'<img src="/shop/wp-content/uploads/sites/3/b.jpg">'
        b'<img src="/other/wp-content/uploads/sites/4/c.jpg">'
        b'<img src="/wp-content/uploads/2024/05/d.jpg">'
    )
    out = pipeline.apply(page, "text/html", "", "/blog/post/").body
    assert out == (
        b'<img src="https://cdn.test/uploads/sites/2/2024/05/a.jpg">'
        b'<img src="https://cdn.test/uploads/sites/3/b.jpg">'
        b'<img src="/other/wp-content/uploads/sites/4/c.jpg">'
        b'<img src="https://cdn.test/uploads/2024/05/d.jpg">'
    )
    rest = b'{"src":"https:\\/\\/example.test\\/blog\\/wp-content\\/uploads\\/sites\\/2\\/a.jpg"}'
    out = pipeline.apply(rest, "application/json", "", "/blog/wp-json/wp/v2/media").body
    assert out == b'{"src":"https:\\/\\/cdn.test\\/uploads\\/sites\\/2\\/a.jpg"}'


@pytest.mark.parametrize(
    "alias", ["blog/wp-content/uploads/", "/blog/uploads/", "/wp-content/uploads/"]
)
def test_an_uploads_alias_is_a_path_followed_by_the_uploads_path(alias: str) -> None:
    with pytest.raises(ConfigError, match=r"site\.uploads_aliases.*ending with uploads_path"):
        parse_config(SUBDIRECTORY.replace("/shop/wp-content/uploads", alias))


async def test_a_reload_keeps_the_inventories_whose_config_did_not_change(
    tmp_path: Path, aiohttp_client: Any, upstream: str
) -> None:
    (tmp_path / "main").mkdir()
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog2" / "2024" / "05").mkdir(parents=True)
    (tmp_path / "blog2" / "2024" / "05" / "b.jpg").write_bytes(b"a JPEG")
    text = (
        TWO_SITES.replace("http://127.0.0.1:8080", upstream).replace(
            "    delivery:\n",
            f"    inventory: {{local: {{path: {tmp_path / 'blog'}}}}}\n    delivery:\n",
        )
        + f"inventory: {{local: {{path: {tmp_path / 'main'}}}}}\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(text)
    client = await aiohttp_client(create_app(parse_config(text), path))
    state = client.app[STATE]
    before = dict(state.runtime.inventories)
    assert len(before) == 2
    path.write_text(text.replace(str(tmp_path / "blog"), str(tmp_path / "blog2")))
    assert await state.reload()
    after = state.runtime.inventories
    kept = set(before.values()) & set(after.values())
    assert len(after) == 2 and len(kept) == 1  # the main site's, unchanged
    # Each site asks its own inventory: only the new one has the blog's file.
    blog = await page_for(client, "blog.example.test")
    assert b'src="https://cdn.test/blog/2024/05/b.jpg' in blog
    assert await page_for(client, "example.test") == PAGE  # the main folder is empty
