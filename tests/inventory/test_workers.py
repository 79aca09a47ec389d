"""``serve --workers 2`` lists the bucket once per machine, counted at the S3 server.

The proxy runs as a real process with real forked workers; between it and
SeaweedFS sits a loopback relay that counts the ``ListObjectsV2`` requests
(``GET /<bucket>?list-type=2``) going through it. A second ``serve`` with the
same state directory, the restart, answers from the snapshot at once and
lists nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.inventory.test_s3 import put
from tests.support.net import free_port
from tests.support.s3server import S3Server

pytestmark = pytest.mark.s3


class CountingRelay:
    """A TCP relay to the S3 port that counts list requests in what clients send."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.lists = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            tail = b""
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    if count:  # a request line may straddle two reads
                        self.lists += (tail + data).count(b"list-type=2") - tail.count(
                            b"list-type=2"
                        )
                        tail = data[-32:]
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


CONFIG = """
upstream: http://127.0.0.1:9
listen: {{host: 127.0.0.1, port: {port}}}
site:
  hosts: [wp.test]
delivery:
  provider: cdn
  cdn: {{base_url: "https://cdn.example.net/wp-content/uploads/"}}
  health: {{enabled: false}}
inventory:
  snapshot_dir: {state}
  s3:
    bucket: {bucket}
    prefix: wp-content/uploads/
    region: {region}
    endpoint_url: http://127.0.0.1:{relay}
    access_key_id: {key}
    secret_access_key: {secret}
    manifest: false
admin: {{listen: "127.0.0.1:{admin}"}}
"""


@contextlib.asynccontextmanager
async def serve(config: Path, workers: int) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "serve",
        "--config",
        str(config),
        "--workers",
        str(workers),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


async def ready(admin: int, workers: int) -> dict[str, float]:
    """The admin listener's metrics (summed over the workers), once ``workers`` serve and
    every one's inventory is ready."""
    for _ in range(600):
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{admin}/metrics") as response,
            ):
                text = await response.text()
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)  # not listening yet
            continue
        samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line[:1] != "#")
        values = {name: float(value) for name, value in samples.items()}
        if (
            values.get("rewriteproxy_workers") == workers
            and values.get("rewriteproxy_inventory_ready") == 1
        ):
            return values
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workers} workers with a ready inventory never showed")


async def test_two_workers_list_the_bucket_once_and_a_restart_not_at_all(
    s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket("workers")
    for i in range(5):
        put(s3_server, bucket, f"2024/05/p{i}.jpg", b"jpeg")
    port, admin = free_port(), free_port()
    s3_port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    async with CountingRelay(s3_port) as relay:
        config = tmp_path / "c.yaml"
        config.write_text(
            CONFIG.format(
                port=port,
                admin=admin,
                state=tmp_path / "state",
                bucket=bucket,
                region=s3_server.region,
                relay=relay.port,
                key=s3_server.access_key_id,
                secret=s3_server.secret_access_key,
            )
        )
        async with serve(config, workers=2):
            metrics = await ready(admin, 2)
            await asyncio.sleep(3)  # a follower's poll that went wrong would list by now
            assert relay.lists == 1  # one listing for both workers
            assert metrics["rewriteproxy_inventory_objects"] == 5
        async with serve(config, workers=2):
            await ready(admin, 2)  # both answer from the snapshot
            assert relay.lists == 1  # the snapshot is younger than refresh_seconds
