"""Test helpers for the features: the real config → pipeline path, and an lxml reader.

Pages go through :func:`rewriteproxy.rewriting.build_pipeline` exactly as the
proxy sends them, built from a YAML config like the ones users write (no
inventory: every upload is assumed to exist, as with ``inventory: none``). The
output is read back with lxml, an independent HTML parser, so assertions are
about the attributes a browser would see.
"""

from __future__ import annotations

from pathlib import Path

import lxml.html

from rewriteproxy.config import Config, parse_config
from rewriteproxy.inventory import NullInventory
from rewriteproxy.rewriting import UrlMapper, build_pipeline, build_url_mapper

WORDPRESS = Path(__file__).resolve().parent.parent / "fixtures" / "wordpress"
PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
CLD = "https://res.cloudinary.com/demo/image/upload/"
CDN = "https://cdn.example.net/wp-content/uploads/"
UPLOADS = "http://wp.test/wp-content/uploads/2024/03/"

DELIVERY = {
    "cloudinary": "delivery: {provider: cloudinary, cloudinary: {cloud_name: demo, folder: wp}}",
    "cdn": f"delivery: {{provider: cdn, cdn: {{base_url: '{CDN}'}}}}",
    "none": "delivery: {provider: none}",
}


def config(features: str = "", provider: str = "cloudinary") -> Config:
    """A config for the captured WordPress site (``wp.test``) with ``features:`` as given."""
    return parse_config(
        "upstream: http://127.0.0.1:9\n"
        "site: {hosts: [wp.test], scheme: http}\n"
        f"{DELIVERY[provider]}\n" + (f"features:\n{features}\n" if features else "")
    )


def rewrite(page: bytes | str, features: str = "", provider: str = "cloudinary") -> bytes:
    """``page`` as the proxy would send it with this config (the same bytes if unchanged)."""
    body = page.encode() if isinstance(page, str) else page
    result = build_pipeline(config(features, provider), NullInventory()).apply(
        body, "text/html; charset=UTF-8"
    )
    assert result.status != "failed", result.error
    return result.body if result.body is not None else body


def mapper(features: str = "", provider: str = "cloudinary") -> UrlMapper:
    return build_url_mapper(config(features, provider), NullInventory())


def page(body: str) -> str:
    """A minimal document around ``body``."""
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>"


def fixture(name: str) -> bytes:
    return (WORDPRESS / name).read_bytes()


def elements(doc: bytes, tag: str) -> list[dict[str, str]]:
    """The attributes of every ``tag`` element in document order, as lxml reads them."""
    tree = lxml.html.document_fromstring(doc)
    return [dict(el.attrib) for el in tree.iter(tag)]


def candidates(srcset: str) -> list[tuple[str, str]]:
    """``(url, descriptor)`` pairs of a srcset whose URLs contain no ", " (true here)."""
    out = []
    for part in srcset.split(", "):
        url, _, descriptor = part.strip().partition(" ")
        out.append((url, descriptor.strip()))
    return out
