"""The listening side: accepting client connections and bounding what each may hold.

aiohttp parses HTTP and runs the application; this module owns what is around
it, so that a client that sends nothing, sends a byte at a time, or opens
connections until the process has no descriptors left costs only itself.

- :class:`Listener` binds the address and runs its own accept loop instead of
  asyncio's ``create_server`` (whose loop, when ``accept()`` fails for lack of
  descriptors, keeps retrying and logs a traceback each time). With
  ``max_connections`` open it makes room for a newcomer by closing the
  connection idle longest, or else the one silent longest (see
  :mod:`rewriteproxy.slots`); only when every connection has a request in
  progress does it stop accepting, and newcomers wait in the kernel's listen
  backlog until one closes or goes idle. A peer address holding
  ``max_connections_per_ip`` makes room among its own connections the same
  way, and if all of them are busy its newcomer is closed at once (trusted
  proxies are exempt: all clients behind one share its address). If ``accept()``
  fails anyway (EMFILE, ENFILE, ENOBUFS, ENOMEM: descriptors also go to the
  upstream and to files) it stops for a second, logs one throttled line, and
  tries again.
- :class:`ClientConnection` is aiohttp's ``RequestHandler`` with a deadline on
  the request head: ``header_timeout`` from the connection's opening, or on a
  kept-alive connection from the first byte of the next request, to the end of
  the head, however slowly the bytes come. Between requests aiohttp's own
  ``keepalive_timeout`` closes an idle connection. A malformed request gets a
  400 and one log line, not a traceback; whatever else aiohttp logs about a
  connection goes through the same :class:`~rewriteproxy.logthrottle.LogThrottle`.
- :func:`connection_limit` is the default cap, derived from RLIMIT_NOFILE;
  :func:`raise_descriptor_limit` lifts the soft limit to the hard one first.

Assumptions: :class:`ClientConnection` reads two internals of aiohttp's
``RequestHandler``, the ones its own keep-alive check reads: ``_waiter`` (a
future pending while it waits for the next request) and ``_messages`` (requests
parsed and not yet handled). tests/test_server.py fails if an aiohttp release
changes them. Plain TCP only (no TLS: a load balancer or the host terminates it).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from .config import ServerConfig
from .logthrottle import LogThrottle
from .slots import Slot, Slots, peer_key

__all__ = [
    "ClientConnection",
    "Limits",
    "Listener",
    "bind",
    "connection_limit",
    "raise_descriptor_limit",
    "throttle_loop_errors",
]

log = logging.getLogger("rewriteproxy.server")

# Descriptors the process needs besides client and upstream connections: stdio, the event
# loop, the listening sockets, log files, thread pools, the inventory's and delivery's clients.
_FIXED_DESCRIPTORS = 64
_MOST_DESCRIPTORS = 1 << 20  # a hard limit of "unlimited" is not raised to beyond this
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
# accept() errors that concern one connection that went away, not the listening socket.
_GONE = frozenset((errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ECONNRESET))
_ACCEPT_BATCH = 64  # connections taken per wake-up, so that accepting cannot starve requests
_RETRY_DELAY = 1.0  # seconds without accepting after accept() ran out of resources
_NOT_DETAILS = frozenset(("message", "exception", "source_traceback", "handle_traceback"))
_REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def raise_descriptor_limit() -> int:
    """Lift this process's soft RLIMIT_NOFILE to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _MOST_DESCRIPTORS if hard == resource.RLIM_INFINITY else min(hard, _MOST_DESCRIPTORS)
    if soft != resource.RLIM_INFINITY and wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return int(soft)
        return wanted
    return _MOST_DESCRIPTORS if soft == resource.RLIM_INFINITY else int(soft)


