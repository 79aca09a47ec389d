"""The C value path (``_values.c``) rewrites exactly as the Python one does.

``_Document.plain_value`` (with ``srcset_url_spans``) is the reference: these
tests run one rewriter with the C path and one without over the same documents
(random ones from the tokenizer's state-changing pieces, random srcset lists,
every page under tests/fixtures/), with and without an element handler, and
require identical output. The mapping
used here rewrites anything naming the uploads, and some replacements carry
quotes, ampersands, spaces or trailing commas, so escaping and the srcset
refusal rules are compared too, not only where URLs are found.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rewriteproxy.html import HtmlOptions, HtmlRewriter
from rewriteproxy.html.rewriter import (
    _SPAN,
    NATIVE,
    Element,
    ElementHandler,
    _find_ci,
    _splice,
)
from tests.html.support import FIXTURES, fixture_pages, map_url, markup_documents, native_or_skip

native_or_skip(NATIVE, "the C value path")

OPTIONS = HtmlOptions(uploads_path="/uploads/")  # the marker of markup_documents
C_PATH = HtmlRewriter(OPTIONS, native=True)
PYTHON_PATH = HtmlRewriter(OPTIONS, native=False)
AWKWARD = ['"', "'", "&", " ", ",", "\t", "é", "€"]


def map_anything(url: str) -> str | None:
    """Rewrites every URL naming the uploads; one in three gets an awkward character
    (a quote or ampersand to escape, whitespace or a comma a srcset cannot hold, a
    letter some encodings lack)."""
    if "uploads" not in url.lower():
        return None
    checksum = zlib.crc32(url.encode("utf-8", "surrogatepass"))
    extra = AWKWARD[checksum % len(AWKWARD)] if checksum % 3 == 0 else ""
    if checksum % 7 == 0:
        return url  # mapped to itself: nothing to change
    return f"https://cdn.example.net/{extra}{url.lstrip('/')}{extra if checksum % 2 else ''}"


class CopiesSources(ElementHandler):
    """Reads img and source tags after URL rewriting (the fast path leaves those to
    Python when handlers want them) and writes what it read into a new attribute."""

    tags = frozenset({"img", "source"})

    def element(self, element: Element) -> None:
        element.set("data-seen", f"{element.get('src')} {element.original('srcset')}")


def assert_same(doc: bytes) -> None:
    for charset in (None, "koi8-r"):  # UTF-8 by default; KOI8-R has neither "é" nor "€"
        expected = PYTHON_PATH.rewrite(doc, map_anything, charset)
        assert C_PATH.rewrite(doc, map_anything, charset) == expected, doc[:300]
    expected = PYTHON_PATH.rewrite(doc, map_anything, handlers=[CopiesSources()])
    assert C_PATH.rewrite(doc, map_anything, handlers=[CopiesSources()]) == expected, doc[:300]


SRCSET_PIECES = st.sampled_from(
    [
        "/uploads/a.jpg",
        "/UPLOADS/b,c.jpg",
        "/uploads/d.jpg,",
        ",",
        ",,",
        " ",
        "\t",
        "\n",
        "\x0b",
        "1x",
        "300w",
        "(",
        ")",
        "a(b, c)",
        "é",
        "&amp;",
        "&",
        "x",
        "//example.com/uploads/e.png",
    ]
)


@st.composite
def srcset_tags(draw: st.DrawFn) -> bytes:
    quote = draw(st.sampled_from(['"', "'", ""]))
    value = "".join(draw(st.lists(SRCSET_PIECES, max_size=12))).replace(quote or " ", "")
    name = draw(st.sampled_from(["srcset", "src", "data-srcset", "href", "imagesrcset"]))
    tag = draw(st.sampled_from(["img", "source", "link", "a", "div"]))
    return f"<{tag} {name}={quote}{value}{quote}>".encode()


@settings(max_examples=1500)
@given(markup_documents(max_pieces=30))
@example(b"<img src='/uploads/a.jpg' srcset=\"/uploads/a.jpg 1x, /uploads/b.jpg 2x\">")
def test_random_documents_rewrite_the_same(doc: bytes) -> None:
    assert_same(doc)


@settings(max_examples=1500)
@given(st.lists(srcset_tags(), min_size=1, max_size=6).map(b"\n".join))
@example(b'<img srcset="/uploads/a.jpg 1x,/uploads/b.jpg 2x">')
@example(b'<img srcset=",,/uploads/a.jpg,, /uploads/b.jpg (1, 2) 2x,/uploads/c.jpg">')
@example(b'<img srcset="/uploads/a.jpg (unclosed, /uploads/b.jpg">')
@example(b'<img src=" /uploads/a.jpg">')
def test_random_srcset_lists_rewrite_the_same(doc: bytes) -> None:
    assert_same(doc)


@pytest.mark.parametrize("page", fixture_pages(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_real_pages_rewrite_the_same(page: Path) -> None:
    doc = page.read_bytes()
    assert_same(doc)
    wordpress = HtmlOptions(uploads_path="/wp-content/uploads/")
    assert HtmlRewriter(wordpress, native=True).rewrite(doc, map_url) == HtmlRewriter(
        wordpress, native=False
    ).rewrite(doc, map_url)


def test_a_failing_mapping_fails_open_on_both_paths() -> None:
    def broken(url: str) -> str | None:
        raise RuntimeError("mapping failed")

    doc = b'<img src="/uploads/a.jpg" srcset="/uploads/a.jpg 1x">'
    assert C_PATH.rewrite(doc, broken) is doc
    assert PYTHON_PATH.rewrite(doc, broken) is doc


def test_each_distinct_url_is_mapped_once_per_page() -> None:
    calls: list[str] = []

    def counting(url: str) -> str | None:
        calls.append(url)
        return map_url(url)

    doc = b'<img src="/uploads/a.jpg" srcset="/uploads/a.jpg 1x, /uploads/b.jpg 2x">' * 50
    C_PATH.rewrite(doc, counting)
    assert sorted(calls) == ["/uploads/a.jpg", "/uploads/b.jpg"]


def test_malformed_calls_raise_instead_of_reading_out_of_bounds() -> None:
    from rewriteproxy.html import _values

    def call(events: list[Any], **changes: Any) -> list[Any]:
        args = {
            "tag_kinds": {b"img": {b"src": 1}},
            "any_tag": {},
            "known": ({}, {}, {}, {}),
            "mapped": {},
            "map_url": lambda url: "x",
            "encoding": "utf-8",
        } | changes
        return _values.plain_tags(b"<img>", events, *args.values(), [])

    assert call([(0, 4, 5, [(b"src", 3, 4, '"')], None)]) == []
    with pytest.raises(ValueError, match="outside"):
        call([(0, 4, 5, [(b"src", 3, 99, '"')], None)])
    with pytest.raises(ValueError, match="outside"):
        call([(0, 4, 5, [(b"src", 3, 2, '"')], None)])
    with pytest.raises(ValueError, match="outside"):
        call([(0, 40, 50, [], None)])
    with pytest.raises(TypeError):
        call([(0, 4, 5, [(b"src", 1, 2)], None)])
    with pytest.raises(TypeError):
        call([(0, 4, 5, "not a list", None)])
    with pytest.raises(ValueError, match="four"):
        call([], known=({}, {}))
    with pytest.raises(TypeError, match="str or None"):
        call([(0, 4, 5, [(b"src", 1, 2, '"')], None)], map_url=lambda url: b"bytes")


@st.composite
def documents_and_edits(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    doc = draw(st.binary(max_size=200))
    span = st.integers(0, len(doc))
    edits = [
        (min(a, b), max(a, b), new)
        for a, b, new in draw(st.lists(st.tuples(span, span, st.binary(max_size=20))))
    ]
    edits.sort(key=_SPAN)
    return doc, edits


@settings(max_examples=1000)
@given(documents_and_edits())
def test_splicing_matches_the_python_splice(case: tuple[bytes, list[Any]]) -> None:
    """Overlapping edits included: both drop an edit that starts inside an earlier one."""
    from rewriteproxy.html import _values

    doc, edits = case
    assert _values.splice(doc, edits) == _splice(doc, edits)


def test_splicing_refuses_edits_it_cannot_apply() -> None:
    from rewriteproxy.html import _values

    with pytest.raises(ValueError, match="sorted"):
        _values.splice(b"abcdef", [(3, 4, b"x"), (1, 2, b"y")])
    with pytest.raises(ValueError, match="outside"):
        _values.splice(b"abc", [(2, 9, b"x")])
    with pytest.raises(TypeError):
        _values.splice(b"abc", [(1, 2, "text")])  # type: ignore[list-item]


@st.composite
def texts_and_needles(draw: st.DrawFn) -> tuple[bytes, bytes, int, int]:
    """Texts made of a needle's letters in both cases, pieces of it and other bytes."""
    needle = draw(st.sampled_from([b"wp-content", b"uploads", b"-x", b"a", b"7z"]))
    pieces = [needle, needle.upper(), needle.title(), needle[:-1], b"W", b"w", b"-", b"\xc3"]
    doc = b"".join(draw(st.lists(st.sampled_from(pieces) | st.binary(max_size=3), max_size=40)))
    start = draw(st.integers(0, len(doc)))
    return doc, needle, start, draw(st.integers(start, len(doc)))


