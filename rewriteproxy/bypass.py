"""When a request is never rewritten, and what its answer then tells the caches in front.

The promise is that nothing the proxy writes can be saved back into WordPress.
Every way a client reads content in order to write it again is therefore a
bypass, on by default: the answer is the upstream's own bytes, local URLs.

- ``method``: a method not in ``bypass.methods`` (only GET and HEAD are rewritten);
  ``method-override``: WordPress's REST API treats a request with ``?_method=`` or
  ``X-HTTP-Method-Override`` as that method, so those count as the method they name.
- ``path``: ``/wp-admin/``, ``/wp-login.php``, ``/xmlrpc.php``, ``/wp-cron.php``
  (``bypass.paths``), matched as whole path segments anywhere in the path after
  normalising it as the web server does (percent-decoding, ``//``, dot segments,
  case), so WordPress in a subdirectory and spellings such as ``/%77p-admin/``
  are covered.
- ``authorization``: an ``Authorization`` header of any scheme (application
  passwords, JWT, OAuth), or credentials in the query (WooCommerce's
  ``consumer_key``, OAuth's ``oauth_consumer_key`` and ``access_token``).
- ``nonce``: an ``X-WP-Nonce`` header or ``_wpnonce`` in the query: a logged-in
  session's REST and admin calls (the block editor's among them).
- ``edit-context``: a ``context`` query parameter other than ``view`` or
  ``embed`` (REST ``context=edit`` gives the raw content editors save back);
  empty, repeated or array-shaped (``context[]=``) values count.
- ``query`` / ``header``: the per-request opt-out, like PageSpeed's
  ``?PageSpeed=off``: ``?rewriteproxy=off`` or ``X-RewriteProxy: off``.
- ``preview``: ``?preview=true`` and ``preview_id`` pages.
- ``logged-in``: a cookie whose name starts with ``bypass.logged_in_cookie``.

Unusual spellings get the safe answer: header names are case-insensitive and
every repeated header or query parameter is looked at (not only the first or
last, since PHP takes the last and others the first); cookie names are read
the way PHP reads them (percent-decoded, ``.`` and space as ``_``).

A decision that depends on the request rather than on the URL alone changes
what a cache in front may do with the answer: :meth:`Bypass.cache_headers`
adds ``Cache-Control: private`` to an answer passed through because of such a
rule, and ``Vary`` naming the request headers the rules read to every answer
the proxy decided about, so one user's variant is never served to another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote

from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping

from .config import BypassConfig
from .http.caching import add_vary, make_private

__all__ = ["Bypass", "Decision", "normalise_path", "php_name"]

_OFF = frozenset(("off", "0", "false", "no"))
_READ_ONLY_CONTEXTS = frozenset(("view", "embed"))
_WORDPRESS_AGENTS = ("WordPress/", "WP-URLDetails/")
_METHOD_OVERRIDE = "X-HTTP-Method-Override"  # the one header WordPress's REST server reads
# Rules of the URL alone (host included): a cache keyed on the URL tells their answers apart.
_BY_URL = frozenset(("disabled", "method", "path", "unknown-host"))

Headers = CIMultiDictProxy[str] | CIMultiDict[str]


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a request is not rewritten (``reason``), or ``None`` when it may be."""

    reason: str | None

    @property
    def marks_answers(self) -> bool:
        """True when the answer must tell caches about the decision (see ``cache_headers``)."""
        return self.reason not in _BY_URL


