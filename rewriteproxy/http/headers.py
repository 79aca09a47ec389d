"""Which headers cross the proxy, and the forwarding headers it adds.

RFC 9110 §7.6.1: hop-by-hop headers (and any header named in ``Connection``)
belong to one connection and are never forwarded. Everything else is copied
as it came, in order, repeated headers (``Set-Cookie``) included.

Forwarding headers (:data:`FORWARDING`: ``X-Forwarded-For``, ``-Host``,
``-Proto``, ``-Port``, ``-Ssl``, ``X-Real-IP`` and RFC 7239's ``Forwarded``)
say who the client is and how it connected. WordPress and its plugins believe
them (links are built on ``X-Forwarded-Host``; ``X-Forwarded-Proto: https``
skips the redirect to https), and they believe many more names that CDNs and
load balancers set (``Client-IP``, ``CF-Connecting-IP``, ``Front-End-Https``,
``X-Original-URL``…: :data:`CLIENT_CLAIMS`, a superset of ``FORWARDING``), so
only a peer in ``proxy.trusted_proxies`` (:class:`TrustedProxies`) may send
them:

- From a trusted peer they pass on as they came, with the peer's address
  appended to ``X-Forwarded-For`` (several such headers are joined into one
  list first) and, where a ``Forwarded`` header came, to it as a ``for=``
  element. ``X-Forwarded-Proto`` and ``-Host`` are added from this connection
  only where the peer sent none.
- From any other peer every header of :data:`CLIENT_CLAIMS` is removed, and
  the proxy sets ``X-Forwarded-For`` (the peer's address),
  ``X-Forwarded-Proto`` (the scheme of this connection) and
  ``X-Forwarded-Host`` (the ``Host`` it received) from what it saw itself.

A request header whose name holds ``_`` is dropped, whoever sent it, as
nginx does by default: CGI and FastCGI name a header ``HTTP_`` and its name
upper-cased with ``-`` made ``_``, so ``X_Forwarded_Proto`` would reach PHP as
the very variable ``X-Forwarded-Proto`` does, past every list above. Names
are compared whatever their case.

An IPv4-mapped IPv6 peer (``::ffff:127.0.0.1``, from a dual-stack socket) is
judged as its IPv4 address. A peer without an address (a Unix socket) is
never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TypeAlias

from cachetools import LRUCache
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "CLIENT_CLAIMS",
    "FORWARDING",
    "HOP_BY_HOP",
    "TrustedProxies",
    "end_to_end",
    "forwarded_request_headers",
    "peer_in",
    "request_host",
]

HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)


def end_to_end(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], drop: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """A copy of ``headers`` without hop-by-hop ones and without ``drop`` (lower-case names)."""
    skip = HOP_BY_HOP | drop if drop else HOP_BY_HOP
    if "Connection" in headers:
        skip = skip | {
            token.strip().lower()
            for value in headers.getall("Connection")
            for token in value.split(",")
        }
    # Copy all, then remove the few present: the copy is done in C and keeps the order,
    # where filtering header by header in Python cost 2.6x as much (twice per request).
    out = CIMultiDict(headers)
    for name in skip:
        if name in out:
            out.popall(name)
    return out


FORWARDING = frozenset(
    h.lower()
    for h in (
        "Forwarded",
        "X-Forwarded-For",
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-Port",
        "X-Forwarded-Ssl",
        "X-Real-IP",
    )
)

# What WordPress core, its plugins or PHP frameworks read as the client's address, scheme,
# host or URL; a CDN or load balancer sets them, any client can forge them.
CLIENT_CLAIMS = FORWARDING | frozenset(
    h.lower()
    for h in (
        # the client's address
        "Client-IP",  # WordPress core prefers it (wp-admin's community events)
        "X-Client-IP",
        "X-Cluster-Client-IP",
        "X-Forwarded",
        "Forwarded-For",
        "X-Original-Forwarded-For",
        "True-Client-IP",
        "CF-Connecting-IP",
        "Fastly-Client-IP",
        "Incap-Client-IP",
        "X-Sucuri-ClientIP",
        "X-Originating-IP",
        "X-Remote-IP",
        "X-Remote-Addr",
        # the scheme, host and port it connected with
        "Front-End-Https",
        "X-Forwarded-Scheme",
        "X-Forwarded-Protocol",
        "X-Url-Scheme",
        "X-Proto",
        "CF-Visitor",
        "CloudFront-Forwarded-Proto",
        "X-Forwarded-Server",
        "X-Host",
        # the URL it asked for (WordPress core takes REQUEST_URI from these on IIS)
        "X-Original-URL",
        "X-Rewrite-URL",
    )
)

Network: TypeAlias = IPv4Network | IPv6Network

_PEERS_REMEMBERED = 4096  # verdicts kept per config; a miss costs one address parse


def peer_in(peer: str, networks: tuple[Network, ...]) -> bool:
    """True if the address ``peer`` lies in one of ``networks`` (``False`` if not an address)."""
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The networks of the proxies whose forwarding headers are believed; empty: nobody's."""

    networks: tuple[Network, ...] = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
    _verdicts: LRUCache[str, bool] = field(
        default_factory=lambda: LRUCache(_PEERS_REMEMBERED),
        init=False,
        repr=False,
        compare=False,
    )

    def trusts(self, peer: str | None) -> bool:
        """Whether ``peer`` (the connection's remote address) is one of these proxies."""
        if not peer or not self.networks:
            return False
        verdict = self._verdicts.get(peer)
        if verdict is None:
            verdict = self._verdicts[peer] = peer_in(peer, self.networks)
        return verdict