@settings(max_examples=3000)
@given(texts_and_needles())
@example((b"WWWWp-content", b"wp-content", 0, 13))
@example((b"wp-conten", b"wp-content", 0, 9))
def test_finding_without_case_matches_the_python_search(
    case: tuple[bytes, bytes, int, int],
) -> None:
    from rewriteproxy.html import _values

    doc, needle, start, end = case
    assert _values.find_ci(doc, needle, start, end) == _find_ci(doc, needle, start, end)


def test_finding_without_case_refuses_what_it_cannot_search() -> None:
    from rewriteproxy.html import _values

    with pytest.raises(ValueError, match="start"):
        _values.find_ci(b"abc", b"a", 2, 9)
    with pytest.raises(ValueError, match="start"):
        _values.find_ci(b"abc", b"a", 2, 1)
    with pytest.raises(ValueError, match="A-Z"):
        _values.find_ci(b"abc", b"A", 0, 3)
    assert _values.find_ci(b"abc", b"", 1, 2) == 1 == _find_ci(b"abc", b"", 1, 2)


class MarksImages(ElementHandler):
    """Edits every image itself (not a URL rewrite) and remembers what finish() was told."""

    tags = frozenset({"img"})

    def __init__(self) -> None:
        self.finished: list[bool] = []

    def element(self, element: Element) -> None:
        element.set("loading", "lazy")

    def finish(self, rewritten: bool) -> None:
        self.finished.append(rewritten)


