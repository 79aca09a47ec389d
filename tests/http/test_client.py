"""The upstream connection pool, against origins that misbehave on purpose.

Each origin here is a real TCP server on loopback that writes scripted bytes,
so the wire-level cases a web server can produce (a keep-alive connection
closed as a request goes out, a body cut short, a silent upstream, 103 Early
Hints) are tested as they happen, not mocked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from multidict import CIMultiDict

from rewriteproxy.http.client import ConnectionPool, InvalidRequest, UpstreamError, _Connection

from ..support.net import LAST_CHUNK, in_chunks

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Origin:
    """A TCP server running ``script`` for each connection; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.open = 0
        self.most_open = 0  # connections open at once, at most
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await self.script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def origin() -> AsyncIterator[Callable[[Script], Awaitable[Origin]]]:
    started: list[Origin] = []

    async def start(script: Script) -> Origin:
        server = Origin(script)
        server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.server is not None
        server.server.close()


def pool_for(server: Origin, **options: float) -> ConnectionPool:
    settings = {"connect_timeout": 5.0, "read_timeout": 5.0, **options}
    return ConnectionPool("127.0.0.1", server.port, **settings)  # type: ignore[arg-type]


HEADERS = CIMultiDict({"Host": "wp.test"})


async def request_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def answer(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"Content-Length: {len(body)}", *headers))
    return b"HTTP/1.1 200 OK\r\n" + head.encode() + b"\r\n" + body


async def get(pool: ConnectionPool, target: str = "/") -> tuple[int, bytes]:
    async with pool.request("GET", target, HEADERS) as response:
        return response.status, await response.read()


