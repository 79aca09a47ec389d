"""``rewriteproxy serve`` as systemd runs it: readiness, reload and graceful shutdown.

The proxy runs as a real process; systemd's notify socket is a real unix datagram
socket (tests/support/notifysocket.py) and WordPress a slow loopback origin.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from ..support.net import free_port
from ..support.notifysocket import NotifySocket

CONFIG = """
upstream: {upstream}
listen: {{host: 127.0.0.1, port: {port}}}
server: {{shutdown_timeout: {shutdown_timeout}}}
site: {{hosts: [wp.test]}}
admin: {{listen: null}}
"""


async def slow_origin(aiohttp_server, seconds: float, arrived: asyncio.Event) -> str:  # type: ignore[no-untyped-def]
    async def page(request: web.Request) -> web.Response:
        arrived.set()
        await asyncio.sleep(seconds)
        return web.Response(text="finished", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


async def serve(
    config: Path,
    upstream: str,
    port: int,
    shutdown_timeout: float,
    systemd: NotifySocket,
    workers: int = 1,
) -> asyncio.subprocess.Process:
    config.write_text(
        CONFIG.format(upstream=upstream, port=port, shutdown_timeout=shutdown_timeout)
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "serve",
        "--config",
        str(config),
        "--workers",
        str(workers),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=systemd.environ,
    )
    for _ in range(workers):
        await systemd.wait_for("READY=1")  # sent by each worker once it listens
    return process


async def test_systemd_hears_ready_reloading_and_stopping(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    upstream = await slow_origin(aiohttp_server, 0, asyncio.Event())
    with NotifySocket() as systemd:
        process = await serve(tmp_path / "c.yaml", upstream, free_port(), 5, systemd)
        process.send_signal(signal.SIGHUP)
        assert await systemd.wait_for("READY=1") == ["RELOADING=1", "READY=1"]
        process.send_signal(signal.SIGTERM)
        assert await systemd.receive() == "STOPPING=1"
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr
    assert b"config reloaded" in stderr


async def test_with_workers_each_one_reports_ready_and_stopping(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    # Hence NotifyAccess=all in conf/deploy/rewriteproxy.service.
    upstream = await slow_origin(aiohttp_server, 0, asyncio.Event())
    with NotifySocket() as systemd:
        process = await serve(tmp_path / "c.yaml", upstream, free_port(), 5, systemd, workers=2)
        process.send_signal(signal.SIGTERM)  # to the supervisor, as KillMode=mixed does
        assert [await systemd.receive(), await systemd.receive()] == ["STOPPING=1"] * 2
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0, stderr
    assert stderr.decode().count("stopping on SIGTERM") == 2


async def test_sigterm_lets_a_request_in_flight_finish(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    arrived = asyncio.Event()
    upstream = await slow_origin(aiohttp_server, 1.5, arrived)
    port = free_port()
    with NotifySocket() as systemd:
        process = await serve(tmp_path / "c.yaml", upstream, port, 10, systemd)
        async with aiohttp.ClientSession() as session:

            async def fetch() -> tuple[int, str]:
                async with session.get(f"http://127.0.0.1:{port}/slow") as response:
                    return response.status, await response.text()

            request = asyncio.ensure_future(fetch())
            await asyncio.wait_for(arrived.wait(), 10)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(request, 10) == (200, "finished")
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    assert process.returncode == 0
    lines = [line for line in stderr.decode().splitlines() if "stopping on SIGTERM" in line]
    assert len(lines) == 1, stderr
    assert "1 client connections closed" in lines[0]
    assert "every request in flight finished" in lines[0]


async def test_sigterm_cuts_off_what_outlasts_shutdown_timeout(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    arrived = asyncio.Event()
    upstream = await slow_origin(aiohttp_server, 60, arrived)
    port = free_port()
    with NotifySocket() as systemd:
        process = await serve(tmp_path / "c.yaml", upstream, port, 1, systemd)
        async with aiohttp.ClientSession() as session:

            async def fetch() -> int:
                async with session.get(f"http://127.0.0.1:{port}/slow") as response:
                    await response.read()
                    return response.status

            request = asyncio.ensure_future(fetch())
            await asyncio.wait_for(arrived.wait(), 10)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 15)
            took = time.monotonic() - started
            outcome = await asyncio.gather(request, return_exceptions=True)
    assert process.returncode == 0
    assert 1.0 <= took < 4.0  # the timeout, plus the interpreter's exit
    assert outcome != [200]  # cut off: an error answer or a closed connection
    assert b"1 still busy after 1s (server.shutdown_timeout) were cut off" in stderr


async def test_sigterm_closes_idle_and_silent_connections_at_once(tmp_path, aiohttp_server):  # type: ignore[no-untyped-def]
    # nginx keeps idle connections to the proxy open, browsers preconnect sockets they
    # may never use: neither is a request in flight, neither may hold up a restart.
    upstream = await slow_origin(aiohttp_server, 0, asyncio.Event())
    port = free_port()
    with NotifySocket() as systemd:
        process = await serve(tmp_path / "c.yaml", upstream, port, 20, systemd)
        _, silent = await asyncio.open_connection("127.0.0.1", port)
        reader, idle = await asyncio.open_connection("127.0.0.1", port)
        idle.write(b"GET /page HTTP/1.1\r\nHost: wp.test\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"finished"), 10)).startswith(
            b"HTTP/1.1 200"
        )
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        took = time.monotonic() - started
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the proxy
        silent.close()
        idle.close()
    assert process.returncode == 0, stderr
    assert took < 5, stderr
    assert b"every request in flight finished" in stderr
