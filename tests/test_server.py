"""The listening side, on real sockets: what a client may hold, and for how long.

Each test runs ``rewriteproxy serve`` as a child process on port 0 (the port is
read from its start-up line) with short timeouts, talks raw HTTP/1.1 to it and
reads its log. Requests go to the health endpoint, so no origin is needed.
Bounds on time are generous on purpose: "closed" means within ten times the
configured timeout; nothing here measures speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

from rewriteproxy.server import bind, connection_limit, raise_descriptor_limit

from .support.net import children_of, free_port, process_holding

# Answered by the small origin that ``serving`` starts (a quick 200 with a body).
HEALTH_REQUEST = b"GET /ok HTTP/1.1\r\nHost: wp.test\r\n\r\n"

CONFIG = """
upstream: {upstream}
site: {{hosts: [wp.test]}}
delivery: {{provider: cdn, cdn: {{base_url: "https://cdn.example.net/wp-content/uploads/"}}}}
server: {{{server}}}
proxy: {{{proxy}}}
admin: {{listen: null}}
"""


class Served:
    """A running ``rewriteproxy serve`` child: its port, its log lines, its pid."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: list[str]) -> None:
        self.process = process
        self.port = port
        self.log = log

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def wait_for_log(self, pattern: str, timeout: float = 10.0) -> str:
        for _ in range(int(timeout / 0.02)):
            for line in self.log:
                if re.search(pattern, line):
                    return line
            await asyncio.sleep(0.02)
        raise AssertionError(f"no log line matched {pattern!r}:\n" + "\n".join(self.log))

    async def mark(self) -> int:
        """Reload (SIGHUP) and wait for its log line: every line logged before is now in ``log``."""
        marks = sum("config reloaded" in line for line in self.log)
        self.process.send_signal(signal.SIGHUP)
        for _ in range(500):
            if sum("config reloaded" in line for line in self.log) > marks:
                return len(self.log)
            await asyncio.sleep(0.02)
        raise AssertionError("the reload was not logged:\n" + "\n".join(self.log))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def serving(
    tmp_path: Path,
    server: str,
    *,
    proxy: str = "",
    upstream: str | None = None,
    descriptors: int | None = None,
    workers: int = 1,
    port: int = 0,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Served]:
    """``rewriteproxy serve`` with ``server: {<server>}`` and ``proxy: {<proxy>}`` in front of
    ``upstream``; ``descriptors`` caps RLIMIT_NOFILE; ``env`` adds to the environment.

    Several workers need a fixed ``port``: each would bind a port 0 of its own. Without
    ``upstream``, a small origin here answers every request with a 200.
    """
    async with contextlib.AsyncExitStack() as stack:
        if upstream is None:
            upstream = await stack.enter_async_context(_small_origin())
        async with _serving(
            tmp_path, server, proxy, upstream, descriptors, workers, port, env
        ) as s:
            yield s


