"""Loopback helpers shared by tests that start servers of their own."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

HEALTH = "/-/rewriteproxy/health"


LAST_CHUNK = b"0\r\n\r\n"


def in_chunks(*parts: bytes) -> bytes:
    """``parts`` in HTTP/1.1 chunked coding, one chunk each (the last chunk not included)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (closed again at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_healthy(base: str, what: str = "the proxy") -> None:
    """Poll ``base``'s health endpoint until it answers 200 (10 s at most)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(base + HEALTH) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not start")
