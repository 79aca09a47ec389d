"""Every page under tests/fixtures (hand-written tricky pages, captured WordPress pages) through
the engine, judged by lxml as an independent reader. A page dropped into a fixtures folder is
added here automatically.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.html.support import (
    FIXTURES,
    fixture_pages,
    lxml_differences,
    map_url,
    mask_urls,
    remaining_uploads,
    rewriter,
)

PAGES = fixture_pages()


def page_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def test_there_are_pages() -> None:
    assert len(PAGES) >= 3


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_only_urls_change(page: Path) -> None:
    doc = page.read_bytes()
    out = rewriter().rewrite(doc, map_url)
    assert mask_urls(out.decode("utf-8", "replace")) == mask_urls(doc.decode("utf-8", "replace"))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_lxml_sees_the_same_tree_but_for_rewritten_urls(page: Path) -> None:
    doc = page.read_bytes()
    assert lxml_differences(doc, rewriter().rewrite(doc, map_url)) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_upload_url_is_left_in_a_url_position(page: Path) -> None:
    out = rewriter().rewrite(page.read_bytes(), map_url)
    # A URL that is not valid in the page's encoding is kept on purpose (lxml shows it with
    # U+FFFD): the engine never guesses what such bytes mean.
    assert [u for u in remaining_uploads(out) if "\ufffd" not in u] == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_idempotent(page: Path) -> None:
    once = rewriter().rewrite(page.read_bytes(), map_url)
    assert rewriter().rewrite(once, map_url) is once


def test_the_hand_written_pages_do_get_rewritten() -> None:
    for name in ("wp-post-blocks.html", "woocommerce-product.html", "tricky-markup.html"):
        doc = (FIXTURES / "pages" / name).read_bytes()
        out = rewriter().rewrite(doc, map_url)
        assert out.count(b"https://cdn.example.net/u/") + out.count(b"cdn.example.net\\/u") >= 10
