"""The scanner: where tags and attribute values are, by the HTML tokenizer's rules.

Every test here runs against both tokenizers, the regular-expression one and the
C one (where it is built; ``REWRITEPROXY_REQUIRE_NATIVE=1`` makes its absence a
failure), and a differential test requires both to report identical events.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings

from rewriteproxy.html.scanner import NATIVE, RawText, Scanner, StartTag
from tests.html.support import markup_documents, native_or_skip

MARKER = b"uploads"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True, params=["regex", "c"])
def tokenizer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs each test once per tokenizer: ``Scanner`` below builds scanners of that kind."""
    if request.param == "c":
        native_or_skip(NATIVE, "the C tokenizer")
    monkeypatch.setitem(globals(), "Scanner", partial(_Scanner, native=request.param == "c"))
    yield request.param


_Scanner = Scanner


def reported(doc: bytes, names: frozenset[str] = frozenset({"img"})) -> list[str]:
    """What the scanner reports, as readable strings."""
    out: list[str] = []
    for event in Scanner(names, MARKER).scan(doc):
        if isinstance(event, RawText):
            out.append(f"{event.tag.name}-text:{doc[event.start : event.end].decode()}")
        else:
            out.append(doc[event.start : event.end].decode())
    return out


def attributes(tag_html: bytes) -> list[tuple[str, str, str | None]]:
    tag = next(
        e for e in Scanner(frozenset({"x"}), MARKER).scan(tag_html) if isinstance(e, StartTag)
    )
    return [
        (a.name, tag_html[a.value_start : a.value_end].decode(), a.quote) for a in tag.attributes
    ]


def test_reports_named_tags_and_tags_with_the_marker_only() -> None:
    doc = b'<p>hi</p><img src=a.jpg><div class=x><span data-x="/uploads/a">'
    assert reported(doc) == ["<img src=a.jpg>", '<span data-x="/uploads/a">']


def test_gt_inside_quoted_values_does_not_end_the_tag() -> None:
    assert reported(b'<img alt="a > b" src=x><p>') == ['<img alt="a > b" src=x>']


def test_tags_inside_attribute_values_are_not_tags() -> None:
    assert reported(b'<div title="<img src=x>">t</div>') == []


def test_comments_hide_tags_including_abrupt_and_unclosed_ones() -> None:
    assert reported(b"<!-- <img src=a> --><img src=b>") == ["<img src=b>"]
    assert reported(b"<!--><img src=a>") == ["<img src=a>"]
    assert reported(b"<!---><img src=a>") == ["<img src=a>"]
    assert reported(b"<!-- a --!><img src=a>") == ["<img src=a>"]
    assert reported(b"<img src=a><!-- <img src=b>") == ["<img src=a>"]


def test_bogus_comments_and_doctype() -> None:
    assert reported(b"<!DOCTYPE html><?php echo 1 ?><![CDATA[x]]><img src=a>") == ["<img src=a>"]


def test_end_tags_may_carry_quoted_attributes() -> None:
    assert reported(b'</div title="<img src=a>"><img src=b>') == ["<img src=b>"]


def test_raw_text_elements() -> None:
    doc = b"<textarea><img src=a></textarea><title><img src=b></TITLE ><img src=c>"
    assert reported(doc) == ["<img src=c>"]
    doc = b'<script>if (a<b) x="<img src=a>"</script><style>p{}</style><img src=b>'
    assert reported(doc) == [
        "<script>",
        'script-text:if (a<b) x="<img src=a>"',
        "<style>",
        "style-text:p{}",
        "<img src=b>",
    ]


def test_a_skipped_element_asked_for_is_reported_and_its_contents_still_skipped() -> None:
    doc = (
        b"<iframe src=a><img src=uploads></iframe><textarea><img src=uploads></textarea>"
        b"<img src=uploads><IFRAME>x<img src=uploads>"
    )
    assert reported(doc, frozenset({"img", "iframe"})) == [
        "<iframe src=a>",
        "<img src=uploads>",
        "<IFRAME>",
    ]  # the last runs to the end
    assert reported(doc) == ["<img src=uploads>"]  # not asked for: skipped whole, as before


def test_unclosed_script_runs_to_the_end() -> None:
    assert reported(b"<script>x<img src=a>") == ["<script>", "script-text:x<img src=a>"]


