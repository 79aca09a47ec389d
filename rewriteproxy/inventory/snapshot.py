"""The compact inventory snapshot: one file, written once, mapped read-only by every worker.

A bucket of ten million uploads listed into Python objects costs gigabytes
per process. The snapshot holds the same answers in a few tens of bytes a
key, in a file that every worker of a machine maps with ``mmap`` (the page
cache holds it once), and that survives a restart.

What is kept of each object is what a lookup must answer: that it exists,
its size (the combined inventory compares it with the disk), its
modification time in whole seconds (Cloudinary's ``v<time>``, and the
version when there is no ETag) and, instead of the ETag, its version token
(:func:`~rewriteproxy.delivery.versioning.etag_token`, four bytes): the
only use of an ETag on the page path is to change the URL when it changes.
So a snapshot answer is ``FileInfo(size, mtime, etag=None, etag_token=...)``
and gives the same delivery URL as the listing it was made from.

Layout (integers little-endian)::

    magic "RWPSNAP\\x01" | u32 header length | header JSON | padding to 8
    blocks: BLOCK entries each, keys ascending (UTF-8 byte order, S3's order)
      entry: varint shared | varint suffix length | suffix | u8 flags
             [u48 size] [u32 mtime] [4-byte token]     (flags 1, 2, 4)
    index: u64 file offset of each block
    trailer: u64 index offset | u64 blocks | u64 entries | u32 crc32 | magic

Keys are front coded: each entry keeps only what differs from the previous
key, and the first entry of a block is whole, so a lookup binary-searches
the blocks by their first key and decodes one block. The header names what
the snapshot is of (``fingerprint``: source, bucket, prefix) so a file left
by another configuration is never used. Files are written beside their final
name and renamed over it after ``fsync``: a reader maps the old file or the
new one, never a half-written one.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import json
import mmap
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..delivery.versioning import etag_token
from ..media import FileInfo

__all__ = [
    "BLOCK",
    "Snapshot",
    "SnapshotError",
    "SnapshotWriter",
    "open_snapshot",
    "write_snapshot",
]

MAGIC = b"RWPSNAP\x01"
END = b"RWPSEND\x01"
FORMAT = 2
BLOCK = 16  # entries per block: a lookup decodes at most this many
SPARSE = 8  # every SPARSE-th block's first key is kept in memory for the first bisect
RUN = 500_000  # entries sorted in memory at once when the source's order is not S3's

_U32 = struct.Struct("<I")
_TRAILER = struct.Struct("<QQQI8s")
_HAS_SIZE, _HAS_MTIME, _HAS_TOKEN = 1, 2, 4
_SIZE_BYTES = 6  # up to 256 TiB; S3 stops at 5 TiB
_SIZE_MAX = (1 << (8 * _SIZE_BYTES)) - 1
# Record width by flags: fixed, so a lookup steps over a record with one addition.
_WIDTH = tuple(
    (_SIZE_BYTES if f & _HAS_SIZE else 0)
    + (4 if f & _HAS_MTIME else 0)
    + (4 if f & _HAS_TOKEN else 0)
    for f in range(8)
)
_MTIME_MAX = (1 << 32) - 1


class SnapshotError(Exception):
    """The file is not a usable snapshot (truncated, corrupt, another source's, other format)."""


Record = tuple[int | None, int | None, bytes | None]
"""(size, mtime in whole seconds, 4-byte version token) as stored; ``None`` = unknown."""


def record_of(info: FileInfo) -> Record:
    mtime = None if info.mtime is None else min(max(int(info.mtime), 0), _MTIME_MAX)
    size = None if info.size is None else min(max(info.size, 0), _SIZE_MAX)
    token = info.etag_token if not info.etag else etag_token(info.etag)
    return size, mtime, bytes.fromhex(token) if token else None


def info_of(record: Record) -> FileInfo:
    size, mtime, token = record
    return FileInfo(
        size=size,
        mtime=None if mtime is None else float(mtime),
        etag_token=None if token is None else token.hex(),
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes | mmap.mmap, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def encode_key(key: str) -> bytes | None:
    """The key's UTF-8 bytes, or ``None`` for a key no bucket can hold (a lone surrogate)."""
    try:
        return key.encode()
    except UnicodeEncodeError:
        return None


class SnapshotWriter:
    """Writes entries, given in ascending key order, to an open binary file."""

    def __init__(self, out: IO[bytes], header: dict[str, Any]) -> None:
        self._out = out
        self._crc = 0
        self._pos = 0
        self._offsets: list[int] = []
        self._block = bytearray()
        self._in_block = 0
        self._previous = b""
        self.entries = 0
        head = json.dumps(
            {**header, "format": FORMAT, "block": BLOCK, "created": time.time()},
            sort_keys=True,
        ).encode()
        self._write(MAGIC + _U32.pack(len(head)) + head)
        self._write(b"\0" * (-self._pos % 8))

    def _write(self, data: bytes | bytearray) -> None:
        self._out.write(data)
        self._crc = zlib.crc32(data, self._crc)
        self._pos += len(data)

    def add(self, key: bytes, record: Record) -> None:
        if key <= self._previous and self.entries:
            raise ValueError(f"keys must ascend: {key!r} after {self._previous!r}")
        if self._in_block == BLOCK:
            self._flush_block()
        shared = 0
        if self._in_block:
            limit = min(len(key), len(self._previous))
            while shared < limit and key[shared] == self._previous[shared]:
                shared += 1
        else:
            self._offsets.append(self._pos)
        size, mtime, token = record
        flags = (
            (_HAS_SIZE if size is not None else 0)
            | (_HAS_MTIME if mtime is not None else 0)
            | (_HAS_TOKEN if token is not None else 0)
        )
        block = self._block
        block += _varint(shared)
        block += _varint(len(key) - shared)
        block += key[shared:]
        block.append(flags)
        if size is not None:
            block += size.to_bytes(_SIZE_BYTES, "little")
        if mtime is not None:
            block += _U32.pack(mtime)
        if token is not None:
            block += token
        self._previous = key
        self._in_block += 1
        self.entries += 1

    def _flush_block(self) -> None:
        self._write(self._block)
        self._block = bytearray()
        self._in_block = 0

    def finish(self) -> None:
        self._flush_block()
        index_at = self._pos
        self._write(struct.pack(f"<{len(self._offsets)}Q", *self._offsets))
        trailer = _TRAILER.pack(index_at, len(self._offsets), self.entries, self._crc, END)
        self._out.write(trailer)


def _sorted_runs(entries: Iterable[tuple[str, FileInfo]], workdir: Path) -> Iterator[Any]:
    """``(key bytes, record)`` in ascending order, sorting at most :data:`RUN` in memory."""
    runs: list[Snapshot] = []
    chunk: list[tuple[bytes, Record]] = []

    def spill() -> None:
        chunk.sort(key=lambda item: item[0])
        fd, name = tempfile.mkstemp(dir=workdir, prefix=".run-")
        with os.fdopen(fd, "wb") as out:
            writer = SnapshotWriter(out, {"run": True})
            previous = None
            for key, record in chunk:
                if key != previous:  # a key listed twice: keep one
                    writer.add(key, record)
                previous = key
            writer.finish()
        runs.append(open_snapshot(name))
        os.unlink(name)  # the mapping keeps it readable; nothing is left behind
        chunk.clear()

    for key, info in entries:
        raw = encode_key(key)
        if raw is not None:
            chunk.append((raw, record_of(info)))
            if len(chunk) >= RUN:
                spill()
    if not runs:
        chunk.sort(key=lambda item: item[0])
        yield from chunk
        return
    if chunk:
        spill()
    yield from heapq.merge(*(run.records() for run in runs), key=lambda item: item[0])


def write_snapshot(
    path: str | os.PathLike[str],
    entries: Iterable[tuple[str, FileInfo]],
    header: dict[str, Any],
    *,
    ordered: bool = False,
) -> int:
    """Write ``entries`` to ``path`` atomically; returns the number of entries written.

    ``ordered`` says the entries already come in S3's key order (a listing
    does), so they are streamed; otherwise they are sorted in runs of
    :data:`RUN`. A key given twice is written once.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            writer = SnapshotWriter(out, header)
            stream: Iterable[tuple[bytes, Record]]
            if ordered:
                stream = (
                    (raw, record_of(info))
                    for key, info in entries
                    if (raw := encode_key(key)) is not None
                )
            else:
                stream = _sorted_runs(entries, target.parent)
            previous = None
            for raw, record in stream:
                if raw != previous:
                    writer.add(raw, record)
                previous = raw
            writer.finish()
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    _fsync_directory(target.parent)
    return writer.entries


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a path named when it was mapped: a rename over it changes this.

    Not the modification time: a leader touches the file to say "checked, unchanged".
    """

    device: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_dev, st.st_ino)


class Snapshot:
    """A mapped snapshot file; :meth:`get` is the hot path. Immutable once opened."""

    def __init__(self, data: mmap.mmap | bytes, identity: FileIdentity | None = None) -> None:
        self._data = data
        self.identity = identity
        self.nbytes = len(data)
        if len(data) < 12 + _TRAILER.size or data[:8] != MAGIC:
            raise SnapshotError("not a rewriteproxy snapshot")
        (length,) = _U32.unpack_from(data, 8)
        try:
            self.header: dict[str, Any] = json.loads(bytes(data[12 : 12 + length]))
        except ValueError as exc:
            raise SnapshotError("unreadable snapshot header") from exc
        if self.header.get("format") != FORMAT or self.header.get("block") != BLOCK:
            raise SnapshotError(f"snapshot format {self.header.get('format')!r} is not {FORMAT}")
        index_at, blocks, entries, self.crc, end = _TRAILER.unpack_from(
            data, len(data) - _TRAILER.size
        )
        if end != END or index_at + 8 * blocks != len(data) - _TRAILER.size:
            raise SnapshotError("truncated snapshot")
        if blocks != -(-entries // BLOCK):
            raise SnapshotError("inconsistent snapshot trailer")
        self._entries: int = entries
        self._blocks: int = blocks
        self._index_at: int = index_at
        # The block index stays in the mapping (a view, not a copy in every worker) where
        # the machine's byte order is the file's.
        self._offsets: Sequence[int] = (
            memoryview(data)[index_at : index_at + 8 * blocks].cast("Q")
            if sys.byteorder == "little"
            else struct.unpack_from(f"<{blocks}Q", data, index_at)
        )
        # Sparse first keys, in memory: the first bisect is in C over a short list.
        self._sparse = [self._first_key(b) for b in range(0, blocks, SPARSE)]

    @property
    def fingerprint(self) -> str | None:
        return self.header.get("fingerprint")

    @property
    def created(self) -> float:
        return float(self.header.get("created", 0.0))

    def verify(self) -> None:
        """Check the body's CRC (reads the whole file: for files from elsewhere)."""
        body = len(self._data) - _TRAILER.size
        crc = 0
        for start in range(0, body, 1 << 22):
            crc = zlib.crc32(self._data[start : min(body, start + (1 << 22))], crc)
        if crc != self.crc:
            raise SnapshotError("snapshot checksum does not match")

    def __len__(self) -> int:
        return self._entries

    def _block_end(self, block: int) -> int:
        return self._offsets[block + 1] if block + 1 < self._blocks else self._index_at

    def _first_key(self, block: int) -> bytes:
        data = self._data
        pos = self._offsets[block] + 1  # a block's first entry shares nothing: one 0 byte
        length = data[pos]
        pos += 1
        if length >= 0x80:
            length, pos = _read_varint(data, pos - 1)
        return data[pos : pos + length]

    def _find_block(self, key: bytes) -> int:
        """The last block whose first key is ``<= key``, or -1."""
        group = bisect.bisect_right(self._sparse, key) - 1
        if group < 0:
            return -1
        lo = group * SPARSE  # its first key is <= key
        hi = min(lo + SPARSE, self._blocks)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._first_key(mid) <= key:
                lo = mid
            else:
                hi = mid
        return lo

    def get(self, key: str) -> FileInfo | None:
        raw = encode_key(key)
        if raw is None or not self._blocks:
            return None
        block = self._find_block(raw)
        if block < 0:
            return None
        # Front-coded search without rebuilding keys: ``matched`` is how much of
        # ``raw`` the previous key shares; an entry sharing less with its predecessor
        # has passed ``raw``, one sharing more is still below it.
        data = self._data[self._offsets[block] : self._block_end(block)]
        pos, end, matched = 0, len(data), 0
        while pos < end:
            shared = data[pos]
            pos += 1
            if shared >= 0x80:
                shared, pos = _read_varint(data, pos - 1)
            length = data[pos]
            pos += 1
            if length >= 0x80:
                length, pos = _read_varint(data, pos - 1)
            if shared < matched:
                return None
            if shared == matched:
                suffix = data[pos : pos + length]
                wanted = raw[matched:]
                if suffix == wanted:
                    flags = data[pos + length]
                    return info_of(_read_record(data, pos + length + 1, flags)[0])
                if suffix > wanted:
                    return None
                # The common prefix of two byte strings without a Python loop: the
                # first differing bit of their XOR, counted from the top.
                limit = min(length, len(wanted))
                differ = int.from_bytes(suffix[:limit], "big") ^ int.from_bytes(
                    wanted[:limit], "big"
                )
                matched += limit - (differ.bit_length() + 7) // 8
            pos += length
            pos += 1 + _WIDTH[data[pos]]
        return None

    def records(self) -> Iterator[tuple[bytes, Record]]:
        """Every ``(key bytes, record)`` in key order."""
        for block in range(self._blocks):
            data = self._data[self._offsets[block] : self._block_end(block)]
            pos, end, previous = 0, len(data), b""
            while pos < end:
                shared, pos = _read_varint(data, pos)
                length, pos = _read_varint(data, pos)
                current = previous[:shared] + data[pos : pos + length]
                pos += length
                flags = data[pos]
                record, pos = _read_record(data, pos + 1, flags)
                yield current, record
                previous = current

    def items(self) -> Iterator[tuple[str, FileInfo]]:
        """Every ``(key, answer)`` in key order."""
        for raw, record in self.records():
            yield raw.decode(), info_of(record)

    def __iter__(self) -> Iterator[str]:
        for raw, _record in self.records():
            yield raw.decode()


def _read_record(data: bytes, pos: int, flags: int) -> tuple[Record, int]:
    size = mtime = None
    token = None
    if flags & _HAS_SIZE:
        size = int.from_bytes(data[pos : pos + _SIZE_BYTES], "little")
        pos += _SIZE_BYTES
    if flags & _HAS_MTIME:
        (mtime,) = _U32.unpack_from(data, pos)
        pos += 4
    if flags & _HAS_TOKEN:
        token = bytes(data[pos : pos + 4])
        pos += 4
    return (size, mtime, token), pos


def open_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Map ``path`` read-only; :class:`SnapshotError` if it is not a whole snapshot."""
    with open(path, "rb") as file:
        st = os.fstat(file.fileno())
        if st.st_size == 0:
            raise SnapshotError("empty snapshot file")
        data = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    if sys.platform.startswith("linux"):
        data.madvise(mmap.MADV_RANDOM)  # lookups touch a block here and there
    return Snapshot(data, FileIdentity.of(st))
