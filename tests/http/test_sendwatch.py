"""The send timeout cuts off a client that takes nothing, and only such a client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from rewriteproxy.http.sendwatch import Send, SendWatch


class Sink(asyncio.Protocol):
    """The server's side of one connection: a transport to write to, told when it is lost."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Sink, socket.socket]]:
    """A server-side transport and the raw client socket at its other end (small buffers)."""
    sinks: list[Sink] = []

    def made() -> Sink:
        sinks.append(Sink())
        return sinks[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(made, "127.0.0.1", 0)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    await loop.sock_connect(client, server.sockets[0].getsockname())
    while not sinks or sinks[0].transport is None:
        await asyncio.sleep(0.01)
    yield sinks[0], client
    client.close()
    server.close()


BLOCK = b"x" * (8 << 20)  # more than the kernel takes for a client that reads nothing


async def test_a_client_that_reads_nothing_is_aborted(pair):
    sink, _ = pair
    assert sink.transport is not None
    watch, send = SendWatch(), Send(sink.transport, 0.2)
    watch.watch(send)
    sink.transport.write(BLOCK)
    await asyncio.wait_for(sink.lost, 30)
    assert send.timed_out


async def test_a_client_that_keeps_reading_is_never_cut(pair):
    sink, client = pair
    assert sink.transport is not None
    watch, send = SendWatch(), Send(sink.transport, 1.0)
    watch.watch(send)
    sink.transport.write(BLOCK[: 2 << 20])
    loop = asyncio.get_running_loop()
    received = 0
    while received < 2 << 20:
        received += len(await asyncio.wait_for(loop.sock_recv(client, 16384), 30))
        await asyncio.sleep(0.001)  # slowly, but always some
    assert not send.timed_out and not sink.lost.done()
    watch.unwatch(send)


async def test_nothing_waiting_for_the_client_is_no_stall(pair):
    sink, _ = pair
    watch, send = SendWatch(), Send(sink.transport, 0.05)
    watch.watch(send)
    await asyncio.sleep(0.3)  # waiting for the upstream, say: the client owes nothing
    assert not send.timed_out and not sink.lost.done()
    watch.unwatch(send)


async def test_an_answer_no_longer_watched_is_left_alone(pair):
    sink, _ = pair
    assert sink.transport is not None
    watch, send = SendWatch(), Send(sink.transport, 0.05)
    watch.watch(send)
    watch.unwatch(send)
    sink.transport.write(BLOCK)
    await asyncio.sleep(0.3)
    assert not send.timed_out and not sink.lost.done()
