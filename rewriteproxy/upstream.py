"""The connection to WordPress: one interface over two HTTP clients.

Requests without a body to an ``http://`` origin (page views, assets: nearly all
traffic) go through :mod:`rewriteproxy.http.client`, a keep-alive pool that
costs a fraction of aiohttp's client per request. Requests with a body (form
posts, uploads, admin-ajax) and ``https://`` origins go through aiohttp's
client, which streams request bodies (of the length ``headers`` give) and
speaks TLS. Both answer with the
same :class:`UpstreamResponse` shape, so :mod:`rewriteproxy.proxy` does not
know which one served it.

Both raise :class:`TimeoutError` when the origin is silent for
``proxy.read_timeout`` (or does not accept a connection within
``proxy.connect_timeout``, or with all ``proxy.upstream_connections`` busy
none is free within it: waiting and connecting share that time), and
:data:`UPSTREAM_ERRORS` when it cannot be reached, breaks the answer off or
answers with something that cannot be passed on (both check answers by
:func:`~rewriteproxy.http.syntax.answer_problem`).
A request that cannot be written as it is raises :class:`InvalidRequest`
before anything is sent (both check by
:func:`~rewriteproxy.http.syntax.request_problem`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .config import ProxyConfig
from .http.client import ConnectionPool, InvalidRequest, UpstreamError
from .http.syntax import answer_problem, request_problem

__all__ = ["UPSTREAM_ERRORS", "InvalidRequest", "Upstream", "UpstreamResponse"]

UPSTREAM_ERRORS = (aiohttp.ClientError, UpstreamError)


class UpstreamResponse(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def headers(self) -> CIMultiDictProxy[str]: ...

    @property
    def content_length(self) -> int | None: ...

    async def read(self) -> bytes: ...

    async def read_some(self) -> bytes:
        """The body bytes that arrived since the last call, waiting for some; ``b""``: the end."""

    def body_arrived(self) -> bool:
        """True once the whole body has arrived (read or not)."""

    def pause_reading(self) -> None:
        """Leave further body bytes in the kernel until :meth:`resume_reading`."""

    def resume_reading(self) -> None: ...

    def detach(self) -> None:
        """Stop counting this answer's connection against ``proxy.upstream_connections``
        (it carries a body to a slow client); it is closed afterwards, never reused."""


class Upstream:
    """The WordPress origin at ``base`` (``scheme://host[:port][/prefix]``)."""

    def __init__(self, base: str, settings: ProxyConfig) -> None:
        url = URL(base)
        self._base = base
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.upstream_connections, ttl_dns_cache=60),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.connect_timeout,  # waiting for a free connection included
                sock_connect=settings.connect_timeout,
                sock_read=settings.read_timeout,
            ),
            # Each upstream body waiting to be read may hold twice this in memory (aiohttp's
            # default of 256 KiB made 256 pooled connections worth over 100 MB under load).
            read_bufsize=64 * 1024,
            auto_decompress=False,  # the proxy sees and forwards the bytes as sent
            cookie_jar=aiohttp.DummyCookieJar(),  # never share one user's cookies with another
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )
        self._pool: ConnectionPool | None = None
        self._prefix = ""
        if url.scheme == "http" and url.host is not None and url.port is not None:
            self._pool = ConnectionPool(
                url.host,
                url.port,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
                limit=settings.upstream_connections,
            )
            self._prefix = url.raw_path.rstrip("/")

    def request(
        self,
        method: str,
        target: str,
        headers: CIMultiDict[str],
        body: bytes | AsyncIterator[bytes] | None = None,
    ) -> contextlib.AbstractAsyncContextManager[UpstreamResponse]:
        """``async with upstream.request(...) as response``; ``target`` is path and query
        as the client sent them, ``headers`` what to send (with ``Host``)."""
        if body is None and self._pool is not None:
            return self._pool.request(method, self._prefix + target, headers)
        return self._through_aiohttp(method, target, headers, body)

    @contextlib.asynccontextmanager
    async def _through_aiohttp(
        self,
        method: str,
        target: str,
        headers: CIMultiDict[str],
        body: bytes | AsyncIterator[bytes] | None,
    ) -> AsyncIterator[UpstreamResponse]:
        problem = request_problem(method, target, headers)
        if problem is not None:
            raise InvalidRequest(problem)
        url = URL(self._base + target, encoded=True)
        async with self._session.request(
            method, url, headers=headers, data=body, allow_redirects=False
        ) as response:
            problem = answer_problem(response.status, response.reason or "", response.headers)
            if problem is not None:
                response.close()  # a connection that spoke like this is not used again
                raise UpstreamError(f"the upstream's answer cannot be passed on: {problem}")
            yield _AiohttpResponse(response)

    async def close(self) -> None:
        await self._session.close()
        if self._pool is not None:
            await self._pool.close()


class _AiohttpResponse:
    __slots__ = ("_response", "content_length", "headers", "reason", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.reason = response.reason
        self.headers = response.headers
        self.content_length = response.content_length

    async def read(self) -> bytes:
        return await self._response.read()

    async def read_some(self) -> bytes:
        return await self._response.content.readany()

    def body_arrived(self) -> bool:
        return self._response.content.is_eof()

    def pause_reading(self) -> None:
        connection = self._response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.pause_reading()

    def resume_reading(self) -> None:
        connection = self._response.connection
        if connection is not None and connection.protocol is not None:
            connection.protocol.resume_reading()

    def detach(self) -> None:
        # aiohttp's connector cannot give a place back early: its limit stays held (see
        # docs/security.md: requests with a body and https origins).
        return None
