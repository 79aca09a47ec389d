"""Attribute values: references decoded as browsers do, offsets kept, escaping per quote style."""

from __future__ import annotations

import pytest

from rewriteproxy.html.charrefs import decode_attribute, escape_attribute, needs_quotes


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a&amp;b", "a&b"),
        ("a&#038;b", "a&b"),
        ("&#x2F;wp-content&#x2f;", "/wp-content/"),
        ("&#47;x", "/x"),
        ("&quot;x&quot;", '"x"'),
        ("&sol;x", "/x"),
        ("a&amp", "a&"),  # legacy reference without ";"
        ("?a=1&copy=2", "?a=1&copy=2"),  # not decoded before "="
        ("?a=1&copyx", "?a=1&copyx"),  # nor before an alphanumeric
        ("&copy.", "\u00a9."),
        ("&nosuch;", "&nosuch;"),
        ("&#0;&#x110000;&#xD800;", "\ufffd\ufffd\ufffd"),
        ("&#150;", "\u2013"),  # the windows-1252 reading of C1 controls
        ("&", "&"),
        ("no refs", "no refs"),
    ],
)
def test_decoding(raw: str, decoded: str) -> None:
    assert decode_attribute(raw)[0] == decoded


def test_offsets_map_each_decoded_character_to_its_source() -> None:
    raw = "a&amp;b&#x2F;c"
    decoded, offsets = decode_attribute(raw)
    assert decoded == "a&b/c"
    assert offsets == [0, 1, 6, 7, 13, 14]
    # The span of "b/c" in the decoded text is raw[6:14].
    assert raw[offsets[2] : offsets[5]] == "b&#x2F;c"


def test_no_reference_no_map() -> None:
    assert decode_attribute("plain") == ("plain", None)


def test_escaping_per_quote_style() -> None:
    assert escape_attribute("a\"b'c&d", '"') == "a&quot;b'c&amp;d"
    assert escape_attribute("a\"b'c&d", "'") == 'a"b&#39;c&amp;d'
    assert escape_attribute("a&b", "") == "a&amp;b"


@pytest.mark.parametrize(
    ("value", "needs"),
    [
        ("https://cdn/a.jpg", False),
        ("", True),
        ("a b", True),
        ('a"b', True),
        ("a'b", True),
        ("a=b", True),
        ("a>b", True),
        ("a`b", True),
    ],
)
def test_unquoted_safety(value: str, needs: bool) -> None:
    assert needs_quotes(value) is needs
