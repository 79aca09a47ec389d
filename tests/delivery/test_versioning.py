"""Version suffixes come from inventory facts only."""

from __future__ import annotations

import pytest

from rewriteproxy.delivery.versioning import (
    VersioningConfig,
    unix_version,
    version_token,
    with_query,
)
from rewriteproxy.media import FileInfo
from rewriteproxy.settings import ConfigError
from tests.support.config import validate_section


def test_no_facts_no_version() -> None:
    assert version_token(None) is None
    assert version_token(FileInfo()) is None
    assert version_token(FileInfo(size=10)) is None
    assert unix_version(None) is None
    assert unix_version(FileInfo(etag="abc")) is None


def test_the_token_is_short_stable_and_changes_with_the_file() -> None:
    one = version_token(FileInfo(size=1, mtime=1700000000.0, etag="d41d8cd98f00b204"))
    assert one is not None and len(one) == 8 and int(one, 16) >= 0
    assert one == version_token(FileInfo(size=1, mtime=1700000000.0, etag="d41d8cd98f00b204"))
    assert one != version_token(FileInfo(size=1, mtime=1700000000.0, etag="ffff"))
    assert version_token(FileInfo(mtime=1.0)) != version_token(FileInfo(mtime=2.0))


def test_the_etag_wins_over_the_mtime() -> None:
    # Re-uploading identical bytes later keeps the URL, and so the CDN's copy.
    assert version_token(FileInfo(mtime=1.0, etag="same")) == version_token(
        FileInfo(mtime=2.0, etag="same")
    )


def test_unix_version_is_whole_seconds() -> None:
    assert unix_version(FileInfo(mtime=1700000000.9)) == 1700000000


@pytest.mark.parametrize(
    ("query", "token", "expected"),
    [
        ("", None, ""),
        ("a=1", None, "?a=1"),
        ("", "abcd", "?v=abcd"),
        ("a=1", "abcd", "?a=1&v=abcd"),
    ],
)
def test_with_query(query: str, token: str | None, expected: str) -> None:
    assert with_query(query, "v", token) == expected


def test_parse_defaults_and_values() -> None:
    assert validate_section(VersioningConfig, {}, "delivery.versioning") == VersioningConfig(
        style="query", param="v"
    )
    assert validate_section(
        VersioningConfig, {"style": "path", "param": "ver"}, "delivery.versioning"
    ) == VersioningConfig(style="path", param="ver")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"style": "hash"}, "style"),
        ({"param": "a b"}, "param"),
        ({"param": "a&b"}, "param"),
        ({"stlye": "query"}, "unknown key"),
    ],
)
def test_parse_errors_name_the_key(data: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_section(VersioningConfig, data, "delivery.versioning")
