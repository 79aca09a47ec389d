"""The html: config section."""

from __future__ import annotations

from typing import Any

import pytest

from rewriteproxy.delivery import SiteContext
from rewriteproxy.html import HtmlOptions
from rewriteproxy.settings import ConfigError
from tests.support.config import validate_section


def parse(data: dict[str, Any], uploads_path: str) -> HtmlOptions:
    site = SiteContext(("wp.test",), uploads_path)
    return validate_section(HtmlOptions, data, "html", site=site)


def test_defaults() -> None:
    assert parse({}, "/wp-content/uploads/") == HtmlOptions(uploads_path="/wp-content/uploads/")


def test_extra_attributes_are_lowercased() -> None:
    options = parse(
        {
            "extra_url_attributes": ["data-Hero", "data-thumb-url"],
            "extra_srcset_attributes": "data-hero-srcset",
            "rewrite_inline_scripts": False,
        },
        "/files/",
    )
    assert options == HtmlOptions(
        uploads_path="/files/",
        extra_url_attributes=("data-hero", "data-thumb-url"),
        extra_srcset_attributes=("data-hero-srcset",),
        rewrite_inline_scripts=False,
    )


def test_bad_names_and_unknown_keys_are_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"html\.extra_url_attributes: 'data hero'"):
        parse({"extra_url_attributes": ["data hero"]}, "/u/")
    with pytest.raises(ConfigError, match=r"html\.extra_url_atributes: unknown key"):
        parse({"extra_url_atributes": ["x"]}, "/u/")


def test_the_uploads_path_is_the_sites_and_not_a_key_of_html() -> None:
    with pytest.raises(ConfigError, match=r"html\.uploads_path: is site\.uploads_path's"):
        parse({"uploads_path": "/media/"}, "/u/")
