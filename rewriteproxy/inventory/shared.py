"""One snapshot per machine: where it lives, who writes it, and when readers re-map it.

Every worker of a machine (and every proxy process with the same
``inventory.snapshot_dir`` and source) opens the same :class:`SnapshotStore`.
One of them *leads*: it holds an exclusive ``flock`` on the store's lock file
and is the only one that lists the source and publishes snapshots; the
others only map what it published. The lock goes with the process, so when
the leader exits or dies another worker takes over at its next poll; no
process of ours has to coordinate anything else.

A reader notices a new snapshot by ``stat``: a publish renames a new file
over the old name, so the path's inode changes (the old file stays readable
for as long as it is mapped). The file's modification time says when the
source was last checked; a leader that finds the source unchanged (a
manifest answering 304) only touches it.

The directory holds state that decides what pages link to, so it must be
ours: it is created ``0700`` and refused when another user owns it or others
may write to it (a shared temporary directory is the default).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..media import FileInfo
from .snapshot import FileIdentity, Snapshot, SnapshotError, open_snapshot, write_snapshot

__all__ = ["SnapshotStore", "default_snapshot_dir", "fingerprint"]

log = logging.getLogger("rewriteproxy.inventory.shared")


def default_snapshot_dir() -> str:
    """systemd's ``$STATE_DIRECTORY`` if set, else a per-user directory in the temp dir."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return os.path.join(state, "inventory")
    return os.path.join(tempfile.gettempdir(), f"rewriteproxy-{os.geteuid()}", "inventory")


def fingerprint(identity: Mapping[str, str]) -> str:
    """What a snapshot is of (source, bucket, prefix...) as a short stable hash."""
    text = json.dumps(dict(identity), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = directory.stat()
    if st.st_uid != os.geteuid():
        raise SnapshotError(f"{directory} belongs to another user")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise SnapshotError(f"{directory} is writable by other users")


class SnapshotStore:
    """The snapshot file of one source on this machine; see the module docstring."""

    def __init__(self, directory: str | os.PathLike[str], identity: Mapping[str, str]) -> None:
        self.directory = Path(directory)
        self.identity = dict(identity)
        self.fingerprint = fingerprint(identity)
        name = f"{identity.get('source', 'inventory')}-{self.fingerprint[:16]}"
        self.path = self.directory / f"{name}.snap"
        self._lock_path = self.directory / f"{name}.lock"
        self._lock_fd: int | None = None

    def prepare(self) -> None:
        """Create the directory; :class:`SnapshotError` if it is not private to this user."""
        _private_directory(self.directory)

    # -- reading -----------------------------------------------------------------

    def identity_now(self) -> FileIdentity | None:
        try:
            return FileIdentity.of(os.stat(self.path))
        except OSError:
            return None

    def changed(self, current: Snapshot | None) -> bool:
        """True when the path names another file than ``current`` (or a first one)."""
        now = self.identity_now()
        if now is None:
            return False
        return current is None or current.identity != now

    def load(self) -> Snapshot | None:
        """The published snapshot, or ``None`` when there is none usable (logged)."""
        try:
            snapshot = open_snapshot(self.path)
        except FileNotFoundError:
            return None
        except (OSError, SnapshotError) as exc:
            log.warning("ignoring snapshot %s: %s", self.path, exc)
            return None
        if snapshot.fingerprint != self.fingerprint:
            log.warning("ignoring snapshot %s: it is of another source or prefix", self.path)
            return None
        return snapshot

    def age(self) -> float | None:
        """Seconds since the source was last checked (listed, or found unchanged)."""
        try:
            return max(0.0, time.time() - os.stat(self.path).st_mtime)
        except OSError:
            return None

    # -- writing (the leader only) ---------------------------------------------

    @property
    def leading(self) -> bool:
        return self._lock_fd is not None

    def lead(self) -> bool:
        """Become (or stay) the one writer of this machine; ``False`` if another process is."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def resign(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def publish(
        self,
        entries: Iterable[tuple[str, FileInfo]],
        *,
        ordered: bool = False,
        meta: Mapping[str, Any] | None = None,
    ) -> Snapshot:
        """Write a new snapshot from ``entries`` and put it in place (blocking)."""
        header = {"fingerprint": self.fingerprint, "identity": self.identity, **(meta or {})}
        write_snapshot(self.path, entries, header, ordered=ordered)
        return open_snapshot(self.path)

    def adopt(self, downloaded: str | os.PathLike[str]) -> Snapshot:
        """Put a snapshot file made elsewhere (a manifest) in place, after checking it whole."""
        snapshot = open_snapshot(downloaded)
        snapshot.verify()
        if snapshot.fingerprint != self.fingerprint:
            raise SnapshotError("the manifest is of another bucket or prefix")
        os.replace(downloaded, self.path)
        return snapshot

    def touch(self) -> None:
        """Record that the source was checked and found unchanged."""
        with contextlib.suppress(OSError):
            os.utime(self.path)
