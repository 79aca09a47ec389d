"""Preconnect: one <link rel="preconnect"> to the delivery host, first in <head>, only on
pages where an upload URL was rewritten."""

from __future__ import annotations

import pytest

from rewriteproxy.features.preconnect import delivery_origin
from tests.delivery.factories import provider
from tests.features.support import UPLOADS, elements, fixture, rewrite

ONLY = """\
  responsive: {enabled: false}
  preconnect: {enabled: true}"""
LINK = b'<link rel="preconnect" href="https://res.cloudinary.com">'


@pytest.mark.parametrize("name", ["twentytwentyone-home.html", "twentytwentythree-cover.html"])
def test_wordpress_pages_get_one_link_right_after_head(name: str) -> None:
    doc = fixture(name)
    out = rewrite(doc, ONLY)
    assert out.count(LINK) == 1
    head = doc.index(b"<head>") + len(b"<head>")
    assert out[:head] == doc[:head] and out[head:].startswith(LINK)


def test_cdn_origin() -> None:
    out = rewrite(fixture("twentytwentyone-home.html"), ONLY, provider="cdn")
    assert b'<head><link rel="preconnect" href="https://cdn.example.net">' in out


def page(head: str, body: str) -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


def test_no_link_when_nothing_was_rewritten() -> None:
    doc = page("", '<img src="https://other.example/a.jpg"><a href="/about/">x</a>')
    # lazy loading makes the handlers run on this page; no URL of it is rewritten
    features = ONLY + "\n  lazy: {enabled: true}"
    assert rewrite(doc, features).count(b"preconnect") == 0


def test_no_second_link_when_the_page_already_has_one() -> None:
    doc = page(
        '<link rel="preconnect" href="https://res.cloudinary.com/" crossorigin>',
        f'<img src="{UPLOADS}a.jpg">',
    )
    out = rewrite(doc, ONLY)
    assert out.count(b"preconnect") == 1 and out != doc


def test_no_link_without_a_head_tag_or_when_turned_off() -> None:
    doc = f'<!DOCTYPE html><title>t</title><img src="{UPLOADS}a.jpg">'.encode()
    assert b"preconnect" not in rewrite(doc, ONLY)
    off = rewrite(page("", f'<img src="{UPLOADS}a.jpg">'), "  responsive: {enabled: false}")
    assert b"preconnect" not in off
    assert elements(off, "img")[0]["src"].startswith("https://res.cloudinary.com/")


def test_delivery_origin_of_each_provider() -> None:
    assert (
        delivery_origin(
            provider(
                {
                    "provider": "cloudinary",
                    "cloudinary": {
                        "cloud_name": "demo",
                        "secure_distribution": "media.example.net",
                    },
                }
            )
        )
        == "https://media.example.net"
    )
    assert (
        delivery_origin(provider({"provider": "cdn", "cdn": {"base_url": "//cdn.example.net/u/"}}))
        == "//cdn.example.net"
    )
    assert (
        delivery_origin(
            provider(
                {
                    "provider": "s3",
                    "s3": {"bucket": "media", "endpoint_url": "http://127.0.0.1:8333"},
                }
            )
        )
        == "http://127.0.0.1:8333"
    )
    assert delivery_origin(provider({"provider": "none"})) is None
