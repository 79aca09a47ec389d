"""A stand-in for systemd's notify socket: a real unix datagram socket that a test reads.

systemd's side of ``sd_notify`` is a datagram socket named by ``NOTIFY_SOCKET``;
this is the same thing on a path or in the abstract namespace, so the code
under test talks to a real socket exactly as it would under ``Type=notify``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from pathlib import Path
from types import TracebackType


class NotifySocket:
    """Bound at ``address`` (``@name`` for the abstract namespace); ``messages()`` reads it."""

    def __init__(self, directory: Path | None = None) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if directory is None:
            self.address = "@rewriteproxy-test-" + secrets.token_hex(8)
            self._sock.bind("\0" + self.address[1:])
        else:
            self.address = str(directory / "notify.sock")
            self._sock.bind(self.address)
        self._sock.setblocking(False)

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, "NOTIFY_SOCKET": self.address}

    async def receive(self, timeout: float = 20.0) -> str:
        """The next datagram, as text."""
        loop = asyncio.get_running_loop()
        return (await asyncio.wait_for(loop.sock_recv(self._sock, 4096), timeout)).decode()

    async def wait_for(self, line: str, timeout: float = 20.0) -> list[str]:
        """Read datagrams until one holds ``line``; every datagram read, in order."""
        seen: list[str] = []
        async with asyncio.timeout(timeout):
            while True:
                seen.append(await self.receive())
                if line in seen[-1].splitlines():
                    return seen

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