@contextlib.asynccontextmanager
async def _small_origin() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _serving(
    tmp_path: Path,
    server: str,
    proxy: str,
    upstream: str,
    descriptors: int | None,
    workers: int,
    port: int,
    env: dict[str, str] | None,
) -> AsyncIterator[Served]:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(server=server, proxy=proxy, upstream=upstream))
    limit: Callable[[], None] | None = None
    if descriptors is not None:
        cap = descriptors

        def limit() -> None:  # runs in the child, before it starts the server
            resource.setrlimit(resource.RLIMIT_NOFILE, (cap, cap))

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
        "--workers",
        str(workers),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=limit,
        limit=1 << 20,
        env=None if env is None else {**os.environ, **env},
    )
    log: list[str] = []

    async def read_log() -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            log.append(line.decode(errors="replace").rstrip("\n"))

    reader = asyncio.ensure_future(read_log())
    served = Served(process, 0, log)
    try:
        started = await served.wait_for_log(r"rewriteproxy on http://127\.0\.0\.1:\d+", 30)
        served.port = int(re.search(r"127\.0\.0\.1:(\d+)", started).group(1))  # type: ignore[union-attr]
        yield served
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        await asyncio.wait_for(reader, 10)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response with a Content-Length body: its status and its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return status, body


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server still sends before it closes; fails if it stays open."""
    return await asyncio.wait_for(reader.read(), seconds)


# -- binding ---------------------------------------------------------------------------


def test_every_address_of_a_name_is_bound_on_one_port():
    sockets = bind("localhost", 0)
    try:
        assert {sock.getsockname()[1] for sock in sockets} == {sockets[0].getsockname()[1]}
        assert "127.0.0.1" in {sock.getsockname()[0] for sock in sockets}
    finally:
        for sock in sockets:
            sock.close()


def test_a_port_in_use_is_named():
    (taken,) = bind("127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match=r"cannot listen on \('127\.0\.0\.1', \d+\): "):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


# -- request heads -------------------------------------------------------------


async def test_a_silent_connection_is_closed_after_header_timeout(tmp_path):
    async with serving(tmp_path, "header_timeout: 0.3, keepalive_timeout: 60") as server:
        reader, writer = await server.connect()
        assert await closed_within(reader, 3.0) == b""  # nothing to answer: just closed
        writer.close()


async def test_a_head_trickling_in_is_closed_though_bytes_keep_coming(tmp_path):
    async with serving(tmp_path, "header_timeout: 0.5, keepalive_timeout: 60") as server:
        reader, writer = await server.connect()
        answer = asyncio.ensure_future(reader.read())
        head = b"GET /" + b"a" * 200  # a request line that does not end, one byte at a time
        for byte in range(len(head)):
            if answer.done():
                break
            with contextlib.suppress(ConnectionError):
                writer.write(head[byte : byte + 1])
                await writer.drain()
            await asyncio.sleep(0.05)
        assert answer.done(), "still open after 10 s of trickling"
        assert answer.result().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert byte < 100, f"open for {byte} bytes at 20 a second, header_timeout 0.5 s"
        writer.close()
        await server.wait_for_log(
            r"closed a connection from 127\.0\.0\.1: request head not complete"
        )


async def test_a_head_that_completes_in_time_is_answered(tmp_path):
    async with serving(tmp_path, "header_timeout: 5, keepalive_timeout: 60") as server:
        reader, writer = await server.connect()
        for part in (HEALTH_REQUEST[:10], HEALTH_REQUEST[10:30], HEALTH_REQUEST[30:]):
            writer.write(part)
            await asyncio.sleep(0.1)
        assert (await read_response(reader))[0] == 200
        writer.close()


# -- keep-alive ------------------------------------------------------------------


async def test_an_idle_kept_alive_connection_closes_and_an_active_one_does_not(tmp_path):
    async with serving(tmp_path, "header_timeout: 30, keepalive_timeout: 0.5") as server:
        idle_reader, idle_writer = await server.connect()
        idle_writer.write(HEALTH_REQUEST)
        assert (await read_response(idle_reader))[0] == 200
        idle_closed = asyncio.ensure_future(closed_within(idle_reader, 5.0))

        active_reader, active_writer = await server.connect()
        for _ in range(15):  # 3 s in all, six times the idle timeout
            active_writer.write(HEALTH_REQUEST)
            assert (await read_response(active_reader))[0] == 200
            await asyncio.sleep(0.2)
        assert await idle_closed == b""
        active_writer.write(HEALTH_REQUEST)
        assert (await read_response(active_reader))[0] == 200
        for writer in (idle_writer, active_writer):
            writer.close()


async def test_the_wait_between_requests_does_not_count_against_header_timeout(tmp_path):
    async with serving(tmp_path, "header_timeout: 0.3, keepalive_timeout: 30") as server:
        reader, writer = await server.connect()
        writer.write(HEALTH_REQUEST)
        assert (await read_response(reader))[0] == 200
        await asyncio.sleep(1.5)  # five header timeouts of idle time, well within keep-alive
        writer.write(HEALTH_REQUEST)
        assert (await read_response(reader))[0] == 200
        writer.write(HEALTH_REQUEST[:10])  # but the next head, begun, has header_timeout
        assert (await closed_within(reader, 3.0)).startswith(b"HTTP/1.1 408 ")
        writer.close()


# -- the connection cap ------------------------------------------------------------
#
# Bounds on answers are far below the timeouts that would free a slot on their own:
# an answer within 5 s with header_timeout and keepalive_timeout at 60 s means that
# the proxy made room.

CAP = "max_connections: 4, header_timeout: 60, keepalive_timeout: 60"


async def _kept_alive(server: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that had one answer and is kept alive."""
    reader, writer = await server.connect()
    writer.write(HEALTH_REQUEST)
    assert (await asyncio.wait_for(read_response(reader), 10))[0] == 200
    return reader, writer


async def _answered_within(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], seconds: float = 5.0
) -> int:
    reader, writer = connection
    writer.write(HEALTH_REQUEST)
    return (await asyncio.wait_for(read_response(reader), seconds))[0]


