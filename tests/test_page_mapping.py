"""One page's URLs: path-relative ones resolved like a browser does, and a URL that cannot
be mapped kept local while the rest of the page is still rewritten."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rewriteproxy.config import Config, parse_config
from rewriteproxy.delivery import build_delivery
from rewriteproxy.delivery.base import DeliveryProvider
from rewriteproxy.inventory import NullInventory
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.metrics import Metrics, collect, render
from rewriteproxy.pipeline import Result
from rewriteproxy.rewriting import build_pipeline

WORDPRESS = Path(__file__).resolve().parent / "fixtures" / "wordpress"
CLD = "https://res.cloudinary.com/demo/image/upload/"
CDN = "https://cdn.example.net/u/"


def config(delivery: str) -> Config:
    return parse_config(
        f"upstream: http://127.0.0.1:9\nsite: {{hosts: [wp.test], scheme: http}}\n{delivery}\n"
    )


CLOUDINARY = config("delivery: {provider: cloudinary, cloudinary: {cloud_name: demo}}")
CDN_CONFIG = config(f"delivery: {{provider: cdn, cdn: {{base_url: '{CDN}'}}}}")


def apply(
    body: bytes | str,
    url: str = "",
    kind: str = "text/html",
    cfg: Config = CDN_CONFIG,
    provider: DeliveryProvider | None = None,
) -> Result:
    data = body.encode() if isinstance(body, str) else body
    pipeline = build_pipeline(cfg, NullInventory(), provider=provider)
    result = pipeline.apply(data, f"{kind}; charset=UTF-8", "", url)
    assert result.status != "failed", result.error
    return result


def out(
    body: bytes | str,
    url: str = "",
    kind: str = "text/html",
    cfg: Config = CDN_CONFIG,
    provider: DeliveryProvider | None = None,
) -> str:
    data = body.encode() if isinstance(body, str) else body
    result = apply(data, url, kind, cfg, provider)
    return (result.body if result.body is not None else data).decode("utf-8", "surrogateescape")


# -- path-relative URLs ------------------------------------------------------------------


def test_a_path_relative_upload_url_resolves_against_the_page_url() -> None:
    page = '<img src="../../wp-content/uploads/2024/03/a.jpg" srcset="../../wp-content/uploads/2024/03/a-300x200.jpg 300w">'
    assert out(page, "/blog/post/") == (
        f'<img src="{CDN}2024/03/a.jpg" srcset="{CDN}2024/03/a-300x200.jpg 300w">'
    )
    assert out('<img src="wp-content/uploads/2024/03/a.jpg">', "/?p=5") == (
        f'<img src="{CDN}2024/03/a.jpg">'
    )


def test_a_relative_url_that_resolves_outside_the_uploads_stays() -> None:
    # From /blog/post/ it names /blog/post/wp-content/uploads/..., which WordPress never serves.
    page = '<img src="wp-content/uploads/2024/03/a.jpg"><a href="next/">n</a>'
    assert out(page, "/blog/post/") == page
    # Nor can a relative URL climb out of the site's root into the uploads by other means.
    assert out('<img src="../../../wp-content/uploads/2024/03/a.jpg">', "/x/") == (
        f'<img src="{CDN}2024/03/a.jpg">'
    )


def test_without_the_page_url_relative_urls_stay_and_absolute_ones_still_change() -> None:
    page = (
        '<img src="wp-content/uploads/2024/03/a.jpg"><img src="/wp-content/uploads/2024/03/b.jpg">'
    )
    assert (
        out(page) == f'<img src="wp-content/uploads/2024/03/a.jpg"><img src="{CDN}2024/03/b.jpg">'
    )


def test_the_first_base_href_is_the_base_of_relative_urls() -> None:
    page = (
        '<head><base target="_top"><base href="http://wp.test/"><base href="/other/"></head>'
        '<img src="wp-content/uploads/2024/03/a.jpg" style="background:url(wp-content/uploads/2024/03/b.jpg)">'
    )
    assert out(page, "/deep/in/the/site/") == page.replace(
        "wp-content/uploads/2024/03/a.jpg", f"{CDN}2024/03/a.jpg", 1
    ).replace("url(wp-content/uploads/2024/03/b.jpg)", f"url({CDN}2024/03/b.jpg)")
    # A base on another host: its relative URLs are that host's, not ours.
    foreign = '<base href="https://elsewhere.example/"><img src="wp-content/uploads/2024/03/a.jpg">'
    assert out(foreign, "/") == foreign


def test_a_base_href_that_is_no_url_leaves_the_page_url_as_the_base() -> None:
    # As in a browser, whose fallback is the document's own URL; the page is still rewritten.
    for href in ("http://[::1", "//[x", "https://[wp.test/"):
        page = f'<base href="{href}"><img src="../wp-content/uploads/2024/03/a.jpg">'
        assert out(page, "/blog/") == page.replace(
            "../wp-content/uploads/2024/03/a.jpg", f"{CDN}2024/03/a.jpg"
        ), href


def test_the_same_body_under_two_directories_is_rewritten_for_each() -> None:
    page = '<img src="../wp-content/uploads/2024/03/a.jpg">'
    pipeline = build_pipeline(CDN_CONFIG, NullInventory())
    first = pipeline.apply(page.encode(), "text/html", "", "/blog/")
    second = pipeline.apply(page.encode(), "text/html", "", "/blog/deeper/")
    assert first.body == f'<img src="{CDN}2024/03/a.jpg">'.encode()
    assert second.status == "unchanged"  # /wp-content/... from /blog/deeper/ is /blog/wp-content


def test_a_style_sheet_resolves_its_urls_against_its_own_url() -> None:
    css = (
        ".a{background:url(../../2024/03/x.jpg)}"
        '.b{background:url("../03/y.png")}'
        ".c{background:url(img/local.png)}"
        ".d{background:url(/wp-content/uploads/2024/03/z.jpg)}"
    )
    uploaded = out(css, "/wp-content/uploads/2024/02/custom.css?ver=3", "text/css")
    assert uploaded == (
        f".a{{background:url({CDN}2024/03/x.jpg)}}"
        f'.b{{background:url("{CDN}2024/03/y.png")}}'
        ".c{background:url(" + CDN + "2024/02/img/local.png)}"
        f".d{{background:url({CDN}2024/03/z.jpg)}}"
    )
    theme = (
        ".hero{background-image:url(../../uploads/2024/03/x.jpg)}.logo{background:url(img/l.svg)}"
    )
    assert out(theme, "/wp-content/themes/twentytwentyone/style.css", "text/css") == (
        f".hero{{background-image:url({CDN}2024/03/x.jpg)}}.logo{{background:url(img/l.svg)}}"
    )


def test_a_captured_page_with_its_upload_urls_made_relative_gets_the_same_delivery_urls() -> None:
    # Real WordPress 6.1 output; its absolute upload URLs rewritten as a page at the
    # site's root would write them relatively, which WordPress itself never does.
    page = (WORDPRESS / "twentytwentythree-everything.html").read_bytes()
    relative = page.replace(b"http://wp.test/wp-content/uploads/", b"wp-content/uploads/")
    assert relative != page
    absolute_out = out(page, "/?p=7")
    relative_out = out(relative, "/?p=7")
    delivered = re.compile(re.escape(CDN) + r"[^\s\"'<>)]+")
    assert delivered.findall(relative_out) == delivered.findall(absolute_out)
    assert delivered.findall(absolute_out)


# -- failing open per URL ------------------------------------------------------------------


class FailsOnName(DeliveryProvider):
    """A stand-in whose builder raises for one file name, the way a provider's own bug would:
    no real builder is known to raise once the locator refuses names it cannot carry, so a
    real one cannot be made to (the other URLs go to the real CDN provider)."""

    name = "fails-on-name"

    def __init__(self, poisoned: str) -> None:
        self._real = build_delivery(CDN_CONFIG.delivery)
        self._poisoned = poisoned

    def url_for(
        self, ref: UploadRef, info: FileInfo | None = None, width: int | None = None
    ) -> str | None:
        if self._poisoned in ref.path:
            raise ValueError(f"cannot build a URL for {ref.path}")
        return self._real.url_for(ref, info, width)

    def owns(self, url: str) -> bool:
        return self._real.owns(url)


POISONED_PAGE = (
    '<img src="http://wp.test/wp-content/uploads/2024/03/good.jpg">'
    '<img src="http://wp.test/wp-content/uploads/2024/03/poison.jpg">'
    '<script type="application/ld+json">{"image":"http:\\/\\/wp.test\\/wp-content\\/uploads'
    '\\/2024\\/03\\/poison.jpg","logo":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/03\\/logo.png"}</script>'
)


def test_a_url_whose_builder_raises_stays_local_and_the_rest_is_rewritten() -> None:
    result = apply(POISONED_PAGE, "/", provider=FailsOnName("poison"))
    assert result.status == "rewritten"
    assert result.body == (
        POISONED_PAGE.replace(
            "http://wp.test/wp-content/uploads/2024/03/good.jpg", f"{CDN}2024/03/good.jpg"
        )
        .replace(
            "http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/03\\/logo.png",
            CDN.replace("/", "\\/") + "2024\\/03\\/logo.png",
        )
        .encode()
    )
    # Counted once per distinct URL (the engine maps each once per page), named once.
    assert result.url_errors == 1
    assert result.url_error is not None and "poison.jpg" in result.url_error
    assert "ValueError" in result.url_error


def test_the_count_comes_back_on_a_cached_page_too() -> None:
    pipeline = build_pipeline(CDN_CONFIG, NullInventory(), provider=FailsOnName("poison"))
    first = pipeline.apply(POISONED_PAGE.encode(), "text/html", "", "/")
    again = pipeline.apply(POISONED_PAGE.encode(), "text/html", "", "/")
    assert again.body == first.body and again.url_errors == first.url_errors == 1


def test_the_metrics_count_urls_kept_local_by_an_error() -> None:
    metrics = Metrics()
    metrics.rewrite(0.001, None, 0, url_errors=3)
    metrics.flush()
    assert (
        "rewriteproxy_url_mapping_errors_total 3.0\n" in render(collect(metrics.registry)).decode()
    )


def test_a_lone_surrogate_in_json_ld_keeps_that_url_local_with_cloudinary() -> None:
    page = (
        '<img src="http://wp.test/wp-content/uploads/2024/03/good.jpg">'
        '<script type="application/ld+json">{"image":"http:\\/\\/wp.test\\/wp-content\\/uploads'
        '\\/2024\\/03\\/bad\\ud800.jpg"}</script>'
    )
    result = apply(page, "/", cfg=CLOUDINARY)
    assert (
        result.body
        == page.replace(
            "http://wp.test/wp-content/uploads/2024/03/good.jpg",
            f"{CLD}f_auto,q_auto/2024/03/good.jpg",
        ).encode()
    )
    assert result.url_errors == 0  # not an error: a name no delivery side can carry


def test_a_file_name_that_is_not_utf8_once_decoded_stays_local() -> None:
    page = (
        '<img src="/wp-content/uploads/2024/03/caf%E9.jpg">'  # Latin-1 é: no such UTF-8 name
        '<img src="/wp-content/uploads/2024/03/caf%C3%A9.jpg">'
    )
    assert out(page, "/", cfg=CLOUDINARY) == (
        '<img src="/wp-content/uploads/2024/03/caf%E9.jpg">'
        f'<img src="{CLD}f_auto,q_auto/2024/03/caf%C3%A9.jpg">'
    )


_ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_ANY_TEXT, st.sampled_from(["cloudinary", "failing"]))
def test_no_string_in_a_url_position_makes_the_whole_page_fail(name: str, which: str) -> None:
    provider = FailsOnName("\x00") if which == "failing" else None
    cfg = CLOUDINARY if which == "cloudinary" else CDN_CONFIG
    url = "http://wp.test/wp-content/uploads/2024/03/" + name
    attribute = url.replace("&", "&amp;").replace('"', "&quot;")
    page = (
        f'<img src="{attribute}" srcset="{attribute} 2x">'
        f'<div style="background:url(&quot;{attribute}&quot;)"></div>'
        f'<script type="application/ld+json">{{"u":{json.dumps(url)}}}</script>'
        '<img src="http://wp.test/wp-content/uploads/2024/03/good.jpg">'
    )
    body = page.encode("utf-8", "surrogatepass")  # lone surrogates as the bytes a bad page has
    result = apply(body, "/", cfg=cfg, provider=provider)
    assert result.body is not None
    assert (
        b"2024/03/good.jpg" in result.body
        and b'src="http://wp.test/wp-content/uploads/2024/03/good.jpg"' not in result.body
    )


def test_on_a_captured_page_one_failing_file_stays_local_and_every_other_url_changes() -> None:
    # Real WordPress 6.1 output; the builder fails for every size of one image.
    page = (WORDPRESS / "twentytwentythree-everything.html").read_bytes()
    clean = out(page, "/everything/")
    poisoned = apply(page, "/everything/", provider=FailsOnName("mountain-lake"))
    assert poisoned.body is not None
    text, local = (
        poisoned.body.decode(),
        re.compile(r"http://wp\.test/wp-content/uploads/[^\s\"',]+"),
    )
    kept = [u for u in local.findall(page.decode()) if "mountain-lake" in u]
    assert len(kept) >= 10 and local.findall(text) == kept  # byte for byte, in order
    delivered = re.compile(re.escape(CDN) + r"[^\s\"'<>),]+")
    assert delivered.findall(text) == [
        u for u in delivered.findall(clean) if "mountain-lake" not in u
    ]
    assert poisoned.url_errors == len(set(kept))
