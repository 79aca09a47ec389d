"""The HTML rewriter: every upload URL in a URL position is mapped, and nothing else changes."""

from __future__ import annotations

import logging

import pytest

from rewriteproxy.html import Element, ElementHandler, HtmlOptions, HtmlRewriter
from tests.formats.support import HOSTILE_URLS
from tests.html.support import map_url, rewriter

U = "https://example.com/wp-content/uploads/2024/05/a.jpg"
C = "https://cdn.example.net/u/2024/05/a.jpg"


def rewrite(html: str, **options: object) -> str:
    return rewriter(**options).rewrite(html.encode(), map_url).decode()


# -- where URLs are found -------------------------------------------------------


URL_POSITIONS = [
    '<img src="{}">',
    '<img srcset="{} 300w">',
    "<picture><source srcset='{} 2x'></picture>",
    '<source src="{}">',
    '<video poster="{}"></video>',
    '<video src="{}"></video>',
    '<audio src="{}"></audio>',
    '<track src="{}">',
    '<a href="{}">x</a>',
    '<area href="{}">',
    '<link rel="icon" href="{}">',
    '<link rel="preload" as="image" imagesrcset="{} 1x">',
    '<meta property="og:image" content="{}">',
    '<meta name="twitter:image" content="{}">',
    '<meta property="og:image:secure_url" content="{}">',
    '<svg><image href="{}"/></svg>',
    '<svg><image xlink:href="{}"/></svg>',
    '<input type="image" src="{}">',
    '<object data="{}"></object>',
    '<embed src="{}">',
    '<body background="{}">',
    '<td background="{}">',
    '<img data-src="{}">',
    '<img data-srcset="{} 300w">',
    '<div data-bg="{}"></div>',
    '<img data-lazy-src="{}">',
    '<img data-large_image="{}">',
    '<img data-full-url="{}">',
    '<div data-thumb="{}"></div>',
    '<div data-thumb-srcset="{} 100w"></div>',
    '<div style="background:url({})"></div>',
    "<div style=\"background:url('{}')\"></div>",
    '<div style="background:url(&quot;{}&quot;)"></div>',
    '<div style="background-image:image-set(&quot;{}&quot; 1x)"></div>',
    '<div data-bg="url({})"></div>',
    "<style>.a{{background:url({})}}</style>",
    '<noscript><img src="{}"></noscript>',
    '<template><img src="{}"></template>',
]


@pytest.mark.parametrize("template", URL_POSITIONS)
def test_url_positions(template: str) -> None:
    assert rewrite(template.format(U)) == template.format(C)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('<img src="/wp-content/uploads/2024/05/a.jpg">', f'<img src="{C}">'),
        ('<img src="//example.com/wp-content/uploads/2024/05/a.jpg">', f'<img src="{C}">'),
        ('<img src="http://www.example.com/wp-content/uploads/2024/05/a.jpg">', f'<img src="{C}">'),
        ('<img src="https://EXAMPLE.COM/wp-content/uploads/2024/05/a.jpg">', f'<img src="{C}">'),
    ],
)
def test_hosts_and_root_relative(before: str, after: str) -> None:
    assert rewrite(before) == after


@pytest.mark.parametrize(
    "html",
    [
        '<img src="https://other.org/wp-content/uploads/2024/05/a.jpg">',
        f'<img src="{C}">',
        '<img src="wp-content/uploads/2024/05/a.jpg">',
        '<img src="/wp-content/uploads-old/a.jpg">',
        '<img title="/wp-content/uploads/2024/05/a.jpg">',
        '<meta name="description" content="/wp-content/uploads/2024/05/a.jpg">',
        "<p>/wp-content/uploads/2024/05/a.jpg</p>",
        "<title>/wp-content/uploads/2024/05/a.jpg</title>",
        '<textarea><img src="/wp-content/uploads/2024/05/a.jpg"></textarea>',
        '<pre><code>&lt;img src="/wp-content/uploads/2024/05/a.jpg"&gt;</code></pre>',
        '<!-- <img src="/wp-content/uploads/2024/05/a.jpg"> -->',
        '<!-- unclosed <img alt="a > b" src="/wp-content/uploads/2024/05/a.jpg">'
        "<img src=/wp-content/uploads/2024/05/b.jpg>",
        '<uploads<img src="/wp-content/uploads/2024/05/a.jpg">',  # one tag, named "uploads<img"
        '<script type="text/template"><img src="/wp-content/uploads/2024/05/a.jpg"></script>',
        "<script>document.write('<img src=\"/wp-content/uploads/2024/05/a.jpg\">')</script>",
        '<script>var s = "see /wp-content/uploads/2024/05/a.jpg";</script>',
        '<div data-unknown="/wp-content/uploads/2024/05/a.jpg"></div>',
    ],
)
def test_never_touched(html: str) -> None:
    doc = html.encode()
    assert rewriter().rewrite(doc, map_url) is doc


