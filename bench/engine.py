"""Benchmark: the HTML engine against lxml.html parse+serialise doing the same rewrite.

    python bench/engine.py [--repeat 15] [--big-mb 10]

For every page in bench/corpus/ (``python bench/make_corpus.py`` rebuilds it) it
times, in the same process and run, (a) ``HtmlRewriter.rewrite`` with every
URL position on, (b) lxml.html parsing the page, rewriting the same URL
positions with the same format functions, and serialising it, and (c) lxml.html
parse + serialise alone, no edits: the least any DOM-based rewrite can cost. It
prints the median time per page (runs interleaved, so all see the same machine
load), MB/s and the ratios of (b) and (c) to (a). The scanner uses the C
tokenizer when it is built (the header line says which). Then it checks how cost
grows with size: a page of ``--big-mb`` MB built the same way against the 50 KB
page of the same family (linear cost means a ratio near the size ratio, about
200 for 10 MB), and times the fast path (a page without upload URLs).

Features (``--features``, on by default; ``--only-features`` skips the rest): the
same pages through the production path (a config with Cloudinary delivery,
``UrlMapper`` with its provider cache) with the page-speed features off and on
(responsive srcset, lazy loading, blur placeholders, preconnect), runs
interleaved, medians.

The URL mapping is the same small one the tests use (UploadLocator + a CDN
prefix), so the figures include map_url calls, the same for both sides. They
are run twice: "cold" (each page's URLs mapped afresh) and "warm" (behind a
cache that already knows them, as a proxy's bounded cache would on pages
viewed before), which shows the HTML work alone. Not a test: nothing here
fails on a slow machine; it reports.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lxml.html  # noqa: E402

from bench.make_corpus import CORPUS, FAMILIES, SIZES, build  # noqa: E402
from bench.make_corpus import main as make_corpus  # noqa: E402
from rewriteproxy.commands.serve import tune_garbage_collector  # noqa: E402
from rewriteproxy.config import parse_config  # noqa: E402
from rewriteproxy.delivery import build_delivery  # noqa: E402
from rewriteproxy.features import build_handlers  # noqa: E402
from rewriteproxy.formats import apply_edits  # noqa: E402
from rewriteproxy.formats.css import rewrite_css  # noqa: E402
from rewriteproxy.formats.jsonurls import rewrite_json_strings  # noqa: E402
from rewriteproxy.formats.srcset import rewrite_srcset  # noqa: E402
from rewriteproxy.html import HtmlOptions, HtmlRewriter  # noqa: E402
from rewriteproxy.html.rewriter import (  # noqa: E402
    ANY_TAG,
    MEDIA_META_NAMES,
    TARGETS,
    Kind,
    Memo,
    _memoised,
)
from rewriteproxy.html.scanner import NATIVE  # noqa: E402
from rewriteproxy.inventory import NullInventory  # noqa: E402
from rewriteproxy.media import UploadLocator  # noqa: E402
from rewriteproxy.rewriting import build_url_mapper  # noqa: E402

REAL_PAGES = ROOT / "tests" / "fixtures" / "wordpress"  # WordPress 6.1, two themes
LOCATOR = UploadLocator(("example.com", "www.example.com"), "/wp-content/uploads/")


def map_url(url: str) -> str | None:
    ref = LOCATOR.parse(url)
    return None if ref is None else "https://cdn.example.net/u/" + ref.path


_WARM: dict[str, str | None] = {}


def warm_map_url(url: str) -> str | None:
    """``map_url`` behind a cache that already knows every URL: a page viewed before."""
    try:
        return _WARM[url]
    except KeyError:
        new = _WARM[url] = map_url(url)
        return new


def lxml_rewrite(doc: bytes, mapper: Callable[[str], str | None] = map_url) -> bytes:
    """The same rewrite through a DOM: parse, edit attributes and raw texts, serialise.

    It gets the same per-document memo of ``map_url`` the engine uses, so the
    comparison is of the HTML work, not of how often the mapper runs.
    """
    map_url = _memoised(mapper)
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


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def lxml_round_trip(doc: bytes) -> bytes:
    """lxml.html parse + serialise with no edits: the floor of any DOM-based rewrite."""
    tree = lxml.html.document_fromstring(doc)
    return lxml.html.tostring(tree, encoding="utf-8", doctype="<!DOCTYPE html>")


def compare(
    doc: bytes, rewriter: HtmlRewriter, repeat: int, mapper: Callable[[str], str | None]
) -> tuple[float, float, float]:
    """Median seconds of the engine, of lxml rewriting and of lxml's round trip alone,
    runs interleaved so all see the same load."""
    engine, dom, bare = [], [], []
    for _ in range(repeat):
        engine.append(timed(lambda: rewriter.rewrite(doc, mapper)))
        dom.append(timed(lambda: lxml_rewrite(doc, mapper)))
        bare.append(timed(lambda: lxml_round_trip(doc)))
    return statistics.median(engine), statistics.median(dom), statistics.median(bare)


# The subset of URL positions python-lolhtml is given: the (tag, attribute) pairs of the
# engine's table it can reach through a selector and a Python element handler.
LOLHTML_TAGS: dict[str, tuple[tuple[str, Kind], ...]] = {
    "img": (("src", Kind.URL), ("srcset", Kind.SRCSET)),
    "source": (("src", Kind.URL), ("srcset", Kind.SRCSET)),
    "a": (("href", Kind.URL),),
    "link": (("href", Kind.URL), ("imagesrcset", Kind.SRCSET)),
    "meta": (("content", Kind.META_URL),),
}


def lolhtml_rewrite(
    doc: bytes,
    mapper: Callable[[str], str | None] = map_url,
    memo: Memo | None = None,
) -> bytes:
    """The same URL rewrite of img/source/a/link/meta through python-lolhtml (Rust): one
    selector per tag, a Python handler mapping each value, the same memo of the mapper's
    answers the engine gets. lol-html hands attribute values over as written (no character
    references decoded), which is what this corpus needs."""
    import lolhtml

    seen = _memoised(mapper, None if memo is None else memo.answers)
    out: list[bytes] = []
    rewriter = lolhtml.HTMLRewriter(out.append)
    for tag, attributes in LOLHTML_TAGS.items():
        rewriter.on(tag, _LolHandler(attributes, seen))
    rewriter.write(doc)
    rewriter.end()
    return b"".join(out)


class _LolHandler:
    def __init__(
        self, attributes: tuple[tuple[str, Kind], ...], mapper: Callable[[str], str | None]
    ) -> None:
        self.attributes = attributes
        self.mapper = mapper

    def element(self, element: Any) -> None:
        for name, kind in self.attributes:
            value = element.get_attribute(name)
            if not value:
                continue
            if kind is Kind.META_URL:
                names = (element.get_attribute(n) for n in ("property", "name", "itemprop"))
                if not any(n and n.strip().lower() in MEDIA_META_NAMES for n in names):
                    continue
            if kind is Kind.SRCSET:
                edits = rewrite_srcset(value, self.mapper)
                if edits:
                    element.set_attribute(name, apply_edits(value, edits))
            else:
                new = self.mapper(value.strip())
                if new is not None:
                    element.set_attribute(name, new)


def peer_pages() -> list[Path]:
    """The engine corpus and the real WordPress captures (two themes) of the test fixtures."""
    corpus = sorted(CORPUS.glob("*.html"), key=lambda p: (p.name.split("-")[0], p.stat().st_size))
    return corpus + sorted(REAL_PAGES.glob("*.html"))


def peers_table(pages: list[Path], repeat: int) -> None:
    """The engine (every URL position), python-lolhtml (its subset) and lxml.html parse +
    serialise (no edits), same production mapper, runs interleaved: medians and ratios."""
    try:
        import lolhtml  # noqa: F401
    except ImportError:
        print("peers: python-lolhtml is not installed (pip install -e '.[bench]'); skipped\n")
        return
    config = parse_config(PEERS_CONFIG)
    mapper = build_url_mapper(config, NullInventory())
    rewriter = HtmlRewriter(config.html)
    print(
        "peers: CDN delivery through the production UrlMapper and its memo of answers "
        "across pages (warm: the URLs seen before, as on pages that differ only by a "
        "nonce); engine = every URL position, "
        "lolhtml = img/source/a/link/meta URL attributes through a Python handler, "
        "lxml = lxml.html parse + serialise, no edits"
    )
    print(
        f"{'page':<36}{'bytes':>10}{'engine':>8}{'lolhtml':>8}{'lxml':>7}"
        f"{'vs lolhtml':>11}{'vs lxml':>9}   (MB/s, medians; ratios = peer time / engine time)"
    )
    ratios_lol, ratios_lxml = [], []
    for page in pages:
        doc = page.read_bytes()

        # As the pipeline calls it (rewriting.build_pipeline), the page cache aside.
        def engine_page(d: bytes = doc) -> bytes:
            return rewriter.rewrite(d, mapper, memo=mapper.pure_answers())

        def lolhtml_page(d: bytes = doc) -> bytes:
            return lolhtml_rewrite(d, mapper, mapper.pure_answers())

        for _ in range(2):
            engine_page()
            lolhtml_page()
        n = max(5, repeat if len(doc) < 1_000_000 else repeat // 3)
        engine, lol, bare = [], [], []
        for _ in range(n):
            engine.append(timed(engine_page))
            lol.append(timed(lolhtml_page))
            bare.append(timed(lambda d=doc: lxml_round_trip(d)))
        t_e, t_l, t_x = (statistics.median(t) for t in (engine, lol, bare))
        # Ratios: medians of the per-round ratios, which cancel most of a shared machine's
        # bursts (the three runs of a round see the same load).
        r_l = statistics.median(l_ / e for l_, e in zip(lol, engine, strict=True))
        r_x = statistics.median(x / e for x, e in zip(bare, engine, strict=True))
        ratios_lol.append(r_l)
        ratios_lxml.append(r_x)
        mb = len(doc) / 1e6
        print(
            f"{page.name:<36}{len(doc):>10,}{mb / t_e:>8.0f}{mb / t_l:>8.0f}{mb / t_x:>7.0f}"
            f"{r_l:>10.2f}x{r_x:>8.2f}x"
        )
    print(
        f"{'lowest':<36}{'':>10}{'':>8}{'':>8}{'':>7}"
        f"{min(ratios_lol):>10.2f}x{min(ratios_lxml):>8.2f}x"
    )
    print(
        f"{'median page':<36}{'':>10}{'':>8}{'':>8}{'':>7}"
        f"{statistics.median(ratios_lol):>10.2f}x{statistics.median(ratios_lxml):>8.2f}x"
    )
    print()


PEERS_CONFIG = """
upstream: http://127.0.0.1:9
site: {hosts: [example.com, www.example.com, wp.test]}
delivery: {provider: cdn, cdn: {base_url: "https://cdn.example.net/wp-content/uploads/"}}
"""


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))


FEATURES_CONFIG = """
upstream: http://127.0.0.1:9
site: {hosts: [example.com, www.example.com]}
delivery: {provider: cloudinary, cloudinary: {cloud_name: demo, folder: wp}}
features:
  lazy: {enabled: true}
  placeholders: {style: blur}
  preconnect: {enabled: true}