def connection_limit(configured: int, descriptors: int, upstream_connections: int) -> int:
    """Client connections one worker accepts at once: ``configured``, or if 0 derived.

    Derived: half of the descriptors left once the process's own and the upstream pool's
    are set aside, so that each client connection may hold one more (a body buffered in a
    file, a request on the upstream's second client); never fewer than an eighth of all.
    """
    if configured > 0:
        return configured
    spare = descriptors - _FIXED_DESCRIPTORS - upstream_connections
    return max(spare // 2, descriptors // 8, 1)


def bind(
    host: str, port: int, *, reuse_port: bool = False, backlog: int = 128
) -> list[socket.socket]:
    """Listening sockets for every address ``host`` names (one port for all, as port 0 picks)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:
                continue  # a family this host lacks (IPv6 in some containers), as asyncio does
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:  # the other families take the port the first got
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot listen on {address}: {exc.strerror}") from exc
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(f"cannot listen on {host}:{port}: no address family to bind")
    return sockets


@dataclass(frozen=True, slots=True)
class Limits:
    """The caps on one worker's client connections, read afresh at each accept."""

    total: int
    per_peer: int = 0  # connections one peer (IPv4 address, IPv6 /64) may hold; 0: no cap
    exempt: Callable[[str], bool] = lambda peer: False  # peers the per-peer cap spares


ProtocolFactory = Callable[[Slot], asyncio.Protocol]


class Listener:
    """Accepts on ``sockets``; each connection gets ``connection(slot)`` as its protocol.

    The protocol must attach itself to its slot, report it idle and busy, and release
    it when the connection closes (:class:`ClientConnection` does). At ``limits().total``
    connections open, a newcomer is admitted by closing an idle or silent one; only when
    every connection is busy is accepting paused, until one closes or goes idle. A peer
    at ``limits().per_peer`` makes room among its own connections the same way, and if
    all of those are busy its newcomer is closed at once. ``limits`` is read at each
    accept, so a reload that changes it applies at once.
    """

    def __init__(
        self,
        sockets: list[socket.socket],
        connection: ProtocolFactory,
        limits: Callable[[], Limits],
        throttle: LogThrottle,
    ) -> None:
        self.sockets = sockets
        self._connection = connection
        self._limits = limits
        self._throttle = throttle
        self._slots = Slots(self._room_made)
        self._accepting = False
        self._waiting_for_slot = False
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False
        self._handovers: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def open_connections(self) -> int:
        return self._slots.open

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._resume()

    def close(self) -> None:
        """Stop accepting and close the listening sockets; open connections are left alone."""
        self._closed = True
        self._pause()
        if self._retry is not None:
            self._retry.cancel()
        for sock in self.sockets:
            sock.close()

    def _resume(self) -> None:
        if self._accepting or self._closed or self._loop is None:
            return
        self._accepting = True
        self._waiting_for_slot = False
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _pause(self) -> None:
        if not self._accepting or self._loop is None:
            return
        self._accepting = False
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())

    def _accept(self, sock: socket.socket) -> None:
        slots = self._slots
        for _ in range(_ACCEPT_BATCH):
            limits = self._limits()
            if slots.open >= limits.total and not slots.reclaimable:
                self._pause()
                self._waiting_for_slot = True
                self._throttle.log(
                    "at-limit",
                    logging.WARNING,
                    "%d client connections open (server.max_connections), each with a "
                    "request in progress: new ones wait until one closes or goes idle",
                    slots.open,
                )
                return
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _GONE:
                    continue
                self._back_off(exc)
                return
            peer = str(address[0]) if isinstance(address, tuple) and address else ""
            key = peer_key(peer)
            if (
                limits.per_peer
                and slots.held_by(key) >= limits.per_peer
                and not limits.exempt(peer)
                and slots.reclaim_from(key) is None
            ):
                conn.close()
                self._throttle.log(
                    "peer-limit",
                    logging.WARNING,
                    "closed a new connection from %s: %d connections from %s open, each with "
                    "a request in progress (server.max_connections_per_ip)",
                    peer,
                    limits.per_peer,
                    key,
                )
                continue
            if slots.open >= limits.total:
                closed = slots.reclaim_any()  # there is one: checked before accept()
                self._throttle.log(
                    ("reclaimed", closed),
                    logging.INFO,
                    "%d client connections open (server.max_connections): "
                    "closed the one %s longest to make room",
                    slots.open + 1,
                    closed,
                )
            self._hand_over(conn, key)

    def _back_off(self, exc: OSError) -> None:
        assert self._loop is not None
        self._pause()
        cause = "out of resources" if exc.errno in _OUT_OF_RESOURCES else "failed"
        self._throttle.log(
            ("accept", exc.errno),
            logging.ERROR,
            "accept() %s with %d client connections open: %s; accepting again in %gs",
            cause,
            self._slots.open,
            exc.strerror or exc,
            _RETRY_DELAY,
        )
        if self._retry is None:
            self._retry = self._loop.call_later(_RETRY_DELAY, self._retry_accept)

    def _retry_accept(self) -> None:
        self._retry = None
        self._resume()

    def _hand_over(self, conn: socket.socket, key: str) -> None:
        assert self._loop is not None
        conn.setblocking(False)
        slot = self._slots.take(key)
        task = self._loop.create_task(self._connect(conn, slot))
        self._handovers.add(task)
        task.add_done_callback(self._handovers.discard)

    async def _connect(self, conn: socket.socket, slot: Slot) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(lambda: self._connection(slot), conn)
        except Exception as exc:
            conn.close()
            slot.release()
            self._throttle.log(
                "handover", logging.ERROR, "could not set up a client connection: %s", exc
            )

    def _room_made(self) -> None:
        if self._waiting_for_slot:
            self._resume()


