"""The pipeline: a rewriter by content type, the body's coding kept, and failing open."""

from __future__ import annotations

import gzip

import brotli

from rewriteproxy.pipeline import Page, Pipeline, recode


def shout(body: bytes, charset: str | None, coding: str, page: Page) -> bytes:
    """A rewriter that upper-cases "cat", through recode as the real ones do."""
    return recode(
        body, coding, lambda plain: plain.replace(b"cat", b"CAT") if b"cat" in plain else plain
    )


PIPELINE = Pipeline({"text/html": shout})


def test_a_rewritten_body_keeps_the_coding_the_upstream_chose() -> None:
    for coding, encode, decode in (
        ("", bytes, bytes),
        ("gzip", gzip.compress, gzip.decompress),
        ("br", brotli.compress, brotli.decompress),
    ):
        result = PIPELINE.apply(encode(b"<p>cat</p>"), "text/html; charset=utf-8", coding)
        assert result.status == "rewritten", coding
        assert result.body is not None and decode(result.body) == b"<p>CAT</p>"


def test_nothing_to_change_is_unchanged_and_nothing_is_encoded() -> None:
    sent = gzip.compress(b"<p>dog</p>")
    calls: list[bytes] = []

    def watching(plain: bytes) -> bytes:
        calls.append(plain)
        return plain

    assert recode(sent, "gzip", watching) is sent
    assert calls == [b"<p>dog</p>"]
    assert PIPELINE.apply(sent, "text/html", "gzip").status == "unchanged"


def test_other_content_types_are_not_touched() -> None:
    assert PIPELINE.apply(b"cat", "image/jpeg").status == "unchanged"
    assert not PIPELINE.handles("application/octet-stream")
    assert PIPELINE.handles("TEXT/HTML; charset=utf-8")


def test_a_corrupt_body_fails_open() -> None:
    result = PIPELINE.apply(b"not gzip at all", "text/html", "gzip")
    assert result.status == "failed" and result.body is None
    assert result.error is not None and "error" in result.error.lower()
