"""A stand-in CDN on loopback: a real HTTP server that answers, fails, hangs or goes away.

:class:`DeliveryHost` serves every path on ``127.0.0.1`` (a free port) with
the status the test sets (:meth:`answer`), or one path with its own status
(:meth:`answer_for`: a pull CDN fails for the one object its origin fails
for), or accepts requests and never answers them (:meth:`hang`), or stops
listening altogether (:meth:`go_away`, then connections are refused) and
comes back on the same port (:meth:`come_back`). It records the paths it
was asked for. Use it as an async context manager; everything it started is
stopped at the end.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiohttp import web

__all__ = ["DeliveryHost", "eventually"]


class DeliveryHost:
    def __init__(self) -> None:
        self.status = 200
        self.statuses: dict[str, int] = {}  # path → its own status, over ``status``
        self.hanging = False
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        self._site: web.TCPSite | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        if self.hanging:
            await self._release.wait()
        status = self.statuses.get(request.path, self.status)
        return web.Response(status=status, body=b"" if request.method == "HEAD" else b"img")

    def answer(self, status: int) -> None:
        """Answer every request with ``status`` from now on."""
        self.hanging = False
        self._release.set()
        self._release = asyncio.Event()
        self.status = status

    def answer_for(self, path: str, status: int) -> None:
        """Answer requests for ``path`` with ``status``, whatever :meth:`answer` says."""
        self.statuses[path] = status

    def hang(self) -> None:
        """Accept requests and never answer them (a frozen host)."""
        self.hanging = True

    async def go_away(self) -> None:
        """Stop listening: new connections are refused."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def come_back(self) -> None:
        """Listen again, on the same port."""
        if self._site is None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await self._site.start()

    async def __aenter__(self) -> DeliveryHost:
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._release.set()
        await self._runner.cleanup()


async def eventually(check: object, seconds: float = 20.0, what: str = "the condition") -> None:
    """Poll ``check()`` (sync or async) until it is true; fail after ``seconds`` (a generous
    bound for background work on a busy machine, never a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, f"{what} never came true within {seconds} s"
        await asyncio.sleep(0.02)
