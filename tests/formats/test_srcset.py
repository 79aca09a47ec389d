"""srcset lists: URLs found by the WHATWG rules, only URL spans edited."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriteproxy.formats import apply_edits
from rewriteproxy.formats.srcset import rewrite_srcset, srcset_url_spans
from tests.formats import support
from tests.formats.support import DELIVERED, HOSTILE_URLS, UPLOAD, to_cdn

CLOUDINARY = "https://res.cloudinary.com/x/image/upload/f_auto,q_auto/v1/a.jpg"


def urls(value: str) -> list[str]:
    return [value[s:e] for s, e in srcset_url_spans(value)]


def upper(url: str) -> str | None:
    return url.upper() if url.startswith("/u/") else None


def test_width_and_density_descriptors() -> None:
    assert urls("/u/a.jpg 300w, /u/b.jpg 600w") == ["/u/a.jpg", "/u/b.jpg"]
    assert urls("/u/a.jpg 1x,/u/b.jpg 2x") == ["/u/a.jpg", "/u/b.jpg"]


def test_a_url_may_contain_commas() -> None:
    value = f"{CLOUDINARY} 300w, {CLOUDINARY.replace('a.jpg', 'b.jpg')} 600w"
    assert urls(value) == [CLOUDINARY, CLOUDINARY.replace("a.jpg", "b.jpg")]


def test_trailing_commas_end_a_candidate_without_descriptors() -> None:
    assert urls("/u/a.jpg,, /u/b.jpg 2x") == ["/u/a.jpg", "/u/b.jpg"]
    # Without whitespace the comma belongs to the URL, as in a browser.
    assert urls("/u/a.jpg,/u/b.jpg") == ["/u/a.jpg,/u/b.jpg"]


def test_descriptors_with_parentheses_hold_commas() -> None:
    assert urls("/u/a.jpg foo(1, 2), /u/b.jpg") == ["/u/a.jpg", "/u/b.jpg"]


def test_surrounding_whitespace_and_empty_values() -> None:
    assert urls("  \n/u/a.jpg   300w ,\t/u/b.jpg  ") == ["/u/a.jpg", "/u/b.jpg"]
    assert urls("") == []
    assert urls(" , ,") == []


def test_rewrite_edits_only_the_urls() -> None:
    value = " /u/a.jpg  300w ,/x/b.jpg 2x, /u/c.jpg"
    expected = " /U/A.JPG  300w ,/x/b.jpg 2x, /U/C.JPG"
    assert apply_edits(value, rewrite_srcset(value, upper)) == expected


def test_nothing_to_change_means_no_edits() -> None:
    assert rewrite_srcset("/x/a.jpg 300w", upper) == []


def test_rewritten_cloudinary_urls_survive_a_second_pass() -> None:
    to_cloudinary = {"/u/a.jpg": CLOUDINARY}.get
    first = apply_edits(
        "/u/a.jpg 300w, /u/a.jpg 2x", rewrite_srcset("/u/a.jpg 300w, /u/a.jpg 2x", to_cloudinary)
    )
    assert first == f"{CLOUDINARY} 300w, {CLOUDINARY} 2x"
    assert urls(first) == [CLOUDINARY, CLOUDINARY]
    assert rewrite_srcset(first, to_cloudinary) == []


def test_replacements_that_would_split_are_refused() -> None:
    for bad in ("/new path.jpg", "/new\tpath.jpg", "/new\npath", "/a\fb", "/a\rb", "/new.jpg,"):
        assert rewrite_srcset("/u/a.jpg 1x", lambda u, bad=bad: bad) == [], bad
    assert rewrite_srcset("/u/a.jpg 1x", lambda u: ",/new.jpg") == []
    assert rewrite_srcset("/u/a.jpg 1x", lambda u: "") == []
    assert rewrite_srcset("/u/a.jpg 1x", lambda u: "/a,b.jpg") == [(0, 8, "/a,b.jpg")]


_WS = "\t\n\f\r "


def reference_spans(value: str) -> list[tuple[int, int]]:
    """The WHATWG srcset steps, character by character (slow, obviously right)."""
    spans: list[tuple[int, int]] = []
    pos, n = 0, len(value)
    while True:
        while pos < n and value[pos] in _WS + ",":
            pos += 1
        if pos >= n:
            return spans
        start = pos
        while pos < n and value[pos] not in _WS:
            pos += 1
        end = pos
        if value[end - 1] == ",":
            while value[end - 1] == ",":
                end -= 1
            spans.append((start, end))
            continue  # trailing commas: no descriptors
        spans.append((start, end))
        in_parens = False
        while pos < n:
            c = value[pos]
            pos += 1
            if in_parens:
                in_parens = c != ")"
            elif c == "(":
                in_parens = True
            elif c == ",":
                break


@settings(max_examples=500)
@given(st.text(alphabet=" \t\n,()/u.jpgw2x", max_size=40))
def test_spans_match_the_standard_steps(value: str) -> None:
    assert srcset_url_spans(value) == reference_spans(value)


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_urls_the_upload_rule_refuses_are_kept(url: str) -> None:
    value = f"{UPLOAD} 1x, {url} 2x"
    assert apply_edits(value, rewrite_srcset(value, to_cdn)) == f"{DELIVERED} 1x, {url} 2x"


@settings(max_examples=300, deadline=None)
@given(support.texts([" ", ", ", ",", "1x", "300w", "(a, b)", "\t"], " "))
def test_properties(value: str) -> None:
    once = apply_edits(value, rewrite_srcset(value, support.to_cdn))
    assert rewrite_srcset(once, support.to_cdn) == []


@settings(max_examples=200, deadline=None)
@given(support.texts([" ", ", ", ",", "1x", "300w", "(a, b)", "\t"], " ", with_uploads=False))
def test_no_upload_urls_no_edits(value: str) -> None:
    assert rewrite_srcset(value, support.to_cdn) == []