def replying(data: bytes) -> Script:
    """A script that reads one request and sends ``data``, whatever it is."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await request_head(reader)
        writer.write(data)

    return script


async def keep_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = await request_head(reader)
        path = head.split(b" ")[1]
        writer.write(answer(b"page " + path))


# -- requests and answers ------------------------------------------------------


async def test_the_request_goes_out_as_given_and_the_answer_comes_back(origin):
    seen: list[bytes] = []

    async def script(reader, writer):
        seen.append(await request_head(reader))
        writer.write(answer(b"hello", "Set-Cookie: a=1", "Set-Cookie: b=2"))

    pool = pool_for(await origin(script))
    headers = CIMultiDict(
        [("Host", "wp.test"), ("Accept", "text/html"), ("X-Forwarded-For", "1.2.3.4")]
    )
    async with pool.request("GET", "/a%20b?x=1", headers) as response:
        assert (response.status, response.reason, response.content_length) == (200, "OK", 5)
        assert response.headers.getall("Set-Cookie") == ["a=1", "b=2"]
        assert await response.read() == b"hello"
    assert seen == [
        b"GET /a%20b?x=1 HTTP/1.1\r\nHost: wp.test\r\nAccept: text/html\r\n"
        b"X-Forwarded-For: 1.2.3.4\r\n\r\n"
    ]
    await pool.close()


async def test_connections_are_kept_alive_and_reused(origin):
    server = await origin(keep_answering)
    pool = pool_for(server)
    for i in range(5):
        assert await get(pool, f"/{i}") == (200, f"page /{i}".encode())
    assert server.connections == 1
    await pool.close()


async def test_connection_close_from_the_upstream_means_a_new_connection(origin):
    server = await origin(replying(answer(b"once", "Connection: close")))
    pool = pool_for(server)
    assert await get(pool) == (200, b"once")
    assert await get(pool) == (200, b"once")
    assert server.connections == 2
    await pool.close()


async def test_connections_traffic_no_longer_needs_are_closed(origin):
    server = await origin(keep_answering)
    pool = pool_for(server, idle_timeout=0.1)
    await asyncio.gather(get(pool, "/a"), get(pool, "/b"))  # two connections
    assert server.connections == 2
    await asyncio.sleep(0.2)
    await get(pool, "/c")  # one of the two serves it; the other has idled too long
    await asyncio.sleep(0.05)
    assert len(pool._idle) == 1
    assert await get(pool, "/d") == (200, b"page /d")
    assert server.connections == 2
    await pool.close()


async def test_a_keep_alive_connection_closed_while_idle_is_replaced_unseen(origin):
    # Apache closes idle keep-alive connections after 5 s: the next request must not fail.
    # Here the origin closes right after its answer, without saying so: the pool keeps it.
    server = await origin(replying(answer(b"fresh")))
    pool = pool_for(server)
    assert await get(pool) == (200, b"fresh")
    await asyncio.sleep(0.05)
    assert await get(pool) == (200, b"fresh")
    assert server.connections == 2
    await pool.close()


async def test_a_reused_connection_that_dies_as_the_request_goes_out_is_retried_once(origin):
    # The race itself: the upstream reads the next request, then closes without a byte.
    async def script(reader, writer):
        await request_head(reader)
        writer.write(answer(b"first"))
        await request_head(reader)  # the second request arrives, and is dropped

    server = await origin(script)
    pool = pool_for(server)
    assert await get(pool) == (200, b"first")
    assert await get(pool) == (200, b"first")  # on a second connection
    assert server.connections == 2
    await pool.close()


async def test_idle_connections_all_closed_at_once_cost_one_retry(origin):
    # An origin that closes every idle connection after its keep-alive timeout: the request
    # meets one of them, and goes out again on a new connection.
    dropped: list[int] = []

    async def script(reader, writer):
        await request_head(reader)
        writer.write(answer(b"ok"))
        await request_head(reader)
        if server.connections <= 3:  # the next request meets the keep-alive timeout
            dropped.append(1)
            return
        writer.write(answer(b"ok"))

    server = await origin(script)
    pool = pool_for(server)
    await asyncio.gather(get(pool), get(pool), get(pool))  # three idle, all about to die
    assert await get(pool) == (200, b"ok")
    assert (server.connections, len(dropped)) == (4, 1)
    await pool.close()


async def test_a_request_the_upstream_drops_is_sent_twice_not_once_per_connection(origin):
    # A handler that crashes its worker closes every connection the request reaches: the
    # pool must not hand it every idle connection it has.
    poisoned: list[bytes] = []

    async def script(reader, writer):
        while True:
            head = await request_head(reader)
            if b"/poison" in head:
                poisoned.append(head)
                return
            writer.write(answer(b"ok"))

    server = await origin(script)
    pool = pool_for(server)
    await asyncio.gather(*(get(pool) for _ in range(10)))  # ten idle connections
    with pytest.raises(UpstreamError):
        await get(pool, "/poison")
    assert len(poisoned) == 2  # an idle connection, then a new one
    await asyncio.gather(*(get(pool) for _ in range(9)))
    assert server.connections == 11  # the nine other idle connections still serve
    await pool.close()


async def test_a_request_that_is_not_idempotent_is_never_sent_twice(origin):
    # A POST without a body (admin-ajax actions) may have done its work before the upstream
    # died: no answer is not proof that nothing happened.
    seen: list[bytes] = []

    async def script(reader, writer):
        seen.append((await request_head(reader)).split(b"\r\n")[0])
        writer.write(answer(b"first"))
        seen.append((await request_head(reader)).split(b"\r\n")[0])

    server = await origin(script)
    pool = pool_for(server)
    assert await get(pool) == (200, b"first")
    with pytest.raises(UpstreamError):
        async with pool.request("POST", "/wp-admin/admin-ajax.php", HEADERS):
            pass
    assert seen == [b"GET / HTTP/1.1", b"POST /wp-admin/admin-ajax.php HTTP/1.1"]
    await pool.close()


async def test_a_post_without_a_body_says_so(origin):
    seen: list[bytes] = []

    async def script(reader, writer):
        seen.append(await request_head(reader))
        writer.write(answer(b"done"))

    pool = pool_for(await origin(script))
    async with pool.request("POST", "/", HEADERS) as response:
        assert await response.read() == b"done"
    assert b"\r\nContent-Length: 0\r\n" in seen[0]
    await pool.close()


async def test_a_new_connection_that_dies_before_answering_is_an_error_not_a_retry(origin):
    server = await origin(replying(b""))  # reads the request, closes without a byte
    pool = pool_for(server)
    with pytest.raises(UpstreamError):
        await get(pool)
    assert server.connections == 1
    await pool.close()


async def test_a_request_sent_again_stays_within_the_limit(origin):
    async def script(reader, writer):
        await request_head(reader)
        writer.write(answer(b"ok"))
        await request_head(reader)
        if server.connections <= 2:  # the first two: keep-alive ran out as a request came
            return
        writer.write(answer(b"ok"))
        await asyncio.sleep(0.2)

    server = await origin(script)
    pool = pool_for(server, limit=2)
    await asyncio.gather(get(pool), get(pool))  # two idle connections, both about to die
    assert await asyncio.gather(*(get(pool) for _ in range(4))) == [(200, b"ok")] * 4
    assert server.most_open <= 2
    await pool.close()


async def test_a_body_until_the_connection_closes(origin):
    async def script(reader, writer):
        await request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nno length, ")
        await writer.drain()
        writer.write(b"ends at close")

    pool = pool_for(await origin(script))
    async with pool.request("GET", "/", HEADERS) as response:
        assert response.content_length is None
        assert await response.read() == b"no length, ends at close"
    await pool.close()


async def test_a_body_whose_last_coding_is_not_chunked_ends_at_close(origin):
    # RFC 9112 §6.3: chunked framing only when chunked is the final transfer coding.
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, x-custom\r\n\r\nas sent"
    pool = pool_for(await origin(replying(raw)))
    async with pool.request("GET", "/", HEADERS) as response:
        assert await response.read() == b"as sent"
    await pool.close()


async def test_a_chunked_body_is_read_whole_and_the_connection_reused(origin):
    async def script(reader, writer):
        for _ in range(2):
            await request_head(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nhello\r\n")
            await writer.drain()
            writer.write(b"6\r\n world\r\n0\r\n\r\n")

    server = await origin(script)
    pool = pool_for(server)
    assert await get(pool) == (200, b"hello world")
    assert await get(pool) == (200, b"hello world")
    assert server.connections == 1
    await pool.close()


async def test_what_has_arrived_of_a_body_is_handed_over_in_one_piece(origin):
    # PHP sends a page in 4 KB chunks: one piece for all that came saves the proxy a
    # write per chunk, and what has not come yet is not waited for.
    parts = [bytes([ord("a") + i]) * 4096 for i in range(8)]
    rest = asyncio.Event()

    async def script(reader, writer):
        await request_head(reader)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        writer.write(head + in_chunks(*parts[:5]))
        await rest.wait()
        writer.write(in_chunks(*parts[5:]) + LAST_CHUNK)

    pool = pool_for(await origin(script))
    async with pool.request("GET", "/", HEADERS) as response:
        await asyncio.sleep(0.1)  # the first five chunks are in
        assert not response.body_arrived()
        assert await response.read_some() == b"".join(parts[:5])
        rest.set()
        await asyncio.sleep(0.1)
        assert response.body_arrived()
        assert await response.read_some() == b"".join(parts[5:])
        assert await response.read_some() == b""
    await pool.close()


@pytest.mark.parametrize(
    "cut",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ],
    ids=["content-length", "chunked"],
)
async def test_a_body_cut_short_is_an_error_not_a_shorter_page(origin, cut):
    pool = pool_for(await origin(replying(cut)))
    async with pool.request("GET", "/", HEADERS) as response:
        with pytest.raises(UpstreamError):
            await response.read()
    await pool.close()


async def test_early_hints_are_skipped_for_the_final_answer(origin):
    async def script(reader, writer):
        while True:
            await request_head(reader)
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            await writer.drain()
            writer.write(answer(b"final", "X-Final: yes"))

    server = await origin(script)
    pool = pool_for(server)
    async with pool.request("GET", "/", HEADERS) as response:
        assert response.status == 200
        assert "Link" not in response.headers
        assert response.headers["X-Final"] == "yes"
        assert await response.read() == b"final"
    assert await get(pool) == (200, b"final")
    assert server.connections == 1
    await pool.close()


async def test_an_answer_to_head_ends_after_its_headers(origin):
    pool = pool_for(await origin(replying(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")))
    async with pool.request("HEAD", "/", HEADERS) as response:
        assert response.content_length == 5000
        assert await asyncio.wait_for(response.read(), 5) == b""
    await pool.close()


@pytest.mark.parametrize(
    "glued",
    [b"HTTP/1.1 200 OK\r\n", answer(b"bad"), b"JUNK\r\n\r\n"],
    ids=["part", "whole", "not-http"],
)
async def test_an_answer_nobody_asked_for_is_never_read_and_never_reused(origin, glued):
    # Had its body joined the first, the client would get bytes past Content-Length.
    server = await origin(replying(answer(b"ok") + glued))
    pool = pool_for(server)
    assert await get(pool) == (200, b"ok")
    async with pool.request("GET", "/", HEADERS) as response:
        assert (await response.read_some(), await response.read_some()) == (b"ok", b"")
    assert server.connections == 2
    await pool.close()


@pytest.mark.parametrize(
    "whole",
    [answer(b""), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + LAST_CHUNK],
    ids=["content-length", "chunked"],
)
async def test_bytes_that_are_not_http_after_an_empty_answer_leave_it_whole(origin, whole):
    # The parser fails on them after the answer ended: that stops reuse, nothing more.
    server = await origin(replying(whole + b"JUNK\r\n\r\n"))
    pool = pool_for(server)
    assert await get(pool) == (200, b"")
    async with pool.request("GET", "/", HEADERS) as response:
        assert await response.read_some() == b""
    assert server.connections == 2
    await pool.close()


async def test_answers_are_read_as_leniently_as_aiohttp_reads_them(origin):
    # Bare LFs and trailing spaces come from hand-written PHP headers and old servers.
    answer_bytes = b"HTTP/1.1 200 OK\nContent-Length: 2\nX-Theme: twenty \t\n\nok"
    pool = pool_for(await origin(replying(answer_bytes)))
    async with pool.request("GET", "/", HEADERS) as response:
        assert response.headers["X-Theme"] == "twenty"
        assert await response.read() == b"ok"
    await pool.close()


async def test_an_answer_that_is_not_http_is_an_error(origin):
    pool = pool_for(await origin(replying(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")))
    with pytest.raises(UpstreamError, match="invalid HTTP"):
        await get(pool)
    await pool.close()


def with_header(value: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Bad: " + value + b"\r\n\r\nok"


UNPASSABLE = {
    # Lenient llhttp lets control bytes through in values and reason phrases; aiohttp's
    # writer would refuse them on the way to the client (a 500 or a cut connection).
    "nul-in-value": (with_header(b"a\0b"), "value of the header 'X-Bad'"),
    "soh-in-value": (with_header(b"a\x01b"), "value of the header 'X-Bad'"),
    "vt-in-value": (with_header(b"a\x0bb"), "value of the header 'X-Bad'"),
    "del-in-value": (with_header(b"a\x7fb"), "value of the header 'X-Bad'"),
    "control-in-reason": (b"HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok", "reason"),
    "upgrade": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\nframes",
        "101",
    ),
    "101-bare": (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "101"),
    "101-http10": (b"HTTP/1.0 101 Switching\r\n\r\n", "101"),
    "status-600": (b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok", "status 600"),
    "status-099": (b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok", "status 99"),
}


@pytest.mark.parametrize(("answer_bytes", "error"), UNPASSABLE.values(), ids=UNPASSABLE.keys())
async def test_an_answer_that_cannot_be_passed_on_is_an_error_and_ends_its_connection(
    origin, answer_bytes, error
):
    async def script(reader, writer):
        first = server.connections == 1
        await request_head(reader)
        writer.write(answer_bytes if first else answer(b"second"))
        await request_head(reader)  # had the first connection been kept, the next came here
        writer.write(answer(b"second"))

    server = await origin(script)
    pool = pool_for(server)
    with pytest.raises(UpstreamError, match=error):
        await asyncio.wait_for(get(pool), 5)
    assert await asyncio.wait_for(get(pool), 5) == (200, b"second")
    assert server.connections == 2
    await pool.close()


UNWRITABLE = {
    "method-with-space": ("G T", "/", HEADERS),
    "method-with-crlf": ("GET / HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET", "/", HEADERS),
    "target-with-crlf": ("GET", "/a HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /b", HEADERS),
    "target-with-nul": ("GET", "/a\0b", HEADERS),
    "target-with-space": ("GET", "/a b", HEADERS),
    "name-with-colon": ("GET", "/", CIMultiDict([("Host", "wp.test"), ("X-A: 1\r\nX-B", "v")])),
    "name-empty": ("GET", "/", CIMultiDict([("Host", "wp.test"), ("", "v")])),
    "value-with-crlf": ("GET", "/", CIMultiDict([("Host", "wp.test\r\nX-Injected: 1")])),
    "value-with-lf": ("GET", "/", CIMultiDict([("Host", "wp.test"), ("X-A", "a\nb")])),
    "value-with-nul": ("GET", "/", CIMultiDict([("Host", "wp.test"), ("X-A", "a\0b")])),
    "value-with-control": ("GET", "/", CIMultiDict([("Host", "wp.test"), ("X-A", "a\x01b")])),
}


@pytest.mark.parametrize(
    ("method", "target", "headers"), UNWRITABLE.values(), ids=UNWRITABLE.keys()
)
async def test_a_request_that_cannot_be_written_is_refused_before_a_byte_is_sent(
    origin, method, target, headers
):
    server = await origin(keep_answering)
    pool = pool_for(server)
    with pytest.raises(InvalidRequest):
        async with pool.request(method, target, headers):
            pass
    await asyncio.sleep(0.05)
    assert server.connections == 0  # not even connected
    assert await get(pool) == (200, b"page /")  # and the pool is none the worse
    await pool.close()


async def test_tabs_and_bytes_beyond_ascii_in_a_request_go_out_as_they_came(origin):
    seen: list[bytes] = []

    async def script(reader, writer):
        seen.append(await request_head(reader))
        writer.write(answer(b"ok"))

    pool = pool_for(await origin(script))
    latin1 = b"caf\xe9".decode("utf-8", "surrogateescape")  # as aiohttp's server decodes it
    headers = CIMultiDict([("Host", "wp.test"), ("X-A", "a\tb"), ("X-B", latin1)])
    async with pool.request("GET", "/", headers) as response:
        assert await response.read() == b"ok"
    assert seen == [b"GET / HTTP/1.1\r\nHost: wp.test\r\nX-A: a\tb\r\nX-B: caf\xe9\r\n\r\n"]
    await pool.close()


async def test_headers_without_end_are_an_error_not_memory(origin):
    async def script(reader, writer):
        await request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):  # each within the limits of one header, all far over 256 KiB
            writer.write(b"X-Filler: " + b"y" * 4000 + b"\r\n")
            await writer.drain()
        await reader.read()

    pool = pool_for(await origin(script))
    with pytest.raises(UpstreamError, match="too large"):
        await asyncio.wait_for(get(pool), 5)
    await pool.close()


def head_with(fields: int = 1, reason: bytes = b"OK", value: int = 1) -> bytes:
    """An answer of ``fields`` header lines, ``Content-Length`` and one ``value`` bytes long."""
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(fields - 2))
    return (
        b"HTTP/1.1 200 " + reason + b"\r\n" + lines + b"X-V: " + b"v" * value + b"\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )


# The same limits as aiohttp's client (its parser's defaults), which carries the other requests.
OVERSIZED = {
    "129-headers": (head_with(fields=129), "over 128 headers"),
    "5000-headers": (head_with(fields=5000), "over 128 headers"),
    "header-over-8190": (head_with(value=8190 - 3 + 1), "over 8190 bytes"),
    "reason-over-8190": (head_with(reason=b"r" * 8191), "reason phrase is too long"),
    "reason-100k": (head_with(reason=b"r" * 100_000), "reason phrase is too long"),
}


@pytest.mark.parametrize(("answer_bytes", "error"), OVERSIZED.values(), ids=OVERSIZED.keys())
async def test_an_answer_over_the_limits_of_a_head_is_an_error(origin, answer_bytes, error):
    pool = pool_for(await origin(replying(answer_bytes)))
    with pytest.raises(UpstreamError, match=error):
        await asyncio.wait_for(get(pool), 5)
    await pool.close()


async def test_an_answer_at_the_limits_of_a_head_is_read(origin):
    at_limits = head_with(fields=128, reason=b"r" * 8190, value=8190 - 3)
    pool = pool_for(await origin(replying(at_limits)))
    async with pool.request("GET", "/", HEADERS) as response:
        assert (len(response.headers), len(response.reason)) == (128, 8190)
        assert await response.read() == b"ok"
    await pool.close()


async def test_a_refused_connection_is_an_upstream_error():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    pool = ConnectionPool("127.0.0.1", port, connect_timeout=5, read_timeout=5)
    with pytest.raises(UpstreamError, match="connect"):
        await get(pool)


# -- time and memory -----------------------------------------------------------


async def test_a_silent_upstream_times_out(origin):
    async def script(reader, writer):
        await request_head(reader)
        await reader.read()  # until the client gives up

    pool = pool_for(await origin(script), read_timeout=0.2)
    with pytest.raises(TimeoutError, match="sent nothing"):
        await asyncio.wait_for(get(pool), 5)
    await pool.close()


async def test_an_upstream_that_stops_mid_body_times_out(origin):
    async def script(reader, writer):
        await request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await reader.read()

    pool = pool_for(await origin(script), read_timeout=0.2)
    async with pool.request("GET", "/", HEADERS) as response:
        with pytest.raises(TimeoutError, match="sent nothing"):
            await asyncio.wait_for(response.read(), 5)
    await pool.close()


async def test_a_slow_but_steady_upstream_does_not_time_out(origin):
    async def script(reader, writer):
        await request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        for byte in b"steady":
            await asyncio.sleep(0.1)  # each gap under the timeout, all of them over it
            writer.write(bytes([byte]))

    pool = pool_for(await origin(script), read_timeout=0.25)
    assert await get(pool) == (200, b"steady")
    await pool.close()


async def test_unread_body_stays_in_the_kernel_not_in_the_pool(origin):
    body = b"x" * (16 * 1024 * 1024)
    sent = asyncio.Event()
    backlog: list[int] = []

    async def script(reader, writer):
        await request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await asyncio.sleep(0.5)
        backlog.append(writer.transport.get_write_buffer_size())
        sent.set()
        await writer.drain()

    pool = pool_for(await origin(script))
    async with pool.request("GET", "/", HEADERS) as response:
        await sent.wait()  # the client has not read: the origin could not send it all
        assert backlog[0] > 8 * 1024 * 1024
        received = 0
        while chunk := await response.read_some():
            received += len(chunk)
    assert received == len(body)
    await pool.close()


async def test_a_connection_paused_when_its_answer_ended_is_read_again_in_the_pool(origin):
    # The proxy pauses reading while it waits for memory; the answer may be whole by then.
    server = await origin(keep_answering)
    pool = pool_for(server, read_timeout=60)
    async with pool.request("GET", "/a", HEADERS) as response:
        await asyncio.sleep(0.05)  # the whole answer is in
        response.pause_reading()
    assert await asyncio.wait_for(get(pool, "/b"), 5) == (200, b"page /b")
    assert server.connections == 1
    await pool.close()


async def test_a_connect_cancelled_as_it_succeeds_gives_its_place_back_once(origin, monkeypatch):
    # The window between a connection being made and create_connection returning is hit
    # by cancelling from connection_made (instrumentation, not a stand-in for a real part).
    server = await origin(keep_answering)
    pool = pool_for(server, limit=1)
    victim: list[asyncio.Task[object]] = []
    made = _Connection.connection_made

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        made(self, transport)
        if victim:
            victim.pop().cancel()

    monkeypatch.setattr(_Connection, "connection_made", connection_made)
    for _ in range(3):
        task = asyncio.ensure_future(get(pool))
        victim.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
    # Counted twice, each cancel would have raised the limit by one.
    await asyncio.gather(*(get(pool, f"/{i}") for i in range(4)))
    assert server.most_open == 1
    await pool.close()


async def test_requests_over_the_limit_wait_for_a_connection(origin):
    server = await origin(keep_answering)
    pool = pool_for(server, limit=1)
    answers = await asyncio.gather(*(get(pool, f"/{i}") for i in range(4)))
    assert answers == [(200, f"page /{i}".encode()) for i in range(4)]
    assert server.connections == 1
    await pool.close()


async def test_the_wait_for_a_connection_ends_at_the_connect_timeout(origin):
    busy, release = asyncio.Event(), asyncio.Event()

    async def script(reader, writer):
        while True:
            await request_head(reader)
            busy.set()
            await release.wait()
            writer.write(answer(b"slow"))

    pool = pool_for(await origin(script), limit=1, connect_timeout=0.3, read_timeout=60)
    stuck = asyncio.ensure_future(get(pool))
    await busy.wait()
    waiting = asyncio.ensure_future(get(pool))  # at the limit, and the one connection busy
    await asyncio.wait([waiting], timeout=10)  # (wait_for's own timeout would look the same)
    assert waiting.done(), "still waiting for a connection"
    assert isinstance(waiting.exception(), TimeoutError)
    assert not pool._waiters
    release.set()
    assert await asyncio.wait_for(stuck, 5) == (200, b"slow")
    assert await asyncio.wait_for(get(pool), 5) == (200, b"slow")  # the place is free again
    await pool.close()


async def test_a_request_cancelled_mid_way_gives_its_connection_back(origin):
    started = asyncio.Event()

    async def script(reader, writer):
        await request_head(reader)
        started.set()
        await reader.read()  # until the pool closes the connection

    pool = pool_for(await origin(script), limit=1, read_timeout=60)
    stuck = asyncio.ensure_future(get(pool))
    await started.wait()
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    await asyncio.sleep(0.05)
    # With the place leaked, a pool of one would wait here forever.
    server = await origin(keep_answering)
    pool.port = server.port
    assert await asyncio.wait_for(get(pool), 5) == (200, b"page /")
    await pool.close()
