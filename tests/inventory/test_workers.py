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


async def inventories(port: int, workers: int) -> dict[int, dict[str, Any]]:
    """Each worker's health ``inventory`` section, by pid, once every worker is ready."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(600):
        connector = aiohttp.TCPConnector(force_close=True)  # new connections get spread
        try:
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                session.get(f"http://127.0.0.1:{port}/-/rewriteproxy/health") as response,
            ):
                health = await response.json()
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)  # not listening yet
            continue
        if health["inventory"]["ready"]:
            seen[health["pid"]] = health["inventory"]
        if len(seen) == workers:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(seen)} of {workers} workers became ready")


async def test_two_workers_list_the_bucket_once_and_a_restart_not_at_all(
    s3_server: S3Server, tmp_path: Path
) -> None:
    bucket = s3_server.new_bucket("workers")
    for i in range(5):
        put(s3_server, bucket, f"2024/05/p{i}.jpg", b"jpeg")
    port = free_port()
    s3_port = int(s3_server.endpoint_url.rsplit(":", 1)[1])
    async with CountingRelay(s3_port) as relay:
        config = tmp_path / "c.yaml"
        config.write_text(
            CONFIG.format(
                port=port,
                state=tmp_path / "state",
                bucket=bucket,
                region=s3_server.region,
                relay=relay.port,
                key=s3_server.access_key_id,
                secret=s3_server.secret_access_key,
            )
        )
        async with serve(config, workers=2):
            seen = await inventories(port, 2)
            await asyncio.sleep(3)  # a follower's poll that went wrong would list by now
            assert relay.lists == 1
            assert sorted(i["snapshot"]["leader"] for i in seen.values()) == [False, True]
            assert {i["keys"] for i in seen.values()} == {5}
        async with serve(config, workers=2):
            seen = await inventories(port, 2)
            assert {i["served_from"] for i in seen.values()} == {"snapshot"}
            assert relay.lists == 1  # the snapshot is younger than refresh_seconds
