"""Test helpers for the HTML engine: a real upload locator, a tiny delivery mapping, oracles.

The mapping is the smallest honest stand-in for a delivery provider (providers
are tested on their own): an upload ``https://example.com/wp-content/uploads/P``
becomes ``https://cdn.example.net/u/P`` (query and fragment kept).

:func:`lxml_differences` is the independent reader: it parses input and output
with lxml and lists every difference between the trees other than a changed
value of an attribute the engine may rewrite whose URL-masked text is unchanged.
:func:`remaining_uploads` lists upload URLs that lxml still finds in URL
positions of the output (what the engine missed).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from hypothesis import strategies as st
from lxml import etree

from rewriteproxy.html import HtmlOptions, HtmlRewriter, native
from rewriteproxy.html.rewriter import ANY_TAG, MEDIA_META_NAMES, TARGETS, Kind
from rewriteproxy.media import UploadLocator

HOSTS = ("example.com", "www.example.com")
LOCATOR = UploadLocator(HOSTS, "/wp-content/uploads/")
CDN = "https://cdn.example.net/u/"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def map_url(url: str) -> str | None:
    ref = LOCATOR.parse(url)
    if ref is None:
        return None
    return (
        CDN
        + ref.path
        + (f"?{ref.query}" if ref.query else "")
        + (f"#{ref.fragment}" if ref.fragment else "")
    )


def rewriter(**options: object) -> HtmlRewriter:
    return HtmlRewriter(HtmlOptions(**options))  # type: ignore[arg-type]


def fixture_pages() -> list[Path]:
    """Every HTML page under tests/fixtures (hand-written ones and captured WordPress pages)."""
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix.lower() in (".html", ".htm"))


_URL_TOKEN = re.compile(
    r"[A-Za-z0-9._~:/\\%&#;?=+@!$*\[\]-]*(?:uploads|cdn\.example\.net)"
    r"[A-Za-z0-9._~:/\\%&#;?=+@!$*\[\]-]*",
    re.IGNORECASE,
)


def mask_urls(text: str) -> str:
    """``text`` with every URL-like token naming the uploads or the CDN replaced by ``URL``."""
    return _URL_TOKEN.sub("URL", text)


def _parse(doc: bytes) -> etree._Element:
    return lxml.html.document_fromstring(doc, parser=lxml.html.HTMLParser(encoding="utf-8"))


def _rewritable(tag: str, name: str) -> bool:
    return (tag, name) in TARGETS or name in ANY_TAG


def lxml_differences(before: bytes, after: bytes) -> list[str]:
    """Differences between the lxml trees of ``before`` and ``after`` the engine may not make."""
    problems: list[str] = []
    a_nodes, b_nodes = list(_parse(before).iter()), list(_parse(after).iter())
    if len(a_nodes) != len(b_nodes):
        return [f"tree sizes differ: {len(a_nodes)} != {len(b_nodes)}"]
    for a, b in zip(a_nodes, b_nodes, strict=True):
        where = f"<{a.tag}> #{a_nodes.index(a)}"
        raw_text = isinstance(a.tag, str) and a.tag.lower() in ("script", "style")
        if raw_text and a.text != b.text and mask_urls(a.text or "") == mask_urls(b.text or ""):
            pass  # URLs in a style sheet or in script strings may change, nothing else
        elif a.tag != b.tag or a.text != b.text or a.tail != b.tail:
            problems.append(f"{where}: tag/text/tail changed")
            continue
        if list(a.attrib.keys()) != list(b.attrib.keys()):
            problems.append(f"{where}: attribute names changed")
            continue
        for name, old in a.attrib.items():
            new = b.attrib[name]
            if old == new:
                continue
            if not isinstance(a.tag, str) or not _rewritable(a.tag.lower(), name.lower()):
                problems.append(f"{where}: {name} changed but is not a URL position")
            elif mask_urls(old) != mask_urls(new):
                problems.append(f"{where}: {name} changed beyond its URLs: {old!r} -> {new!r}")
    return problems


def _urls_in(kind: Kind, value: str) -> Iterator[str]:
    if kind is Kind.URL_OR_CSS:  # CSS when it holds "url(" (as the engine reads it), else a URL
        kind = Kind.CSS if "url(" in value.lower() else Kind.URL
    if kind in (Kind.URL, Kind.META_URL):
        yield value.strip()
    if kind is Kind.SRCSET:  # URLs run to whitespace; descriptors like 300w / 2x are skipped
        for token in value.split():
            if not re.fullmatch(r"\d+(?:\.\d+)?[wxh],?", token):
                yield token.strip(",")
    if kind is Kind.CSS:
        for m in re.finditer(r"""url\(\s*["']?([^"')]*)""", value):
            yield m.group(1)
    if kind is Kind.JSON:
        try:
            data = json.loads(value)
        except ValueError:
            return
        yield from _json_strings(data)


def _json_strings(data: object) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for v in data.values():
            yield from _json_strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from _json_strings(v)


def remaining_uploads(doc: bytes) -> list[str]:
    """Upload URLs lxml still finds in URL positions of ``doc`` (attributes and ld+json)."""
    found: list[str] = []
    for el in _parse(doc).iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag == "script" and (el.get("type") or "").lower() == "application/ld+json":
            for string in _urls_in(Kind.JSON, el.text or ""):
                found.extend(u for u in _urls_in(Kind.SRCSET, string) if LOCATOR.parse(u))
        for name, value in el.attrib.items():
            kind = TARGETS.get((tag, name.lower())) or ANY_TAG.get(name.lower())
            if kind is Kind.META_URL and not any(
                (el.get(a) or "").lower() in MEDIA_META_NAMES for a in ("property", "name")
            ):
                continue
            if kind is Kind.JSON:  # strings in JSON may be URLs or whole srcset lists
                for string in _urls_in(kind, value):
                    found.extend(u for u in _urls_in(Kind.SRCSET, string) if LOCATOR.parse(u))
            elif kind is not None:
                found.extend(u for u in _urls_in(kind, value) if LOCATOR.parse(u))
    return found


# Pieces that change the tokenizer's state (tags, quotes, comments, raw-text elements,
# the marker "uploads"), for random documents the tokenizer tests compare readings of.
MARKUP_PIECES = st.sampled_from(
    [
        "<img src=/uploads/a.jpg>",
        '<img alt="x > y" src="/UPLOADS/b" SRC="/uploads/dup">',
        "<img src src='/uploads/second'>",
        "<a href='/uploads/c' href=/uploads/d>",
        '<div style="background:url(&quot;/uploads/e&quot;)" data-src=/uploads/f/>',
        "<source srcset=/uploads/g.jpg\t1x>",
        '<x =uploads a="b"c=/uploads/h>',
        "<p title=uploads>",
        "<!--",
        "-->",
        "--!>",
        "<!-->",
        "<!--->",
        "<script>",
        "<script type=application/ld+json>",
        "</script>",
        "</script ",
        "<style>",
        "</STYLE>",
        "<textarea>",
        "</textarea>",
        "<title>",
        "</title>",
        "<iframe src=/uploads/i>",
        "</iframe>",
        "<picture>",
        "<noscript>",
        "<template>",
        '"',
        "'",
        "<",
        ">",
        "=",
        "/",
        "</div x='>'>",
        "</>",
        "</ x>",
        "<?x>",
        "<!DOCTYPE html>",
        "<![CDATA[",
        "<plaintext>",
        "<scripts src=/uploads/j>",
        " ",
        "\n",
        "uploads",
        "<div data-x=",
    ]
)
MARKUP_NOISE = st.text(alphabet="<>!-/?\"'= \nuploadsUPLOADSimg", max_size=10)


def markup_documents(max_pieces: int) -> st.SearchStrategy[bytes]:
    """Random documents glued from :data:`MARKUP_PIECES` and noise."""
    return st.lists(st.one_of(MARKUP_PIECES, MARKUP_NOISE), max_size=max_pieces).map(
        lambda pieces: "".join(pieces).encode()
    )


def native_or_skip(available: bool, what: str) -> None:
    """Skip a test of an optional C part that is not built, or fail when the run says it
    must be (``REWRITEPROXY_REQUIRE_NATIVE=1``, as CI sets), unless the run disabled the C
    parts on purpose (``REWRITEPROXY_NO_NATIVE=1``, CI's pure-Python leg)."""
    if available:
        return
    if os.environ.get("REWRITEPROXY_REQUIRE_NATIVE") == "1" and not native.disabled():
        pytest.fail(f"{what} is not built (pip install -e . builds it)")
    pytest.skip(f"{what} is not built", allow_module_level=True)
