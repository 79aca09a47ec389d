"""The delivery contract: the null provider, the cache, and base URL checks."""

from __future__ import annotations

import pytest

from rewriteproxy.delivery.base import (
    CachedProvider,
    NullDelivery,
    SiteContext,
    base_url,
    without_scheme,
)
from rewriteproxy.media import FileInfo, UploadRef

from .factories import ref


def test_null_delivery_keeps_every_local_url() -> None:
    null = NullDelivery()
    assert null.name == "none"
    assert null.transforms is False
    assert null.url_for(ref("2024/05/a.jpg"), FileInfo(mtime=1.0), 300) is None
    assert null.owns("https://wp.test/wp-content/uploads/a.jpg") is False


class Counting(CachedProvider):
    """A provider that counts how often it really builds, to observe the cache."""

    name = "counting"

    def __init__(self, cache_size: int) -> None:
        super().__init__(cache_size)
        self.builds = 0

    def build(self, ref: UploadRef, info: FileInfo | None, width: int | None) -> str | None:
        self.builds += 1
        return f"https://cdn.test/{ref.path}?w={width}&i={info}"

    def owns(self, url: str) -> bool:
        return url.startswith("https://cdn.test/")


def test_repeated_requests_are_answered_from_the_cache() -> None:
    provider = Counting(cache_size=16)
    first = provider.url_for(ref("a.jpg"))
    assert provider.url_for(ref("a.jpg")) == first
    # The absolute form of the same upload shares the entry: the key is the path, not the URL.
    absolute = UploadRef("https://wp.test/wp-content/uploads/a.jpg", "a.jpg")
    assert provider.url_for(absolute) == first
    assert provider.builds == 1


def test_the_cache_key_holds_everything_the_url_depends_on() -> None:
    provider = Counting(cache_size=16)
    calls = [
        (ref("a.jpg"), None, None),
        (ref("a.jpg", query="x=1"), None, None),
        (ref("a.jpg", fragment="top"), None, None),
        (ref("a.jpg"), FileInfo(mtime=1.0), None),
        (ref("a.jpg"), FileInfo(mtime=2.0), None),
        (ref("a.jpg"), None, 300),
    ]
    for upload, info, width in calls:
        provider.url_for(upload, info, width)
    assert provider.builds == len(calls)  # six different keys
    for upload, info, width in calls:
        provider.url_for(upload, info, width)
    assert provider.builds == len(calls)  # and each is remembered


def test_the_cache_is_bounded_and_can_be_turned_off() -> None:
    bounded = Counting(cache_size=2)
    for name in ("a.jpg", "b.jpg", "c.jpg", "a.jpg"):
        bounded.url_for(ref(name))
    assert bounded.builds == 4  # a.jpg was evicted by c.jpg
    off = Counting(cache_size=0)
    off.url_for(ref("a.jpg"))
    off.url_for(ref("a.jpg"))
    assert off.builds == 2


def test_site_context_gives_the_absolute_uploads_base_only_when_the_site_url_is_known() -> None:
    assert (
        SiteContext(("wp.test",), "wp-content/uploads", "https://wp.test/").uploads_base_url
        == "https://wp.test/wp-content/uploads/"
    )
    assert SiteContext(("wp.test",), "/wp-content/uploads/").uploads_base_url is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://cdn.test/media", "https://cdn.test/media/"),
        ("http://cdn.test:8080/", "http://cdn.test:8080/"),
    ],
)
def test_base_urls_always_end_in_a_slash(value: str, expected: str) -> None:
    assert base_url(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "cdn.test/media",
        "ftp://cdn.test/",
        "https:///x",
        "https://cdn.test/?a=1",
        "https://cdn.test/#x",
        "https://cdn.test/a b/",
        "//cdn.test/",
    ],
)
def test_bad_base_urls_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        base_url(value)


def test_protocol_relative_bases_are_allowed_where_asked_for() -> None:
    assert base_url("//cdn.test/up", protocol_relative=True) == "//cdn.test/up/"


def test_scheme_blind_comparison() -> None:
    assert without_scheme("HTTPS://CDN.test/A") == "//cdn.test/a"
    assert without_scheme("//cdn.test/a") == "//cdn.test/a"