def _escaped(url: str) -> str:
    return url.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&#39;")


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.parametrize(
    "template",
    [
        *URL_POSITIONS,
        '<img src=" {} ">',
        "<img src={}>",
        '<div data-bg="{}"></div>',
        '<script type="application/ld+json">{{"image":"{}"}}</script>',
        '<script>var u = "{}";</script>',
        '<form data-product_variations="[{{&quot;src&quot;:&quot;{}&quot;}}]"></form>',
    ],
)
def test_urls_a_browser_reads_as_foreign_or_outside_the_uploads_are_kept(
    template: str, url: str
) -> None:
    in_script = template.startswith("<script")
    written = url.replace("\\", "\\\\") if in_script or "product_var" in template else url
    html = template.format(written if in_script else _escaped(written))
    doc = (html + template.format(U)).encode()
    assert rewriter().rewrite(doc, map_url) == (html + template.format(C)).encode()


def test_no_upload_url_returns_the_input_object() -> None:
    doc = b"<html><body><img src='/images/a.jpg'><p>nothing here</p></body></html>"
    assert rewriter().rewrite(doc, map_url) is doc


def test_rewriting_a_rewritten_page_changes_nothing() -> None:
    first = rewriter().rewrite(f'<img src="{U}" srcset="{U} 1x">'.encode(), map_url)
    assert rewriter().rewrite(first, map_url) is first


@pytest.mark.parametrize("separator", ["?", "#", " "])
def test_a_lazy_background_holding_url_is_css_so_a_second_pass_changes_nothing(
    separator: str,
) -> None:
    """Read as a URL first, its query's url(...) would be CSS to the second pass."""
    B = U.replace("a.jpg", "b.jpg")
    html = f'<div data-bg="{U}{separator}url({B})"></div>'
    first = rewriter().rewrite(html.encode(), map_url)
    assert (
        first.decode() == f'<div data-bg="{U}{separator}url({C.replace("a.jpg", "b.jpg")})"></div>'
    )
    assert rewriter().rewrite(first, map_url) is first


def test_a_lazy_background_is_one_url_or_css() -> None:
    assert rewrite(f'<div data-bg=" {U} "></div>') == f'<div data-bg=" {C} "></div>'
    assert rewrite(f"<div data-bg='url({U}), url({U})'></div>") == (
        f"<div data-bg='url({C}), url({C})'></div>"
    )


# -- scripts -----------------------------------------------------------------


def test_the_uploads_path_is_found_in_style_and_script_in_any_case() -> None:
    upper = "HTTPS://EXAMPLE.COM/WP-CONTENT/UPLOADS/2024/05/a.jpg"
    new = "https://cdn.example.net/u/2024/05/a.jpg"
    for html in (
        f"<style>.a{{background:url({upper})}}</style>",
        f'<script type="application/ld+json">{{"image":"{upper}"}}</script>',
    ):
        assert rewrite(html) == html.replace(upper, new)


def test_ld_json_keeps_its_escaping() -> None:
    escaped = U.replace("/", "\\/")
    html = f'<script type="application/ld+json">{{"image":"{escaped}","n":1}}</script>'
    assert rewrite(html) == html.replace(escaped, C.replace("/", "\\/"))


def test_inline_script_whole_url_strings() -> None:
    html = f'<script>var params = {{"placeholder":"{U}"}};</script>'
    assert rewrite(html) == html.replace(U, C)
    doc = html.encode()
    assert rewriter(rewrite_inline_scripts=False).rewrite(doc, map_url) is doc


def test_json_attribute_woocommerce_variations() -> None:
    escaped = U.replace("/", "\\/")
    html = (
        f'<form data-product_variations="[{{&quot;image&quot;:{{&quot;src&quot;:'
        f'&quot;{escaped}&quot;,&quot;title&quot;:&quot;Shirt &#8211; blue&quot;}}}}]">'
    )
    assert rewrite(html) == html.replace(escaped, C.replace("/", "\\/"))


