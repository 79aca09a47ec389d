"""A bucket listing held in memory compactly: key → one packed integer.

A bucket can hold a million uploads, and the proxy keeps its whole listing in
memory (twice, briefly, while a refresh replaces it). Keeping boto3's dict per
object (a dozen fields, a datetime) would cost well over a kilobyte a key, a
tuple of three Python objects still about 170 bytes on top of the key. So
each object's facts are packed into one Python ``int``:

====================  =====  ==============================================
field                 bits   meaning
====================  =====  ==============================================
size                  48     bytes (up to 256 TiB; S3 stops at 5 TiB)
mtime                 36     LastModified, whole seconds since the epoch
parts                 16     0 = plain MD5 ETag, N = multipart ETag "md5-N"
etag                  128    the MD5 (or MD5 of part MD5s) as a number
has_etag              1      0 when the ETag is not an MD5 (see below)
====================  =====  ==============================================

An ETag that is not 32 hex digits (with an optional ``-N``), as some stores
and encryption modes produce, is kept verbatim in a small side dict instead.
Keys are stored without the bucket prefix, exactly as the rewriter asks for
them, so a lookup is one dict access and one :func:`unpack`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from ..media import FileInfo

__all__ = ["RESERVED", "Listing", "ListingBuilder", "pack", "page_entries", "parse_etag", "unpack"]

RESERVED = ".rewriteproxy/"
"""Keys below the prefix that are the proxy's own (the manifest), never uploads."""

_SIZE_BITS, _MTIME_BITS, _PARTS_BITS = 48, 36, 16
_MTIME_SHIFT = _SIZE_BITS
_PARTS_SHIFT = _MTIME_SHIFT + _MTIME_BITS
_ETAG_SHIFT = _PARTS_SHIFT + _PARTS_BITS
_HAS_ETAG = 1 << (_ETAG_SHIFT + 128)
_SIZE_MASK = (1 << _SIZE_BITS) - 1
_MTIME_MASK = (1 << _MTIME_BITS) - 1
_PARTS_MASK = (1 << _PARTS_BITS) - 1
_ETAG_MASK = (1 << 128) - 1


def parse_etag(etag: str) -> tuple[int, int] | None:
    """``(md5 as int, parts)`` of an S3 ETag (quotes allowed), or ``None`` if it is no MD5."""
    etag = etag.strip('"')
    digest, dash, parts = etag.partition("-")
    if len(digest) != 32:
        return None
    try:
        value = int(digest, 16)
        count = int(parts) if dash else 0
    except ValueError:
        return None
    if not 0 <= count <= _PARTS_MASK or (dash and count == 0):
        return None
    return value, count


def pack(size: int, mtime: int, etag: tuple[int, int] | None) -> int:
    """One object's facts as one int; ``size`` and ``mtime`` are clamped into their fields."""
    packed = min(max(size, 0), _SIZE_MASK) | (min(max(mtime, 0), _MTIME_MASK) << _MTIME_SHIFT)
    if etag is not None:
        value, parts = etag
        packed |= (parts << _PARTS_SHIFT) | (value << _ETAG_SHIFT) | _HAS_ETAG
    return packed


def _etag_text(packed: int) -> str | None:
    if not packed & _HAS_ETAG:
        return None
    text = f"{(packed >> _ETAG_SHIFT) & _ETAG_MASK:032x}"
    parts = (packed >> _PARTS_SHIFT) & _PARTS_MASK
    return f"{text}-{parts}" if parts else text


def unpack(packed: int, odd_etag: str | None = None) -> FileInfo:
    return FileInfo(
        size=packed & _SIZE_MASK,
        mtime=float((packed >> _MTIME_SHIFT) & _MTIME_MASK),
        etag=odd_etag if odd_etag is not None else _etag_text(packed),
    )


class Listing:
    """An immutable snapshot of one prefix of a bucket. ``get`` is the hot path."""

    __slots__ = ("_entries", "_odd_etags", "pages")

    def __init__(self, entries: dict[str, int], odd_etags: dict[str, str], pages: int = 0) -> None:
        self._entries = entries
        self._odd_etags = odd_etags
        self.pages = pages  # list_objects_v2 calls it took

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def get(self, key: str) -> FileInfo | None:
        packed = self._entries.get(key)
        if packed is None:
            return None
        return unpack(packed, self._odd_etags.get(key) if self._odd_etags else None)


class ListingBuilder:
    """Collects ``list_objects_v2`` pages (boto3's dicts) into a :class:`Listing`.

    ``prefix`` is stripped from every key; objects outside it and "directory
    marker" keys ending in ``/`` are skipped.
    """

    __slots__ = ("_entries", "_odd_etags", "_prefix", "pages")

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self._entries: dict[str, int] = {}
        self._odd_etags: dict[str, str] = {}
        self.pages = 0

    def add_page(self, page: Mapping[str, Any]) -> None:
        self.pages += 1
        cut = len(self._prefix)
        entries, odd = self._entries, self._odd_etags
        for item in page.get("Contents", ()):
            name: str = item["Key"]
            if not name.startswith(self._prefix) or name.endswith("/"):
                continue
            key = name[cut:]
            if key.startswith(RESERVED):
                continue
            modified = item.get("LastModified")
            mtime = int(modified.timestamp()) if isinstance(modified, datetime) else 0
            etag_text = item.get("ETag", "")
            etag = parse_etag(etag_text)
            if etag is None and etag_text:
                odd[key] = etag_text.strip('"')
            entries[key] = pack(int(item.get("Size", 0)), mtime, etag)

    def build(self) -> Listing:
        return Listing(self._entries, self._odd_etags, self.pages)


def page_entries(page: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, FileInfo]]:
    """One ``list_objects_v2`` page as ``(key, facts)``, skipped as :class:`ListingBuilder` does."""
    cut = len(prefix)
    for item in page.get("Contents", ()):
        name: str = item["Key"]
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        key = name[cut:]
        if key.startswith(RESERVED):
            continue
        modified = item.get("LastModified")
        mtime = float(int(modified.timestamp())) if isinstance(modified, datetime) else 0.0
        text = item.get("ETag", "").strip('"')
        etag = (text.lower() if parse_etag(text) is not None else text) or None
        yield key, FileInfo(size=int(item.get("Size", 0)), mtime=mtime, etag=etag)
