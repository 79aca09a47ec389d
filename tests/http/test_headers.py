"""Which headers cross the proxy: hop-by-hop ones never do, everything else as it came."""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from rewriteproxy.http.headers import end_to_end, forwarded_request_headers


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


def test_forwarded_headers_name_the_client_the_scheme_and_the_host_asked_for():
    given = headers(("Host", "example.org"), ("X-Forwarded-For", "10.0.0.1"), ("TE", "trailers"))
    out = forwarded_request_headers(
        given, client_ip="10.0.0.2", scheme="https", upstream_host="wp:8080", preserve_host=False
    )
    assert dict(out) == {
        "Host": "wp:8080",
        "X-Forwarded-For": "10.0.0.1, 10.0.0.2",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "example.org",
    }
    kept = forwarded_request_headers(
        given, client_ip=None, scheme="http", upstream_host="wp:8080", preserve_host=True
    )
    assert kept["Host"] == "example.org"
    assert kept["X-Forwarded-For"] == "10.0.0.1"
