"""The s3 provider: direct bucket URLs."""

from __future__ import annotations

import pytest

from rewriteproxy.delivery.s3 import S3Config
from rewriteproxy.media import FileInfo
from rewriteproxy.settings import ConfigError

from .factories import parse_delivery, provider, ref


def s3(**settings: object) -> dict[str, object]:
    return {"provider": "s3", "s3": {"bucket": "media-bucket", **settings}}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "https://media-bucket.s3.us-east-1.amazonaws.com/2024/05/a.jpg"),
        (
            {"region": "eu-west-3", "prefix": "/wp-content/uploads"},
            "https://media-bucket.s3.eu-west-3.amazonaws.com/wp-content/uploads/2024/05/a.jpg",
        ),
        (
            {"region": "eu-west-3", "addressing": "path"},
            "https://s3.eu-west-3.amazonaws.com/media-bucket/2024/05/a.jpg",
        ),
        # Custom endpoints (S3-compatible stores) default to path style…
        (
            {"endpoint_url": "http://127.0.0.1:8333"},
            "http://127.0.0.1:8333/media-bucket/2024/05/a.jpg",
        ),
        # …and can be virtual-hosted when their DNS is set up for it.
        (
            {"endpoint_url": "https://s3.store.test", "addressing": "virtual", "prefix": "up"},
            "https://media-bucket.s3.store.test/up/2024/05/a.jpg",
        ),
    ],
)
def test_url_shapes(settings: dict[str, object], expected: str) -> None:
    assert provider(s3(**settings)).url_for(ref("2024/05/a.jpg")) == expected


def test_bucket_names_with_dots_default_to_path_style() -> None:
    # AWS's wildcard certificate does not cover "media.example.com.s3.…".
    delivery = provider({"provider": "s3", "s3": {"bucket": "media.example.com"}})
    assert (
        delivery.url_for(ref("a.jpg"))
        == "https://s3.us-east-1.amazonaws.com/media.example.com/a.jpg"
    )


def test_keys_are_decoded_then_escaped_in_full() -> None:
    # The same key whether the page wrote it escaped or not; "+" is escaped
    # because S3 reads a literal "+" in a path as a space.
    delivery = provider(s3())
    expected = "https://media-bucket.s3.us-east-1.amazonaws.com/caf%C3%A9%20a%2Bb%26c.jpg"
    assert delivery.url_for(ref("caf%C3%A9%20a+b&c.jpg")) == expected
    assert delivery.url_for(ref("café a+b&c.jpg")) == expected


def test_versions_and_width() -> None:
    delivery = provider(s3())
    assert delivery.transforms is False
    plain = "https://media-bucket.s3.us-east-1.amazonaws.com/a-300x200.jpg"
    assert delivery.url_for(ref("a-300x200.jpg"), None, 100) == plain
    versioned = delivery.url_for(ref("a-300x200.jpg"), FileInfo(etag="abc"))
    assert versioned is not None and versioned.startswith(plain + "?v=")
    no_versions = provider({**s3(), "versioning": {"style": "none"}})
    assert no_versions.url_for(ref("a-300x200.jpg"), FileInfo(etag="abc")) == plain


def test_owns() -> None:
    delivery = provider(s3(prefix="up"))
    assert delivery.owns("https://media-bucket.s3.us-east-1.amazonaws.com/up/a.jpg")
    assert not delivery.owns("https://media-bucket.s3.us-east-1.amazonaws.com/other/a.jpg")


def test_config_defaults() -> None:
    assert parse_delivery(s3()).settings == S3Config(
        bucket="media-bucket", region="us-east-1", prefix="", endpoint_url=None, addressing="auto"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"provider": "s3", "s3": {}}, r"delivery\.s3\.bucket: is required"),
        (s3(bucket="Media_Bucket"), r"delivery\.s3\.bucket"),
        (s3(region="EU WEST"), r"delivery\.s3\.region"),
        (s3(addressing="dns"), r"delivery\.s3\.addressing"),
        (s3(endpoint_url="127.0.0.1:8333"), r"delivery\.s3\.endpoint_url"),
        ({**s3(), "versioning": {"style": "path"}}, r"delivery\.versioning\.style: path is not"),
    ],
)
def test_config_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_delivery(data)