class Bypass:
    """The bypass rules of one config, compiled once; :meth:`reason` is the hot path."""

    __slots__ = ("_credentials", "_paths", "_rules", "_vary")

    def __init__(self, rules: BypassConfig) -> None:
        self._rules = rules
        self._credentials = frozenset(php_name(p)[0].lower() for p in rules.credential_params)
        # "/wp-admin/" and "/wp-login.php" both become "…/" needles searched in "path/".
        self._paths = tuple(
            normalise_path(p).rstrip("/") + "/" for p in rules.paths if p.strip("/")
        )
        vary = []
        if rules.logged_in_cookie:
            vary.append("Cookie")
        if rules.header:
            vary.append(rules.header)
        if rules.authorization:
            vary.append("Authorization")
        if rules.nonce:
            vary.append("X-WP-Nonce")
        vary.append(_METHOD_OVERRIDE)
        self._vary = tuple(vary)

    @property
    def vary(self) -> tuple[str, ...]:
        """The request headers the rules read: what a cache in front must key on."""
        return self._vary

    def reason(
        self,
        method: str,
        raw_path: str,
        query: MultiMapping[str] | None,
        headers: Headers,
        has_body: bool = False,
    ) -> str | None:
        rules = self._rules
        methods = rules.methods
        if method.upper() not in methods:
            return "method"
        params = _php_params(query) if query is not None else _NO_PARAMS
        if any(m.strip().upper() not in methods for m in _overrides(params, headers)):
            return "method-override"
        if has_body:
            return "body"  # WordPress reads a JSON body's parameters whatever the method
        if self._paths:
            path = normalise_path(raw_path) + "/"
            if any(needle in path for needle in self._paths):
                return "path"
        if rules.authorization and (
            "Authorization" in headers or any(p.name in self._credentials for p in params)
        ):
            return "authorization"
        if rules.nonce and ("X-WP-Nonce" in headers or any(p.name == "_wpnonce" for p in params)):
            return "nonce"
        if rules.wordpress_requests and _from_wordpress(headers):
            return "wordpress"
        if params:
            if rules.edit_context and any(_edits(p) for p in params):
                return "edit-context"
            opt_out = rules.query_param.lower()
            if opt_out and any(p.name == opt_out and _is_off(p.value) for p in params):
                return "query"
        if (
            rules.header
            and rules.header in headers
            and any(map(_is_off, headers.getall(rules.header)))
        ):
            return "header"
        if rules.previews and any(_previews(p) for p in params):
            return "preview"
        if rules.logged_in_cookie and "Cookie" in headers:
            prefix = rules.logged_in_cookie.lower()
            if any(name.startswith(prefix) for name in _cookie_names(headers.getall("Cookie"))):
                return "logged-in"
        return None

    def cache_headers(self, headers: CIMultiDict[str], decision: Decision) -> None:
        """Mark the answer to a request whose body the proxy could have rewritten.

        Rewritten, or passed through for a per-request reason: ``Vary`` on the
        headers the rules read; passed through for a per-request reason, also
        ``private``, so no shared cache serves it to others. A reason of the URL
        alone (``path``, ``method``, ``disabled``) needs neither: every request
        for that URL gets the same answer.
        """
        if decision.reason in _BY_URL:
            return
        add_vary(headers, self._vary)
        if decision.reason is not None:
            make_private(headers)


def normalise_path(raw_path: str) -> str:
    """The path as a web server resolves it before choosing a script, lower-cased.

    Percent-decoded once (as nginx does), empty segments merged, ``.`` and ``..``
    resolved; the query, if any, is cut off first.
    """
    path = raw_path.partition("?")[0]
    if "%" in path:
        path = unquote(path, errors="surrogateescape")
    path = path.lower()
    if "//" not in path and "/." not in path:
        return path
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    trailing = "/" if path.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


class _Param(NamedTuple):
    name: str  # as PHP registers it, lower-cased for comparison
    array: bool  # name[...]=: PHP makes an array of it
    value: str


_NO_PARAMS: tuple[_Param, ...] = ()


def php_name(key: str) -> tuple[str, bool]:
    """The variable name PHP registers for a query key or cookie name, and whether it is
    an array (``name[...]``): cut at a NUL, leading spaces dropped, ``.`` and space as ``_``
    up to the first ``[``; a ``[`` never closed becomes ``_`` too."""
    key = key.split("\0", 1)[0].lstrip(" ")
    bracket = key.find("[")
    base = (key if bracket < 0 else key[:bracket]).replace(" ", "_").replace(".", "_")
    if bracket < 0:
        return base, False
    if "]" in key[bracket + 1 :]:
        return base, True
    return base + "_" + key[bracket + 1 :], False


def _php_params(query: MultiMapping[str]) -> tuple[_Param, ...]:
    params = []
    for key, value in query.items():
        name, array = php_name(key)
        params.append(_Param(name.lower(), array, value))
    return tuple(params)


def _is_off(value: str) -> bool:
    return value.strip().lower() in _OFF


def _overrides(params: tuple[_Param, ...], headers: Headers) -> list[str]:
    named = [p.value for p in params if p.name == "_method"]
    if _METHOD_OVERRIDE in headers:
        named += headers.getall(_METHOD_OVERRIDE)
    return named


def _edits(param: _Param) -> bool:
    return param.name == "context" and (
        param.array or param.value.strip().lower() not in _READ_ONLY_CONTEXTS
    )


def _previews(param: _Param) -> bool:
    return param.name == "preview_id" or (
        param.name == "preview" and param.value.strip().lower() == "true"
    )


def _from_wordpress(headers: Headers) -> bool:
    """A request WordPress makes to itself (wp_remote_get's default User-Agent, URL details)."""
    agent = headers.get("User-Agent", "")
    return agent.startswith(_WORDPRESS_AGENTS) or "WP-URLDetails/" in agent


def _cookie_names(values: Iterable[str]) -> Iterable[str]:
    """Cookie names as PHP's ``$_COOKIE`` keys them (lower-cased for comparison)."""
    for value in values:
        for pair in value.split(";"):
            name = pair.partition("=")[0]
            if "%" in name:
                name = unquote(name)
            yield php_name(name.strip())[0].lower()