"""


def features_table(pages: list[Path], repeat: int) -> None:
    """Engine time per page with the page-speed features off and on, same mapper, same run."""
    config = parse_config(FEATURES_CONFIG)
    provider = build_delivery(config.delivery)
    mapper = build_url_mapper(config, NullInventory(), provider)
    make_handlers = build_handlers(config.features, provider)
    rewriter = HtmlRewriter(config.html)
    print(
        "features: Cloudinary delivery; off = URL rewriting only, on = responsive srcset + "
        "lazy + blur placeholders + preconnect"
    )
    print(f"{'page':<20}{'bytes':>11}{'off ms':>9}{'MB/s':>7}{'on ms':>9}{'MB/s':>7}{'on/off':>8}")
    for page in pages:
        doc = page.read_bytes()
        rewriter.rewrite(doc, mapper)  # fill the provider's cache: a page viewed before
        assert rewriter.rewrite(
            doc, mapper, handlers=make_handlers(mapper, doc)
        ) != rewriter.rewrite(doc, mapper)
        n = max(3, repeat if len(doc) < 1_000_000 else repeat // 3)
        off, on = [], []
        for _ in range(n):
            off.append(timed(lambda d=doc: rewriter.rewrite(d, mapper)))
            on.append(
                timed(lambda d=doc: rewriter.rewrite(d, mapper, handlers=make_handlers(mapper, d)))
            )
        t_off, t_on = statistics.median(off), statistics.median(on)
        mb = len(doc) / 1e6
        print(
            f"{page.name:<20}{len(doc):>11,}{t_off * 1e3:>9.2f}{mb / t_off:>7.0f}"
            f"{t_on * 1e3:>9.2f}{mb / t_on:>7.0f}{t_on / t_off:>7.2f}x"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--big-mb", type=float, default=10.0)
    parser.add_argument(
        "--no-features",
        dest="features",
        action="store_false",
        help="skip the features-off/on table",
    )
    parser.add_argument(
        "--only-features", action="store_true", help="print only the features-off/on table"
    )
    parser.add_argument(
        "--only-peers",
        action="store_true",
        help="print only the engine / python-lolhtml / lxml table",
    )
    args = parser.parse_args()
    tune_garbage_collector()  # as `serve` does; every side of every table runs with it
    rewriter = HtmlRewriter(HtmlOptions(uploads_path="/wp-content/uploads/"))
    if not all((CORPUS / f"{f}-{size}.html").exists() for f in FAMILIES for size in SIZES):
        make_corpus()  # the 2 MB pages are built, not committed
    pages = sorted(CORPUS.glob("*.html"), key=lambda p: (p.name.split("-")[0], p.stat().st_size))
    print(f"scanner tokenizer: {'C (rewriteproxy.html._tokenizer)' if NATIVE else 'regex'}\n")
    peers_table(peer_pages(), args.repeat)
    if args.only_peers:
        return 0
    if args.features or args.only_features:
        features_table(pages, args.repeat)
    if args.only_features:
        return 0
    for title, mapper in (
        ("cold: map_url = UploadLocator.parse + CDN prefix, memoised per page", map_url),
        ("warm: the same map_url behind a cache that knows every URL", warm_map_url),
    ):
        print(title)
        print(
            f"{'page':<20}{'bytes':>11}{'engine ms':>11}{'MB/s':>7}{'lxml ms':>10}{'MB/s':>7}"
            f"{'lxml/engine':>13}{'parse+ser ms':>14}{'MB/s':>7}{'p+s/engine':>12}"
        )
        for page in pages:
            doc = page.read_bytes()
            assert rewriter.rewrite(doc, mapper) == rewriter.rewrite(doc, mapper)
            repeat = max(3, args.repeat if len(doc) < 1_000_000 else args.repeat // 3)
            engine, dom, bare = compare(doc, rewriter, repeat, mapper)
            mb = len(doc) / 1e6
            print(
                f"{page.name:<20}{len(doc):>11,}{engine * 1e3:>11.2f}{mb / engine:>7.0f}"
                f"{dom * 1e3:>10.2f}{mb / dom:>7.0f}{dom / engine:>12.1f}x"
                f"{bare * 1e3:>14.2f}{mb / bare:>7.0f}{bare / engine:>11.1f}x"
            )
        print()
    for family in FAMILIES:
        small = (CORPUS / f"{family}-50k.html").read_bytes()
        big = build(int(args.big_mb * 1e6), family)
        t_small = median_seconds(lambda s=small: rewriter.rewrite(s, map_url), args.repeat)
        t_big = median_seconds(lambda b=big: rewriter.rewrite(b, map_url), 3)
        urls = big.count(b"/wp-content/uploads/") / small.count(b"/wp-content/uploads/")
        print(
            f"linearity ({family}): {len(big) / 1e6:.1f} MB page {t_big * 1e3:.0f} ms, "
            f"50 KB page {t_small * 1e3:.2f} ms: cost ratio {t_big / t_small:.0f} "
            f"for size ratio {len(big) / len(small):.0f} (upload URLs ratio {urls:.0f})"
        )
    plain = (CORPUS / "blog-50k.html").read_bytes().replace(b"uploads", b"pictures")
    assert rewriter.rewrite(plain, map_url) is plain
    t_fast = median_seconds(lambda: rewriter.rewrite(plain, map_url), args.repeat)
    print(
        f"fast path (blog 50 KB page without upload URLs): {t_fast * 1e6:.0f} us, "
        f"{len(plain) / 1e6 / t_fast:.0f} MB/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
