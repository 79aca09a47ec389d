"""Which character encoding a document is in, and whether the byte scanner can read it.

Order (a simplified WHATWG encoding sniff): a byte order mark wins, then the
charset the HTTP ``Content-Type`` header declared, then ``<meta charset>`` or
``<meta http-equiv="Content-Type" content="...; charset=...">`` in the first
1024 bytes, then UTF-8. Labels are resolved through Python's codec registry;
an unknown label counts as not given.

The scanner reads markup as bytes, which is only sound for encodings in which
``< > " ' = & /`` and whitespace are always those ASCII bytes: UTF-8, the
ISO-8859 and windows code pages, Shift_JIS, EUC, GBK, Big5. UTF-16/32, UTF-7
and the ISO-2022 family are not: for them :func:`ascii_compatible` is false
and the rewriter returns the document unchanged.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

__all__ = ["ascii_compatible", "detect_encoding", "normalise"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META = re.compile(
    rb"<meta[\t\n\f\r /][^>]*?charset[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?([A-Za-z0-9._:-]+)",
    re.IGNORECASE,
)
_UNSAFE_PREFIXES = (
    "utf-16",
    "utf-32",
    "utf_16",
    "utf_32",
    "utf-7",
    "utf_7",
    "iso2022",
    "iso-2022",
    "hz",
)


def normalise(label: str | None) -> str | None:
    """Python's canonical codec name for a charset label, or ``None`` if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
        label = "cp1252"  # the HTML standard reads these labels as windows-1252
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def detect_encoding(doc: bytes, declared: str | None = None) -> str:
    """The document's encoding: BOM, then ``declared`` (the HTTP header), then meta, then UTF-8."""
    for bom, name in _BOMS:
        if doc.startswith(bom):
            return name
    from_header = normalise(declared)
    if from_header is not None:
        return from_header
    meta = _META.search(doc, 0, 1024)
    if meta is not None:
        from_meta = normalise(meta.group(1).decode("ascii", "replace"))
        # A meta tag that claims UTF-16 is read as UTF-8: it was readable as ASCII.
        if from_meta is not None:
            return "utf-8" if not ascii_compatible(from_meta) else from_meta
    return "utf-8"


# The ASCII characters markup and URLs are written in: tab, newlines, space, printables.
_ASCII_TEXT = "\t\n\x0b\x0c\r" + "".join(map(chr, range(0x20, 0x7F)))
_ASCII_BYTES = _ASCII_TEXT.encode("ascii")


@lru_cache(maxsize=64)
def ascii_compatible(encoding: str) -> bool:
    """Whether markup in ``encoding`` can be scanned as bytes.

    Besides the stateful and multi-byte-unit families, this refuses codecs in which an
    ASCII character is not its own byte (EBCDIC code pages, cp864's ``%``, the ``\\`` and
    ``~`` of Shift_JIS-2004) and codecs that are not text encodings at all (``base64``):
    URLs are read from bytes and plain replacements written as bytes, which is only
    sound where every ASCII character is its own byte both ways.
    """
    name = normalise(encoding) or encoding.lower()
    if name.startswith(_UNSAFE_PREFIXES):
        return False
    try:
        return _ASCII_BYTES.decode(name) == _ASCII_TEXT and _ASCII_TEXT.encode(name) == _ASCII_BYTES
    except (LookupError, UnicodeError):  # unknown, or not a text encoding
        return False
