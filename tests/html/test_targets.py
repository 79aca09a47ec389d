"""Declared value kinds: which attributes hold URLs, the built-in ones for WordPress core and
its big plugins, and the ones a config adds (``html.attributes``).

Markup here is what each emitter writes. WordPress core's image lightbox exists from 6.4
on, and the harness runs 6.1 (Debian bookworm), so the lightbox markup is written to what
``wp-includes/blocks/image.php`` of 6.4, 6.5 and 6.6+ emits (JSON built there, escaped by
``WP_HTML_Tag_Processor::set_attribute`` with ``esc_attr``). Elementor, WooCommerce,
WP Rocket, EWWW and Jetpack cannot be installed here: their markup is written to their
documented output, as labelled on each case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewriteproxy.config import parse_config
from rewriteproxy.html import HtmlOptions, HtmlRewriter
from rewriteproxy.html.rewriter import NATIVE
from rewriteproxy.html.targets import ANY_TAG, DEFAULT_TARGETS, TARGETS, parse_target_key
from rewriteproxy.inventory import NullInventory
from rewriteproxy.rewriting import build_pipeline, build_url_mapper
from rewriteproxy.settings import ConfigError

CDN = "https://cdn.example.net/u/"
UP = "http://wp.test/wp-content/uploads/2024/03/"


def yaml(html: str = "") -> str:
    return (
        "upstream: http://127.0.0.1:9\nsite: {hosts: [wp.test], scheme: http}\n"
        f"delivery: {{provider: cdn, cdn: {{base_url: '{CDN}'}}}}\n" + html
    )


def rewrite(page: str, html: str = "") -> str:
    result = build_pipeline(parse_config(yaml(html)), NullInventory()).apply(
        page.encode(), "text/html; charset=UTF-8", "", "/"
    )
    assert result.status != "failed", result.error
    return page if result.body is None else result.body.decode()


def delivered(page: str, *names: str, escaped: bool = False) -> str:
    """``page`` with the upload URLs of ``names`` (and nothing else) as delivery URLs."""
    for name in names:
        old, new = UP + name, CDN + "2024/03/" + name
        if escaped:
            old, new = old.replace("/", "\\/"), new.replace("/", "\\/")
        page = page.replace(old, new)
    return page


# -- WordPress core: the image block's lightbox (Interactivity API) ----------------------


def test_wordpress_64_lightbox_context() -> None:
    # 6.4: a sprintf template (multi-line, slashes as they are), set through esc_attr.
    context = (
        '{ "core":\n\t\t\t\t{ "image":\n\t\t\t\t\t{   "imageLoaded": false,\n'
        '\t\t\t\t\t\t"lightboxAnimation": "zoom",\n'
        f'\t\t\t\t\t\t"imageUploadedSrc": "{UP}photo.jpg",\n'
        '\t\t\t\t\t\t"imageCurrentSrc": "",\n\t\t\t\t\t\t"targetWidth": "1024",\n'
        '\t\t\t\t\t\t"dialogLabel": "Enlarged image"\n\t\t\t\t\t}\n\t\t\t\t}\n\t\t\t}'
    )
    page = (
        '<figure class="wp-block-image size-large wp-lightbox-container" '
        f'data-wp-interactive="1" data-wp-context="{context.replace(chr(34), "&quot;")}">'
        f'<img src="{UP}photo-1024x683.jpg" alt=""></figure>'
    )
    assert rewrite(page) == delivered(page, "photo.jpg", "photo-1024x683.jpg")


def test_wordpress_65_lightbox_context_keeps_its_escapes() -> None:
    # 6.5: wp_json_encode(..., JSON_HEX_TAG | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_HEX_AMP).
    metadata = {
        "uploadedSrc": UP + "photo.jpg",
        "figureClassNames": "wp-block-image size-large",
        "figureStyles": None,
        "imgClassNames": "wp-image-12",
        "targetWidth": 1600,
        "targetHeight": 1067,
        "scaleAttr": False,
        "ariaLabel": 'Enlarged image: Tom & Jerry\'s "day"',
        "alt": "Tom & Jerry",
    }
    encoded = json.dumps(metadata, separators=(",", ":")).replace("/", "\\/")
    encoded = encoded.replace("&", "\\u0026").replace("'", "\\u0027")
    encoded = encoded.replace('\\"', "\\u0022")
    attribute = encoded.replace("&", "&amp;").replace('"', "&quot;")
    page = f'<figure data-wp-interactive="core/image" data-wp-context="{attribute}"></figure>'
    out = rewrite(page)
    assert out == delivered(page, "photo.jpg", escaped=True)
    assert out != page


def test_wordpress_66_lightbox_state_in_its_json_script() -> None:
    # 6.6+: the context holds an ID; the URL is in the Interactivity API's state script.
    page = (
        '<figure data-wp-interactive="core/image" '
        'data-wp-context="{&quot;imageId&quot;:&quot;65f1a2b3c4d5e&quot;}"></figure>'
        '<script type="application/json" id="wp-interactivity-data">{"state":{"core\\/image":'
        '{"metadata":{"65f1a2b3c4d5e":{"uploadedSrc":"http:\\/\\/wp.test\\/wp-content\\/uploads'
        '\\/2024\\/03\\/photo.jpg","targetWidth":1600}}}}}</script>'
    )
    assert rewrite(page) == delivered(page, "photo.jpg", escaped=True)


# -- plugins, written to their documented output -------------------------------------------


def test_elementor_settings_background_image_and_slideshow() -> None:
    # Elementor: wp_json_encode of the element's frontend settings, printed through esc_attr.
    settings = {
        "background_background": "slideshow",
        "background_image": {"url": UP + "hero.jpg", "id": 12, "size": "", "source": "library"},
        "background_slideshow_gallery": [
            {"id": 13, "url": UP + "slide-1.jpg"},
            {"id": 14, "url": UP + "slide-2.jpg"},
        ],
        "background_slideshow_loop": "yes",
        "link": {"url": "https://example.org/a/b", "is_external": ""},
    }
    raw = json.dumps(settings, separators=(",", ":")).replace("/", "\\/")
    page = (
        '<div class="elementor-element e-con e-parent" data-id="1a2b3c4" '
        f'data-element_type="container" data-settings="{raw.replace(chr(34), "&quot;")}"></div>'
    )
    assert rewrite(page) == delivered(page, "hero.jpg", "slide-1.jpg", "slide-2.jpg", escaped=True)


def test_woocommerce_variations_image_and_srcset() -> None:
    # WooCommerce: wc_esc_json(wp_json_encode($available_variations)) in the variations form.
    variations = [
        {
            "attributes": {"attribute_pa_color": "blue"},
            "image": {
                "url": UP + "hoodie.jpg",
                "src": UP + "hoodie-600x600.jpg",
                "srcset": f"{UP}hoodie-600x600.jpg 600w, {UP}hoodie-300x300.jpg 300w",
                "full_src": UP + "hoodie.jpg",
            },
            "variation_id": 31,
        }
    ]
    raw = json.dumps(variations, separators=(",", ":")).replace("/", "\\/")
    page = (
        '<form class="variations_form cart" data-product_id="30" '
        f'data-product_variations="{raw.replace(chr(34), "&quot;")}"></form>'
    )
    assert rewrite(page) == delivered(
        page, "hoodie.jpg", "hoodie-600x600.jpg", "hoodie-300x300.jpg", escaped=True
    )


def test_wp_rocket_lazy_backgrounds() -> None:
    # WP Rocket's LazyLoad (vanilla-lazyload): data-bg for one background, data-bg-multi
    # holding a CSS background-image value with several url().
    page = (
        f'<div class="rocket-lazyload" data-bg="{UP}bg.jpg"></div>'
        f'<div class="rocket-lazyload" data-bg="url({UP}bg2.jpg)"></div>'
        f'<div class="rocket-lazyload" data-bg-multi="url({UP}a.jpg), '
        f'linear-gradient(#fff, #000), url(&quot;{UP}b.png&quot;)"></div>'
    )
    assert rewrite(page) == delivered(page, "bg.jpg", "bg2.jpg", "a.jpg", "b.png")


@pytest.mark.parametrize(
    "markup",
    [
        # Smush, a3 Lazy Load, LiteSpeed, lazysizes: the real URL in data-src(set).
        '<img class="lazyload" src="data:image/gif;base64,R0lGOD" data-src="{u}a.jpg" '
        'data-srcset="{u}a.jpg 1024w, {u}a-300x200.jpg 300w">',
        # WP Rocket and Jetpack's former lazy images.
        '<img src="data:image/svg+xml,%3Csvg%3E" data-lazy-src="{u}a.jpg" '
        'data-lazy-srcset="{u}a.jpg 1024w, {u}a-300x200.jpg 300w">',
        # EWWW: lazy backgrounds, and its JavaScript WebP mode.
        '<div class="lazyload" data-back="{u}a.jpg"></div>',
        '<img data-src-img="{u}a.jpg" data-src-webp="{u}a.jpg.webp" '
        'data-srcset-webp="{u}a.jpg.webp 1024w">',
        # Jetpack's carousel.
        '<img src="{u}a.jpg" data-orig-file="{u}a.jpg" data-medium-file="{u}a-300x200.jpg" '
        'data-large-file="{u}a.jpg">',
    ],
)
def test_lazy_loader_attributes(markup: str) -> None:
    page = markup.format(u=UP)
    assert rewrite(page) == delivered(page, "a.jpg.webp", "a.jpg", "a-300x200.jpg")


# -- declared by the config ------------------------------------------------------------------


def test_a_config_declares_per_tag_and_any_tag_attributes_and_turns_one_off() -> None:
    html = (
        "html:\n  attributes:\n"
        "    div.data-slides: json\n    data-hero: url\n    data-hero-set: srcset\n"
        "    data-look: css\n    data-settings: none\n"
    )
    page = (
        f'<div data-slides="[&quot;{UP}s1.jpg&quot;]"></div>'
        f'<section data-slides="[&quot;{UP}s2.jpg&quot;]"></section>'
        f'<span data-hero="{UP}h.jpg" data-hero-set="{UP}h.jpg 2x"></span>'
        f'<p data-look="background:url({UP}l.jpg)"></p>'
        f'<div data-settings="{{&quot;u&quot;:&quot;{UP}e.jpg&quot;}}"></div>'
    )
    assert rewrite(page) == delivered(page, "e.jpg")
    assert rewrite(page, html) == delivered(page, "s1.jpg", "h.jpg", "l.jpg")


def test_bad_kinds_and_names_are_config_errors_naming_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"html\.attributes\.data-x \(line 5\): 'jsn' is not allowed.*json"
    ):
        parse_config(yaml("html:\n  attributes: {data-x: jsn}\n"))
    with pytest.raises(
        ConfigError, match=r"html\.attributes\.div\.( \(line \d\))?: '' is not an attribute"
    ):
        parse_config(yaml("html:\n  attributes: {'div.': url}\n"))
    with pytest.raises(
        ConfigError, match=r"html\.attributes\.1x\.src( \(line \d\))?: '1x' is not a tag name"
    ):
        parse_config(yaml("html:\n  attributes: {1x.src: url}\n"))
    with pytest.raises(
        ConfigError, match=r"html\.attributes( \(line \d\))?: .* expected a mapping"
    ):
        parse_config(yaml("html:\n  attributes: [data-x]\n"))


def test_keys_read_as_tag_dot_attribute() -> None:
    assert parse_target_key("DIV.Data-Settings") == ("div", "data-settings")
    assert parse_target_key("data-wp-context") == (None, "data-wp-context")


def test_the_default_tables_come_from_the_declarations() -> None:
    assert len(TARGETS) + len(ANY_TAG) == len(DEFAULT_TARGETS)  # each declared once
    assert all(t.source for t in DEFAULT_TARGETS)


@pytest.mark.skipif(not NATIVE, reason="the C value path is not built")
def test_declared_url_attributes_take_the_c_path_with_the_same_result() -> None:
    options = parse_config(
        yaml("html:\n  attributes: {figure.data-full: url, data-set: srcset}\n")
    ).html
    mapper = build_url_mapper(parse_config(yaml()), NullInventory())
    page = (
        f'<figure data-full="{UP}a.jpg" data-set="{UP}a.jpg 2x"><img data-full="{UP}b.jpg"></figure>'
    ).encode()
    native = HtmlRewriter(options, native=True).rewrite(page, mapper)
    python = HtmlRewriter(options, native=False).rewrite(page, mapper)
    assert native == python != page
    assert HtmlRewriter(HtmlOptions(), native=True).rewrite(page, mapper) == page


def test_the_features_page_lists_every_built_in_attribute() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "features.md").read_text()
    table = docs[docs.index("## Which attributes hold URLs") : docs.index("The kinds:")]
    missing = [t.attribute for t in DEFAULT_TARGETS if f"{t.attribute}`" not in table]
    assert not missing


def test_a_single_quoted_json_attribute_keeps_its_raw_double_quotes() -> None:
    # Templates that print the context themselves: data-wp-context='{"uploadedSrc":...}'.
    raw = '{"uploadedSrc":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/03\\/photo.jpg","imageId":"65f1"}'
    page = f"<figure data-wp-interactive='core/image' data-wp-context='{raw}'></figure>"
    assert rewrite(page) == delivered(page, "photo.jpg", escaped=True)