def test_a_tag_left_open_at_the_end_is_not_reported() -> None:
    assert reported(b'<img src=a><img src="b') == ["<img src=a>"]
    assert reported(b"<img src=a><img src=b") == ["<img src=a>"]


def test_plaintext_makes_the_rest_text() -> None:
    assert reported(b"<plaintext><img src=a>") == ["<plaintext>"]


def test_names_are_case_insensitive() -> None:
    assert reported(b"<IMG SRC=a><ScRiPt>x</sCrIpT><img src=b>") == [
        "<IMG SRC=a>",
        "<ScRiPt>",
        "script-text:x",
        "<img src=b>",
    ]


def test_marker_in_an_unquoted_value_is_seen() -> None:
    assert reported(b"<div data-bg=/uploads/a.jpg></div>") == ["<div data-bg=/uploads/a.jpg>"]
    assert reported(b"<div data-bg=/UPLOADS/a.jpg></div>") == ["<div data-bg=/UPLOADS/a.jpg>"]


def test_a_less_than_sign_that_opens_nothing_is_text() -> None:
    assert reported(b"a < b <3 <img src=x>") == ["<img src=x>"]


def test_attribute_tokens() -> None:
    assert attributes(b'<x a="1" b=\'2\' c=3 d e= f g="x>y"h=i =j/>') == [
        ("a", "1", '"'),
        ("b", "2", "'"),
        ("c", "3", ""),
        ("d", "", None),
        ("e", "f", ""),
        ("g", "x>y", '"'),
        ("h", "i", ""),
        ("=j", "", None),
    ]


def test_an_unquoted_value_ends_at_gt_even_after_a_quote() -> None:
    assert attributes(b'<x e=f="x>y">') == [("e", 'f="x', "")]


def test_attribute_names_are_lowercased_and_duplicates_kept_in_order() -> None:
    assert attributes(b"<x SRC=a src=b>") == [("src", "a", ""), ("src", "b", "")]


def test_empty_value_before_the_end() -> None:
    assert attributes(b"<x a=>") == [("a", "", "")]


def test_marked_values_reads_named_attributes_holding_the_marker() -> None:
    scanner = Scanner(frozenset(), MARKER, frozenset({"src", "srcset"}))
    doc = b'<img alt="/uploads/no" src=/x.jpg srcset="/uploads/a.jpg 1x" SRC=/uploads/dup.jpg>'
    tag = next(e for e in scanner.scan(doc) if isinstance(e, StartTag))
    found = [(n, doc[s:e], q) for n, s, e, q in scanner.marked_values(tag)]
    # src's first occurrence holds no marker, and its duplicate does not count.
    assert found == [(b"srcset", b"/uploads/a.jpg 1x", '"')]


def test_a_first_occurrence_without_a_value_still_hides_its_duplicates() -> None:
    scanner = Scanner(frozenset(), MARKER, frozenset({"src"}))
    for doc in (b"<img src src='/uploads/a.jpg'>", b"<img SRC/src=/uploads/a.jpg>"):
        tag = next(e for e in scanner.scan(doc) if isinstance(e, StartTag))
        assert scanner.marked_values(tag) == [], doc


@settings(max_examples=400)
@given(markup_documents(max_pieces=24))
def test_the_fast_path_to_the_marker_reads_like_the_careful_tokenizer(doc: bytes) -> None:
    """With a marker the scanner runs a plain tokenizer up to each occurrence of it; without
    one it reads every tag carefully. Both must agree on which tags hold the marker."""
    fast = Scanner(frozenset(), MARKER, frozenset({"src", "href", "class"}))
    careful = Scanner(frozenset(), b"")

    def tags(scanner: Scanner) -> list[tuple[int, int]]:
        return [(e.start, e.end) for e in scanner.scan(doc) if isinstance(e, StartTag)]

    expected = [
        span
        for span, tag in zip(
            tags(careful), (e for e in careful.scan(doc) if isinstance(e, StartTag)), strict=True
        )
        if any(MARKER in doc[a.value_start : a.value_end].lower() for a in tag.attributes)
        or tag.name in ("script", "style", "plaintext")
    ]
    assert tags(fast) == expected


def test_tag_names_to_report_must_be_ascii() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        Scanner(frozenset({"xé"}), MARKER)
    Scanner(frozenset(), "téléchargements".encode())  # a marker from a non-ASCII uploads path
