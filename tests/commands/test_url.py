"""``rewriteproxy url``: the command's core, on the same locator and providers the proxy uses."""

from __future__ import annotations

import argparse

from rewriteproxy.commands import url as command
from rewriteproxy.delivery import NullDelivery
from rewriteproxy.media import FileInfo, UploadLocator
from tests.delivery.factories import provider

LOCATOR = UploadLocator(("wp.test",), "/wp-content/uploads/")
CLOUDINARY = {"provider": "cloudinary", "cloudinary": {"cloud_name": "demo"}}


def test_an_upload_url_becomes_its_delivery_url() -> None:
    assert command.delivery_url_for(
        "https://wp.test/wp-content/uploads/2024/05/photo-300x200.jpg",
        LOCATOR,
        provider(CLOUDINARY),
        width=150,
    ) == (
        "https://res.cloudinary.com/demo/image/upload/c_lfill,g_center,h_200,w_300/"
        "c_limit,w_150/f_auto,q_auto/2024/05/photo.jpg"
    )


def test_a_known_version_is_used() -> None:
    assert (
        command.delivery_url_for(
            "/wp-content/uploads/a.jpg",
            LOCATOR,
            provider(CLOUDINARY),
            info=FileInfo(mtime=1700000000.0),
        )
        == "https://res.cloudinary.com/demo/image/upload/f_auto,q_auto/v1700000000/a.jpg"
    )


def test_a_url_the_provider_keeps_local_is_printed_unchanged() -> None:
    url = "https://wp.test/wp-content/uploads/report.pdf"
    assert command.delivery_url_for(url, LOCATOR, provider(CLOUDINARY)) == url
    assert command.delivery_url_for(url, LOCATOR, NullDelivery()) == url


def test_urls_outside_the_uploads_are_not_uploads() -> None:
    for url in (
        "https://other.test/wp-content/uploads/a.jpg",
        "https://wp.test/about/",
        "photo.jpg",
    ):
        assert command.delivery_url_for(url, LOCATOR, provider(CLOUDINARY)) is None


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args(["--config", "c.yaml", "https://wp.test/x.jpg", "--width", "300"])
    assert (args.config, args.url, args.width, args.mtime, args.etag) == (
        "c.yaml",
        "https://wp.test/x.jpg",
        300,
        None,
        None,
    )
    assert command.NAME == "url"
