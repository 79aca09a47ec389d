"""A slow, stalled or vanishing client costs only itself: never an upstream connection, never
unbounded memory, and never a line in the upstream's error counts.

Every client here is a real socket on loopback. Those that must not read set a small receive
buffer, so the kernel cannot take a big body off the proxy's hands; waits have generous bounds
and only stop a test that would otherwise hang, they measure nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from rewriteproxy.app import STATE

from .conftest import PAGE, REWRITTEN_SRC
from .support.files import open_files_in
from .support.net import LAST_CHUNK, in_chunks

BIG = bytes(range(256)) * (64 * 1024)  # 16 MiB, far more than the kernel's buffers hold
MEDIUM = BIG[: 2 * 1024 * 1024]
BIG_PAGE = PAGE + b"<!--" + b"x" * (7 * 1024 * 1024) + b"-->"
WAIT = 30.0  # seconds before a test that would hang fails instead


class Origin:
    """An origin that counts what reached it: ``/big`` (BIG), ``/small``, ``/echo``."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.echo_headers: list[dict[str, str]] = []
        self.during_echo: list[list[str]] = []  # the proxy's temp files while an upload arrives
        self.temp_dir: Path | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/{name}", self.serve)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.seen.append(f"{request.method} /{name}")
        if name == "page":  # a rewritable page, nearly as big as may be rewritten
            return web.Response(body=BIG_PAGE, content_type="text/html", charset="utf-8")
        if name in ("big", "medium"):
            return web.Response(body=BIG if name == "big" else MEDIUM, content_type="video/mp4")
        if name == "echo":
            self.echo_headers.append(dict(request.headers))
            if self.temp_dir is not None:
                self.during_echo.append(open_files_in(self.temp_dir))
            return web.Response(body=await request.read(), content_type="application/octet-stream")
        return web.Response(text="small", content_type="text/plain")


@pytest.fixture
def origin() -> Origin:
    return Origin()


