"""Encoding detection: BOM, then the HTTP header, then <meta>, then UTF-8."""

from __future__ import annotations

from rewriteproxy.html.charset import ascii_compatible, detect_encoding


def test_default_is_utf8() -> None:
    assert detect_encoding(b"<p>x</p>") == "utf-8"


def test_bom_wins_over_everything() -> None:
    assert detect_encoding(b"\xef\xbb\xbf<meta charset=latin1>", "shift_jis") == "utf-8"
    assert detect_encoding(b"\xff\xfe<\x00", None) == "utf-16-le"


def test_header_then_meta() -> None:
    assert detect_encoding(b'<meta charset="utf-8">', "windows-1252") == "cp1252"
    assert detect_encoding(b'<meta charset="Shift_JIS">') == "shift_jis"
    assert (
        detect_encoding(b'<meta http-equiv="Content-Type" content="text/html; charset=euc-jp">')
        == "euc_jp"
    )


def test_latin1_labels_mean_windows_1252() -> None:
    assert detect_encoding(b"<meta charset=iso-8859-1>") == "cp1252"


def test_unknown_labels_are_ignored() -> None:
    assert detect_encoding(b"<meta charset=klingon>", "nonsense") == "utf-8"


def test_meta_claiming_utf16_is_read_as_utf8() -> None:
    assert detect_encoding(b"<meta charset=utf-16>") == "utf-8"


def test_meta_after_1024_bytes_is_not_seen() -> None:
    assert detect_encoding(b" " * 1100 + b"<meta charset=euc-jp>") == "utf-8"


def test_which_encodings_the_byte_scanner_can_read() -> None:
    for name in ("utf-8", "cp1252", "shift_jis", "euc_jp", "gbk", "big5", "iso-8859-15"):
        assert ascii_compatible(name)
    for name in ("utf-16-le", "utf-16", "utf-32", "iso2022_jp", "utf-7"):
        assert not ascii_compatible(name)


def test_encodings_where_an_ascii_character_is_not_its_own_byte_are_refused() -> None:
    """URLs are read from and plain replacements written as ASCII bytes: an EBCDIC page,
    cp864 (whose 0x25 is the Arabic percent sign), Shift_JIS-2004 (0x5C is the yen sign,
    0x7E the overline) and non-text codecs such as base64 cannot be read that way."""
    for name in ("cp037", "ibm500", "cp864", "shift_jis_2004", "shift_jisx0213", "base64", "rot13"):
        assert not ascii_compatible(name), name
