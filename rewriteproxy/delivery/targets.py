"""The probe targets of one delivery host: which URL to ask next, and whose fault a 5xx is.

Without ``probe_url`` the probe of a host asks about the delivery URLs the
mapper built lately (:class:`Targets` keeps the last few, each once), one
per probe, in turn: the newest first, then round from the oldest. Asking
always the same URL would let one object stand for the whole host.

A 5xx for one of these URLs says the host failed, or only that one object
did: a pull CDN answers 5xx for an object whenever its origin fails for that
path, and anyone who can put an upload URL into a page can make such an
object. So :meth:`Targets.failed` judges a 5xx:

- ``"host"`` (a host failure) when another URL also answered 5xx since the
  last good answer (two objects failing), or when it is the only URL known
  (nothing to compare it with; a local URL is right for that one object
  either way);
- ``"broken"`` when that URL had failed alone before (its 5xx was followed
  by a good answer for another URL, before any other URL failed) and fails
  again: that object is broken on the delivery side, not the host. It is
  dropped from the targets and its 5xx does not count;
- ``"unsure"`` otherwise: the circuit does not move until another probe says
  which it is.

Connection errors and timeouts are host failures whatever the URL; that is
decided by the caller, which reports only the 5xx here.

Threads: :meth:`Targets.add` is called from the rewriting thread too; it
only appends to a bounded deque, which is atomic. Everything else runs on
the event loop. Memory: at most ``size`` URLs, and the failure bookkeeping
only ever names URLs still among them.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Literal

__all__ = ["Targets", "Verdict"]

Verdict = Literal["host", "broken", "unsure"]


class Targets:
    """The recent delivery URLs of one host, asked about in turn (see the module docstring)."""

    __slots__ = ("_failing", "_last", "_recent", "_suspects")

    def __init__(self, size: int) -> None:
        self._recent: deque[str] = deque(maxlen=size)
        self._last: str | None = None  # the URL asked about last
        self._failing: dict[str, None] = {}  # URLs that answered 5xx since the last good answer
        self._suspects: set[str] = set()  # URLs that failed alone once

    def add(self, url: str) -> None:
        """Remember ``url`` (any thread); the oldest one goes when there are too many."""
        if url not in self._recent:
            self._recent.append(url)

    def urls(self) -> tuple[str, ...]:
        """The URLs remembered, oldest first, each once."""
        for _ in range(3):
            with contextlib.suppress(RuntimeError):  # appended to while copied
                return tuple(dict.fromkeys(self._recent))
        return ()

    def next(self) -> str | None:
        """The URL to ask about now: the one after the last one asked, else the newest."""
        urls = self.urls()
        if not urls:
            return None
        try:
            url = urls[(urls.index(self._last) + 1) % len(urls)] if self._last else urls[-1]
        except ValueError:  # the last one was dropped or pushed out
            url = urls[-1]
        self._last = url
        return url

    def forget(self, url: str) -> None:
        """No longer ask about ``url``."""
        with contextlib.suppress(ValueError, IndexError, RuntimeError):
            while url in self._recent:
                self._recent.remove(url)
        self._failing.pop(url, None)
        self._suspects.discard(url)

    def answered(self, url: str) -> None:
        """``url`` got a good answer (the host works)."""
        if len(self._failing) == 1 and url not in self._failing:
            self._suspects.update(self._failing)  # one object failed between good answers
        self._failing.clear()
        self._suspects.discard(url)

    def failed(self, url: str) -> Verdict:
        """``url`` got a 5xx: whose fault it is (see the module docstring)."""
        if url in self._suspects:
            self.forget(url)
            return "broken"
        urls = self.urls()
        self._failing[url] = None
        known = set(urls)
        self._failing = {u: None for u in self._failing if u in known or u == url}
        self._suspects &= known
        if len(self._failing) >= 2 or len(urls) <= 1:
            return "host"
        return "unsure"

    def take_over(self, other: Targets) -> None:
        """Continue where ``other`` (the same host's, before a reload) stopped."""
        for url in other.urls():
            self.add(url)
        self._last = other._last
        self._failing = dict(other._failing)
        self._suspects = set(other._suspects)
