"""Properties of the engine over random documents (hypothesis).

Two generators: well-formed pages built from the markup WordPress and its plugins
print (upload URLs in every position and encoding, foreign URLs, comments, raw text),
and the same pieces mixed with broken markup (stray quotes and brackets, unclosed
comments and tags, NUL bytes, invalid UTF-8, uppercase names).

For every document: no error is logged (the engine fails open, so an exception
would show up as the original bytes plus a log record), the output with URLs
masked equals the input with URLs masked, rewriting the output again returns it
unchanged (idempotence), and the engine with its C value path and without it
give the same bytes. For well-formed documents, lxml's trees of input and
output also differ only in rewritten URL values, and lxml finds no upload URL
left in a URL position; a document with no upload URL (only foreign ones and
URLs the upload rule refuses) is returned as the same object.
"""

from __future__ import annotations

import json
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from rewriteproxy.html import HtmlOptions, HtmlRewriter
from rewriteproxy.html.rewriter import NATIVE
from tests.formats.support import HOSTILE_URLS
from tests.html.support import (
    lxml_differences,
    map_url,
    mask_urls,
    remaining_uploads,
    rewriter,
)

REWRITER = rewriter()
PYTHON_REWRITER = HtmlRewriter(HtmlOptions(), native=False)

names = st.sampled_from(["a", "b-300x200", "photo_1", "x%20y", "it's", 'q"t', "a&b", "café"])
years = st.sampled_from(["2024/05/", "2019/12/", ""])
exts = st.sampled_from([".jpg", ".webp", ".pdf", ".png"])
prefixes = st.sampled_from(
    [
        "https://example.com/wp-content/uploads/",
        "//example.com/wp-content/uploads/",
        "/wp-content/uploads/",
        "http://www.example.com/wp-content/uploads/",
    ]
)
foreign = st.sampled_from(
    [
        *HOSTILE_URLS,
        "https://other.org/wp-content/uploads/a.jpg",
        "https://cdn.example.net/u/2024/05/a.jpg",
        "https://res.cloudinary.com/x/image/upload/f_auto,q_auto/v1/a.jpg",
        "/images/a.png",
        "wp-content/uploads/relative.jpg",
        "data:image/gif;base64,R0lGOD==",
    ]
)
uploads = st.builds(lambda p, y, n, e: p + y + n + e, prefixes, years, names, exts)
urls = st.one_of(uploads, uploads, foreign)


def css_url(url: str) -> str:
    """``url`` as an unquoted CSS ``url()`` argument can hold it."""
    return url.replace("'", "%27").replace('"', "%22")


