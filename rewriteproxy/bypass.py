"""When a request is never rewritten: admin pages, logins, previews, logged-in users, opt-outs.

Each rule is a guard that returns a short reason (used in logs, metrics and the
``X-RewriteProxy`` response header) or ``None``. The per-request opt-out works
like PageSpeed's ``?PageSpeed=off``: ``?rewriteproxy=off`` in the query or an
``X-RewriteProxy: off`` request header.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import MultiDict, MultiDictProxy

from .config import BypassConfig

__all__ = ["bypass_reason"]

_OFF = frozenset(("off", "0", "false", "no"))
_NO_QUERY: MultiDictProxy[str] = MultiDictProxy(MultiDict())


def bypass_reason(request: web.Request, rules: BypassConfig) -> str | None:
    if request.method not in rules.methods:
        return "method"
    path = request.path
    if path.startswith(rules.paths):
        return "path"
    # Most page views have no query string and send no cookie: parsing either
    # only to find it empty was most of the cost of this function.
    query = request.rel_url.query if request.query_string else _NO_QUERY
    if rules.query_param and query.get(rules.query_param, "").lower() in _OFF:
        return "query"
    if rules.header and request.headers.get(rules.header, "").lower() in _OFF:
        return "header"
    if rules.previews and (query.get("preview", "").lower() == "true" or "preview_id" in query):
        return "preview"
    if (
        rules.logged_in_cookie
        and hdrs.COOKIE in request.headers
        and any(name.startswith(rules.logged_in_cookie) for name in request.cookies)
    ):
        return "logged-in"
    return None
