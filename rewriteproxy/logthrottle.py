"""Logging that a flood of one error cannot turn into a flood of lines.

``LogThrottle.log(kind, level, message, *args)`` writes the first record of a
kind at once, then at most one per ``interval`` (a second by default); the
records held back in between are counted, and the next line written for that
kind says how many: ``... (and 1234 more like it in the last second)``. If the
flood stops, a line with the count is still written at the end of the window
when an event loop is running (outside one, the count waits for the next
record of that kind).

A kind is any hashable the caller chooses, normally a fixed string or the
format string of the message: the table of kinds is bounded by the code, never
by what clients send. One throttle per process; not thread-safe (it is used
from the event loop only).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["LogThrottle"]

_ExcInfo = BaseException | bool | None


@dataclass(slots=True)
class _Window:
    """One kind's current window: when it opened and what it held back."""

    opened: float
    held: int = 0
    last: tuple[int, str, tuple[Any, ...]] | None = None  # the latest record held back
    flush: asyncio.TimerHandle | None = None


class LogThrottle:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._windows: dict[Hashable, _Window] = {}

    def log(
        self,
        kind: Hashable,
        level: int,
        message: str,
        *args: Any,
        exc_info: _ExcInfo = None,
    ) -> bool:
        """Write this record now, or count it for the kind's next line; True if written."""
        if not self._logger.isEnabledFor(level):
            return False
        now = self._clock()
        window = self._windows.get(kind)
        if window is None or now - window.opened >= self._interval:
            held = 0
            if window is not None:
                held = window.held
                if window.flush is not None:
                    window.flush.cancel()
            self._windows[kind] = _Window(now)
            self._write(level, message, args, held, exc_info)
            return True
        window.held += 1
        window.last = (level, message, args)
        if window.flush is None:
            window.flush = _call_later(window.opened + self._interval - now, self._flush, kind)
        return False

    def held_back(self, kind: Hashable) -> int:
        """Records of ``kind`` counted but not yet written."""
        window = self._windows.get(kind)
        return window.held if window is not None else 0

    def _flush(self, kind: Hashable) -> None:
        window = self._windows.get(kind)
        if window is None or window.last is None:
            return
        level, message, args = window.last
        self._windows[kind] = _Window(self._clock())
        self._write(level, message, args, window.held - 1, None)

    def _write(
        self, level: int, message: str, args: tuple[Any, ...], more: int, exc_info: _ExcInfo
    ) -> None:
        if more > 0:
            message = f"{message} (and {more} more like it in the last {self._span()})"
        self._logger.log(level, message, *args, exc_info=exc_info)

    def _span(self) -> str:
        return "second" if self._interval == 1.0 else f"{self._interval:g} seconds"


def _call_later(
    delay: float, callback: Callable[[Hashable], None], kind: Hashable
) -> asyncio.TimerHandle | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(max(delay, 0.0), callback, kind)
