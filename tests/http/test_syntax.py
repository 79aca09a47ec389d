"""What may be written into a message head: the rules both upstream clients check by."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from rewriteproxy.http.syntax import answer_problem, request_problem

HOST = CIMultiDict({"Host": "wp.test"})
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]


def fields(*pairs: tuple[str, str]) -> CIMultiDict[str]:
    return CIMultiDict(pairs)


# -- requests -----------------------------------------------------------------------


def test_an_ordinary_request_may_be_written():
    headers = fields(("Host", "wp.test"), ("Cookie", "a=1; b=2"), ("X-Custom_Name.1", "x"))
    assert request_problem("GET", "/a%20b/?x=1&y=%2F", headers) is None
    assert request_problem("PURGE", "*", headers) is None
    assert request_problem("GET", "/", CIMultiDict()) is None


def test_tabs_and_bytes_above_ascii_are_allowed_in_values():
    # obs-text: a latin-1 byte arrives decoded with surrogateescape, and leaves as it came.
    headers = fields(
        ("X-A", "a\tb"), ("X-B", "café"), ("X-C", b"caf\xe9".decode("utf-8", "surrogateescape"))
    )
    assert request_problem("GET", "/", headers) is None


@pytest.mark.parametrize("method", ["", "G T", "GET\r\nX-Injected: 1", "GET\0", "G(T", "GÉT"])
def test_a_method_must_be_a_token(method):
    assert "method" in (request_problem(method, "/", HOST) or "")


@pytest.mark.parametrize(
    "target", ["", "/a b", "/a\r\nX-Injected: 1", "/a\nb", "/a\0", "/a\tb", "/a\x7f"]
)
def test_a_target_holds_no_space_and_no_control(target):
    assert "target" in (request_problem("GET", target, HOST) or "")


@pytest.mark.parametrize(
    "name", ["", "X A", "X-A:", "X\r\nInjected", "X\0", "X(A)", "Ünicode", "X\tA"]
)
def test_a_header_name_must_be_a_token(name):
    headers = fields(("Host", "wp.test"), (name, "v"))
    assert request_problem("GET", "/", headers) == f"the header name {name!r} is not a token"


@pytest.mark.parametrize("control", CONTROLS, ids=[f"{ord(c):#04x}" for c in CONTROLS])
def test_no_control_but_tab_in_a_request_value(control):
    headers = fields(("Host", "wp.test"), ("X-Bad", f"a{control}b"))
    problem = request_problem("GET", "/", headers)
    assert problem == "the value of the header 'X-Bad' holds a control character"


# -- answers ------------------------------------------------------------------------


def test_an_ordinary_answer_may_be_passed_on():
    headers = fields(("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("X-T", "a\tcafé"))
    for status in (100, 200, 204, 304, 404, 599):
        assert answer_problem(status, "Whatever It Says\t", headers) is None
    assert answer_problem(200, "", CIMultiDict()) is None


def test_a_protocol_switch_is_never_passed_on():
    # The proxy never asks for one: Upgrade is hop-by-hop and not forwarded.
    assert "101" in (answer_problem(101, "Switching Protocols", CIMultiDict()) or "")


@pytest.mark.parametrize("status", [0, 99, 600, 999])
def test_a_status_outside_100_to_599_is_not_http(status):
    assert f"status {status}" in (answer_problem(status, "Odd", CIMultiDict()) or "")


@pytest.mark.parametrize("control", CONTROLS, ids=[f"{ord(c):#04x}" for c in CONTROLS])
def test_no_control_but_tab_in_an_answer_value_or_reason(control):
    bad = fields(("Content-Length", "2"), ("X-Bad", f"a{control}b"))
    assert answer_problem(200, "OK", bad) == (
        "the value of the header 'X-Bad' holds a control character"
    )
    assert "reason phrase" in (answer_problem(200, f"O{control}K", CIMultiDict()) or "")