def _close_all(*connections: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    for _, writer in connections:
        writer.close()


async def _connect_from(
    server: Served, address: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port, local_addr=(address, 0))


async def test_at_max_connections_the_one_silent_longest_makes_room(tmp_path):
    async with serving(tmp_path, CAP) as server:
        silent = [await server.connect() for _ in range(4)]
        newcomer = await server.connect()
        assert await _answered_within(newcomer) == 200
        assert await closed_within(silent[0][0], 5.0) == b""  # closed without an answer
        assert await _answered_within(silent[-1]) == 200  # the younger ones stay
        await server.wait_for_log(r"closed the one silent longest to make room")
        _close_all(*silent, newcomer)


async def test_at_max_connections_the_one_idle_longest_makes_room(tmp_path):
    async with serving(tmp_path, CAP) as server:
        idle = [await _kept_alive(server) for _ in range(4)]
        newcomer = await server.connect()
        assert await _answered_within(newcomer) == 200
        assert await closed_within(idle[0][0], 5.0) == b""
        assert await _answered_within(idle[-1]) == 200
        await server.wait_for_log(r"closed the one idle longest to make room")
        _close_all(*idle, newcomer)


async def test_an_idle_connection_makes_room_before_an_older_silent_one(tmp_path):
    async with serving(tmp_path, CAP) as server:
        silent = [await server.connect() for _ in range(2)]
        idle = [await _kept_alive(server) for _ in range(2)]
        newcomer = await server.connect()
        assert await _answered_within(newcomer) == 200
        assert await closed_within(idle[0][0], 5.0) == b""  # already answered: it goes first
        assert await _answered_within(silent[0]) == 200
        _close_all(*silent, *idle, newcomer)


@contextlib.asynccontextmanager
async def holding_origin() -> AsyncIterator[tuple[str, asyncio.Queue[asyncio.StreamWriter]]]:
    """An origin that takes each request and answers only when the test writes to it."""
    held: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def take(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await held.put(writer)

    origin = await asyncio.start_server(take, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{origin.sockets[0].getsockname()[1]}", held
    finally:
        origin.close()


ORIGIN_REQUEST = b"GET /slow HTTP/1.1\r\nHost: wp.test\r\n\r\n"
ORIGIN_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


async def _waiting_for_origin(
    server: Served, held: asyncio.Queue[asyncio.StreamWriter], address: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamWriter]:
    """A connection whose request the origin holds: the client's reader and writer, and
    the origin's writer to answer it with."""
    reader, writer = await _connect_from(server, address)
    writer.write(ORIGIN_REQUEST)
    return reader, writer, await asyncio.wait_for(held.get(), 10)


async def test_when_every_connection_has_a_request_in_progress_a_new_one_waits(tmp_path):
    async with (
        holding_origin() as (origin, held),
        serving(tmp_path, CAP, upstream=origin) as server,
    ):
        busy = [await _waiting_for_origin(server, held) for _ in range(4)]

        reader, writer = await server.connect()  # the kernel's backlog takes it
        writer.write(ORIGIN_REQUEST)
        taken = asyncio.ensure_future(held.get())
        await server.wait_for_log(r"4 client connections open \(server\.max_connections\), each")
        await asyncio.sleep(0.5)
        assert not taken.done(), "taken while four requests were in progress"

        busy[0][1].close()  # one closes: the waiting one is taken, and its request goes on
        busy.append((reader, writer, await asyncio.wait_for(taken, 10)))

        second = await server.connect()
        second[1].write(HEALTH_REQUEST)
        answer = asyncio.ensure_future(read_response(second[0]))
        await asyncio.sleep(0.5)
        assert not answer.done(), "answered while four requests were in progress"
        answered_reader, _, origin_writer = busy[1]
        origin_writer.write(ORIGIN_ANSWER)  # one is answered and goes idle: it makes room
        assert (await asyncio.wait_for(read_response(answered_reader), 10)) == (200, b"ok")
        (await asyncio.wait_for(held.get(), 10)).write(ORIGIN_ANSWER)  # the newcomer's request
        assert (await asyncio.wait_for(answer, 10))[0] == 200
        assert await closed_within(answered_reader, 5.0) == b""
        _close_all(*[(r, w) for r, w, _ in busy], second)


# -- the per-address cap -----------------------------------------------------------

PER_IP = "max_connections_per_ip: 2, header_timeout: 60, keepalive_timeout: 60"
UNTRUSTED = "trusted_proxies: []"  # the tests' clients are on loopback, trusted by default


async def test_an_address_at_its_cap_makes_room_among_its_own_connections(tmp_path):
    async with serving(tmp_path, PER_IP, proxy=UNTRUSTED) as server:
        other = await _connect_from(server, "127.0.0.2")  # silent longest, but not 127.0.0.1's
        own = [await _kept_alive(server) for _ in range(2)]
        newcomer = await server.connect()
        assert await _answered_within(newcomer) == 200
        assert await closed_within(own[0][0], 5.0) == b""
        assert await _answered_within(own[1]) == 200
        assert await _answered_within(other) == 200
        _close_all(other, *own, newcomer)


async def test_an_address_whose_connections_are_all_busy_gets_no_more(tmp_path):
    async with (
        holding_origin() as (origin, held),
        serving(tmp_path, PER_IP, proxy=UNTRUSTED, upstream=origin) as server,
    ):
        busy = [await _waiting_for_origin(server, held) for _ in range(2)]
        refused = await server.connect()
        assert await closed_within(refused[0], 5.0) == b""  # closed at once, not queued
        await server.wait_for_log(
            r"closed a new connection from 127\.0\.0\.1: 2 connections from 127\.0\.0\.1 open"
        )
        other = await _connect_from(server, "127.0.0.2")  # another address is served
        answered = asyncio.ensure_future(_answered_within(other))
        (await asyncio.wait_for(held.get(), 10)).write(ORIGIN_ANSWER)
        assert await answered == 200
        reader, _, origin_writer = busy[0]
        origin_writer.write(ORIGIN_ANSWER)  # the busy ones go on as before
        assert (await asyncio.wait_for(read_response(reader), 10)) == (200, b"ok")
        _close_all(*[(r, w) for r, w, _ in busy], refused, other)


async def test_a_trusted_proxy_is_not_held_to_the_per_address_cap(tmp_path):
    async with (
        holding_origin() as (origin, held),
        serving(tmp_path, PER_IP, upstream=origin) as server,  # loopback: trusted by default
    ):
        busy = [await _waiting_for_origin(server, held) for _ in range(3)]
        for reader, _, origin_writer in busy:
            origin_writer.write(ORIGIN_ANSWER)
            assert (await asyncio.wait_for(read_response(reader), 10)) == (200, b"ok")
        _close_all(*[(r, w) for r, w, _ in busy])


# -- running out of file descriptors -----------------------------------------------


async def _flood(server: Served, count: int) -> list[asyncio.StreamWriter]:
    """Open ``count`` connections that say nothing."""
    writers = []
    for _ in range(count):
        _, writer = await asyncio.wait_for(server.connect(), 10)
        writers.append(writer)
    return writers


async def _served(server: Served) -> bool:
    reader, writer = await server.connect()
    try:
        writer.write(HEALTH_REQUEST)
        return (await asyncio.wait_for(read_response(reader), 10))[0] == 200
    finally:
        writer.close()


@pytest.mark.parametrize(
    "server_keys",
    [
        "max_connections: 0",  # derived from the limit: the cap comes first
        "max_connections: 10000",  # far above it: accept() itself fails with EMFILE
    ],
)
async def test_more_connections_than_descriptors_neither_spin_nor_flood_the_log(
    tmp_path, server_keys
):
    async with serving(tmp_path, f"{server_keys}, header_timeout: 60", descriptors=128) as server:
        before = len(server.log)
        cpu = server.cpu_seconds()
        writers = await _flood(server, 130)  # more than 128; those not taken wait in the backlog
        await asyncio.sleep(3.0)
        spent = server.cpu_seconds() - cpu
        logged = server.log[before:]
        assert len(logged) <= 12, "\n".join(logged[:50])
        assert spent < 2.0, f"{spent:.2f} s of CPU in a quiet 3 s: the accept loop spins"

        for writer in writers:
            writer.close()
        assert await _served(server)  # every waiting connection is taken, then service goes on
        assert await _served(server)


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one():
    import subprocess

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 256))

    code = "from rewriteproxy.server import raise_descriptor_limit as r; print(r())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=lower, check=True
    )
    assert result.stdout.strip() == "256"
    assert raise_descriptor_limit() >= 256  # and in this process too, harmlessly


