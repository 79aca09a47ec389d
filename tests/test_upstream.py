"""The connection to WordPress: the same answers, and the same refusals, whichever client
carries a request."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from rewriteproxy.config import ProxyConfig
from rewriteproxy.http.client import UpstreamError
from rewriteproxy.upstream import InvalidRequest, Upstream


async def test_requests_with_and_without_a_body_reach_the_same_origin_and_prefix():
    peers: list[tuple[str, str, bytes, object]] = []  # method, target, body, connection

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        peers.append((request.method, request.raw_path, body, request.transport))
        return web.Response(body=b"%s %s" % (request.method.encode(), request.raw_path.encode()))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    async with TestServer(app) as server:
        upstream = Upstream(f"http://127.0.0.1:{server.port}/blog", ProxyConfig())
        headers = CIMultiDict({"Host": "wp.test"})
        try:
            for method in ("GET", "GET", "HEAD"):
                async with upstream.request(method, "/a?b=1", headers) as response:
                    assert response.status == 200
                    expected = b"" if method == "HEAD" else b"%s /blog/a?b=1" % method.encode()
                    assert await response.read() == expected
            async with upstream.request("POST", "/a?b=1", headers, b"form=1") as response:
                assert await response.read() == b"POST /blog/a?b=1"
        finally:
            await upstream.close()
    assert [(m, p) for m, p, _, _ in peers] == [
        ("GET", "/blog/a?b=1"),
        ("GET", "/blog/a?b=1"),
        ("HEAD", "/blog/a?b=1"),
        ("POST", "/blog/a?b=1"),
    ]
    assert peers[3][2] == b"form=1"
    assert peers[0][3] is peers[1][3]  # the two GETs shared one kept-alive connection


async def test_both_clients_hand_over_a_streamed_body_as_it_arrives():
    go_on = asyncio.Event()

    async def streamed(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"first ")
        await go_on.wait()
        await response.write(b"second")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/", streamed)
    async with TestServer(app) as server:
        upstream = Upstream(f"http://127.0.0.1:{server.port}", ProxyConfig())
        try:
            for method, data in (("GET", None), ("POST", b"form=1")):  # the pool, then aiohttp
                go_on.clear()
                headers = CIMultiDict({"Host": "wp.test"})
                async with upstream.request(method, "/", headers, data) as response:
                    assert await response.read_some() == b"first "
                    assert not response.body_arrived()
                    go_on.set()
                    rest = b""
                    while piece := await response.read_some():
                        rest += piece
                    assert rest == b"second" and response.body_arrived()
        finally:
            await upstream.close()


UNPASSABLE = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Bad: a\x01b\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Bad: a\x7fb\r\n\r\nok",
    b"HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
]


@pytest.mark.parametrize(
    "answer", UNPASSABLE, ids=["soh", "del", "reason", "upgrade", "101-bare", "status-600"]
)
async def test_both_clients_refuse_the_same_answers(answer):
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if b"Content-Length: " in head:
                    await reader.readexactly(
                        int(head.split(b"Content-Length: ")[1].split(b"\r")[0])
                    )
                writer.write(answer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    upstream = Upstream(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", ProxyConfig())
    try:
        for method, data in (("GET", None), ("POST", b"form=1")):  # the pool, then aiohttp
            with pytest.raises(UpstreamError, match="cannot be passed on"):
                async with upstream.request(method, "/", CIMultiDict({"Host": "wp.test"}), data):
                    pass
    finally:
        await upstream.close()
        server.close()


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("G T", "/", {"Host": "wp.test"}),
        ("GET", "/a\r\nX-Injected: 1", {"Host": "wp.test"}),
        ("GET", "/", {"Host": "wp.test\r\nX-Injected: 1"}),
        ("GET", "/", {"Host": "wp.test", "X-A": "a\0b"}),
        ("GET", "/", {"Host": "wp.test", "X A": "v"}),
    ],
    ids=["method", "target", "value-crlf", "value-nul", "name"],
)
async def test_both_clients_refuse_the_same_requests_before_sending_anything(
    method, target, headers
):
    connections: list[object] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    upstream = Upstream(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", ProxyConfig())
    try:
        for data in (None, b"form=1"):  # the pool, then aiohttp
            with pytest.raises(InvalidRequest):
                async with upstream.request(method, target, CIMultiDict(headers), data):
                    pass
    finally:
        await upstream.close()
        server.close()
    assert connections == []
