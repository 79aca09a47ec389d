"""The proxy's processes keep freed heap memory for the next request (glibc)."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# In a child process, so the tuning stays out of the test run's own allocator:
# allocate and free 3 MiB in 1 MiB blocks, then ask glibc how much free memory
# sits at the top of the heap, ready to be reused (mallinfo2's "keepcost").
PROBE = """
import ctypes, sys
from rewriteproxy.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
blocks = [bytearray(1 << 20) for _ in range(3)]
del blocks
print(tuned, libc.mallinfo2().keepcost)
"""


def _probe(mode: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc 2.33 or later only",
)
def test_freed_page_sized_blocks_stay_in_the_heap_instead_of_going_back_to_the_kernel() -> None:
    assert _probe("default")[1] < 1 << 20  # glibc's defaults: mapped, then unmapped
    tuned, kept = _probe("tuned")
    assert tuned == "True" and kept >= 3 << 20
