"""Test helpers for the format modules: the real upload rule, and URLs it must refuse.

Every format hands its candidate URLs to ``map_url``; in production that is
:class:`rewriteproxy.media.UploadLocator` behind the delivery provider, the one
place that decides what an upload is. :func:`to_cdn` is the smallest honest
stand-in for the provider on top of the real locator, so these tests show that
each format leaves alone what the rule refuses. :func:`texts` draws the random
inputs of the format properties: never an error, a second pass changes nothing,
and a text without upload URLs is never edited.
"""

from __future__ import annotations

from hypothesis import strategies as st

from rewriteproxy.media import UploadLocator

HOSTS = ("example.com", "www.example.com")
LOCATOR = UploadLocator(HOSTS, "/wp-content/uploads/")
CDN = "https://cdn.example.net/u/"
UPLOAD = "https://example.com/wp-content/uploads/2024/05/a.jpg"
DELIVERED = CDN + "2024/05/a.jpg"


def to_cdn(url: str) -> str | None:
    ref = LOCATOR.parse(url)
    return None if ref is None else CDN + ref.path


# URLs with the site's host and uploads path in them that a browser reads as another
# host, or as a path outside the uploads once its dot segments are removed.
HOSTILE_URLS = [
    "http://evil.test\\@example.com/wp-content/uploads/a.jpg",
    "http://evil.test#@example.com/wp-content/uploads/a.jpg",
    "http://evil.test?@example.com/wp-content/uploads/a.jpg",
    "//evil.test\\@example.com/wp-content/uploads/a.jpg",
    "/wp-content/uploads/%2e%2e/%2e%2e/wp-config.php",
    "https://example.com/wp-content/uploads/.%2E/.%2E/wp-config.php",
    "https://example.com/wp-content/uploads/2024/%2E%2E",
    "/wp-content/uploads/..%2f..%2fwp-config.php",
]

UPLOAD_URLS = [
    UPLOAD,
    "//www.example.com/wp-content/uploads/b-300x200.webp",
    "/wp-content/uploads/c.png?v=2#top",
    "HTTP://EXAMPLE.COM:8080/wp-content/uploads/x%20y.pdf",
]
OTHER_URLS = [
    *HOSTILE_URLS,
    DELIVERED,
    "https://other.test/wp-content/uploads/a.jpg",
    "/wp-content/themes/t/a.png",
    "wp-content/uploads/relative.jpg",
    "data:image/png;base64,AAAA",
]


def texts(syntax: list[str], end: str, with_uploads: bool = True) -> st.SearchStrategy[str]:
    """Random texts glued from URLs and a format's ``syntax`` pieces: what the format
    property tests rewrite. Without ``with_uploads`` the URLs are only others, each
    followed by ``end`` (which ends a URL in that format) so that no two pieces can
    join into an upload URL."""
    if with_uploads:
        urls = st.sampled_from(UPLOAD_URLS + OTHER_URLS)
    else:
        urls = st.sampled_from([u + end for u in OTHER_URLS if not u.startswith("wp-content")])
    pieces = st.one_of(
        urls, st.sampled_from(syntax), st.text(alphabet="\"'()\\/ ,;:=&#?@.%x", max_size=4)
    )
    return st.lists(pieces, max_size=12).map("".join)
