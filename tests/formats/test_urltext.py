"""Upload URLs found by their shape in REST JSON, feeds, sitemaps and CSS files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from rewriteproxy.formats.urltext import UrlSweep
from rewriteproxy.media import UploadLocator
from tests.formats import support

HOSTS = ("wp.test", "www.wp.test")
LOCATOR = UploadLocator(HOSTS, "/wp-content/uploads/")
SWEEP = UrlSweep(HOSTS, "/wp-content/uploads/")


def to_cdn(url: str) -> str | None:
    ref = LOCATOR.parse(url)
    return None if ref is None else "https://cdn.example.net/u/" + ref.path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # REST JSON: whole values and HTML inside values, \/-escaped, written back escaped
        (
            '{"source_url":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/03\\/a.jpg"}',
            '{"source_url":"https:\\/\\/cdn.example.net\\/u\\/2024\\/03\\/a.jpg"}',
        ),
        (
            '"<img src=\\"http:\\/\\/wp.test\\/wp-content\\/uploads\\/b.jpg\\" '
            'srcset=\\"http:\\/\\/wp.test\\/wp-content\\/uploads\\/b-300x200.jpg 300w\\">"',
            '"<img src=\\"https:\\/\\/cdn.example.net\\/u\\/b.jpg\\" '
            'srcset=\\"https:\\/\\/cdn.example.net\\/u\\/b-300x200.jpg 300w\\">"',
        ),
        # feeds: attributes and escaped markup
        (
            '<enclosure url="http://wp.test/wp-content/uploads/v.mp4" length="1"/>',
            '<enclosure url="https://cdn.example.net/u/v.mp4" length="1"/>',
        ),
        (
            "&lt;img src=&quot;https://www.wp.test/wp-content/uploads/c.png&quot;&gt;",
            "&lt;img src=&quot;https://cdn.example.net/u/c.png&quot;&gt;",
        ),
        # CSS: protocol-relative and root-relative
        (
            "a{background:url(//wp.test/wp-content/uploads/d.jpg)}",
            "a{background:url(https://cdn.example.net/u/d.jpg)}",
        ),
        (
            "b{background:url('/wp-content/uploads/e.jpg')}",
            "b{background:url('https://cdn.example.net/u/e.jpg')}",
        ),
    ],
)
def test_upload_urls_are_rewritten_in_their_own_escaping(text: str, expected: str) -> None:
    assert SWEEP.rewrite(text, to_cdn) == expected


@pytest.mark.parametrize(
    "text",
    [
        "https://other.test/wp-content/uploads/a.jpg",  # a foreign host
        "see other.test/wp-content/uploads/a.jpg",  # a root-relative path inside a longer URL
        "/wp-content/uploads-old/a.jpg",  # not the uploads path
        "/wp-content/themes/t/a.jpg",
        "https://cdn.example.net/u/a.jpg",  # already delivered: rewriting is idempotent
        "no uploads path at all",
    ],
)
def test_everything_else_is_the_same_object(text: str) -> None:
    assert SWEEP.rewrite(text, to_cdn) is text


def test_a_url_ends_where_a_wordpress_file_name_cannot_continue() -> None:
    text = '"/wp-content/uploads/a.jpg","/wp-content/uploads/b.jpg";(/wp-content/uploads/c.jpg)'
    assert SWEEP.rewrite(text, to_cdn) == (
        '"https://cdn.example.net/u/a.jpg","https://cdn.example.net/u/b.jpg";'
        "(https://cdn.example.net/u/c.jpg)"
    )


EXAMPLE_SWEEP = UrlSweep(support.HOSTS, "/wp-content/uploads/")
# Upload URLs inside a longer URL that names another host: not a URL of ours.
INSIDE_FOREIGN_URLS = [
    "https://evil.test/?u=/wp-content/uploads/a.jpg",
    "https://evil.test/?u=https://example.com/wp-content/uploads/a.jpg",
    "https://evil.test/?a=1&u=/wp-content/uploads/a.jpg",
    "https://evil.test/?a=1&amp;u=//example.com/wp-content/uploads/a.jpg",
    "https://evil.test/a;/wp-content/uploads/a.jpg",
    "https://evil.test/a=/wp-content/uploads/a.jpg",
    "http://evil.test?@//example.com/wp-content/uploads/a.jpg",
    "http://evil.test#@//example.com/wp-content/uploads/a.jpg",
]


@pytest.mark.parametrize("url", support.HOSTILE_URLS + INSIDE_FOREIGN_URLS)
@pytest.mark.parametrize(
    "template",
    [
        '{{"a":"{}"}}',
        "a{{b:url({})}}",
        "a{{b:url('{}')}}",
        '<enclosure url="{}"/>',
        "&lt;img src=&quot;{}&quot;&gt;",
        "<image:loc>{}</image:loc>",
    ],
)
def test_urls_the_upload_rule_refuses_are_kept(template: str, url: str) -> None:
    text = template.format(support.UPLOAD) + template.format(url)
    expected = template.format(support.DELIVERED) + template.format(url)
    assert EXAMPLE_SWEEP.rewrite(text, support.to_cdn) == expected
    escaped = text.replace("/", "\\/")
    assert EXAMPLE_SWEEP.rewrite(escaped, support.to_cdn) == expected.replace("/", "\\/")


@pytest.mark.parametrize(
    "before",
    ["", " ", "\n", "(", "[", ",", ">", "'", '"', "`", "<img src=", "&quot;", "&#039;", "&#39;"],
)
def test_a_url_may_start_after_what_starts_a_url_in_text(before: str) -> None:
    text = before + support.UPLOAD + " "
    assert EXAMPLE_SWEEP.rewrite(text, support.to_cdn) == before + support.DELIVERED + " "


TEXT_SYNTAX = [
    '{"a":"',
    '"}',
    "\\/",
    "url(",
    ")",
    "&quot;",
    "&amp;",
    "<loc>",
    "</loc>",
    "src=",
    "?u=",
    " ",
    "\\",
]


@settings(max_examples=300, deadline=None)
@given(support.texts(TEXT_SYNTAX, " "))
def test_properties(text: str) -> None:
    once = EXAMPLE_SWEEP.rewrite(text, support.to_cdn)
    assert EXAMPLE_SWEEP.rewrite(once, support.to_cdn) is once
    escaped = text.replace("/", "\\/")
    once = EXAMPLE_SWEEP.rewrite(escaped, support.to_cdn)
    assert EXAMPLE_SWEEP.rewrite(once, support.to_cdn) is once


@settings(max_examples=200, deadline=None)
@given(support.texts(TEXT_SYNTAX, " ", with_uploads=False))
def test_no_upload_urls_no_edits(text: str) -> None:
    assert EXAMPLE_SWEEP.rewrite(text, support.to_cdn) is text
