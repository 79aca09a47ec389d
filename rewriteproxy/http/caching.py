"""What an answer tells the caches in front of the proxy: ``Cache-Control`` and ``Vary``.

Pure edits of a response's header list, used when the proxy's decision for a
request depended on the request's headers (see :mod:`rewriteproxy.bypass`).
They only ever make caching stricter: a directive already stricter than
``private`` (``no-store``) is kept, and ``Vary: *`` is left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict

__all__ = ["add_vary", "make_private"]

# Directives that would let a shared cache store the answer despite "private".
_SHARED_ONLY = frozenset(("public", "s-maxage", "proxy-revalidate"))


def make_private(headers: CIMultiDict[str]) -> None:
    """``Cache-Control: private`` added, unless ``private`` or ``no-store`` is already there.

    Directives meant for shared caches (``public``, ``s-maxage``) are dropped, the
    others (``max-age``, ``must-revalidate``…) kept in order.
    """
    directives = [
        d.strip()
        for value in headers.getall("Cache-Control", ())
        for d in value.split(",")
        if d.strip()
    ]
    names = {d.partition("=")[0].strip().lower() for d in directives}
    if "private" in names or "no-store" in names:
        return
    kept = [d for d in directives if d.partition("=")[0].strip().lower() not in _SHARED_ONLY]
    headers.popall("Cache-Control", None)
    headers["Cache-Control"] = ", ".join(["private", *kept])


def add_vary(headers: CIMultiDict[str], names: Iterable[str]) -> None:
    """``Vary`` naming ``names`` too, merged with the upstream's own, which come first."""
    present = [
        token.strip()
        for value in headers.getall("Vary", ())
        for token in value.split(",")
        if token.strip()
    ]
    if "*" in present:
        return
    seen = {token.lower() for token in present}
    missing = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            missing.append(name)
    if not missing:
        return
    headers.popall("Vary", None)
    headers["Vary"] = ", ".join([*present, *missing])
