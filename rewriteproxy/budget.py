"""How many bytes of pages one worker holds for rewriting at once.

Rewriting needs a page whole in memory; :class:`ByteBudget` bounds the sum
over every page being rewritten, so many clients fetching big pages queue for
their share instead of multiplying memory (see :mod:`rewriteproxy.proxy` for
what a page reserves and when it gives it back).
"""

from __future__ import annotations

import asyncio

__all__ = ["ByteBudget"]


class ByteBudget:
    """At most ``capacity`` bytes reserved at once; ``acquire`` waits (first come, first served).

    One per event loop (per worker). A request never waits for more than the
    whole budget, so a single huge page always gets through, alone.
    """

    def __init__(self, capacity: int = 64 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def would_wait(self, size: int) -> bool:
        return bool(self._waiters) or self.used + min(size, self.capacity) > self.capacity

    def try_acquire(self, size: int) -> int | None:
        """Reserve ``size`` bytes now if that needs no wait (what to ``release``), else ``None``.

        The usual case, without creating and awaiting a coroutine for it.
        """
        size = min(size, self.capacity)
        if not self._waiters and self.used + size <= self.capacity:
            self.used += size
            return size
        return None

    async def acquire(self, size: int) -> int:
        """Reserve ``size`` bytes (capped at the capacity); returns what to ``release``."""
        size = min(size, self.capacity)
        now = self.try_acquire(size)
        if now is not None:
            return now
        waiter = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(size)  # granted just as the request was cancelled
            elif entry in self._waiters:
                self._waiters.remove(entry)
                self._wake()  # the next in line may fit now
            raise
        return size

    def overdraw(self, size: int) -> int:
        """Reserve ``size`` more bytes without waiting (a body that outgrew its guess)."""
        self.used += size
        return size

    def release(self, size: int) -> None:
        self.used -= size
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.capacity:
            size, waiter = self._waiters.pop(0)
            if not waiter.done():  # a cancelled waiter gets nothing
                self.used += size
                waiter.set_result(None)
