"""Keep freed heap memory for the next request instead of handing it back to the kernel.

Every request the proxy serves allocates a few buffers the size of the page
(the upstream body, the answer on its way out) and frees them when it is done.
With glibc's defaults, freeing a block at the top of the heap that leaves more
than 128 KiB free there gives that memory back to the kernel (``brk``), and
the next request faults the same pages in again, each one zeroed by the
kernel. Measured on the 50 KB page served from the rewrite cache: one ``brk``
every three requests and about ten page faults per request, where
pass-through had about one. :func:`keep_freed_memory` raises the trim threshold so the
heap keeps what it has for the next request.

Setting it turns off glibc's sliding mmap threshold (which otherwise moves up
to the largest block freed so far), so the mmap threshold is set too, to
where that sliding would take it for the page sizes this proxy holds: blocks
up to 4 MiB come from the heap and are reused, larger ones are mapped and
unmapped as before. Peak memory is unchanged (memory kept is memory already
used once); what stays resident after a burst is at most the trim threshold
above what is in use.

Limits: glibc only (``mallopt``); elsewhere nothing is changed. The settings
are per process, so each worker makes the call itself.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

# mallopt parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

TRIM_THRESHOLD = 32 * 1024 * 1024
MMAP_THRESHOLD = 4 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Tune this process's C allocator as described above; True if it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False  # no mallopt here (not glibc)
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; musl's stub returns 0 and changes nothing.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