# -- decoding and writing back ---------------------------------------------------


def test_references_are_decoded_before_matching() -> None:
    html = '<img src="&#x2F;wp-content&#x2F;uploads&#x2F;2024&#x2F;05&#x2F;a.jpg">'
    assert rewrite(html) == f'<img src="{C}">'


def test_ampersands_are_written_escaped() -> None:
    html = f'<img src="{U}?w=1&#038;h=2">'
    assert rewrite(html) == f'<img src="{C}?w=1&amp;h=2">'


def test_a_quote_in_a_file_name_cannot_break_out() -> None:
    for html, expected in [
        (
            '<img src="/wp-content/uploads/a&quot;b.jpg" alt=x>',
            '<img src="https://cdn.example.net/u/a&quot;b.jpg" alt=x>',
        ),
        (
            "<img src='/wp-content/uploads/a&#39;b.jpg' alt=x>",
            "<img src='https://cdn.example.net/u/a&#39;b.jpg' alt=x>",
        ),
        (
            "<img src=/wp-content/uploads/a'b.jpg alt=x>",
            '<img src="https://cdn.example.net/u/a\'b.jpg" alt=x>',
        ),
    ]:
        assert rewrite(html) == expected


def test_unquoted_values_stay_valid() -> None:
    assert (
        rewrite("<img src=/wp-content/uploads/a.jpg>")
        == "<img src=https://cdn.example.net/u/a.jpg>"
    )
    out = rewriter().rewrite(
        b"<img src=/wp-content/uploads/a.jpg>", lambda u: "https://cdn/a b.jpg"
    )
    assert out == b'<img src="https://cdn/a b.jpg">'


def test_only_the_first_of_duplicate_attributes_counts() -> None:
    html = '<img src="/x.jpg" src="/wp-content/uploads/a.jpg">'
    doc = html.encode()
    assert rewriter().rewrite(doc, map_url) is doc


def test_duplicates_among_several_rewritten_attributes() -> None:
    html = f'<img data-src="{U}" srcset="{U} 1x" src=/x.jpg alt="src=1" SRC="{U}" data-src="{U}">'
    assert rewrite(html) == (
        f'<img data-src="{C}" srcset="{C} 1x" src=/x.jpg alt="src=1" SRC="{U}" data-src="{U}">'
    )
    html = f'<img data-src="{U}" alt="src" src="{U}">'  # "src" inside other names is no duplicate
    assert rewrite(html) == html.replace(U, C)


def test_whitespace_around_a_url_is_kept() -> None:
    assert rewrite(f'<img src="  {U}\n">') == f'<img src="  {C}\n">'


def test_extra_url_attributes_from_the_config() -> None:
    html = f'<div data-hero="{U}" data-hero-set="{U} 2x"></div>'
    assert rewrite(html) == html
    out = rewrite(
        html, extra_url_attributes=("data-hero",), extra_srcset_attributes=("data-hero-set",)
    )
    assert out == html.replace(U, C)


# -- robustness ----------------------------------------------------------------------


def test_bom_crlf_uppercase_and_nul_bytes_are_kept() -> None:
    doc = b'\xef\xbb\xbf<!DOCTYPE html>\r\n<IMG SRC="' + U.encode() + b'" ALT="\x00">\r\n'
    assert rewriter().rewrite(doc, map_url) == doc.replace(U.encode(), C.encode())


def test_unclosed_quote_at_the_end_leaves_the_rest_alone() -> None:
    doc = f'<img src="{U}"><img src="{U}'.encode()
    assert rewriter().rewrite(doc, map_url) == f'<img src="{C}"><img src="{U}'.encode()


def test_invalid_utf8_in_a_url_keeps_that_url() -> None:
    doc = f'<img src="/wp-content/uploads/caf\udce9.jpg"><img src="{U}">'.encode(
        "utf-8", "surrogateescape"
    )
    out = rewriter().rewrite(doc, map_url)
    assert out == doc.replace(U.encode(), C.encode())


def test_windows_1252_declared_in_meta() -> None:
    doc = '<meta charset="windows-1252"><img src="/wp-content/uploads/café.jpg">'.encode("cp1252")
    out = rewriter().rewrite(doc, map_url)
    assert (
        out
        == '<meta charset="windows-1252"><img src="https://cdn.example.net/u/café.jpg">'.encode(
            "cp1252"
        )
    )