def test_the_derived_cap_leaves_room_for_upstream_and_the_process():
    assert connection_limit(500, 1024, 256) == 500  # configured wins
    assert connection_limit(0, 1024, 256) == (1024 - 64 - 256) // 2
    assert connection_limit(0, 65536, 256) == (65536 - 64 - 256) // 2
    assert connection_limit(0, 128, 256) == 16  # tiny limits: an eighth, EMFILE handles the rest
    assert connection_limit(0, 1, 256) == 1


# -- malformed requests and the log -----------------------------------------------


async def test_a_malformed_request_gets_a_400_and_one_log_line(tmp_path):
    async with serving(tmp_path, "header_timeout: 5") as server:
        before = await server.mark()
        reader, writer = await server.connect()
        writer.write(b"GET / HTTP/1.1\r\nHost: wp.test\r\nBad Header\r\n\r\n")
        status, body = await read_response(reader)
        assert status == 400
        assert await closed_within(reader, 5.0) == b""
        writer.close()
        logged = server.log[before : (await server.mark()) - 1]
        assert len(logged) == 1, logged
        assert "bad request from 127.0.0.1: Invalid header token" in logged[0]
        assert body.startswith(b"400 Bad Request: Invalid header token")


async def test_a_flood_of_malformed_requests_logs_once_a_second_with_a_count(tmp_path):
    async with serving(tmp_path, "header_timeout: 5") as server:
        before = await server.mark()
        for _ in range(50):
            reader, writer = await server.connect()
            writer.write(b"NOT-HTTP\r\n\r\n")
            assert (await read_response(reader))[0] == 400
            writer.close()

        def accounted() -> tuple[int, list[str]]:
            lines = [line for line in server.log[before:] if "bad request from" in line]
            more = [re.search(r"\(and (\d+) more like it in the last second\)", s) for s in lines]
            return len(lines) + sum(int(m.group(1)) for m in more if m), lines

        for _ in range(250):  # the count of the last window is written when the window ends
            if accounted()[0] >= 50:
                break
            await asyncio.sleep(0.02)
        total, lines = accounted()
        assert total == 50, lines
        assert len(lines) <= 10, lines


