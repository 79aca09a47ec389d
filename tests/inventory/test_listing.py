"""The compact listing: boto3 pages in, FileInfo out, one packed int per key."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rewriteproxy.inventory.listing import ListingBuilder, pack, parse_etag, unpack
from rewriteproxy.media import FileInfo

WHEN = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def obj(key: str, size: int = 10, etag: str = f'"{MD5}"') -> dict[str, object]:
    return {
        "Key": key,
        "Size": size,
        "ETag": etag,
        "LastModified": WHEN,
        "StorageClass": "STANDARD",
    }


@given(
    size=st.integers(0, 5 * 2**40),
    mtime=st.integers(0, 2**35),
    digest=st.integers(0, 2**128 - 1),
    parts=st.integers(0, 10_000),
)
def test_pack_and_unpack_keep_every_field(size: int, mtime: int, digest: int, parts: int) -> None:
    info = unpack(pack(size, mtime, (digest, parts)))
    expected = f"{digest:032x}" + (f"-{parts}" if parts else "")
    assert info == FileInfo(size=size, mtime=float(mtime), etag=expected)


def test_no_etag_unpacks_as_none() -> None:
    assert unpack(pack(3, 4, None)) == FileInfo(size=3, mtime=4.0, etag=None)


def test_parse_etag() -> None:
    assert parse_etag(f'"{MD5}"') == (int(MD5, 16), 0)
    assert parse_etag(f"{MD5}-12") == (int(MD5, 16), 12)
    assert parse_etag("abc") is None
    assert parse_etag(f"{MD5}-0") is None
    assert parse_etag(f"{MD5}-x") is None
    assert parse_etag("z" * 32) is None


def test_builder_strips_the_prefix_and_skips_other_keys_and_folder_markers() -> None:
    builder = ListingBuilder("wp-content/uploads/")
    builder.add_page(
        {
            "Contents": [
                obj("wp-content/uploads/2024/05/a.jpg", 1234),
                obj("wp-content/uploads/2024/05/"),
            ]
        }
    )
    builder.add_page({"Contents": [obj("elsewhere/b.jpg")]})
    builder.add_page({})  # an empty bucket's page has no Contents
    listing = builder.build()
    assert (len(listing), listing.pages) == (1, 3)
    assert listing.get("2024/05/a.jpg") == FileInfo(size=1234, mtime=WHEN.timestamp(), etag=MD5)
    assert listing.get("2024/05/b.jpg") is None
    assert list(listing) == ["2024/05/a.jpg"]


def test_an_etag_that_is_no_md5_is_kept_verbatim() -> None:
    builder = ListingBuilder()
    builder.add_page({"Contents": [obj("x.jpg", etag='"W/opaque-1"')]})
    info = builder.build().get("x.jpg")
    assert info is not None and info.etag == "W/opaque-1"
