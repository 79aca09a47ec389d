"""Which headers cross the proxy: hop-by-hop ones never do, everything else as it came;
forwarding headers only from a trusted proxy, otherwise the proxy's own."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from rewriteproxy.http.headers import (
    TrustedProxies,
    end_to_end,
    forwarded_request_headers,
    peer_in,
)


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_end_to_end_headers_keep_their_order_case_and_repeats():
    given = headers(
        ("Content-Type", "text/html"),
        ("Set-Cookie", "a=1"),
        ("X-Custom", "x"),
        ("Set-Cookie", "b=2"),
    )
    assert list(end_to_end(given).items()) == list(given.items())


def test_hop_by_hop_headers_and_those_named_in_connection_are_dropped():
    given = headers(
        ("Connection", "keep-alive, X-Private"),
        ("Keep-Alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("X-Private", "secret"),
        ("ETag", '"v1"'),
        ("Upgrade", "h2c"),
        ("Date", "today"),
    )
    assert list(end_to_end(given).items()) == [("ETag", '"v1"'), ("Date", "today")]


def test_dropped_names_go_whatever_their_case():
    given = headers(("Host", "a"), ("Accept", "*/*"))
    assert list(end_to_end(given, frozenset(("host",))).items()) == [("Accept", "*/*")]


# -- forwarding headers ----------------------------------------------------------------


def forwarded(
    given: CIMultiDictProxy[str],
    peer: str | None,
    trusted: bool,
    scheme: str = "http",
    preserve_host: bool = True,
) -> list[tuple[str, str]]:
    out = forwarded_request_headers(
        given,
        peer=peer,
        trusted=trusted,
        scheme=scheme,
        upstream_host="wp:8080",
        preserve_host=preserve_host,
    )
    return list(out.items())


CLAIMS = (
    ("x-forwarded-host", "evil.test"),
    ("X-FORWARDED-PROTO", "https"),
    ("X-Forwarded-For", "6.6.6.6"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Ssl", "on"),
    ("X-Real-IP", "6.6.6.6"),
    ("Forwarded", "for=6.6.6.6;proto=https;host=evil.test"),
)


def test_a_strangers_forwarding_headers_are_replaced_by_what_the_proxy_saw():
    given = headers(("Host", "wp.test"), ("Accept", "*/*"), *CLAIMS)
    assert forwarded(given, "203.0.113.7", trusted=False) == [
        ("Accept", "*/*"),
        ("Host", "wp.test"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "wp.test"),
    ]


def test_a_trusted_proxys_forwarding_headers_pass_with_the_peer_appended():
    given = headers(("Host", "wp.test"), *CLAIMS)
    assert forwarded(given, "10.0.0.2", trusted=True) == [
        ("x-forwarded-host", "evil.test"),
        ("X-FORWARDED-PROTO", "https"),
        ("X-Forwarded-For", "6.6.6.6, 10.0.0.2"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Ssl", "on"),
        ("X-Real-IP", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6;proto=https;host=evil.test, for=10.0.0.2"),
        ("Host", "wp.test"),
    ]


def test_what_a_trusted_proxy_left_out_is_filled_in_from_this_connection():
    given = headers(("Host", "wp.test"))
    assert forwarded(given, "::1", trusted=True, scheme="https") == [
        ("Host", "wp.test"),
        ("X-Forwarded-For", "::1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "wp.test"),
    ]


def test_several_x_forwarded_for_headers_are_one_list():
    given = headers(
        ("X-Forwarded-For", "1.1.1.1, 2.2.2.2"), ("Host", "wp.test"), ("X-Forwarded-For", "3.3.3.3")
    )
    out = dict(forwarded(given, "10.0.0.2", trusted=True))
    assert out["X-Forwarded-For"] == "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.2"
    assert dict(forwarded(given, "10.0.0.2", trusted=False))["X-Forwarded-For"] == "10.0.0.2"


def test_an_ipv6_peer_is_quoted_in_forwarded():
    given = headers(("Forwarded", "for=192.0.2.1"), ("Forwarded", 'for="[2001:db8::1]"'))
    out = dict(forwarded(given, "2001:db8::2", trusted=True))
    assert out["Forwarded"] == 'for=192.0.2.1, for="[2001:db8::1]", for="[2001:db8::2]"'
    assert out["X-Forwarded-For"] == "2001:db8::2"


def test_a_peer_without_an_address_is_not_named():
    given = headers(("Host", "wp.test"), ("X-Forwarded-For", "6.6.6.6"))
    for peer in (None, ""):  # aiohttp's remote on a Unix socket
        assert forwarded(given, peer, trusted=False) == [
            ("Host", "wp.test"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "wp.test"),
        ]


def test_the_host_sent_upstream_is_the_clients_or_the_upstreams():
    given = headers(("Host", "example.org"))
    assert dict(forwarded(given, "10.0.0.2", trusted=False, preserve_host=False)) == {
        "Host": "wp:8080",
        "X-Forwarded-For": "10.0.0.2",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "example.org",
    }
    http10 = forwarded(headers(), "10.0.0.2", trusted=False)  # no Host at all: no X-Forwarded-Host
    assert http10 == [
        ("Host", "wp:8080"),
        ("X-Forwarded-For", "10.0.0.2"),
        ("X-Forwarded-Proto", "http"),
    ]


def test_hop_by_hop_headers_go_whoever_sent_them():
    given = headers(("Host", "wp.test"), ("TE", "trailers"), ("Connection", "X-Forwarded-Host"))
    given = headers(*given.items(), ("X-Forwarded-Host", "by-the-last-hop"))
    assert "TE" not in dict(forwarded(given, "10.0.0.2", trusted=True))
    assert dict(forwarded(given, "10.0.0.2", trusted=True))["X-Forwarded-Host"] == "wp.test"


# Read by WordPress core (Client-IP, X-Forwarded, Forwarded-For, X-Cluster-Client-IP,
# X-Original-URL), its plugins and the CDNs in front of it; named here, not taken from the code.
OTHER_CLAIMS = (
    ("Client-IP", "6.6.6.6"),
    ("CF-Connecting-IP", "6.6.6.6"),
    ("True-Client-IP", "6.6.6.6"),
    ("x-client-ip", "6.6.6.6"),
    ("X-Cluster-Client-IP", "6.6.6.6"),
    ("X-Forwarded", "for=6.6.6.6"),
    ("Forwarded-For", "6.6.6.6"),
    ("X-Original-Forwarded-For", "6.6.6.6"),
    ("Fastly-Client-IP", "6.6.6.6"),
    ("Front-End-Https", "on"),
    ("X-Url-Scheme", "https"),
    ("X-Forwarded-Scheme", "https"),
    ("X-FORWARDED-PROTOCOL", "https"),
    ("CF-Visitor", '{"scheme":"https"}'),
    ("CloudFront-Forwarded-Proto", "https"),
    ("X-Proto", "SSL"),
    ("X-Forwarded-Server", "evil.test"),
    ("X-Host", "evil.test"),
    ("X-Original-URL", "/wp-admin/"),
    ("X-Rewrite-URL", "/wp-admin/"),
)


def test_every_claim_about_the_client_goes_from_a_stranger():
    given = headers(("Host", "wp.test"), ("Accept", "*/*"), *CLAIMS, *OTHER_CLAIMS)
    assert forwarded(given, "203.0.113.7", trusted=False) == [
        ("Accept", "*/*"),
        ("Host", "wp.test"),
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "wp.test"),
    ]


def test_a_trusted_proxys_other_claims_pass_as_they_came():
    given = headers(("Host", "wp.test"), *OTHER_CLAIMS)
    assert forwarded(given, "10.0.0.2", trusted=True)[: len(OTHER_CLAIMS)] == list(OTHER_CLAIMS)


@pytest.mark.parametrize("trusted", [False, True], ids=["stranger", "trusted"])
def test_a_header_name_with_an_underscore_goes_whoever_sent_it(trusted):
    # CGI names X_Forwarded_Proto and X-Forwarded-Proto alike: HTTP_X_FORWARDED_PROTO.
    given = headers(
        ("Host", "wp.test"),
        ("X_Real_IP", "6.6.6.6"),
        ("x_forwarded_proto", "https"),
        ("X-Custom_Thing", "a"),
        ("X-Custom-Thing", "b"),
    )
    out = forwarded(given, "10.0.0.2", trusted=trusted)
    assert [name for name, _ in out if "_" in name] == []
    assert ("X-Custom-Thing", "b") in out
    assert dict(out)["X-Forwarded-Proto"] == "http"


def test_a_request_without_claims_keeps_every_header_in_order():
    given = headers(("Host", "wp.test"), ("Accept", "*/*"), ("Cookie", "a=1"), ("X-Clientip", "1"))
    for trusted in (False, True):
        out = forwarded(given, "10.0.0.2", trusted=trusted)
        assert out[:3] == [("Accept", "*/*"), ("Cookie", "a=1"), ("X-Clientip", "1")]


# -- who is trusted ------------------------------------------------------------------


LOOPBACK = TrustedProxies()


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # a dual-stack socket's IPv4 client
        ("127.0.0.2", False),
        ("::ffff:127.0.0.2", False),
        ("10.0.0.1", False),
        ("0:0:0:0:0:0:0:1", True),
        (None, False),
        ("", False),
        ("not an address", False),
    ],
)
def test_loopback_is_trusted_by_default_and_nothing_else(peer, trusted):
    assert LOOPBACK.trusts(peer) is trusted


def test_networks_of_either_family_and_none_at_all():
    trusted = TrustedProxies((ip_network("10.0.0.0/8"), ip_network("fd00::/8")))
    assert [trusted.trusts(p) for p in ("10.1.2.3", "::ffff:10.1.2.3", "fd12::1", "11.0.0.1")] == [
        True,
        True,
        True,
        False,
    ]
    nobody = TrustedProxies(())
    assert not nobody.trusts("127.0.0.1") and not nobody.trusts("::1")


def test_verdicts_are_remembered_per_peer_and_bounded():
    trusted = TrustedProxies()
    for i in range(10_000):
        trusted.trusts(f"10.0.{i // 256}.{i % 256}")
    assert trusted.trusts("127.0.0.1") and trusted.trusts("127.0.0.1")
    cache = trusted._verdicts
    assert len(cache) <= cache.maxsize < 10_000
    assert cache["127.0.0.1"] is True


def test_peer_in_is_the_rule_the_cache_remembers():
    networks = (ip_network("192.0.2.0/24"),)
    assert peer_in("192.0.2.200", networks) and not peer_in("192.0.3.1", networks)
    assert peer_in("::ffff:192.0.2.1", networks) and not peer_in("junk", networks)
