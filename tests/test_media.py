"""What an upload URL is, and WordPress media naming read from the file name alone."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from ada_url import URL
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rewriteproxy.media import (
    UploadLocator,
    UploadRef,
    UrlReading,
    Variant,
    read_url,
    wordpress_variant,
)

HOSTS = ("example.com", "www.example.com")
LOCATOR = UploadLocator(HOSTS, "/wp-content/uploads/")


@pytest.mark.parametrize(
    ("url", "path", "query", "fragment"),
    [
        ("https://example.com/wp-content/uploads/2024/05/a.jpg", "2024/05/a.jpg", "", ""),
        ("http://www.example.com/wp-content/uploads/a.jpg", "a.jpg", "", ""),
        ("//example.com/wp-content/uploads/a.jpg", "a.jpg", "", ""),
        ("/wp-content/uploads/a.jpg", "a.jpg", "", ""),
        # Hosts, schemes and the uploads path compare case-insensitively; the file's
        # path is kept as written.
        ("HTTPS://EXAMPLE.COM/WP-Content/Uploads/A.JPG", "A.JPG", "", ""),
        ("https://example.com:8443/wp-content/uploads/a.jpg", "a.jpg", "", ""),
        ("https://user@example.com/wp-content/uploads/a.jpg", "a.jpg", "", ""),
        ("https://example.com/wp-content/uploads/a.jpg?ver=2#top", "a.jpg", "ver=2", "top"),
        ("https://example.com/wp-content/uploads/a.jpg#x?y", "a.jpg", "", "x?y"),
        ("  /wp-content/uploads/a.jpg\n", "a.jpg", "", ""),
        # A browser strips only C0 controls and spaces: a trailing NBSP is part of the path.
        ("https://example.com/wp-content/uploads/a.jpg\u00a0", "a.jpg\u00a0", "", ""),
        ("/wp-content/uploads/caf%C3%A9.jpg", "caf%C3%A9.jpg", "", ""),
    ],
)
def test_upload_urls_are_split_into_path_query_and_fragment(
    url: str, path: str, query: str, fragment: str
) -> None:
    assert LOCATOR.parse(url) == UploadRef(url, path, query, fragment)


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example/wp-content/uploads/a.jpg",  # a foreign host
        "https://example.com.evil/wp-content/uploads/a.jpg",
        "https://example.com@evil.test/wp-content/uploads/a.jpg",  # userinfo, not the host
        "ftp://example.com/wp-content/uploads/a.jpg",
        "https://example.com",
        "wp-content/uploads/a.jpg",  # relative: its base is unknown
        "../uploads/a.jpg",
        "/wp-content/uploads-old/a.jpg",
        "/wp-content/themes/x/a.jpg",
        "/wp-content/uploads/",
        "/wp-content/uploads/2024/",
        "/wp-content/uploads/?a.jpg",
        "/wp-content/uploads/../wp-config.php",
        "/wp-content/uploads/2024/../../a.jpg",
        "/wp-content/uploads/2024\\a.jpg",
    ],
)
def test_anything_else_is_not_an_upload(url: str) -> None:
    assert LOCATOR.parse(url) is None


@pytest.mark.parametrize(
    "url",
    [
        # The authority ends at the first "/", "\\", "?" or "#": the host a browser
        # reads is evil.test, whatever follows.
        "http://evil.test\\@example.com/wp-content/uploads/a.jpg",
        "http://evil.test#@example.com/wp-content/uploads/a.jpg",
        "http://evil.test?@example.com/wp-content/uploads/a.jpg",
        "//evil.test\\@example.com/wp-content/uploads/a.jpg",
        "https://example.com\\@evil.test/wp-content/uploads/a.jpg",
        # Any two slashes or backslashes start an authority.
        "/\\evil.test/wp-content/uploads/a.jpg",
        "\\\\evil.test/wp-content/uploads/a.jpg",
        "https:///evil.test/wp-content/uploads/a.jpg",
        "https:\\\\evil.test\\wp-content\\uploads\\a.jpg",
        # A host or a path depending on the page's scheme: not certain.
        "http:/example.com/wp-content/uploads/a.jpg",
        "http:example.com/wp-content/uploads/a.jpg",
        "https:/wp-content/uploads/a.jpg",
        # Hosts are compared exactly: a trailing dot, percent-encoding or a bad port is
        # not one of ours.
        "https://example.com./wp-content/uploads/a.jpg",
        "https://ex%61mple.com/wp-content/uploads/a.jpg",
        "https://example.com:99999/wp-content/uploads/a.jpg",
        "https://example.com:8o/wp-content/uploads/a.jpg",
        "https://[example.com]/wp-content/uploads/a.jpg",
        # Dot segments in every spelling, and decoded ones in the inventory key.
        "/wp-content/uploads/%2e%2e/%2e%2e/wp-config.php",
        "/wp-content/uploads/%2E%2E/%2E%2E/wp-config.php",
        "/wp-content/uploads/.%2e/wp-config.php",
        "/wp-content/uploads/%2e./wp-config.php",
        "https://example.com/wp-content/uploads/2024/%2e%2e/%2e%2e/../wp-config.php",
        "https://example.com/wp-content/uploads/./a.jpg",
        "https://example.com/wp-content/uploads/%2e/a.jpg",
        "/wp-content/uploads/a/..",
        "/wp-content/uploads/a/%2e%2e",
        "/wp-content/uploads/a/..?x=1",
        "/wp-content/uploads/..%2f..%2fwp-config.php",
        "/wp-content/uploads/%2e%2e%2f%2e%2e%2fwp-config.php",
        "/wp-content/uploads/a%5c..%5c..%5cwp-config.php",
        "/wp-content/uploads/a\\..\\..\\wp-config.php",
        # Tabs and newlines are removed first, so they cannot hide a dot segment.
        "/wp-content/uploads/%2\ne%2e/%2e%2\te/wp-config.php",
        "/wp-content/uploads/.\n./wp-config.php",
    ],
)
def test_urls_a_browser_reads_as_foreign_or_outside_the_uploads_are_not_uploads(
    url: str,
) -> None:
    assert LOCATOR.parse(url) is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://user:pw@example.com/wp-content/uploads/a.jpg", "a.jpg"),
        ("https://evil.test@example.com/wp-content/uploads/a.jpg", "a.jpg"),  # userinfo
        ("https://example.com:443/wp-content/uploads/a.jpg", "a.jpg"),
        ("HTTP://WWW.EXAMPLE.COM/wp-content/uploads/a.jpg", "a.jpg"),
        ("ht\ttps://exa\nmple.com/wp-content/up\r\nloads/a.jpg", "a.jpg"),  # removed
        ("\x00\x1f /wp-content/uploads/a.jpg \x01", "a.jpg"),  # C0 controls stripped
        ("/wp-content/uploads/.htaccess-is-a-name.jpg", ".htaccess-is-a-name.jpg"),
        ("/wp-content/uploads/a..b/c...jpg", "a..b/c...jpg"),
        ("/wp-content/uploads/a.jpg?x=/../../y", "a.jpg"),  # a query has no segments
    ],
)
def test_upload_urls_in_spellings_a_browser_reads_the_same(url: str, path: str) -> None:
    ref = LOCATOR.parse(url)
    assert ref is not None and ref.path == path


def test_configured_hosts_with_a_port_and_ipv6_literals() -> None:
    locator = UploadLocator(("localhost:8080", "[::1]"), "/wp-content/uploads/")
    assert locator.parse("http://localhost:8080/wp-content/uploads/a.jpg") is not None
    assert locator.parse("http://localhost:8081/wp-content/uploads/a.jpg") is None
    assert locator.parse("http://localhost/wp-content/uploads/a.jpg") is None
    assert locator.parse("http://[::1]:8443/wp-content/uploads/a.jpg") is not None
    assert locator.parse("http://[::1/wp-content/uploads/a.jpg") is None
    assert locator.parse("http://[::1]x/wp-content/uploads/a.jpg") is None


@pytest.mark.parametrize(
    ("url", "reading"),
    [
        ("https://a.test/p?q#f", UrlReading("a.test", "", "/p", "q", "f")),
        ("//A.Test:8080\\p", UrlReading("a.test", "8080", "\\p", None, None)),
        ("http://u@v@a.test/p", UrlReading("a.test", "", "/p", None, None)),
        ("http://a.test#/p", UrlReading("a.test", "", "", None, "/p")),
        ("/p#x?y", UrlReading(None, "", "/p", None, "x?y")),
        ("\\p", UrlReading(None, "", "\\p", None, None)),
        ("HTTPS:////a.test", UrlReading("a.test", "", "", None, None)),
        ("http://[::1]:1/p", UrlReading("[::1]", "1", "/p", None, None)),
    ],
)
def test_read_url_reads_host_and_path_as_a_browser_does(url: str, reading: UrlReading) -> None:
    assert read_url(url) == reading


@pytest.mark.parametrize(
    "url",
    ["p/q", "?q", "#f", "", "mailto:a@b", "javascript:alert(1)", "http:", "http://", "http://@/"],
)
def test_read_url_is_none_when_the_reading_depends_on_the_page(url: str) -> None:
    assert read_url(url) is None


# Pieces of URLs around the shapes a browser reads differently from a naive split.
_URL_PIECES = st.sampled_from(
    [
        "http:", "https:", "HTTPS:", "ftp:", "/", "//", "\\", "///", "example.com",
        "www.EXAMPLE.com", "evil.test", "example.com.", "@", ":", ":80", ":8o", "?", "#",
        "[::1]", "%2e", "%2E", ".", "..", "%2f", "%5c", "%00", "\t", "\n", " ", "\x00",
        "wp-content/uploads/", "/wp-content/uploads/", "WP-Content/Uploads/", "a.jpg",
        "2024/", "x%20y", "\u00e9", "\u00a0",
    ]
)  # fmt: skip
_NOISE = st.lists(_URL_PIECES, max_size=4).map("".join)
_SEGMENTS = st.lists(
    st.sampled_from(["2024", "05", "..", ".", "%2e", ".%2E", "%2e%2e", "x%20y", "", "\u00e9"]),
    max_size=3,
).map(lambda segments: "".join(s + "/" for s in segments))
# Mostly near-uploads: an origin (or none), a spelling of the base, segments, a file name.
_URLS = st.one_of(
    st.lists(_URL_PIECES, max_size=10).map("".join),
    st.tuples(
        st.sampled_from(["https://", "http://", "//", "", "HTTP:\\\\", "https:///"]),
        st.sampled_from(["", "evil.test@", "evil.test\\@", "evil.test?@", "evil.test#@"]),
        st.sampled_from(["example.com", "www.example.com", "evil.test", ""]),
        st.sampled_from(["", ":443", "\t", ":x"]),
        st.sampled_from(["/wp-content/uploads/", "/WP-CONTENT/uploads/", "\\wp-content/uploads/"]),
        _SEGMENTS,
        st.sampled_from(["a.jpg", "b-300x200.webp", "..", "", "a.jpg?v=1", "a.jpg#x"]),
        st.one_of(st.just(""), _NOISE),
    ).map("".join),
)
_BASES = ("http://example.com/blog/post/", "https://example.com/blog/post/")


@settings(max_examples=2000, deadline=None)
@given(_URLS)
@example("http://evil.test\\@example.com/wp-content/uploads/a.jpg")
@example("/wp-content/uploads/%2e%2e/%2e%2e/wp-config.php")
@example("//example.com/wp-content/uploads/a.jpg")
def test_every_upload_is_an_upload_to_a_browser_too(url: str) -> None:
    """ada (a WHATWG URL parser) reads every URL parse accepts, on an http and an https
    page of the site, as one of the site's hosts and a path below the uploads base
    whose remainder decodes to the key; the shortcut answers as the full rule does."""
    ref = LOCATOR.parse(url)
    assert ref == LOCATOR.parse_by_rule(url)
    if ref is None:
        return
    for base in _BASES:
        browser = URL(url, base)
        assert browser.hostname in HOSTS, (url, base, browser.href)
        path = unquote(browser.pathname)
        assert path[: len(LOCATOR.uploads_path)].lower() == LOCATOR.uploads_path
        assert path[len(LOCATOR.uploads_path) :] == ref.key, (url, browser.href)
        assert unquote(browser.search[1:]) == unquote(ref.query)
        assert unquote(browser.hash[1:]) == unquote(ref.fragment)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(LOCATOR._prefixes), st.text(max_size=12), _URLS)
def test_the_shortcut_answers_as_the_full_rule(prefix: str, text: str, tail: str) -> None:
    for url in (prefix + text + tail, prefix + tail + text):
        assert LOCATOR.parse(url) == LOCATOR.parse_by_rule(url)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # A registered sub-size: the original plus the exact pixel size.
        ("2024/05/photo-300x200.jpg", Variant("2024/05/photo.jpg", 300, 200, scaled=False)),
        ("photo-1024x683.png", Variant("photo.png", 1024, 683, scaled=False)),
        # The big-image downscale (WordPress 5.3+).
        ("2024/05/photo-scaled.jpg", Variant("2024/05/photo.jpg", None, None, scaled=True)),
        # Sub-sizes of an edited image belong to the edited file, not the first upload.
        (
            "2024/05/photo-e1699999999-300x200.jpg",
            Variant("2024/05/photo-e1699999999.jpg", 300, 200, scaled=False),
        ),
        # Hyphens and digits inside the name stay part of the name.
        ("a-b-2-640x480.webp", Variant("a-b-2.webp", 640, 480, scaled=False)),
        # The extension is kept as written.
        ("IMG_1-150x150.JPG", Variant("IMG_1.JPG", 150, 150, scaled=False)),
        # Percent-encoded names are parsed as written.
        ("caf%C3%A9-300x200.jpg", Variant("caf%C3%A9.jpg", 300, 200, scaled=False)),
    ],
)
def test_derived_names_point_to_their_original(path: str, expected: Variant) -> None:
    assert wordpress_variant(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "2024/05/photo.jpg",  # an original
        "2024/05/photo-1.jpg",  # a second upload with the same name: a different file
        "2024/05/photo-300x200-1.jpg",  # renamed upload, so it cannot clash with a sub-size
        "2024/05/photo-e1699999999.jpg",  # the edited image is itself an original
        "photo-300x200",  # no extension
        "-300x200.jpg",  # nothing before the size
        "-scaled.jpg",
        "photo-0300x200.jpg",  # WordPress never writes a leading zero
        "photo-300x0.jpg",
        "photo-300X200.jpg",  # nor an upper-case X
        "photo-300x200.d/readme",  # the size must be on the file name, not a directory
        "photo-scaled-1.jpg",
        "2024/05/.jpg",
    ],
)
def test_other_names_are_not_derived(path: str) -> None:
    assert wordpress_variant(path) is None
