"""The html: config section."""

from __future__ import annotations

import pytest

from rewriteproxy.html import HtmlOptions, parse_html_options
from rewriteproxy.settings import ConfigError, Section


def test_defaults() -> None:
    assert parse_html_options(Section({}, "html"), "/wp-content/uploads/") == HtmlOptions(
        uploads_path="/wp-content/uploads/"
    )


def test_extra_attributes_are_lowercased() -> None:
    options = parse_html_options(
        Section(
            {
                "extra_url_attributes": ["data-Hero", "data-thumb-url"],
                "extra_srcset_attributes": "data-hero-srcset",
                "rewrite_inline_scripts": False,
            },
            "html",
        ),
        "/files/",
    )
    assert options == HtmlOptions(
        "/files/", ("data-hero", "data-thumb-url"), ("data-hero-srcset",), False
    )


def test_bad_names_and_unknown_keys_are_errors_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"html\.extra_url_attributes: 'data hero'"):
        parse_html_options(Section({"extra_url_attributes": ["data hero"]}, "html"), "/u/")
    with pytest.raises(ConfigError, match=r"html\.extra_url_atributes: unknown key"):
        parse_html_options(Section({"extra_url_atributes": ["x"]}, "html"), "/u/")
