"""A lean HTTP/1.1 client for the upstream: a pool of keep-alive connections, llhttp parsing.

aiohttp's client spends about 100 us of Python per request on things a reverse
proxy talking to one origin does not need (a request and a response object
tree, URL handling, cookie and trace hooks, timer contexts). On a 50 KB page
that was over half of the proxy's time per request. Here a request is written
as one buffer, the answer is parsed by llhttp (``httptools``, the parser
uvicorn uses) in callbacks, and the body is kept as the chunks that arrived.

What it does, and no more: requests without a body, to one ``host:port`` over
plain TCP. The caller (:mod:`rewriteproxy.upstream`) sends everything else
(request bodies, TLS) through aiohttp.

- Connections are reused while the upstream allows it (HTTP/1.1 keep-alive,
  no ``Connection: close``), last used first; at most ``limit`` are open, and
  requests beyond that wait for one, within ``connect_timeout`` (waiting and
  connecting together). One idle longer than ``idle_timeout`` is closed when
  traffic no longer needs it.
- A reused connection that turns out to be closed before any byte of the
  answer arrived (the upstream's keep-alive timeout raced the request) is
  replaced and the request sent again, if its method is idempotent (the
  upstream may have acted on a POST before it closed): on a new connection,
  or at the limit on the next idle one, and on three connections at most.
- Bytes after the final answer (a second answer nobody asked for) are never
  read as part of it, and the connection is not reused.
- ``read_timeout``: the upstream silent that long while an answer is awaited
  raises :class:`TimeoutError`; ``connect_timeout`` likewise for a connect,
  or for a wait for a free connection.
- Body bytes wait in memory up to ``_HIGH_WATER`` per connection, then the
  socket is not read until the caller takes them, so a slow client holds the
  rest in the kernel, not here. :meth:`Response.read` takes the whole body,
  :meth:`Response.read_some` all that has arrived so far, as one piece.
- A 1xx informational answer (103 Early Hints) is skipped; the caller gets the
  final one. An answer to HEAD ends after its headers.
- A request is checked against :mod:`rewriteproxy.http.syntax` before a byte
  of it is written (:class:`InvalidRequest`), and so is the final answer
  before it is handed over (:class:`UpstreamError`): one that could not be
  passed on to the client as it is (a control byte in a header, a 101 nobody
  asked for, a status outside 100 to 599) is an error, not a response. So is
  one that aiohttp's client would refuse: over 128 header lines, a header
  (name and value) over 8190 bytes, a reason phrase over 8190 bytes, or a
  head over 256 KiB in all.
"""

from __future__ import annotations

import asyncio
import collections
from types import TracebackType
from typing import cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from .syntax import answer_problem, request_problem

__all__ = ["ConnectionPool", "InvalidRequest", "Response", "UpstreamError"]

_HIGH_WATER = 64 * 1024  # body bytes held per connection before reading pauses
_MAX_HEAD = 256 * 1024  # status line and headers; more is not an HTTP answer we read
# What aiohttp's client refuses beyond (its parser's defaults), so both clients pass the same:
_MAX_FIELDS = 128  # header lines of one answer
_MAX_FIELD = 8190  # bytes of one header's name and value together
_MAX_REASON = 8190  # bytes of the reason phrase
# "No answer yet" does not prove the upstream did nothing: only these are sent again
# (RFC 9110 §9.2.2), as aiohttp's client does.
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))
_MAX_SENDS = 3  # one request, on at most this many connections
# aiohttp's client sent an empty body's length for these; some servers answer 411 without.
_LENGTH_REQUIRED = frozenset(("POST", "PUT", "PATCH"))


class UpstreamError(ConnectionError):
    """The upstream could not be reached, closed early, or sent something that is not HTTP
    (or not an answer that can be passed on)."""


class InvalidRequest(ValueError):
    """A request that HTTP does not allow to be written as given; nothing of it was sent."""


