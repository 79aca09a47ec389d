"""The cdn provider: the same file under another base URL."""

from __future__ import annotations

import pytest

from rewriteproxy.delivery.cdn import CdnConfig, CdnDelivery, escape_path
from rewriteproxy.delivery.versioning import VersioningConfig
from rewriteproxy.media import FileInfo
from rewriteproxy.settings import ConfigError

from .factories import LOCATOR, parse_delivery, provider, ref

HOST_SWAP = {"provider": "cdn", "cdn": {"base_url": "https://cdn.example.net/wp-content/uploads/"}}
INFO = FileInfo(size=10, mtime=1700000000.0, etag="9a0364b9e99bb480dd25e1f0284c8555")


def cdn(
    base: str = "https://cdn.example.net/wp-content/uploads/",
    style: str = "query",
    param: str = "v",
) -> CdnDelivery:
    return CdnDelivery(
        CdnConfig(base_url=base), VersioningConfig(style=style, param=param), cache_size=64
    )


def test_a_host_swap() -> None:
    upload = LOCATOR.parse("https://wp.test/wp-content/uploads/2024/05/a.jpg")
    assert upload is not None
    assert (
        provider(HOST_SWAP).url_for(upload)
        == "https://cdn.example.net/wp-content/uploads/2024/05/a.jpg"
    )


def test_a_different_path_root() -> None:
    assert (
        cdn("https://media.example.net/site1/").url_for(ref("2024/05/a.jpg"))
        == "https://media.example.net/site1/2024/05/a.jpg"
    )


def test_sized_files_are_delivered_as_they_are_and_width_is_ignored() -> None:
    delivery = cdn()
    assert delivery.transforms is False
    assert (
        delivery.url_for(ref("2024/05/a-300x200.jpg"), None, 150)
        == "https://cdn.example.net/wp-content/uploads/2024/05/a-300x200.jpg"
    )


def test_query_and_fragment_are_kept() -> None:
    assert (
        cdn().url_for(ref("a.jpg", query="ver=6.4", fragment="x"))
        == "https://cdn.example.net/wp-content/uploads/a.jpg?ver=6.4#x"
    )


def test_the_path_is_kept_as_written_and_only_invalid_characters_escaped() -> None:
    assert (
        cdn().url_for(ref("caf%C3%A9 1+b.jpg"))
        == "https://cdn.example.net/wp-content/uploads/caf%C3%A9%201+b.jpg"
    )
    assert escape_path("été/ö.jpg") == "%C3%A9t%C3%A9/%C3%B6.jpg"


def test_a_known_version_is_a_query_suffix() -> None:
    url = cdn().url_for(ref("a.jpg", query="ver=1"), INFO)
    assert url is not None
    base, _, token = url.partition("?ver=1&v=")
    assert base == "https://cdn.example.net/wp-content/uploads/a.jpg"
    assert len(token) == 8
    assert (
        cdn(param="cb").url_for(ref("a.jpg"), INFO)
        == f"https://cdn.example.net/wp-content/uploads/a.jpg?cb={token}"
    )


def test_path_style_versioning_is_a_leading_segment() -> None:
    query_url = cdn().url_for(ref("2024/a.jpg"), INFO)
    assert query_url is not None
    token = query_url.rsplit("=", 1)[1]
    assert (
        cdn(style="path").url_for(ref("2024/a.jpg", query="q=1"), INFO)
        == f"https://cdn.example.net/wp-content/uploads/v-{token}/2024/a.jpg?q=1"
    )


def test_an_unknown_version_adds_nothing_and_style_none_never_adds() -> None:
    plain = "https://cdn.example.net/wp-content/uploads/a.jpg"
    assert cdn().url_for(ref("a.jpg"), None) == plain
    assert cdn().url_for(ref("a.jpg"), FileInfo(size=3)) == plain
    assert cdn(style="none").url_for(ref("a.jpg"), INFO) == plain


def test_force_https() -> None:
    for base in ("http://cdn.example.net/up", "//cdn.example.net/up"):
        delivery = provider({"provider": "cdn", "cdn": {"base_url": base, "force_https": True}})
        assert delivery.url_for(ref("a.jpg")) == "https://cdn.example.net/up/a.jpg"
    relative = provider({"provider": "cdn", "cdn": {"base_url": "//cdn.example.net/up"}})
    assert relative.url_for(ref("a.jpg")) == "//cdn.example.net/up/a.jpg"


def test_owns_urls_under_the_base_whatever_the_scheme() -> None:
    delivery = cdn()
    assert delivery.owns("https://cdn.example.net/wp-content/uploads/a.jpg")
    assert delivery.owns("//CDN.example.net/wp-content/uploads/a.jpg")
    assert not delivery.owns("https://wp.test/wp-content/uploads/a.jpg")
    assert not delivery.owns("https://cdn.example.net/other/a.jpg")


def test_config_defaults() -> None:
    config = parse_delivery(HOST_SWAP)
    assert config.settings == CdnConfig(
        base_url="https://cdn.example.net/wp-content/uploads/", force_https=False
    )


@pytest.mark.parametrize(
    ("cdn_section", "message"),
    [
        ({}, r"delivery\.cdn\.base_url: is required"),
        ({"base_url": "cdn.example.net"}, r"delivery\.cdn\.base_url"),
        ({"base_url": "https://c.test/", "force_https": "maybe"}, r"force_https"),
        ({"base_url": "https://c.test/", "base": "x"}, r"delivery\.cdn\.base: unknown key"),
    ],
)
def test_config_errors_name_the_key(cdn_section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_delivery({"provider": "cdn", "cdn": cdn_section})
