"""The features section: defaults, parsing, which handlers a config builds, and the pipeline
wiring (pages pass through the features exactly once, the fast path is kept)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from rewriteproxy.config import load_config
from rewriteproxy.delivery import build_delivery
from rewriteproxy.features import (
    FeaturesConfig,
    LazyConfig,
    PlaceholderConfig,
    ResponsiveConfig,
    build_handlers,
)
from rewriteproxy.features.lazy import LazyLoading
from rewriteproxy.features.placeholders import Placeholders
from rewriteproxy.features.preconnect import Preconnect
from rewriteproxy.features.responsive import ResponsiveImages
from rewriteproxy.html import HtmlOptions, HtmlRewriter
from rewriteproxy.settings import ConfigError
from tests.conftest import PAGE, ProxyFactory
from tests.features.support import WORDPRESS, config, mapper, rewrite

CONF = Path(__file__).resolve().parent.parent.parent / "conf"


ALL_ON = """\
  lazy: {enabled: true}
  placeholders: {style: blur}
  preconnect: {enabled: true}"""


def test_defaults_only_responsive_on_the_rest_opt_in() -> None:
    features = config().features
    assert features == FeaturesConfig()
    assert not features.lazy.enabled and features.lazy.eager_images == 1
    assert features.responsive.enabled and features.responsive.breakpoints[:2] == (200, 400)
    assert features.responsive.breakpoints[-1] == 2400  # 200 to 2560 in steps of 200
    assert features.placeholders.style == "none"
    assert not features.preconnect.enabled
    assert not features.every_page
    assert config("  lazy: {enabled: true}").features.every_page


@pytest.mark.parametrize("provider", ["cdn", "none"])
def test_with_the_defaults_and_a_plain_cdn_only_upload_urls_change(provider: str) -> None:
    for page in sorted(WORDPRESS.glob("*.html")):
        doc = page.read_bytes()
        urls_only = HtmlRewriter(HtmlOptions()).rewrite(doc, mapper("", provider))
        assert rewrite(doc, "", provider) == urls_only


def test_the_sample_section_parses() -> None:
    features = config("""\
  responsive: {enabled: true, min_width: 300, max_width: 1800, step: 300, widths: [], sizes: auto}
  lazy: {enabled: true, eager_images: 2, skip_classes: [skip-lazy, no-lazy], iframes: true}
  placeholders: {style: predominant}
  preconnect: {enabled: true}""").features
    assert features.responsive == ResponsiveConfig(min_width=300, max_width=1800, step=300)
    assert features.responsive.breakpoints == (300, 600, 900, 1200, 1500, 1800)
    assert features.lazy == LazyConfig(
        enabled=True, eager_images=2, skip_classes=("skip-lazy", "no-lazy")
    )
    assert features.placeholders == PlaceholderConfig(style="predominant")


def test_unknown_feature_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"features\.webp"):
        config("  webp: {enabled: true}")


def kinds(features: str, provider: str) -> list[type]:
    cfg = config(features, provider)
    factory = build_handlers(cfg.features, build_delivery(cfg.delivery))
    return [type(h) for h in factory(mapper(features, provider), b"")]


def test_which_handlers_each_provider_gets() -> None:
    assert kinds("", "cloudinary") == [ResponsiveImages]
    assert kinds(ALL_ON, "cloudinary") == [ResponsiveImages, LazyLoading, Placeholders, Preconnect]
    on = "  lazy: {enabled: true}\n  preconnect: {enabled: true}"
    assert kinds(on, "cdn") == [LazyLoading, Preconnect]  # a CDN cannot resize
    assert kinds(on, "none") == [LazyLoading]  # nothing is delivered elsewhere
    assert kinds("", "cdn") == []


def test_each_document_gets_fresh_handlers() -> None:
    cfg = config(ALL_ON)
    factory = build_handlers(cfg.features, build_delivery(cfg.delivery))
    first, second = factory(mapper(), b""), factory(mapper(), b"")
    assert all(a is not b for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("page", sorted(p.name for p in WORDPRESS.glob("*.html")))
def test_rewriting_a_rewritten_page_changes_nothing(page: str) -> None:
    once = rewrite((WORDPRESS / page).read_bytes(), ALL_ON)
    assert rewrite(once, ALL_ON) is once


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_loads(path: Path) -> None:
    environ = {"CLOUDINARY_API_KEY": "k3y", "CLOUDINARY_API_SECRET": "s3cr3t"}
    assert isinstance(load_config(path, environ=environ).features, FeaturesConfig)


async def test_the_proxy_applies_the_features(start_proxy: ProxyFactory) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/page", page)
    client = await start_proxy(
        app, "features: {lazy: {enabled: true}, preconnect: {enabled: true}}"
    )
    response = await client.get("/page")
    body = await response.read()
    assert body.startswith(
        b'<!DOCTYPE html>\n<html><head><link rel="preconnect" '
        b'href="https://cdn.example.net"><title>'
    )
    assert b'<img decoding="async" fetchpriority="high" src="https://cdn.example.net/' in body
    assert response.headers["Content-Length"] == str(len(body))
