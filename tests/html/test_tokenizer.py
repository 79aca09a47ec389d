"""The C tokenizer (``_tokenizer.c``) reports exactly what the regular-expression one does.

The regex tokenizer in scanner.py is the reference; these tests run both over
the same documents (hand-picked fragments, random ones built from the pieces
that change the tokenizer's state, arbitrary bytes, and every page under
tests/fixtures/) and require identical events: the same start tags with the same
offsets, marked values and attributes, the same raw texts, in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rewriteproxy.html.rewriter import CONTEXT_TAGS
from rewriteproxy.html.scanner import NATIVE, RawText, Scanner
from tests.html.support import markup_documents, native_or_skip

native_or_skip(NATIVE, "the C tokenizer")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MARKER = b"uploads"
VALUE_NAMES = frozenset({"src", "srcset", "href", "data-src", "style", "content"})
REPORTS = [frozenset(), frozenset({"img", "source", "iframe", "textarea", *CONTEXT_TAGS})]


def events(scanner: Scanner, doc: bytes) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for event in scanner.scan(doc):
        if isinstance(event, RawText):
            out.append(("raw", event.tag.start, event.start, event.end, event.closed))
        else:
            marked = scanner.marked_values(event)
            attributes = [tuple(a) for a in event.attributes]
            out.append((event.name, event.start, event.name_end, event.end, marked, attributes))
    return out


def assert_same(doc: bytes, marker: bytes = MARKER) -> None:
    for names in REPORTS:
        regex = Scanner(names, marker, VALUE_NAMES, native=False)
        native = Scanner(names, marker, VALUE_NAMES, native=True)
        assert events(native, doc) == events(regex, doc), (names, doc[:300])


@settings(max_examples=1500)
@given(markup_documents(max_pieces=30))
@example(b"<img src=/uploads/a.jpg ")
@example(b"<!--<img src=/uploads/a.jpg>")
@example(b"<script><img src=/uploads/a.jpg></script x")
def test_random_documents_read_the_same(doc: bytes) -> None:
    assert_same(doc)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_read_the_same(doc: bytes) -> None:
    assert_same(doc)
    assert_same(doc, marker=b"u")


@pytest.mark.parametrize(
    "page", sorted(FIXTURES.rglob("*.html")), ids=lambda p: str(p.relative_to(FIXTURES))
)
def test_real_pages_read_the_same(page: Path) -> None:
    doc = page.read_bytes()
    assert_same(doc)
    assert_same(doc, marker=b"wp-content")


def test_an_empty_marker_is_refused() -> None:
    from rewriteproxy.html import _tokenizer

    with pytest.raises(ValueError, match="marker"):
        _tokenizer.scan(b"<img>", b"", (), frozenset())


def test_pathological_tags_read_the_same() -> None:
    """Huge tags: thousands of attributes, duplicates of a wanted name, a value of a
    megabyte; the C tokenizer's duplicate check and marker search must stay exact."""
    many = b"<img " + b" ".join(b"a%d=x" % i for i in range(5000)) + b' src="/uploads/a.jpg">'
    dups = b"<img " + b" ".join(b"SRC=/uploads/%d.jpg" % i for i in range(3000)) + b">"
    mixed = b"<img " + b" ".join(b"data-src%d=/uploads/x" % (i % 50) for i in range(3000)) + b">"
    long_value = b'<a href="' + b"u" * 1_000_000 + b'/uploads/b.pdf">x</a>'
    for doc in (many, dups, mixed, long_value, many + dups + mixed):
        assert_same(doc)


def test_many_configured_attribute_names_read_the_same() -> None:
    """More wanted names than a small fixed table could hold (extra attributes are
    configurable): every name that hits in a tag is checked for earlier duplicates, in
    any case, however many distinct names hit before it."""
    names = frozenset(f"n{i}" for i in range(100))
    first = b" ".join(b"n%d=/uploads/%d" % (i, i) for i in range(100))
    later = b" ".join(
        b"N%d x n%d='/uploads/again' N%d" % (i % 100, i % 100, i % 100) for i in range(300)
    )
    for doc in (
        b"<img " + first + b" " + later + b">",
        b"<img n99 " + first + b" " + later + b">",
        b"<img " + later + b" " + first + b">",
    ):
        for report in REPORTS:
            regex = Scanner(report, MARKER, names, native=False)
            native = Scanner(report, MARKER, names, native=True)
            assert events(native, doc) == events(regex, doc)


def test_a_native_filter_decides_which_events_are_reported() -> None:
    """The hook the rewriter's C value path uses: it sees every event first."""
    scanner = Scanner(frozenset(), MARKER, VALUE_NAMES, native=True)
    doc = b"<img src=/uploads/a.jpg><a href=/uploads/b.pdf>"
    seen: list[object] = []

    def links_only(found: list[Any]) -> list[Any]:
        seen.extend(found)
        return [event for event in found if doc[event[0] + 1 : event[1]] == b"a"]

    assert [tag.name for tag in scanner.scan(doc, links_only)] == ["a"]
    assert len(seen) == 2


@settings(max_examples=500)
@given(markup_documents(max_pieces=30), st.integers(1, 4))
def test_reading_in_parts_gives_the_events_of_one_reading(doc: bytes, limit: int) -> None:
    from rewriteproxy.html import _tokenizer

    args = (MARKER, (b"img",), VALUE_NAMES)
    parts: list[object] = []
    pos = 0
    while pos >= 0:
        events, pos = _tokenizer.scan(doc, *args, pos, limit)
        assert len(events) <= limit + 1  # a tag and its raw text stay together
        parts.extend(events)
    assert parts == _tokenizer.scan(doc, *args)
    with pytest.raises(ValueError, match="start"):
        _tokenizer.scan(doc, *args, len(doc) + 1, limit)
    with pytest.raises(ValueError, match="limit"):
        _tokenizer.scan(doc, *args, 0, 0)