async def connect(client: TestClient, request: bytes, rcvbuf: int = 4096) -> socket.socket:
    """A raw client socket that has sent ``request`` and will read only when told to."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (str(client.host), int(client.port)))
    await loop.sock_sendall(sock, request)
    return sock


async def read_head(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while b"\r\n\r\n" not in data:
        piece = await asyncio.wait_for(loop.sock_recv(sock, 65536), WAIT)
        if not piece:
            break
        data += piece
    return data


async def read_to_end(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    pieces = []
    try:
        while piece := await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), WAIT):
            pieces.append(piece)
    except ConnectionResetError:
        pass
    return b"".join(pieces)


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def requests(client: TestClient) -> dict[str, float]:
    """Requests by outcome, and clients gone by reason (counted apart: client_gone and
    send_timeout)."""
    metrics = client.server.app[STATE].metrics
    return {**metrics.requests_by_outcome(), **metrics.disconnects_by_reason()}


GET_BIG = b"GET /big HTTP/1.1\r\nHost: wp.test\r\n\r\n"


@pytest.fixture
async def sockets() -> AsyncIterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


StartProxy = Callable[..., Awaitable[TestClient]]


# -- slow readers ----------------------------------------------------------------------


async def test_clients_that_never_read_a_big_body_leave_the_upstream_connections_free(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket], tmp_path: Path
) -> None:
    client = await start_proxy(
        origin.app, f"proxy: {{upstream_connections: 2, temp_dir: '{tmp_path}'}}"
    )
    for _ in range(4):  # twice as many as there are upstream connections
        sockets.append(await connect(client, GET_BIG))
    await until(lambda: origin.seen.count("GET /big") == 4, "every slow reader's request sent")
    response = await asyncio.wait_for(client.get("/small"), WAIT)
    assert await response.text() == "small"
    # The slow readers are still connected, each with most of its body still to take.
    assert all(sock.fileno() != -1 for sock in sockets)
    state = client.server.app[STATE]
    assert state.buffers.disk > 0


async def test_slow_readers_past_every_buffer_bound_still_leave_the_upstream_connections_free(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket]
) -> None:
    # No disk and little memory for bodies: they go at the clients' pace, on connections
    # that no longer count against the limit (and are closed afterwards, never reused).
    client = await start_proxy(
        origin.app,
        "proxy: {upstream_connections: 2, temp_files_total_bytes: 0, "
        "body_buffers_total_bytes: 65536, body_buffer_bytes: 65536}",
    )
    for _ in range(6):
        sockets.append(await connect(client, GET_BIG))
    await until(lambda: origin.seen.count("GET /big") == 6, "every slow reader's request sent")
    response = await asyncio.wait_for(client.get("/small"), WAIT)
    assert await response.text() == "small"
    assert all(sock.fileno() != -1 for sock in sockets)
    assert client.server.app[STATE].buffers.disk == 0


async def test_a_client_that_never_reads_a_rewritten_page_leaves_its_connection_free(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket]
) -> None:
    client = await start_proxy(origin.app, "proxy: {upstream_connections: 1}")
    sock = await connect(client, b"GET /page HTTP/1.1\r\nHost: wp.test\r\n\r\n")
    sockets.append(sock)
    head = await read_head(sock)
    assert head.startswith(b"HTTP/1.1 200 ") and REWRITTEN_SRC in head
    response = await asyncio.wait_for(client.get("/small"), WAIT)
    assert await response.text() == "small"


async def test_a_slow_reader_still_gets_every_byte_from_the_buffer(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket], tmp_path: Path
) -> None:
    client = await start_proxy(
        origin.app,
        f"proxy: {{upstream_connections: 1, body_buffer_bytes: 0, temp_dir: '{tmp_path}'}}",
    )
    sock = await connect(client, b"GET /big HTTP/1.1\r\nHost: wp.test\r\n\r\n", 65536)
    sockets.append(sock)
    # BIG, not MEDIUM: the kernel's send buffer on loopback can grow past 2 MiB and take a
    # medium body whole before the test looks for the temporary file.
    head = await read_head(sock)
    await until(lambda: bool(open_files_in(tmp_path)), "a body spooled to a temporary file")
    received = head.partition(b"\r\n\r\n")[2]
    loop = asyncio.get_running_loop()
    while len(received) < len(BIG):
        piece = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), WAIT)
        assert piece, "connection closed before the end of the body"
        received += piece
    assert received == BIG
    state = client.server.app[STATE]
    await until(lambda: not open_files_in(tmp_path), "the temporary file closed")
    assert (state.buffers.memory, state.buffers.disk) == (0, 0)
    assert os.listdir(tmp_path) == []


async def test_a_client_that_reads_nothing_is_cut_off_after_the_send_timeout(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket], tmp_path: Path
) -> None:
    client = await start_proxy(origin.app, f"proxy: {{send_timeout: 0.5, temp_dir: '{tmp_path}'}}")
    sock = await connect(client, GET_BIG)
    sockets.append(sock)
    await until(lambda: requests(client).get("send_timeout") == 1, "the send timeout")
    assert len(await read_to_end(sock)) < len(BIG)  # cut off, not finished
    state = client.server.app[STATE]
    await until(lambda: not open_files_in(tmp_path), "the temporary file closed")
    assert (state.buffers.memory, state.buffers.disk) == (0, 0)
    assert "client_gone" not in requests(client)


async def test_a_client_that_goes_away_is_a_client_disconnect_not_an_upstream_error(
    start_proxy: StartProxy,
    origin: Origin,
    sockets: list[socket.socket],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await start_proxy(origin.app)
    caplog.set_level(logging.WARNING, logger="rewriteproxy")
    for _ in range(3):
        sock = await connect(client, GET_BIG)
        await read_head(sock)
        sock.close()  # mid-body, as a load generator stops
    await until(lambda: requests(client).get("client_gone") == 3, "three disconnects")
    assert "upstream_error" not in requests(client)
    assert [r for r in caplog.records if r.name.startswith("rewriteproxy")] == []
    state = client.server.app[STATE]
    await until(lambda: state.buffers.disk == state.buffers.memory == 0, "buffers given back")


# -- request bodies --------------------------------------------------------------------


def post(length: int, body: bytes = b"") -> bytes:
    return b"POST /echo HTTP/1.1\r\nHost: wp.test\r\nContent-Length: %d\r\n\r\n%s" % (length, body)


async def test_a_stalled_upload_gets_408_and_never_reaches_the_upstream(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket]
) -> None:
    client = await start_proxy(origin.app, "proxy: {client_body_timeout: 0.5}")
    sock = await connect(client, post(1_000_000, b"abc"))
    sockets.append(sock)
    head = await read_head(sock)
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"Connection: close" in head
    assert origin.seen == []
    assert requests(client)["body_timeout"] == 1


async def test_an_upload_its_client_abandons_is_a_disconnect_not_a_proxy_failure(
    start_proxy: StartProxy,
    origin: Origin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await start_proxy(origin.app)
    caplog.set_level(logging.WARNING, logger="rewriteproxy")
    for _ in range(2):
        sock = await connect(client, post(1_000_000, b"abc"))
        await asyncio.sleep(0.1)  # the proxy is reading the body
        sock.close()
    metrics = client.server.app[STATE].metrics
    await until(lambda: metrics.disconnects_by_reason() == {"client_gone": 2}, "two gone")
    # The request's outcome too: ended by its client before the proxy reached one.
    assert metrics.requests_by_outcome() == {"client_gone": 2}
    assert origin.seen == []
    assert [r for r in caplog.records if r.name.startswith("rewriteproxy")] == []


async def test_stalled_uploads_hold_no_upstream_connection(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket]
) -> None:
    client = await start_proxy(origin.app, "proxy: {upstream_connections: 2}")
    for _ in range(4):
        sockets.append(await connect(client, post(1_000_000, b"abc")))
    response = await asyncio.wait_for(client.post("/echo", data=b"form=1"), WAIT)
    assert await response.read() == b"form=1"
    assert origin.seen == ["POST /echo"]  # the stalled ones are still being read by the proxy


async def test_a_body_announced_over_the_limit_is_refused_before_it_is_read(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket]
) -> None:
    client = await start_proxy(origin.app, "proxy: {max_body_bytes: 1000}")
    sock = await connect(client, post(5000))  # and never sends the body
    sockets.append(sock)
    head = await read_head(sock)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert origin.seen == []
    response = await client.post("/echo", data=b"x" * 1000)  # at the limit: fine
    assert len(await response.read()) == 1000


async def test_a_chunked_body_growing_over_the_limit_is_refused(
    start_proxy: StartProxy, origin: Origin, sockets: list[socket.socket]
) -> None:
    client = await start_proxy(origin.app, "proxy: {max_body_bytes: 1000}")
    head = b"POST /echo HTTP/1.1\r\nHost: wp.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    sock = await connect(client, head + in_chunks(b"a" * 600, b"b" * 600))  # no end yet
    sockets.append(sock)
    answer = await read_head(sock)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert origin.seen == []
    assert requests(client)["body_too_large"] == 1


async def test_a_chunked_upload_goes_upstream_whole_with_its_length(
    start_proxy: StartProxy, origin: Origin, tmp_path: Path
) -> None:
    origin.temp_dir = tmp_path
    client = await start_proxy(
        origin.app, f"proxy: {{body_buffer_bytes: 4096, temp_dir: '{tmp_path}'}}"
    )
    parts = [bytes([i]) * 100_000 for i in range(10)]

    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    response = await client.post("/echo", data=chunks())
    assert await response.read() == b"".join(parts)
    sent = origin.echo_headers[0]
    assert sent["Content-Length"] == str(len(b"".join(parts)))
    assert "Transfer-Encoding" not in sent
    assert len(origin.during_echo[0]) == 1  # it was held in a temporary file
    await until(lambda: not open_files_in(tmp_path), "the temporary file closed")
    assert os.listdir(tmp_path) == []


async def test_a_small_upload_is_sent_from_memory(
    start_proxy: StartProxy, origin: Origin, tmp_path: Path
) -> None:
    origin.temp_dir = tmp_path
    client = await start_proxy(origin.app, f"proxy: {{temp_dir: '{tmp_path}'}}")
    head = b"POST /echo HTTP/1.1\r\nHost: wp.test\r\nTransfer-Encoding: chunked\r\n\r\n"
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head + in_chunks(b"one,", b"two") + LAST_CHUNK)
    answer = await asyncio.wait_for(reader.readuntil(b"one,two"), WAIT)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert origin.echo_headers[0]["Content-Length"] == "7"
    assert origin.during_echo == [[]]