def test_shift_jis_from_the_header() -> None:
    html = '<p>写真</p><img src="/wp-content/uploads/写真.jpg" alt="表">'
    out = rewriter().rewrite(html.encode("shift_jis"), map_url, encoding="Shift_JIS")
    assert out.decode("shift_jis") == html.replace(
        "/wp-content/uploads/", "https://cdn.example.net/u/"
    )


def test_a_replacement_the_encoding_cannot_hold_becomes_a_reference() -> None:
    doc = '<meta charset="windows-1252"><img src="/wp-content/uploads/a.jpg">'.encode("cp1252")
    out = rewriter().rewrite(doc, lambda u: "https://cdn/日本.jpg")
    assert out.endswith(b'src="https://cdn/&#26085;&#26412;.jpg">')


def test_utf16_documents_are_returned_unchanged() -> None:
    doc = f'<img src="{U}">'.encode("utf-16")
    assert rewriter().rewrite(doc, map_url) is doc


def test_fail_open_when_map_url_raises(caplog: pytest.LogCaptureFixture) -> None:
    def broken(url: str) -> str | None:
        raise RuntimeError("provider down")

    doc = f'<img src="{U}">'.encode()
    with caplog.at_level(logging.ERROR):
        assert rewriter().rewrite(doc, broken) is doc
    assert "serving the original document" in caplog.text


def test_map_url_is_called_once_per_distinct_url() -> None:
    calls: list[str] = []

    def counting(url: str) -> str | None:
        calls.append(url)
        return map_url(url)

    rewriter().rewrite(f'<img src="{U}" srcset="{U} 1x, {U} 2x"><a href="{U}">'.encode(), counting)
    assert calls == [U]


def test_a_big_page_is_rewritten_whole() -> None:
    block = f'<figure><img src="{U}" srcset="{U} 1x"><figcaption>caption</figcaption></figure>\n'
    doc = ("<html><body>" + block * 40_000 + "</body></html>").encode()  # about 4 MB
    out = rewriter().rewrite(doc, map_url)
    assert out.count(C.encode()) == 80_000 and U.encode() not in out


def test_uploads_path_with_another_layout() -> None:
    rw = HtmlRewriter(HtmlOptions(uploads_path="/files/"))
    seen: list[str] = []

    def record(url: str) -> None:
        seen.append(url)

    rw.rewrite(b'<img src="/files/a.jpg"><img src="/wp-content/uploads/b.jpg">', record)
    assert seen == ["/files/a.jpg"]


# -- element handlers -----------------------------------------------------------


class LazyImages(ElementHandler):
    """A tiny example feature: lazy-load images, announce the CDN once in <head>."""

    tags = frozenset({"img", "head"})

    def element(self, element: Element) -> None:
        if element.name == "head":
            element.insert_after('<link rel="preconnect" href="https://cdn.example.net">')
        elif element.get("loading") is None:
            element.set("loading", "lazy")
            element.set("data-seen", element.get("src") or "")


def test_handlers_see_rewritten_values_and_queue_edits() -> None:
    doc = (
        f'<html><head><title>t</title></head><body><img src="{U}" alt=x/>'
        f'<img loading=eager src="/x.png"></body></html>'.encode()
    )
    out = rewriter().rewrite(doc, map_url, handlers=[LazyImages()])
    assert out.decode() == (
        '<html><head><link rel="preconnect" href="https://cdn.example.net"><title>t</title>'
        f'</head><body><img loading="lazy" data-seen="{C}" src="{C}" alt=x/>'
        '<img loading=eager src="/x.png"></body></html>'
    )


def test_a_handler_value_replaces_the_url_rewrite_of_that_attribute() -> None:
    class Placeholder(ElementHandler):
        tags = frozenset({"img"})

        def element(self, element: Element) -> None:
            element.set("src", 'data:image/svg+xml,<svg a="1"/>')

    out = rewriter().rewrite(f'<img src="{U}">'.encode(), map_url, handlers=[Placeholder()])
    assert out == b'<img src="data:image/svg+xml,<svg a=&quot;1&quot;/>">'


def test_the_null_handler_changes_nothing() -> None:
    doc = b"<html><head></head><body><p>x</p></body></html>"
    assert rewriter().rewrite(doc, map_url, handlers=[ElementHandler()]) is doc