def test_handler_edits_do_not_count_as_rewriting_on_a_page_read_in_parts() -> None:
    """More events than one part of the C tokenizer: the handler's edits of the first part
    are queued before the C path sees the second, and must not read as rewritten URLs."""
    doc = b'<img src="/other/a.jpg">' * 600 + b'<img src="/uploads/kept.jpg">'
    for rewriter in (C_PATH, PYTHON_PATH):
        handler = MarksImages()
        out = rewriter.rewrite(doc, lambda url: None, handlers=[handler])
        assert out.count(b'loading="lazy"') == 601
        assert handler.finished == [False]


def test_python_code_run_by_a_lookup_cannot_free_the_hit_being_read() -> None:
    """A kind whose __index__ empties the hits list: the hit (and its quote, read after
    the lookup) must stay alive. Only adversarial callers can do this; it must not crash."""
    from rewriteproxy.html import _values

    class EmptiesHits:
        def __index__(self) -> int:
            hits.clear()
            return 1

    quote = "".join(['"', '"'])  # a fresh object, freed with the hit if nothing holds it
    hits: list[Any] = [(b"s" * 3, 0, 3, quote)]
    del quote
    events = [(0, 1, 8, hits, None)]
    kinds = {b"sss": EmptiesHits()}
    out = _values.plain_tags(
        b"abcdefgh", events, {}, kinds, ({}, {}, {}, {}), {}, lambda url: "x", "utf-8", []
    )
    assert out == [(0, 1, 8, [(b"sss", 0, 3, '""')], None)]


def test_with_a_marker_raw_texts_without_it_are_dropped_with_their_bare_tag() -> None:
    from rewriteproxy.html import _values

    doc = b"<script>var a = 1;</script><style>a{}</style><script>'/UPLOADS/x'</script>"
    script, text = (0, 7, 8, [], []), (8, 18, True)
    style, css = (27, 33, 34, [], []), (34, 37, True)
    marked, marked_text = (45, 52, 53, [], []), (53, 65, True)
    with_hits = (27, 33, 34, [(b"data-src", 30, 31, '"')], [])
    events = [script, text, style, css, marked, marked_text]

    def call(events: list[Any], marker: bytes | None) -> list[Any]:
        extra = () if marker is None else (marker,)
        return _values.plain_tags(
            doc, events, {}, {}, ({}, {}, {}, {}), {}, lambda url: None, "utf-8", [], *extra
        )

    assert call(events, None) == events  # no marker: every raw text and its tag pass
    assert call(events, b"uploads") == [marked, marked_text]
    # A tag with hits of its own stays for them; only its raw text goes.
    assert call([with_hits, css], b"uploads") == [with_hits]
    with pytest.raises(ValueError, match="A-Z"):
        call(events, b"Uploads")
