"""Bodies held between a client and the upstream: in memory up to a bound, then in a temporary file.

A :class:`Spool` is one body on its way through the proxy, written by one side
and read by the other, in order:

- a response body: the upstream is read into it as fast as the upstream sends,
  while the client is fed from it as fast as the client takes, so the upstream
  connection goes back to the pool when the upstream is done, whatever the
  client's speed;
- a request body: read from the client whole before an upstream connection is
  taken, then sent upstream with its length.

Limits: a body keeps at most ``memory_per_body`` bytes in memory, and all the
spools of one worker (one :class:`Buffers`) at most ``memory_total``; beyond
either, bytes go to a temporary file in ``directory`` (the system's temporary
directory when ``None``). Files of response bodies together take at most
``files_total`` bytes per worker; past that a response spool (``backpressure``)
makes its writer wait until the reader has emptied it, so a slow client is then
again read for at the client's pace, one chunk at a time. A request spool has no
reader while it is written, so it never waits: it has no file limit of its own
(its caller bounds the body) and raises :class:`OSError` when no file can be
written. A file that cannot be created or written turns a response spool into
that chunk-at-a-time mode too.

Files are unlinked on creation (:func:`tempfile.TemporaryFile`), so nothing is
left behind even if the process dies; :meth:`Spool.close` closes the file
(after any read or write still running in the I/O thread) and gives its memory
and disk share back. File reads and writes run in a small thread pool of the
:class:`Buffers`, never on the event loop.

One reader and one writer per spool, in one event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TypeVar

__all__ = ["Buffers", "Spool", "SpoolBroken", "SpoolClosed", "SpoolLimits"]

log = logging.getLogger("rewriteproxy.buffering")

T = TypeVar("T")

PIECE = 64 * 1024  # what a reader gets at most per call: one write's worth, as the pool reads


class SpoolClosed(Exception):
    """The spool was closed while one side still used it (the other side gave up)."""


class SpoolBroken(Exception):
    """The writer failed before the end: what it had written has all been read."""


@dataclass(frozen=True, slots=True)
class SpoolLimits:
    memory_per_body: int
    memory_total: int
    files_total: int
    directory: str | None = None


class Buffers:
    """What all the spools of one worker hold (memory and response files), and their I/O thread."""

    def __init__(self) -> None:
        self.memory = 0
        self.disk = 0
        self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rewriteproxy-spool")

    def spool(self, limits: SpoolLimits, *, backpressure: bool) -> Spool:
        return Spool(self, limits, backpressure)

    def run(self, fn: Callable[..., T], *args: object) -> Future[T]:
        return self._io.submit(fn, *args)


class Spool:
    """One body in order: memory pieces and ranges of one temporary file."""

    def __init__(self, buffers: Buffers, limits: SpoolLimits, backpressure: bool) -> None:
        self._buffers = buffers
        self._limits = limits
        self._backpressure = backpressure
        self._segments: collections.deque[bytes | tuple[int, int]] = collections.deque()
        self._in_memory = 0  # bytes of memory pieces held (counted in buffers.memory)
        self._file: IO[bytes] | None = None
        self._no_file = False  # creating or writing one failed: never try again
        self._extent = 0  # the file's size so far (counted in buffers.disk if backpressure)
        self._write_at = 0
        self._file_ranges = 0  # how many segments are file ranges
        self._writing = False
        self._running: set[Future[object]] = set()
        self._readable: asyncio.Future[None] | None = None
        self._emptied: asyncio.Future[None] | None = None
        self.size = 0  # bytes written in all
        self.done = False
        self.closed = False
        self._broken = False
        # Called once, when a writer first has to wait for the reader (memory and disk
        # bounds reached): the body then goes at the client's pace.
        self.on_first_wait: Callable[[], None] | None = None

    @property
    def in_memory(self) -> bool:
        """True while no byte of it has gone to a file."""
        return self._file is None

    @property
    def uses_file(self) -> bool:
        return self._file is not None

    # -- the writer's side -------------------------------------------------------

    async def put(self, chunk: bytes) -> None:
        """Append ``chunk``; waits only in the chunk-at-a-time mode described above."""
        if self.closed:
            raise SpoolClosed
        size = len(chunk)
        if not size:
            return
        self.size += size
        buffers, limits = self._buffers, self._limits
        if (
            self._in_memory + size <= limits.memory_per_body
            and buffers.memory + size <= limits.memory_total
        ):
            self._keep(chunk)
            return
        if await self._to_file(chunk):
            return
        if not self._backpressure:
            raise OSError("no temporary file could be written for the body")
        if self._segments and self.on_first_wait is not None:
            self.on_first_wait()  # the writer is about to go at the reader's pace
            self.on_first_wait = None
        while self._segments:  # wait for the reader; then one chunk in memory, over the bound
            self._emptied = asyncio.get_running_loop().create_future()
            try:
                await self._emptied
            finally:
                self._emptied = None
            if self.closed:
                raise SpoolClosed
        self._keep(chunk)

    def finish(self) -> None:
        """The body is complete."""
        self.done = True
        self._wake_reader()

    def fail(self) -> None:
        """The writer cannot go on: the reader gets what there is, then :class:`SpoolBroken`."""
        self._broken = True
        self.finish()

    def _keep(self, chunk: bytes) -> None:
        self._segments.append(chunk)
        self._in_memory += len(chunk)
        self._buffers.memory += len(chunk)
        self._wake_reader()

    async def _to_file(self, chunk: bytes) -> bool:
        size = len(chunk)
        if self._no_file:
            return False
        grows = max(0, self._write_at + size - self._extent)
        if self._backpressure and grows and self._buffers.disk + grows > self._limits.files_total:
            return False
        self._writing = True
        try:
            if self._file is None:
                file = await self._io(_temporary_file, self._limits.directory)
                if self.closed:  # closed while it was being made: it is nobody's to keep
                    self._buffers.run(file.close)
                    raise SpoolClosed
                self._file = file
            offset = self._write_at
            await self._io(_write_all, self._file.fileno(), chunk, offset)
        except OSError as exc:
            self._no_file = True
            log.warning("cannot buffer a body in a temporary file: %s", exc)
            return False
        finally:
            self._writing = False
        if self.closed:
            raise SpoolClosed
        self._write_at = offset + size
        if self._write_at > self._extent:
            if self._backpressure:
                self._buffers.disk += self._write_at - self._extent
            self._extent = self._write_at
        last = self._segments[-1] if self._segments else None
        if isinstance(last, tuple) and last[0] + last[1] == offset:
            self._segments[-1] = (last[0], last[1] + size)
        else:
            self._segments.append((offset, size))
            self._file_ranges += 1
        self._wake_reader()
        return True

    # -- the reader's side -------------------------------------------------------

    async def get(self, most: int = PIECE) -> bytes:
        """The next bytes, at most ``most`` of them unless one memory piece is larger;
        ``b""`` at the end. Raises :class:`SpoolBroken` where the writer failed."""
        while not self._segments:
            if self.closed:
                raise SpoolClosed
            if self.done:
                if self._broken:
                    raise SpoolBroken
                return b""
            self._readable = asyncio.get_running_loop().create_future()
            try:
                await self._readable
            finally:
                self._readable = None
        segments = self._segments
        first = segments[0]
        if isinstance(first, bytes):
            segments.popleft()
            taken = len(first)
            pieces = [first]
            while segments and isinstance(nxt := segments[0], bytes) and taken + len(nxt) <= most:
                pieces.append(nxt)
                taken += len(nxt)
                segments.popleft()
            self._in_memory -= taken
            self._buffers.memory -= taken
            self._wake_writer()
            return first if len(pieces) == 1 else b"".join(pieces)
        assert self._file is not None
        offset, length = first
        data = await self._io(os.pread, self._file.fileno(), min(length, most), offset)
        if self.closed:
            raise SpoolClosed
        if not data:
            raise SpoolBroken  # the file is shorter than written: nothing sane to send
        offset, length = segments[0]  # it may have grown while the read ran
        if len(data) < length:
            segments[0] = (offset + len(data), length - len(data))
        else:
            segments.popleft()
            self._file_ranges -= 1
            if not self._file_ranges and not self._writing:
                self._write_at = 0  # all read: the file's space is used again from its start
        self._wake_writer()
        return data

    async def pieces(self) -> AsyncIterator[bytes]:
        """What is left of a complete body, piece by piece (to send it upstream)."""
        while piece := await self.get():
            yield piece

    def whole(self) -> bytes:
        """A complete body kept in memory only, in one piece."""
        assert self.done and self._file is None
        pieces = [s for s in self._segments if isinstance(s, bytes)]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    # -- both ----------------------------------------------------------------------

    def close(self) -> None:
        """Give everything back; the file goes once no I/O on it is running. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._buffers.memory -= self._in_memory
        self._in_memory = 0
        if self._backpressure:
            self._buffers.disk -= self._extent
        self._extent = 0
        self._segments.clear()
        self._wake_reader()
        self._wake_writer()
        file, self._file = self._file, None
        if file is not None:
            self._close_after_io(file)

    def _close_after_io(self, file: IO[bytes]) -> None:
        running = [f for f in self._running if not f.done()]
        self._running.clear()
        if not running:
            self._buffers.run(file.close)
            return
        left = [len(running)]
        lock = threading.Lock()

        def one_done(_: Future[object]) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                file.close()

        for future in running:
            future.add_done_callback(one_done)

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        future = self._buffers.run(fn, *args)
        self._running.add(future)  # type: ignore[arg-type]
        try:
            return await asyncio.wrap_future(future)
        finally:
            if future.done():  # still running (we were cancelled): close() waits for it
                self._running.discard(future)

    def _wake_reader(self) -> None:
        waiter = self._readable
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter = self._emptied
        if waiter is not None and not waiter.done() and (not self._segments or self.closed):
            waiter.set_result(None)


def _temporary_file(directory: str | None) -> IO[bytes]:
    return tempfile.TemporaryFile(prefix="rewriteproxy-", dir=directory)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
