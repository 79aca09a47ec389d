"""Several worker processes on one port, for several cores.

The parent forks ``N`` workers before any event loop exists; each binds the
same address with ``SO_REUSEPORT`` so the kernel spreads connections across
them, and runs its own event loop, upstream connection pool and inventory (the
bucket is the shared truth: workers need nothing from each other). The parent
only supervises: it passes SIGHUP on (every worker reloads the config file
itself), restarts a worker that dies, and stops them all on SIGTERM or SIGINT.

Helpers are processes of another kind supervised the same way (the admin
listener, which must be served once, not once per worker); ``on_exit`` is
told the pid of every worker that exits, so its metrics can be let go.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

__all__ = ["run_workers"]

log = logging.getLogger("rewriteproxy.workers")


def run_workers(
    count: int,
    work: Callable[[], None],
    helpers: Sequence[Callable[[], None]] = (),
    on_exit: Callable[[int], None] = lambda pid: None,
) -> int:
    """Run ``work`` in ``count`` forked processes, and each of ``helpers`` in one, until
    told to stop; returns the exit status."""
    children: dict[int, int] = {}  # pid → slot (from count on: the helpers)
    stopping = False

    def spawn(slot: int) -> None:
        task = work if slot < count else helpers[slot - count]
        pid = os.fork()
        if pid == 0:  # the worker
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            code = 0
            try:
                task()
            except KeyboardInterrupt:
                pass
            except BaseException:
                log.exception("worker %d failed", slot)
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = slot

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    for slot in range(count + len(helpers)):
        spawn(slot)
    log.info("%d workers started", count)

    last_restart = 0.0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait itself
            continue
        slot = children.pop(pid, -1)
        if 0 <= slot < count:
            on_exit(pid)
        if slot < 0 or stopping:
            continue
        kind = "worker" if slot < count else "helper"
        log.warning("%s %d exited (status %d), restarting", kind, slot, status)
        if time.monotonic() - last_restart < 1.0:
            time.sleep(1.0)  # a worker that dies at once must not spin the machine
        last_restart = time.monotonic()
        spawn(slot)
    return 0
