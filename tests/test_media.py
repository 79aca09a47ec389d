"""What an upload URL is, and WordPress media naming read from the file name alone."""

from __future__ import annotations

import pytest

from rewriteproxy.media import UploadLocator, UploadRef, Variant, wordpress_variant

LOCATOR = UploadLocator(("example.com", "www.example.com"), "/wp-content/uploads/")


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
        ("https://example.com/wp-content/uploads/a.jpg\u00a0", "a.jpg", "", ""),  # NBSP
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