_HOST = frozenset(("host",))


def forwarded_request_headers(
    headers: CIMultiDictProxy[str],
    *,
    peer: str | None,
    trusted: bool,
    scheme: str,
    upstream_host: str,
    preserve_host: bool,
) -> CIMultiDict[str]:
    """The headers to send upstream for one client request.

    ``peer`` is the connection's remote address, ``trusted`` whether it is one of
    the trusted proxies, ``scheme`` that of the connection (``http`` or ``https``).
    """
    out = end_to_end(headers, _dropped(headers, trusted))
    host = headers.get("Host", "")
    out["Host"] = host if preserve_host and host else upstream_host
    if not trusted:
        if peer:
            out["X-Forwarded-For"] = peer
        out["X-Forwarded-Proto"] = scheme
        if host:
            out["X-Forwarded-Host"] = host
        return out
    if peer:
        prior = out.getall("X-Forwarded-For", ())
        out["X-Forwarded-For"] = ", ".join((*prior, peer))
        if "Forwarded" in out:
            node = f'"[{peer}]"' if ":" in peer else peer  # RFC 7239 §6: IPv6 quoted, bracketed
            out["Forwarded"] = ", ".join((*out.getall("Forwarded"), f"for={node}"))
    out.setdefault("X-Forwarded-Proto", scheme)
    if host:
        out.setdefault("X-Forwarded-Host", host)
    return out


def request_host(headers: CIMultiDictProxy[str], trusted: bool) -> str:
    """The host a request is for: from a trusted peer its ``X-Forwarded-Host`` (the first,
    the one the client named) when it sent one, else the ``Host`` header; ``""`` if none.
    What the forwarding headers tell WordPress, so the proxy and the site agree."""
    if trusted:
        forwarded = headers.get("X-Forwarded-Host")
        if forwarded:
            return forwarded.partition(",")[0].strip()
    return headers.get("Host", "")


def _dropped(headers: CIMultiDictProxy[str], trusted: bool) -> frozenset[str]:
    """``Host``, the underscored names and, from a stranger, the claims among ``headers``."""
    # One pass over the names, in C (":" is no token character, so it cannot be in one);
    # the usual request has none of these and leaves with the constant set.
    names = ":".join(headers)
    underscored = "_" in names
    if trusted and not underscored:
        return _HOST
    lowered = names.lower().split(":")
    found = frozenset(n for n in lowered if "_" in n) if underscored else frozenset()
    if not trusted:
        found |= CLIENT_CLAIMS.intersection(lowered)
    return _HOST | found if found else _HOST
