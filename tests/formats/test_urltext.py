"""Upload URLs found by their shape in REST JSON, feeds, sitemaps and CSS files."""

from __future__ import annotations

import pytest

from rewriteproxy.formats.urltext import UrlSweep
from rewriteproxy.media import UploadLocator

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
