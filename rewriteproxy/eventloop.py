"""Which event loop ``serve`` runs on.

uvloop (libuv) is a dependency wherever it supports the platform (not on Windows,
not on PyPy), and ``serve`` uses it by default: per request it costs less than
asyncio's own loop. asyncio's loop is the fallback where uvloop is not installed,
and can be asked for with ``REWRITEPROXY_LOOP=asyncio`` (to rule the loop out
when chasing a problem, say). ``REWRITEPROXY_LOOP=uvloop`` makes a missing uvloop
an error instead of a fallback.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["LOOP_VARIABLE", "EventLoopChoice", "LoopUnavailable", "choose_loop"]

LOOP_VARIABLE = "REWRITEPROXY_LOOP"
_CHOICES = ("auto", "uvloop", "asyncio")


@dataclass(frozen=True)
class EventLoopChoice:
    """The loop chosen: its name for the log, and the factory ``asyncio.Runner`` takes."""

    name: str
    factory: Callable[[], asyncio.AbstractEventLoop] | None  # None: asyncio's default


class LoopUnavailable(ValueError):
    """The environment asks for a loop that cannot be had."""


def choose_loop(environ: Mapping[str, str] | None = None) -> EventLoopChoice:
    """The loop ``REWRITEPROXY_LOOP`` asks for (``auto`` when unset: uvloop if installed)."""
    env = os.environ if environ is None else environ
    wanted = env.get(LOOP_VARIABLE, "").strip().lower() or "auto"
    if wanted not in _CHOICES:
        raise LoopUnavailable(
            f"{LOOP_VARIABLE}={env[LOOP_VARIABLE]!r}: expected one of {', '.join(_CHOICES)}"
        )
    if wanted == "asyncio":
        return EventLoopChoice("asyncio", None)
    try:
        import uvloop
    except ImportError as error:
        if wanted == "uvloop":
            raise LoopUnavailable(
                f"{LOOP_VARIABLE}=uvloop but uvloop is not installed ({error})"
            ) from error
        return EventLoopChoice("asyncio", None)
    version = getattr(uvloop, "__version__", "")
    return EventLoopChoice(f"uvloop {version}".rstrip(), uvloop.new_event_loop)