def backgrounds(urls: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Lazy-loading backgrounds: a URL or CSS, and sometimes a URL holding "url(" too."""
    return st.one_of(
        urls,
        urls.map(lambda u: f"url({css_url(u)})"),
        st.builds(
            lambda a, b, sep: f"{a}{sep}url({css_url(b)})",
            urls,
            urls,
            st.sampled_from(["?", "#", " "]),
        ),
    )


@st.composite
def attribute(draw: st.DrawFn, name: str, value: str) -> str:
    """``name=value`` in a random but correct quoting and reference style."""
    encoded = value.replace("&", draw(st.sampled_from(["&amp;", "&#038;", "&#38;"])))
    if draw(st.booleans()):
        encoded = encoded.replace("/", draw(st.sampled_from(["/", "&#x2F;", "&#47;", "&sol;"])))
    style = draw(st.sampled_from(['"', "'", ""]))
    if style == "" and (not encoded or any(c in encoded for c in " \t\n\"'=<>`")):
        style = '"'
    if style == '"':
        encoded = encoded.replace('"', "&quot;")
    elif style == "'":
        encoded = encoded.replace("'", "&#39;")
    if draw(st.booleans()):
        name = name.upper()
    return f"{name}={style}{encoded}{style}"


@st.composite
def img(draw: st.DrawFn, urls: st.SearchStrategy[str] = urls) -> str:
    # srcset URLs must not hold whitespace or edge commas (they could not be read back).
    srcset_urls = urls.filter(lambda u: " " not in u and "," not in u)
    attrs = [draw(attribute("src", draw(urls)))]
    if draw(st.booleans()):
        candidates = draw(
            st.lists(
                st.tuples(srcset_urls, st.sampled_from(["300w", "2x", ""])), min_size=1, max_size=3
            )
        )
        value = ", ".join(f"{u} {d}".strip() for u, d in candidates)
        attrs.append(draw(attribute(draw(st.sampled_from(["srcset", "data-srcset"])), value)))
    if draw(st.booleans()):
        attrs.append(draw(attribute("alt", draw(st.sampled_from(["", "a > b", "x", draw(urls)])))))
    if draw(st.booleans()):
        attrs.append(draw(attribute("data-src", draw(urls))))
    draw(st.randoms()).shuffle(attrs)
    return "<img " + " ".join(attrs) + draw(st.sampled_from([">", "/>", " />"]))


@st.composite
def styled(draw: st.DrawFn, urls: st.SearchStrategy[str] = urls) -> str:
    url = css_url(draw(urls))
    quote = draw(st.sampled_from(["", "'", '"']))
    css = f"background-image:url({quote}{url}{quote});color:red"
    return f"<div {draw(attribute('style', css))}>x</div>"


def ld_json(url: str) -> str:
    body = json.dumps({"@type": "ImageObject", "url": url, "caption": "a < b"})
    body = body.replace("/", "\\/").replace("<", "\\u003c")
    return '<script type="application/ld+json">' + body + "</script>"


def style_block(url: str) -> str:
    return "<style>.h{background:url('" + url.replace("'", "%27") + "')}</style>"


def text_piece(url: str) -> str:
    return "<p>" + url.replace("&", "&amp;").replace("<", "&lt;") + " &amp; more</p>"


def well_formed_pieces(urls: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Markup WordPress and its plugins print, with URLs drawn from ``urls``."""
    return st.one_of(
        img(urls),
        styled(urls),
        st.builds(
            lambda a: f"<a {a}>link</a>",
            urls.flatmap(lambda u: attribute("href", u)),
        ),
        st.builds(
            lambda a: f'<meta property="og:image" {a}>',
            urls.flatmap(lambda u: attribute("content", u)),
        ),
        st.builds(ld_json, urls),
        st.builds(
            lambda b: f"<div {b}></div>",
            backgrounds(urls).flatmap(lambda v: attribute("data-bg", v)),
        ),
        st.builds(style_block, urls),
        st.builds(text_piece, urls),
        st.builds(lambda u: f"<!-- {u} -->", urls.filter(lambda u: "--" not in u)),
        st.builds(lambda i: f"<noscript>{i}</noscript>", img(urls)),
        st.builds(lambda u: f"<textarea><img src={u!r}></textarea>".replace("&", "&amp;"), urls),
        st.sampled_from(['<div class="wp-block-group">', "</div>", "<br>", "\n", "text"]),
    )


well_formed_piece = well_formed_pieces(urls)
broken_piece = st.one_of(
    well_formed_piece,
    st.sampled_from(
        [
            "<",
            ">",
            '"',
            "'",
            "<!--",
            "-->",
            "<!-->",
            "</",
            "<img",
            "<a href=",
            "\x00",
            "<IMG SRC=",
            "=",
            "&",
            "&amp",
            "<script>",
            "</script>",
            "<style>",
            "<textarea>",
            "<![CDATA[",
            "<?x",
            "\r\n",
            "<plaintext>",
            "\ufeff",
        ]
    ),
    st.text(alphabet="<>\"'=&/ ab\n", max_size=8),
)


def document(pieces: list[str]) -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset=utf-8></head><body>"
        + "".join(pieces)
        + "</body></html>"
    ).encode()


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def rewrite_without_errors(doc: bytes) -> bytes:
    errors = _Errors()
    logger = logging.getLogger("rewriteproxy.html.rewriter")
    logger.addHandler(errors)
    try:
        out = REWRITER.rewrite(doc, map_url)
    finally:
        logger.removeHandler(errors)
    assert errors.records == [], errors.records[0].getMessage()
    return out


def check_common(doc: bytes) -> bytes:
    out = rewrite_without_errors(doc)
    assert mask_urls(out.decode("utf-8", "replace")) == mask_urls(doc.decode("utf-8", "replace"))
    assert REWRITER.rewrite(out, map_url) is out
    if NATIVE:
        assert PYTHON_REWRITER.rewrite(doc, map_url) == out
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(well_formed_piece, max_size=12))
def test_well_formed_documents(pieces: list[str]) -> None:
    doc = document(pieces)
    out = check_common(doc)
    assert lxml_differences(doc, out) == []
    assert remaining_uploads(out) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(broken_piece, max_size=16))
def test_broken_documents(pieces: list[str]) -> None:
    check_common(document(pieces))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(broken_piece, max_size=6))
def test_arbitrary_bytes(prefix: bytes, pieces: list[str]) -> None:
    check_common(prefix + document(pieces) + prefix)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            well_formed_pieces(foreign),
        ),
        max_size=12,
    )
)
def test_documents_without_upload_urls_are_returned_as_they_are(pieces: list[str]) -> None:
    doc = document(pieces)
    assert rewrite_without_errors(doc) is doc