class Recorder(ElementHandler):
    """Records what the hook tells about each <img>, and the end of the document."""

    tags = frozenset({"img", "head"})

    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str | None, bool, bool, bool]] = []
        self.finished: list[bool] = []
        self.head: Element | None = None

    def element(self, element: Element) -> None:
        if element.name == "head":
            self.head = element
            return
        self.seen.append(
            (
                element.get("src"),
                element.original("src"),
                element.within("picture"),
                element.within("noscript"),
                element.within("template"),
            )
        )

    def finish(self, rewritten: bool) -> None:
        self.finished.append(rewritten)
        if self.head is not None:
            self.head.insert_after("<!-- end -->")


def test_handlers_read_the_value_as_written_and_where_the_tag_sits() -> None:
    doc = (
        f'<head></head><picture><source srcset="{U}"><img src="{U}"></picture>'
        f'<img src="/x.png"><noscript><img src="{U}"></noscript>'
        f"<template><img src=/t.png></template><img src=/y.png>"
    ).encode()
    recorder = Recorder()
    out = rewriter().rewrite(doc, map_url, handlers=[recorder])
    assert recorder.seen == [
        (C, U, True, False, False),
        ("/x.png", "/x.png", False, False, False),
        (C, U, False, True, False),
        ("/t.png", "/t.png", False, False, True),
        ("/y.png", "/y.png", False, False, False),
    ]
    assert recorder.finished == [True]
    assert out.startswith(b"<head><!-- end --></head>")


def test_finish_says_whether_any_url_was_rewritten() -> None:
    recorder = Recorder()
    doc = b'<head></head><img src="https://other.example/a.jpg">'
    assert (
        rewriter().rewrite(doc, map_url, handlers=[recorder])
        == b'<head><!-- end --></head><img src="https://other.example/a.jpg">'
    )
    assert recorder.finished == [False]


def test_a_url_a_handler_replaced_still_counts_as_rewritten() -> None:
    """Its URLs are mapped only to learn that the page had an upload URL: the
    handler's value is what the page gets."""

    class Replaces(ElementHandler):
        tags = frozenset({"img", "head"})

        def __init__(self) -> None:
            self.finished: list[bool] = []

        def element(self, element: Element) -> None:
            if element.name == "img":
                element.set("srcset", "placeholder.svg 1w")

        def finish(self, rewritten: bool) -> None:
            self.finished.append(rewritten)

    handler = Replaces()
    doc = f'<head></head><img alt=x srcset="{U} 2x">'.encode()
    out = rewriter().rewrite(doc, map_url, handlers=[handler])
    assert out == b'<head></head><img alt=x srcset="placeholder.svg 1w">'
    assert handler.finished == [True]


def test_values_as_written_and_as_rewritten_in_either_order_and_presence() -> None:
    class Reads(ElementHandler):
        tags = frozenset({"img"})

        def __init__(self) -> None:
            self.seen: list[object] = []

        def element(self, element: Element) -> None:
            self.seen += [element.original("src"), element.get("src"), element.original("src")]
            self.seen += [element.has("ismap"), element.has("alt"), element.get("ismap")]
            element.set("alt", "")
            self.seen += [element.has("alt"), element.original("srcset")]

    handler = Reads()
    doc = f'<img src="{U}" ismap srcset="&#x2F;a.jpg 1x">'.encode()
    out = rewriter().rewrite(doc, map_url, handlers=[handler])
    assert handler.seen == [U, C, U, True, False, "", True, "/a.jpg 1x"]
    assert out == f'<img alt="" src="{C}" ismap srcset="&#x2F;a.jpg 1x">'.encode()


def test_within_knows_only_the_context_elements() -> None:
    class Asks(ElementHandler):
        tags = frozenset({"img"})

        def element(self, element: Element) -> None:
            element.within("div")

    doc = f'<img src="{U}">'.encode()
    assert rewriter().rewrite(doc, map_url, handlers=[Asks()]) is doc  # ValueError: failed open


def test_uploads_at_the_site_root_read_every_tag() -> None:
    rw = HtmlRewriter(HtmlOptions(uploads_path="/"))
    doc = (
        b'<p>x</p><img src="/a.jpg" alt=y><!-- <img src=/b.jpg> -->'
        b'<div style="background:url(/c.png)"></div>'
    )
    out = rw.rewrite(doc, lambda u: "https://cdn" + u if u.startswith("/") else None)
    assert out == (
        b'<p>x</p><img src="https://cdn/a.jpg" alt=y><!-- <img src=/b.jpg> -->'
        b'<div style="background:url(https://cdn/c.png)"></div>'
    )
