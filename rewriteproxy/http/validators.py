"""Cache validators for rewritten responses.

A rewritten body is not the upstream's body, and what it holds depends on the
config and the inventory as well as on WordPress, so no upstream validator can
speak for it. The proxy gives each rewritten response its own weak ETag,
computed from the bytes it sends: ``W/"rp-<hash>"``.

When a client revalidates with one of these tags, the conditional headers are
not forwarded (WordPress could only compare them against its own tags); the
proxy fetches and rewrites the page and answers 304 itself when the new tag
matches. Tags that are not ours go upstream untouched, so the proxy changes
nothing about how WordPress's own validators work.
"""

from __future__ import annotations

import xxhash

__all__ = ["etag_for", "our_tags"]

_PREFIX = "rp-"


def etag_for(body: bytes) -> str:
    # XXH3-128 rather than SHA-256: hashing is on the path of every page that changes per
    # request (figures in docs/performance.md). A tag only has to change when the
    # page does; it guards no secret. Someone able to craft two versions of a page with
    # one tag could at most keep a client on the version it already has.
    return f'W/"{_PREFIX}{xxhash.xxh3_128_hexdigest(body)}"'


def our_tags(if_none_match: str | None) -> frozenset[str]:
    """The tags in an ``If-None-Match`` header that this proxy issued (normalised to ``W/"…"``)."""
    if not if_none_match:
        return frozenset()
    tags = set()
    for tag in (t.strip() for t in if_none_match.split(",")):
        opaque = tag[2:] if tag.startswith("W/") else tag
        if opaque.startswith(f'"{_PREFIX}') and opaque.endswith('"'):
            tags.add(f"W/{opaque}")
    return frozenset(tags)
