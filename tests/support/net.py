"""Loopback helpers shared by tests that start servers of their own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path

import aiohttp

LAST_CHUNK = b"0\r\n\r\n"


def in_chunks(*parts: bytes) -> bytes:
    """``parts`` in HTTP/1.1 chunked coding, one chunk each (the last chunk not included)."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (closed again at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_healthy(url: str, what: str = "the proxy") -> None:
    """Poll ``url`` (an admin listener's /health, a demo's page) until it answers 200
    (10 s at most)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not start")


def children_of(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes (Linux's /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def process_holding(sock: socket.socket, among: list[int]) -> int | None:
    """Which of the processes ``among`` holds the other end of ``sock``, a connection to a
    server on this machine (found by the socket's inode in /proc/net/tcp and their fds)."""
    local, peer = sock.getsockname(), sock.getpeername()
    wanted = f"{_hex_address(peer)} {_hex_address(local)}"  # the server's side: local, remote
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]}" == wanted:
            inode = fields[9]
    if inode is None:
        return None
    for pid in among:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def _hex_address(address: tuple[str, int]) -> str:
    packed = socket.inet_aton(address[0])
    return f"{int.from_bytes(packed, 'little'):08X}:{address[1]:04X}"