# -- several workers ------------------------------------------------------------------


async def test_every_worker_closes_idle_connections(tmp_path):
    async with serving(
        tmp_path, "header_timeout: 30, keepalive_timeout: 0.5", workers=2, port=free_port()
    ) as server:
        pids: set[int] = set()
        for _ in range(40):  # new connections: the kernel spreads them over the workers
            reader, writer = await server.connect()
            writer.write(HEALTH_REQUEST)
            status, _ = await read_response(reader)
            assert status == 200
            pid = process_holding(writer.get_extra_info("socket"), children_of(server.process.pid))
            assert pid is not None
            if pid not in pids:
                pids.add(pid)
                assert await closed_within(reader, 5.0) == b"", f"worker {pid} kept it open"
            writer.close()
            if len(pids) == 2:
                break
            await asyncio.sleep(0.05)  # the second worker may still be starting
        assert len(pids) == 2


# -- the event loop ----------------------------------------------------------------

PAGE = b'<p><img src="http://wp.test/wp-content/uploads/2024/05/a.jpg"></p>'


@contextlib.asynccontextmanager
async def page_origin() -> AsyncIterator[str]:
    """An origin that answers every request with :data:`PAGE` as HTML."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)
                )
        writer.close()

    origin = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{origin.sockets[0].getsockname()[1]}"
    finally:
        origin.close()


def _uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_serve_proxies_and_rewrites_on_either_event_loop(tmp_path, loop):
    if loop == "uvloop" and not _uvloop_installed():
        pytest.skip("uvloop is not installed on this platform")
    async with (
        page_origin() as origin,
        serving(tmp_path, "", upstream=origin, env={"REWRITEPROXY_LOOP": loop}) as server,
    ):
        started = await server.wait_for_log(r"rewriteproxy on http://")
        assert f"event loop {loop}" in started
        reader, writer = await server.connect()
        for _ in range(2):  # the second request reuses both connections
            writer.write(b"GET /post/ HTTP/1.1\r\nHost: wp.test\r\n\r\n")
            status, body = await asyncio.wait_for(read_response(reader), 10)
            assert (status, body) == (
                200,
                b'<p><img src="https://cdn.example.net/wp-content/uploads/2024/05/a.jpg"></p>',
            )
        writer.close()


async def test_an_unknown_loop_is_refused_by_name(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(server="", proxy="", upstream="http://127.0.0.1:9"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "serve",
        "--config",
        str(config),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "REWRITEPROXY_LOOP": "trio"},
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"REWRITEPROXY_LOOP='trio': expected one of auto, uvloop, asyncio" in err