class ConnectionPool:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        read_timeout: float,
        limit: int = 256,
        idle_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.limit = limit
        # An idle connection holds a worker of some origins (Apache's prefork); aiohttp's
        # client, which this pool replaced for most requests, also let them go after 15 s.
        self.idle_timeout = idle_timeout
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    def request(self, method: str, target: str, headers: CIMultiDict[str]) -> _Exchange:
        """``async with pool.request(...) as response``: the final answer's head, body to come.

        ``target`` is the request target as sent (path and query, already encoded);
        ``headers`` are sent as given, so they must hold ``Host``. Raises
        :class:`InvalidRequest` if any of them cannot be written as it is.
        """
        problem = request_problem(method, target, headers)
        if problem is not None:
            raise InvalidRequest(problem)
        lines = [f"{method} {target} HTTP/1.1\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers.items())
        if method in _LENGTH_REQUIRED and "Content-Length" not in headers:
            lines.append("Content-Length: 0\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("utf-8", "surrogateescape")
        return _Exchange(self, head, method)

    async def close(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def _acquire(self, prefer_new: bool = False) -> tuple[_Connection, bool]:
        """An idle connection (and True), or a new one (and False); with ``prefer_new``, a
        new one whenever the limit allows.

        At the limit it waits for one, and waiting and connecting together take at most
        ``connect_timeout`` (:class:`TimeoutError`), as in aiohttp's client.
        """
        deadline: float | None = None  # set at the first wait
        while True:
            if prefer_new and self._open < self.limit:
                return await self._connect(deadline), False
            while self._idle:
                connection = self._idle.pop()
                if connection.usable:
                    return connection, True
            if self._open < self.limit:
                return await self._connect(deadline), False
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self.connect_timeout
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # it was woken for a place it will not take: pass it on
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise

    async def _connect(self, deadline: float | None = None) -> _Connection:
        loop = asyncio.get_running_loop()
        if deadline is None:
            deadline = loop.time() + self.connect_timeout
        self._open += 1
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self), self.host, self.port
                )
        except TimeoutError:
            self._forget()
            raise
        except OSError as exc:
            self._forget()
            raise UpstreamError(f"connect to {self.host}:{self.port}: {exc}") from exc
        except BaseException:
            self._forget()
            raise
        # From here on its connection_lost gives the place back; before, the lines above do
        # (a connect cancelled just after it succeeded closes a transport that never counted).
        connection.counted = True
        return connection

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._closed and connection.usable:
            connection.idle()
            now = connection.idle_since = asyncio.get_running_loop().time()
            idle = self._idle
            # Reuse is last in, first out, so the longest idle is first: one look per
            # release closes the ones traffic no longer needs.
            if idle and now - idle[0].idle_since > self.idle_timeout:
                idle.pop(0).close()
            idle.append(connection)
            self._wake()
        else:
            connection.close()

    def _forget(self, connection: _Connection | None = None) -> None:
        """One connection fewer is open (closed, or never made)."""
        if connection is not None and connection in self._idle:
            self._idle.remove(connection)
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class Response:
    """The head of the upstream's final answer; the body is read with :meth:`read`
    or piece by piece with :meth:`read_some` (once)."""

    __slots__ = ("_connection", "content_length", "headers", "reason", "status")

    def __init__(
        self,
        connection: _Connection,
        status: int,
        reason: str,
        headers: CIMultiDict[str],
    ) -> None:
        self._connection = connection
        self.status = status
        self.reason = reason
        self.headers = CIMultiDictProxy(headers)
        length = headers.get("Content-Length")
        self.content_length = int(length) if length is not None and length.isdigit() else None

    async def read(self) -> bytes:
        """The whole body."""
        connection = self._connection
        connection.unbounded = True
        connection.resume()
        while not connection.complete:
            await connection.wait_for_body()
        return _joined(connection.take_all())

    async def read_some(self) -> bytes:
        """Every body byte that has arrived and not been handed over, as one piece
        (waiting for some if there are none); ``b""`` once the body is all handed over.

        One piece, not the chunks as they came: an origin answering in chunks (PHP
        flushes every 4 KB) would otherwise cost the proxy a write per chunk.
        """
        connection = self._connection
        while True:
            chunks = connection.take_all()
            if chunks:
                return _joined(chunks)
            if connection.complete:
                return b""
            await connection.wait_for_body()

    def body_arrived(self) -> bool:
        """True once the whole body has arrived (read or not)."""
        return self._connection.complete

    def pause_reading(self) -> None:
        """Leave further body bytes in the kernel until :meth:`resume_reading`."""
        self._connection.hold(True)

    def resume_reading(self) -> None:
        self._connection.hold(False)

    def detach(self) -> None:
        """Stop counting this connection against the pool's limit: it carries a body a
        slow client reads at its own pace, and must not keep others from the upstream.
        It is closed when the exchange ends, never reused."""
        self._connection.detach()


def _joined(chunks: list[bytes]) -> bytes:
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Exchange:
    """One request and its answer on a pooled connection; the ``async with`` of
    :meth:`ConnectionPool.request`."""

    def __init__(self, pool: ConnectionPool, head: bytes, method: str) -> None:
        self._pool = pool
        self._head = head
        self._is_head = method == "HEAD"
        self._may_resend = method in _IDEMPOTENT
        self._connection: _Connection | None = None

    async def __aenter__(self) -> Response:
        pool = self._pool
        sends = 0
        while True:
            connection, reused = await pool._acquire(prefer_new=sends > 0)
            sends += 1
            try:
                response = await connection.send(self._head, self._is_head)
            except UpstreamError:
                connection.close()
                if reused and connection.untouched and self._may_resend and sends < _MAX_SENDS:
                    # The upstream closed this idle connection as the request went out (its
                    # keep-alive timeout): again on a new connection, which ends the turns;
                    # only at the limit on the next idle one. A request the upstream drops
                    # itself is so sent a few times at most, not once per idle connection.
                    continue
                raise
            except BaseException:
                connection.close()  # __aexit__ is not called when this raises
                raise
            self._connection = connection
            return response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self._connection
        if connection is not None:
            self._connection = None
            self._pool._release(connection, exc is None and connection.reusable)


class _Connection(asyncio.Protocol):
    """One TCP connection to the upstream: one exchange at a time."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._lost = False
        self._paused = False
        self._held = False
        self._parser: httptools.HttpResponseParser | None = None
        self._head_waiter: asyncio.Future[Response] | None = None
        self._body_waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_data = 0.0
        self._error: BaseException | None = None
        self._is_head = False
        self._fields: list[tuple[bytes, bytes]] = []  # the answer's headers as they came
        self._head_bytes = 0
        self._reason = b""
        self._keep_alive = False
        self._until_close = False
        self._stray = False
        self._final = False
        self._chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.untouched = True  # no byte of the current answer has arrived
        self.unbounded = False
        self.idle_since = 0.0
        self.counted = False

    # -- the pool's side -----------------------------------------------------

    @property
    def usable(self) -> bool:
        return not self._lost and self._transport is not None and not self._transport.is_closing()

    @property
    def reusable(self) -> bool:
        return self.complete and self._keep_alive and not self._is_head and self._error is None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def detach(self) -> None:
        if self.counted:
            self.counted = False
            self._keep_alive = False  # closed at the end of the exchange, never pooled
            self._pool._forget()

    def idle(self) -> None:
        """Back in the pool: the answer's unread bytes dropped, the socket read again (so a
        close by the upstream is seen, and the next answer is not left waiting)."""
        self._chunks.clear()
        self.buffered = 0
        self._held = False
        self.resume()

    async def send(self, head: bytes, is_head: bool) -> Response:
        """Write one request; the final answer's head once it has arrived."""
        if not self.usable:
            raise UpstreamError("upstream connection closed")
        parser = self._parser = httptools.HttpResponseParser(self)
        # As lenient as aiohttp's client is with answers (real origins send bare LFs and
        # header values llhttp's strict mode refuses); NUL is still refused, in on_header.
        parser.set_dangerous_leniencies(
            lenient_headers=True,
            lenient_optional_cr_before_lf=True,
            lenient_spaces_after_chunk_size=True,
        )
        self._is_head = is_head
        self._error = None
        self._chunks.clear()
        self.buffered = 0
        self.complete = self._final = self._until_close = self._stray = False
        self.untouched = True
        self.unbounded = False
        self._held = False
        self._head_bytes = 0
        waiter: asyncio.Future[Response] = self._loop.create_future()
        self._head_waiter = waiter
        self._last_data = self._loop.time()
        self._timer = self._loop.call_later(self._pool.read_timeout, self._check_silence)
        assert self._transport is not None
        self._transport.write(head)
        try:
            return await waiter
        finally:
            self._head_waiter = None

    def take_all(self) -> list[bytes]:
        """The body chunks not yet handed over (raises once it failed and none are left).

        A failure after the answer was complete (bytes that are not HTTP glued to it)
        only stops the connection's reuse: the answer itself is whole.
        """
        chunks = self._chunks
        if not chunks:
            if self._error is not None and not self.complete:
                raise self._error
            return []
        taken = list(chunks)
        chunks.clear()
        self.buffered = 0
        self.resume()
        return taken

    async def wait_for_body(self) -> None:
        """Until more of the body arrives (or, for :meth:`Response.read`, all of it)."""
        if self._error is not None:
            raise self._error
        if self.complete:
            return
        waiter = self._body_waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._body_waiter = None

    def hold(self, held: bool) -> None:
        self._held = held
        if held:
            self._pause()
        else:
            self.resume()

    def resume(self) -> None:
        if self._paused and not self._held and (self.unbounded or self.buffered < _HIGH_WATER):
            self._paused = False
            if self._transport is not None:
                self._transport.resume_reading()

    def _pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._last_data = self._loop.time()
        parser = self._parser
        if parser is None or self.complete:  # bytes nobody asked for: never reuse this one
            self._keep_alive = False
            self.close()
            return
        self.untouched = False
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # a 101, refused in on_headers_complete already
            self._fail(UpstreamError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"invalid HTTP answer from the upstream: {exc}"))

    def eof_received(self) -> bool:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._timer is not None:
            self._timer.cancel()
        if self._final and self._until_close and not self.complete and exc is None:
            self._finish()  # a body without length or chunks ends where the connection does
        elif not self.complete:
            self._fail(UpstreamError("the upstream closed the connection before the answer ended"))
        if self.counted:
            self._pool._forget(self)

    # -- httptools callbacks -------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request: the framing is off, never reuse
            self._stray = True
            self._keep_alive = False
            self.close()
        self._fields = []
        self._reason = b""

    def on_status(self, status: bytes) -> None:
        self._reason += status
        self._count(len(status))
        if len(self._reason) > _MAX_REASON:
            self._fail(UpstreamError("the upstream's reason phrase is too long"))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._stray or self._error is not None:
            return
        size = len(name) + len(value)
        self._count(size)
        if size > _MAX_FIELD:
            self._fail(
                UpstreamError(f"a header of the upstream's answer is over {_MAX_FIELD} bytes")
            )
        elif len(self._fields) == _MAX_FIELDS:
            self._fail(UpstreamError(f"the upstream's answer has over {_MAX_FIELDS} headers"))
        self._fields.append((name, value.rstrip(b" \t")))  # llhttp strips the space before only

    def on_headers_complete(self) -> None:
        if self._stray or self._error is not None:
            return
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # informational: the final answer follows
        headers: CIMultiDict[str] = CIMultiDict(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
            for name, value in self._fields
        )
        reason = self._reason.decode("utf-8", "surrogateescape")
        # Lenient llhttp lets control bytes through in values and the reason phrase.
        problem = answer_problem(status, reason, headers)
        if problem is not None:
            self._fail(UpstreamError(f"the upstream's answer cannot be passed on: {problem}"))
            return
        self._final = True
        self._keep_alive = parser.should_keep_alive()
        self._until_close = (
            status not in (204, 304)
            and "Content-Length" not in headers
            # Chunked framing only when chunked is the last coding (RFC 9112 §6.3).
            and headers.get("Transfer-Encoding", "").rpartition(",")[2].strip().lower() != "chunked"
        )
        response = Response(self, status, reason, headers)
        if self._is_head:
            self._finish()
        waiter = self._head_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def on_body(self, body: bytes) -> None:
        if self._stray:  # bytes of an answer nobody asked for never join the body
            return
        self._chunks.append(body)
        self.buffered += len(body)
        if not self.unbounded:
            if self.buffered >= _HIGH_WATER:
                self._pause()
            self._wake_body()

    def on_message_complete(self) -> None:
        if self._final:
            self._finish()

    # -- inside ------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > _MAX_HEAD:
            self._fail(UpstreamError("the upstream's headers are too large"))

    def _finish(self) -> None:
        if self.complete:
            return
        self.complete = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake_body()

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._keep_alive = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        head = self._head_waiter
        if head is not None and not head.done():
            head.set_exception(error)
        body = self._body_waiter
        if body is not None and not body.done():
            body.set_exception(error)
        self.close()

    def _wake_body(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_silence(self) -> None:
        """The read timeout: fires once per answer, and again only while it is not over."""
        self._timer = None
        if self.complete or self._error is not None:
            return
        timeout = self._pool.read_timeout
        if self._paused:  # waiting for our caller, not for the upstream
            self._timer = self._loop.call_later(timeout, self._check_silence)
            return
        silent = self._loop.time() - self._last_data
        if silent >= timeout:
            self._fail(TimeoutError(f"the upstream sent nothing for {timeout:g} s"))
        else:
            self._timer = self._loop.call_later(timeout - silent, self._check_silence)
