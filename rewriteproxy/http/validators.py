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

import hashlib

__all__ = ["etag_for", "our_tags"]

_PREFIX = "rp-"


def etag_for(body: bytes) -> str:
    # SHA-256 (not BLAKE2b): CPUs with SHA extensions hash a 50 KB page about twice as fast.
    return f'W/"{_PREFIX}{hashlib.sha256(body).hexdigest()[:24]}"'


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
