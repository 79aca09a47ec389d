"""s3 URLs fetched from a real S3 server (SeaweedFS on loopback): the bucket serves them.

The object is put with boto3 under the key the inventory would list; the URL the
provider builds is then fetched over plain HTTP, anonymously, as a browser would.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from rewriteproxy.media import FileInfo

from .factories import provider, ref

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def bucket(s3_server: Any) -> tuple[Any, str]:
    return s3_server.client(), s3_server.new_bucket("wp-media")


@pytest.mark.parametrize(
    "path",
    [
        "2024/05/photo-300x200.jpg",
        "2024/05/café a+b&c (1).jpg",  # written raw by the page
        "2024/05/caf%C3%A9%20%E6%97%A5.png",  # written escaped by the page
    ],
)
def test_the_bucket_serves_every_url_the_provider_builds(
    s3_server: Any, bucket: tuple[Any, str], path: str
) -> None:
    client, name = bucket
    upload = ref(path)
    body = f"bytes of {upload.key}".encode()
    client.put_object(Bucket=name, Key="wp-content/uploads/" + upload.key, Body=body)
    delivery = provider(
        {
            "provider": "s3",
            "s3": {
                "bucket": name,
                "endpoint_url": s3_server.endpoint_url,
                "prefix": "wp-content/uploads",
            },
        }
    )
    for info in (None, FileInfo(mtime=1700000000.0, etag="abc")):  # with and without ?v=
        url = delivery.url_for(upload, info)
        assert url is not None
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == body
