"""Benchmark: the HTML engine against lxml.html parse+serialise doing the same rewrite.

    python bench/engine.py [--repeat 15] [--big-mb 10]

For every page in bench/corpus/ (``python bench/make_corpus.py`` builds it) it
times, in the same process and run, (a) ``HtmlRewriter.rewrite`` with every
feature on and (b) lxml.html parsing the page, rewriting the same URL positions
with the same format functions, and serialising it. It prints the median time
per page, MB/s for both and the ratio. Then it checks how cost grows with size:
a page of ``--big-mb`` MB built the same way against the 50 KB page (linear
cost means a ratio near the size ratio, about 200 for 10 MB).

The URL mapping is the same small one the tests use (UploadLocator + a CDN
prefix), so the figures include map_url calls. Not a test: nothing here fails
on a slow machine; it reports.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from bench.make_corpus import CORPUS, build  # noqa: E402
from rewriteproxy.formats import apply_edits  # noqa: E402
from rewriteproxy.formats.css import rewrite_css  # noqa: E402
from rewriteproxy.formats.jsonurls import rewrite_json_strings  # noqa: E402
from rewriteproxy.formats.srcset import rewrite_srcset  # noqa: E402
from rewriteproxy.html import HtmlOptions, HtmlRewriter  # noqa: E402
from rewriteproxy.html.rewriter import ANY_TAG, TARGETS, Kind  # noqa: E402
from rewriteproxy.media import UploadLocator  # noqa: E402

LOCATOR = UploadLocator(("example.com", "www.example.com"), "/wp-content/uploads/")


def map_url(url: str) -> str | None:
    ref = LOCATOR.parse(url)
    return None if ref is None else "https://cdn.example.net/u/" + ref.path


def lxml_rewrite(doc: bytes) -> bytes:
    """The same rewrite through a DOM: parse, edit attributes and raw texts, serialise."""
    tree = lxml.html.document_fromstring(doc)
    for el in tree.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag == "style" and el.text:
            el.text = apply_edits(el.text, rewrite_css(el.text, map_url))
        elif tag == "script" and el.text:
            el.text = apply_edits(el.text, rewrite_json_strings(el.text, map_url))
        for name, value in el.attrib.items():
            kind = TARGETS.get((tag, name)) or ANY_TAG.get(name)
            if kind is None:
                continue
            if kind in (Kind.URL, Kind.META_URL, Kind.URL_OR_CSS):
                new = map_url(value.strip())
                if new is not None:
                    el.set(name, new)
            elif kind is Kind.SRCSET:
                el.set(name, apply_edits(value, rewrite_srcset(value, map_url)))
            elif kind is Kind.CSS:
                el.set(name, apply_edits(value, rewrite_css(value, map_url)))
            else:
                el.set(name, apply_edits(value, rewrite_json_strings(value, map_url)))
    return lxml.html.tostring(tree, encoding="utf-8", doctype="<!DOCTYPE html>")


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--big-mb", type=float, default=10.0)
    args = parser.parse_args()
    rewriter = HtmlRewriter(HtmlOptions(uploads_path="/wp-content/uploads/"))
    pages = sorted(CORPUS.glob("*.html"), key=lambda p: p.stat().st_size)
    if not pages:
        print("bench/corpus is empty: run python bench/make_corpus.py", file=sys.stderr)
        return 1
    print(f"{'page':<18}{'bytes':>11}{'engine ms':>11}{'MB/s':>8}{'lxml ms':>10}{'MB/s':>8}"
          f"{'ratio':>7}")
    for page in pages:
        doc = page.read_bytes()
        repeat = max(3, args.repeat if len(doc) < 1_000_000 else args.repeat // 3)
        engine = median_seconds(lambda d=doc: rewriter.rewrite(d, map_url), repeat)
        dom = median_seconds(lambda d=doc: lxml_rewrite(d), repeat)
        mb = len(doc) / 1e6
        print(f"{page.name:<18}{len(doc):>11,}{engine * 1e3:>11.2f}{mb / engine:>8.0f}"
              f"{dom * 1e3:>10.2f}{mb / dom:>8.0f}{dom / engine:>7.1f}x")
    small = (CORPUS / "page-50k.html").read_bytes()
    big = build(int(args.big_mb * 1e6))
    t_small = median_seconds(lambda: rewriter.rewrite(small, map_url), args.repeat)
    t_big = median_seconds(lambda: rewriter.rewrite(big, map_url), 3)
    print(f"\nlinearity: {len(big) / 1e6:.1f} MB page {t_big * 1e3:.0f} ms, 50 KB page "
          f"{t_small * 1e3:.2f} ms: cost ratio {t_big / t_small:.0f} for size ratio "
          f"{len(big) / len(small):.0f}")
    no_uploads = small.replace(b"wp-content/uploads", b"wp-content/elsewhere")
    t_fast = median_seconds(lambda: rewriter.rewrite(no_uploads, map_url), args.repeat)
    print(f"fast path (50 KB page without upload URLs): {t_fast * 1e6:.0f} us, "
          f"{len(no_uploads) / 1e6 / t_fast:.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
