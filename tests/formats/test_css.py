"""CSS: url() and image-set() URLs, quoting kept, comments and other strings left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from rewriteproxy.formats import apply_edits
from rewriteproxy.formats.css import rewrite_css
from tests.formats import support
from tests.formats.support import DELIVERED, HOSTILE_URLS, UPLOAD, to_cdn


def cdn(url: str) -> str | None:
    return "https://cdn/" + url.rsplit("/", 1)[-1] if "/uploads/" in url else None


def run(css: str, map_url=cdn) -> str:  # type: ignore[no-untyped-def]
    return apply_edits(css, rewrite_css(css, map_url))


@pytest.mark.parametrize(
    ("css", "expected"),
    [
        ("a{background:url(/uploads/a.jpg)}", "a{background:url(https://cdn/a.jpg)}"),
        ("a{background:url('/uploads/a.jpg')}", "a{background:url('https://cdn/a.jpg')}"),
        ('a{background:url("/uploads/a.jpg")}', 'a{background:url("https://cdn/a.jpg")}'),
        ("a{background:URL(  /uploads/a.jpg  )}", "a{background:URL(  https://cdn/a.jpg  )}"),
        (
            "background-image:url(/uploads/a.jpg);color:red",
            "background-image:url(https://cdn/a.jpg);color:red",
        ),
    ],
)
def test_url_forms(css: str, expected: str) -> None:
    assert run(css) == expected


def test_image_set_strings_and_urls() -> None:
    css = 'b{background:image-set("/uploads/a.webp" 1x, url(/uploads/b.webp) 2x)}'
    assert run(css) == (
        'b{background:image-set("https://cdn/a.webp" 1x, url(https://cdn/b.webp) 2x)}'
    )
    css = "b{background:-webkit-image-set('/uploads/a.webp' 1x)}"
    assert run(css) == "b{background:-webkit-image-set('https://cdn/a.webp' 1x)}"


def test_comments_and_other_strings_are_left_alone() -> None:
    css = '/* url(/uploads/a.jpg) */ a::after{content:"url(/uploads/b.jpg)"}'
    assert rewrite_css(css, cdn) == []


def test_unclosed_comment_runs_to_the_end() -> None:
    assert rewrite_css("a{} /* url(/uploads/a.jpg)", cdn) == []


def test_escaped_urls_are_left_alone() -> None:
    assert rewrite_css(r"a{background:url(/uploads/a\).jpg)}", cdn) == []


def test_unquoted_replacement_needing_quotes_is_quoted() -> None:
    assert (
        run("a{b:url(/uploads/a.jpg)}", lambda u: "https://cdn/a b.jpg")
        == 'a{b:url("https://cdn/a b.jpg")}'
    )


def test_quotes_in_replacement_cannot_end_the_string() -> None:
    assert (
        run("a{b:url('/uploads/a.jpg')}", lambda u: "https://cdn/it's.jpg")
        == "a{b:url('https://cdn/it\\'s.jpg')}"
    )


def test_no_change_no_edits() -> None:
    assert rewrite_css("a{background:url(/other/a.jpg)}", cdn) == []


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.parametrize(
    "template",
    ["a{{b:url({})}}", "a{{b:url('{}')}}", 'a{{b:url("{}")}}', 'a{{b:image-set("{}" 1x)}}'],
)
def test_urls_the_upload_rule_refuses_are_kept(template: str, url: str) -> None:
    css = template.format(UPLOAD) + template.format(url)
    assert run(css, to_cdn) == template.format(DELIVERED) + template.format(url)


CSS_SYNTAX = [
    "a{b:url(",
    ")}",
    "url('",
    "')",
    'url("',
    '")',
    "image-set(",
    " 1x",
    "/*",
    "*/",
    '"',
    "'",
    "\\",
    ";",
]


@settings(max_examples=300, deadline=None)
@given(support.texts(CSS_SYNTAX, "\n"))
def test_properties(css: str) -> None:
    once = run(css, support.to_cdn)
    assert rewrite_css(once, support.to_cdn) == []


@settings(max_examples=200, deadline=None)
@given(support.texts(CSS_SYNTAX, "\n", with_uploads=False))
def test_no_upload_urls_no_edits(css: str) -> None:
    assert rewrite_css(css, support.to_cdn) == []


def test_a_string_with_escapes_in_image_set_is_skipped_whole() -> None:
    """A replacement may bring escapes (a form feed is written "\\c "); read from its
    closing quote, ''/wp-content/uploads/b.jpg'' would turn into a string on a second pass."""
    css = "a{b:image-set('/wp-content/uploads/a\f.jpg' 1x, ''/wp-content/uploads/b.jpg'' 2x)}"
    once = run(css, support.to_cdn)
    assert (
        once
        == "a{b:image-set('https://cdn.example.net/u/a\\c .jpg' 1x, ''/wp-content/uploads/b.jpg'' 2x)}"
    )
    assert rewrite_css(once, support.to_cdn) == []
    assert rewrite_css("a{b:image-set('\\'' 1x, '/wp-content/uploads/b.jpg' 2x)}", support.to_cdn)
