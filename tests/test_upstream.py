"""The connection to WordPress: the same answers whichever client carries a request."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from rewriteproxy.config import ProxyConfig
from rewriteproxy.upstream import Upstream


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