class ClientConnection(RequestHandler):
    """One client connection: aiohttp's handler with a deadline on each request head."""

    __slots__ = (
        "_answered",
        "_head_deadline",
        "_head_started",
        "_header_timeout",
        "_reclaimable",
        "_slot",
        "_throttle",
    )

    def __init__(
        self,
        manager: Server,
        *,
        loop: asyncio.AbstractEventLoop,
        settings: ServerConfig,
        slot: Slot,
        throttle: LogThrottle,
    ) -> None:
        super().__init__(
            manager,
            loop=loop,
            keepalive_timeout=settings.keepalive_timeout,
            access_log=None,  # type: ignore[arg-type]  # None turns it off, as AppRunner's does
        )
        self._header_timeout = settings.header_timeout
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_started = False  # a byte of the awaited head has arrived
        self._answered = False  # the last request is answered and no other is queued
        self._slot = slot
        self._reclaimable = False  # silent or idle: the listener may close it to make room
        self._throttle = throttle

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.keep_alive(True)  # stops aiohttp's idle timer: the first head has header_timeout
        self._start_head_clock()
        self._reclaimable = True
        self._slot.attach(self)

    def data_received(self, data: bytes) -> None:
        if data and self._reclaimable:
            self._reclaimable = False
            self._slot.busy()
        if data and self._head_deadline is None and (self._answered or self._waiting_for_request()):
            # The first byte of the next request on a kept-alive connection.
            self.keep_alive(True)
            self._start_head_clock()
        if data and self._head_deadline is not None:
            self._head_started = True
        super().data_received(data)
        if self._messages:
            self._answered = False
            self._stop_head_clock()

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        result = await super().finish_response(request, resp, start_time)
        # Bytes from now on start the next head, even before aiohttp waits for it.
        self._answered = not self._messages
        transport = self.transport
        if (
            self._answered
            and resp.keep_alive
            and not (self._close or self._force_close)
            and request.content.is_eof()
            and transport is not None
            and not transport.get_write_buffer_size()  # a slow reader's answer is not cut
        ):
            self._reclaimable = True
            self._slot.idle()
        return result

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)
        self._reclaimable = False
        self._slot.release()

    @property
    def waiting_idle(self) -> bool:
        """Silent or idle: no request in flight, no byte of the next one yet."""
        return self._reclaimable and self.transport is not None

    def reclaim(self) -> None:
        """Closed by the listener to make room: silent or idle, so nothing is cut short."""
        self._stop_head_clock()
        self.force_close()

    def force_close(self) -> None:
        transport = self.transport
        super().force_close()
        if transport is not None and transport.get_write_buffer_size():
            transport.abort()  # close() would wait for a client that may never read again

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status != 400 or not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        reason = _one_line(exc.message or type(exc).__name__)
        self._throttle.log(
            "bad-request", logging.INFO, "bad request from %s: %s", request.remote, reason
        )
        response = web.Response(status=400, text=f"400 Bad Request: {reason}\n")
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        message, *rest = args
        self._throttle.log(
            message, logging.ERROR, message, *rest, exc_info=kw.get("exc_info", True)
        )

    def _waiting_for_request(self) -> bool:
        return self._waiter is not None and not self._waiter.done()

    def _start_head_clock(self) -> None:
        self._stop_head_clock()
        self._head_deadline = self._loop.call_later(self._header_timeout, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self._head_started = False

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport is None or not self._waiting_for_request():
            return
        if self._head_started:
            self._throttle.log(
                "head-timeout",
                logging.INFO,
                "closed a connection from %s: request head not complete within %gs "
                "(server.header_timeout)",
                _peer(self.transport),
                self._header_timeout,
            )
            self.transport.write(_REQUEST_TIMEOUT)
        self.force_close()


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` with its whitespace runs made single spaces, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def throttle_loop_errors(loop: asyncio.AbstractEventLoop, throttle: LogThrottle) -> None:
    """Route what the event loop reports (a transport's fatal error, a task's lost
    exception) through ``throttle``, one kind per message."""

    def report(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "event loop error"))
        details = ", ".join(
            f"{key}: {value!r}" for key, value in context.items() if key not in _NOT_DETAILS
        )
        exc = context.get("exception")
        throttle.log(
            ("loop", message),
            logging.ERROR,
            "%s (%s)" if details else "%s",
            message,
            *([details] if details else []),
            exc_info=exc if isinstance(exc, BaseException) else None,
        )

    loop.set_exception_handler(report)
