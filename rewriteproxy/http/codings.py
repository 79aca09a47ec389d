"""Content codings: decode what WordPress (or the web server in front of it) sent, encode it back.

The proxy asks upstream only for codings it can decode, rewrites the decoded
document, and re-encodes the result with the same coding the upstream chose (the
client accepted it, since its own ``Accept-Encoding`` was forwarded, narrowed to
these). An unknown coding is never decoded: such a response passes through.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

import brotli
import zstandard

__all__ = ["SUPPORTED", "CodingError", "decode", "encode", "narrow_accept_encoding"]


class CodingError(ValueError):
    """A body that does not decode with the coding its headers claim."""


class _TooLarge(Exception):
    pass


def _zlib_decode(data: bytes, wbits: int, limit: int, members: bool = False) -> bytes:
    """Decoded ``data``, at most ``limit`` bytes of it; a stream that would give more is an
    error, found without inflating the rest (a small body can unpack to gigabytes).

    ``members``: ``data`` may be several streams one after another (gzip members); what
    follows a stream must then be another whole one, or the body is corrupt.
    """
    out = b""
    rest = data
    while True:
        d = zlib.decompressobj(wbits)
        out += d.decompress(rest, limit + 1 - len(out))  # >= 1: len(out) <= limit here
        if len(out) > limit or d.unconsumed_tail:
            raise _TooLarge(limit)
        out += d.flush()
        if len(out) > limit:
            raise _TooLarge(limit)
        if not d.eof:
            raise zlib.error("truncated stream")
        rest = d.unused_data
        if not members or not rest:
            return out


def _gzip_decode(data: bytes, limit: int) -> bytes:
    return _zlib_decode(data, 16 + zlib.MAX_WBITS, limit, members=True)


def _gzip_encode(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def _deflate_decode(data: bytes, limit: int) -> bytes:
    # "deflate" means zlib-wrapped (RFC 9110), but some servers send raw deflate.
    try:
        return _zlib_decode(data, zlib.MAX_WBITS, limit)
    except zlib.error:
        return _zlib_decode(data, -zlib.MAX_WBITS, limit)


def _brotli_decode(data: bytes, limit: int) -> bytes:
    d = brotli.Decompressor()
    out: bytes = d.process(data, output_buffer_limit=limit + 1)
    if len(out) > limit:
        raise _TooLarge(limit)
    if not d.is_finished():
        raise brotli.error("truncated stream")
    return out


def _zstd_decode(data: bytes, limit: int) -> bytes:
    # stream_reader: bounded, and frames written without a content size (streaming
    # encoders) decode too. A body may hold several frames, one after another.
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    out = bytearray()
    while chunk := reader.read(256 * 1024):
        out += chunk
        if len(out) > limit:
            raise _TooLarge(limit)
    _zstd_check_complete(data)
    return bytes(out)


def _zstd_check_complete(data: bytes) -> None:
    """Raise if a frame of ``data`` is cut short: stream_reader gives a truncated frame's
    partial output without a word. Decodes again, now known to stay within the limit."""
    rest = data
    while rest:
        frame = zstandard.ZstdDecompressor().decompressobj()
        frame.decompress(rest)
        if not frame.eof:
            raise zstandard.ZstdError("truncated stream")
        rest = frame.unused_data


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip_decode,
    "x-gzip": _gzip_decode,
    "deflate": _deflate_decode,
    "br": _brotli_decode,
}
_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gzip_encode,
    "x-gzip": _gzip_encode,
    "deflate": lambda data: zlib.compress(data, 6),
    # Quality 5 is the usual on-the-fly setting: most of the ratio at a fraction of q11's cost.
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
}
_DECODERS["zstd"] = _zstd_decode

SUPPORTED: tuple[str, ...] = ("br", "zstd", "gzip", "deflate")


def _codings(content_encoding: str) -> list[str]:
    return [
        c.strip().lower()
        for c in content_encoding.split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]


def decode(body: bytes, content_encoding: str, limit: int = 1 << 62) -> bytes:
    """The identity body; raises :class:`CodingError` for unknown codings, corrupt data, or
    a body that would decode to more than ``limit`` bytes (found without decoding it all)."""
    for coding in reversed(_codings(content_encoding)):
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise CodingError(f"unsupported content coding {coding!r}")
        try:
            body = decoder(body, limit)
        except _TooLarge:
            raise CodingError(f"body decodes to more than {limit} bytes as {coding}") from None
        except Exception as exc:  # each library raises its own error type
            raise CodingError(f"body does not decode as {coding}: {exc}") from exc
    return body


def encode(body: bytes, content_encoding: str) -> bytes:
    for coding in _codings(content_encoding):
        body = _ENCODERS[coding](body)
    return body


# Browsers send a handful of distinct values, so the answers are remembered (bounded).
@functools.lru_cache(maxsize=256)
def narrow_accept_encoding(accept_encoding: str | None) -> str:
    """The client's ``Accept-Encoding`` limited to codings the proxy can decode.

    Quality values are kept; ``*`` is expanded to the supported codings, and a
    coding the client refuses (``q=0``) is never offered.
    """
    if not accept_encoding:
        return "identity"
    offered: dict[str, str] = {}
    refused: set[str] = set()
    wildcard: str | None = None
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        q = params.strip()
        zero = q.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        if name == "*":
            wildcard = None if zero else item.strip()[1:]
            continue
        if zero:
            refused.add(name)
        elif name in SUPPORTED or name == "x-gzip":
            offered.setdefault("gzip" if name == "x-gzip" else name, item.strip().partition(";")[2])
    if wildcard is not None:
        for coding in SUPPORTED:
            if coding not in refused:
                offered.setdefault(coding, wildcard.lstrip(";"))
    if not offered:
        return "identity"
    return ", ".join(f"{c};{p.strip()}" if p.strip() else c for c, p in offered.items())
