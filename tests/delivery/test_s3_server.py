"""s3 URLs fetched from a real S3 server (SeaweedFS on loopback): the bucket serves them.

The object is put with boto3 under the key the inventory would list; the URL the
provider builds is then fetched over plain HTTP, anonymously, as a browser would.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.media import FileInfo

from .factories import provider, ref

pytestmark = [
    pytest.mark.s3,
    pytest.mark.skipif(shutil.which("weed") is None, reason="SeaweedFS (weed) is not installed"),
]

BUCKET = "wp-media"


def _free_port() -> int:
    """A loopback port that is free, and whose +10000 (SeaweedFS's gRPC port) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 40000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("weed")
    s3_port = _free_port()
    process = subprocess.Popen(
        ["weed", "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3",
         f"-s3.port={s3_port}", f"-master.port={_free_port()}", f"-volume.port={_free_port()}",
         f"-filer.port={_free_port()}", "-master.volumeSizeLimitMB=64",
         "-s3.port.iceberg=0", "-s3.port.lance=0"],  # extra listeners on fixed ports: off
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{s3_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # answering, even if with an error status
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("SeaweedFS did not start")
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def bucket(endpoint: str) -> Any:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    deadline = time.monotonic() + 30
    while True:  # the filer may still be joining the master
        try:
            client.create_bucket(Bucket=BUCKET)
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize(
    "path",
    [
        "2024/05/photo-300x200.jpg",
        "2024/05/café a+b&c (1).jpg",  # written raw by the page
        "2024/05/caf%C3%A9%20%E6%97%A5.png",  # written escaped by the page
    ],
)
def test_the_bucket_serves_every_url_the_provider_builds(
    endpoint: str, bucket: Any, path: str
) -> None:
    upload = ref(path)
    body = f"bytes of {upload.key}".encode()
    bucket.put_object(Bucket=BUCKET, Key="wp-content/uploads/" + upload.key, Body=body)
    delivery = provider({"provider": "s3", "s3": {
        "bucket": BUCKET, "endpoint_url": endpoint, "prefix": "wp-content/uploads"}})
    for info in (None, FileInfo(mtime=1700000000.0, etag="abc")):  # with and without ?v=
        url = delivery.url_for(upload, info)
        assert url is not None
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == body
