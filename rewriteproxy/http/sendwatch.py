"""The send timeout: a client that takes no bytes of its answer for that long is cut off.

Progress is what leaves the connection's user-space write buffer for the kernel
(the buffer shrank, or emptied) or a write of ours that returned (its drain
finished). A client that reads slowly but steadily is never cut; one that reads
nothing while bytes wait for it is aborted between ``timeout`` and 1.25 times
``timeout`` after its last progress. Time spent waiting for the upstream, with
nothing waiting for the client, is not the client's and never counts.

One :class:`SendWatch` per worker checks every answer being sent, with one
timer for all of them (a quarter of the shortest timeout apart, and only while
there are any), so watching an answer costs a set insertion, not a timer.
Aborting the connection makes aiohttp cancel the request's handler.
"""

from __future__ import annotations

import asyncio

__all__ = ["Send", "SendWatch"]


class Send:
    """One answer's sending; :attr:`timed_out` says whether the watch cut it off."""

    __slots__ = ("_size", "_transport", "_writes", "since", "timed_out", "timeout")

    def __init__(self, transport: asyncio.BaseTransport | None, timeout: float) -> None:
        self._transport = transport
        self.timeout = timeout
        self._size = 0
        self._writes = 0
        self.since = 0.0
        self.timed_out = False

    def wrote(self) -> None:
        """A write returned: the client took enough for it to go on."""
        self._writes += 1

    def _stalled_for(self, now: float) -> float:
        transport = self._transport
        if transport is None or transport.is_closing():
            self.since = now
            return 0.0
        size = transport.get_write_buffer_size()  # type: ignore[attr-defined]
        if size == 0 or size < self._size or self._writes:
            self.since = now
        self._size, self._writes = size, 0
        return now - self.since

    def _abort(self) -> None:
        self.timed_out = True
        transport = self._transport
        if transport is not None:
            transport.abort()  # type: ignore[attr-defined]


class SendWatch:
    def __init__(self) -> None:
        self._active: set[Send] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, send: Send) -> None:
        """Watch ``send`` until :meth:`unwatch` (a try/finally, cheaper than a context manager)."""
        loop = asyncio.get_running_loop()
        send.since = loop.time()
        self._active.add(send)
        if self._timer is None:
            self._timer = loop.call_later(send.timeout / 4, self._check)

    def unwatch(self, send: Send) -> None:
        self._active.discard(send)

    def _check(self) -> None:
        self._timer = None
        if not self._active:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for send in list(self._active):
            if send._stalled_for(now) >= send.timeout:
                self._active.discard(send)
                send._abort()
        if self._active:
            interval = min(send.timeout for send in self._active) / 4
            self._timer = loop.call_later(interval, self._check)
