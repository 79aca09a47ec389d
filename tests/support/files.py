"""What this process has open: for tests that check temporary files are closed."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["open_files_in"]


def open_files_in(directory: Path) -> list[str]:
    """This process's open files that live (or lived, unlinked) in ``directory``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory) + "/"):
            found.append(target)
    return found
