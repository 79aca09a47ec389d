"""Responsive images: srcset cut by Cloudinary at configured breakpoints, never wider than
the image; WordPress's own candidates kept (mapped) for providers that cannot resize."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rewriteproxy.delivery import build_delivery
from rewriteproxy.features import build_handlers
from rewriteproxy.features.responsive import width_candidates
from rewriteproxy.html import HtmlRewriter
from rewriteproxy.inventory import Inventory
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.rewriting import build_url_mapper
from rewriteproxy.settings import ConfigError
from tests.features.support import (
    CDN,
    CLD,
    UPLOADS,
    candidates,
    config,
    elements,
    fixture,
    page,
    rewrite,
)

RESPONSIVE_ONLY = """\
  lazy: {enabled: false}
  preconnect: {enabled: false}"""


def widths(srcset: str) -> list[int]:
    return [int(d[:-1]) for _, d in candidates(srcset)]


def limit(url: str) -> int | None:
    """The ``c_limit,w_N`` step of a Cloudinary URL, if any."""
    match = re.search(r"/c_limit,w_([0-9]+)/", url)
    return int(match[1]) if match else None


def images(
    name: str, features: str = RESPONSIVE_ONLY, provider: str = "cloudinary"
) -> list[dict[str, str]]:
    return elements(rewrite(fixture(name), features, provider), "img")


# -- real WordPress markup ------------------------------------------------------


def test_featured_image_gets_one_candidate_per_breakpoint_up_to_its_largest_file() -> None:
    # Twenty Twenty-One's featured image: WordPress listed the 1600 px original as largest.
    featured = images("twentytwentyone-home.html")[0]
    assert widths(featured["srcset"]) == [200, 400, 600, 800, 1000, 1200, 1400, 1600]
    for url, descriptor in candidates(featured["srcset"]):
        assert url.startswith(CLD)
        assert url.endswith("/wp/2024/03/mountain-lake.jpg")  # cut from the original file
        assert limit(url) == int(descriptor[:-1])
    assert featured["sizes"] == "(max-width: 1568px) 100vw, 1568px"  # WordPress's, kept
    assert featured["width"] == "1568" and featured["height"] == "980"


def test_image_block_with_a_scaled_original_stops_at_max_width() -> None:
    # The -scaled file is WordPress's 2560 px version of a bigger upload.
    panorama = next(
        i for i in images("twentytwentythree-image-block.html") if "wide-panorama" in i["src"]
    )
    assert widths(panorama["srcset"])[-1] == 2560
    assert "c_limit,h_2560,w_2560" in candidates(panorama["srcset"])[0][0]
    capped = next(
        i
        for i in images(
            "twentytwentythree-image-block.html",
            RESPONSIVE_ONLY + "\n  responsive: {max_width: 1500}",
        )
        if "wide-panorama" in i["src"]
    )
    assert widths(capped["srcset"]) == [200, 400, 600, 800, 1000, 1200, 1400, 1500]


def test_a_sub_size_is_never_asked_for_wider_than_itself() -> None:
    # The largest file WordPress offers for the panorama featured image is 2048x1024.
    panorama = images("twentytwentyone-home.html")[1]
    urls = candidates(panorama["srcset"])
    assert widths(panorama["srcset"])[-1] == 2048
    assert all("c_lfill,g_center,h_1024,w_2048" in url for url, _ in urls)
    assert limit(urls[-1][0]) is None  # the full sub-size: no resize step at all
    assert all(w <= 2048 for w in widths(panorama["srcset"]))


def test_gallery_images_each_get_their_own_breakpoints_and_a_gif_gets_sizes() -> None:
    gallery = images("twentytwentythree-gallery.html")[1:]
    tall = next(i for i in gallery if "tall-tree" in i["src"])
    assert widths(tall["srcset"]) == [200, 400, 600, 800, 1000]
    assert tall["sizes"] == "(max-width: 683px) 100vw, 683px"
    # The GIF had no srcset: WordPress's width attribute (its own size) bounds the list,
    # and it gets WordPress's default sizes so the browser lays it out as before.
    badge = next(i for i in gallery if "pixel-badge" in i["src"])
    assert widths(badge["srcset"]) == [200, 400]
    assert badge["sizes"] == "(max-width: 400px) 100vw, 400px"
    assert "fl_animated" in badge["srcset"]


@pytest.mark.parametrize(
    "name, file, largest",
    [
        ("twentytwentythree-cover.html", "mountain-lake.jpg", 1600),
        ("twentytwentythree-media-text.html", "Creme-brulee-a-la-maison.jpg", 1200),
    ],
)
def test_cover_and_media_text_images(name: str, file: str, largest: int) -> None:
    image = next(
        i for i in images(name) if file in i["src"] and "wp-post-image" not in i.get("class", "")
    )
    assert widths(image["srcset"])[-1] == largest
    assert all(url.endswith("/wp/2024/03/" + file) for url, _ in candidates(image["srcset"]))


def test_an_explicit_width_list_replaces_min_max_and_step() -> None:
    featured = images(
        "twentytwentyone-home.html", RESPONSIVE_ONLY + "\n  responsive: {widths: [480, 960, 3000]}"
    )[0]
    assert widths(featured["srcset"]) == [480, 960, 1600]


def test_cdn_delivery_keeps_wordpress_candidates_one_for_one() -> None:
    before = elements(fixture("twentytwentyone-home.html"), "img")
    after = images("twentytwentyone-home.html", provider="cdn")
    for old, new in zip(before, after, strict=True):
        if "srcset" not in old:
            assert "srcset" not in new
            continue
        old_c, new_c = candidates(old["srcset"]), candidates(new["srcset"])
        assert [d for _, d in old_c] == [d for _, d in new_c]
        assert [u.replace("http://wp.test/wp-content/uploads/", CDN) for u, _ in old_c] == [
            u for u, _ in new_c
        ]


def test_the_responsive_switch_turns_it_off() -> None:
    off = images("twentytwentyone-home.html", RESPONSIVE_ONLY + "\n  responsive: {enabled: false}")[
        0
    ]
    assert widths(off["srcset"]) == [1568, 300, 1024, 768, 1536, 1600]  # WordPress's own


# -- tricky markup ---------------------------------------------------------------


SRCSET = f"{UPLOADS}a-300x200.jpg 300w, {UPLOADS}a-1024x683.jpg 1024w, {UPLOADS}a.jpg 1200w"


def test_picture_sources_and_the_preload_get_the_same_list_as_the_image() -> None:
    html = (
        f'<!DOCTYPE html><html><head><link rel="preload" as="image" imagesrcset="{SRCSET}"'
        f' imagesizes="50vw"></head><body><picture><source media="(min-width: 600px)" '
        f'srcset="{SRCSET}" sizes="50vw"><img src="{UPLOADS}a-1024x683.jpg" '
        f'srcset="{SRCSET}" sizes="50vw" width="1024" height="683"></picture></body></html>'
    )
    out = rewrite(html, RESPONSIVE_ONLY)
    link = elements(out, "link")[0]
    source = elements(out, "source")[0]
    image = elements(out, "img")[0]
    assert link["imagesrcset"] == source["srcset"] == image["srcset"]
    assert widths(image["srcset"]) == [200, 400, 600, 800, 1000, 1200]
    assert link["imagesizes"] == source["sizes"] == image["sizes"] == "50vw"


def test_an_image_preloaded_by_href_alone_keeps_its_single_src() -> None:
    html = (
        f'<!DOCTYPE html><html><head><link rel=preload as=image href="{UPLOADS}b.jpg">'
        f'</head><body><img src="{UPLOADS}b.jpg" width="800"></body></html>'
    )
    image = elements(rewrite(html, RESPONSIVE_ONLY), "img")[0]
    assert "srcset" not in image
    assert image["src"] == elements(rewrite(html, RESPONSIVE_ONLY), "link")[0]["href"]


@pytest.mark.parametrize(
    "markup",
    [
        f'<img src="{UPLOADS}b.jpg">',  # no width, no sizes: a srcset would lay it out at 100vw
        f'<img src="{UPLOADS}b.jpg" srcset="{UPLOADS}b.jpg 1x, {UPLOADS}b@2x.jpg 2x" width=80>',
        '<img src="https://other.example/b.jpg" width="800">',  # not an upload
        f'<img src="{UPLOADS}icon.svg" width="800">',  # Cloudinary never resizes SVG
        f'<img src="{UPLOADS}b-150x150.jpg" width="150">',  # nothing below its own width
        f'<img data-src="{UPLOADS}b.jpg" width="800">',  # another lazy loader's image
    ],
)
def test_images_that_keep_their_markup(markup: str) -> None:
    before = elements(page(markup).encode(), "img")[0]
    after = elements(rewrite(page(markup), RESPONSIVE_ONLY), "img")[0]
    assert after.get("srcset", "").count(" ") == before.get("srcset", "").count(" ")
    assert "sizes" not in after


def test_explicit_sizes_are_kept_and_sizes_keep_adds_none() -> None:
    html = page(
        f'<img src="{UPLOADS}b.jpg" width="900" sizes="33vw"><img src="{UPLOADS}c.jpg" width="900">'
    )
    first, second = elements(rewrite(html, RESPONSIVE_ONLY), "img")
    assert first["sizes"] == "33vw" and widths(first["srcset"])[-1] == 900
    assert second["sizes"] == "(max-width: 900px) 100vw, 900px"
    kept = elements(rewrite(html, RESPONSIVE_ONLY + "\n  responsive: {sizes: keep}"), "img")
    assert "sizes" not in kept[1] and "srcset" in kept[1]


def test_width_candidates_reads_only_width_descriptor_lists() -> None:
    assert width_candidates("a.jpg 300w, b.jpg 600w") == [("a.jpg", 300), ("b.jpg", 600)]
    assert width_candidates("a.jpg 1x, b.jpg 2x") is None
    assert width_candidates("a.jpg") is None
    assert width_candidates("") is None


@pytest.mark.parametrize(
    "yaml, key",
    [
        ("responsive: {min_width: 800, max_width: 400}", "features.responsive.max_width"),
        ("responsive: {step: 10}", "features.responsive.step"),
        ("responsive: {sizes: always}", "features.responsive.sizes"),
        ("responsive: {widths: [0]}", "features.responsive.widths"),
        ("responsive: {colour: red}", "features.responsive.colour"),
    ],
)
def test_bad_settings_are_named(yaml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        config("  " + yaml)


class _Answers(Inventory):
    """A stand-in inventory whose answers the test changes, as a bucket's change over time."""

    _ready = True

    def __init__(self, known: dict[str, FileInfo]) -> None:
        self.known = known

    def lookup(self, key: str) -> FileInfo | None:
        return self.known.get(key)

    def snapshot_stats(self) -> dict[str, Any]:
        return {"source": "test"}


def test_a_list_made_for_one_page_serves_the_next_only_while_the_inventory_agrees() -> None:
    settings = config(RESPONSIVE_ONLY)
    inventory = _Answers({"2024/03/lake.jpg": FileInfo(size=1, mtime=1_700_000_000)})
    provider = build_delivery(settings.delivery)
    made: list[int | None] = []
    url_for = provider.url_for

    def counted(ref: UploadRef, info: FileInfo | None, width: int | None) -> str | None:
        made.append(width)
        return url_for(ref, info, width)

    provider.url_for = counted  # type: ignore[method-assign]
    handlers = build_handlers(settings.features, provider)
    engine = HtmlRewriter(settings.html)
    mapper = build_url_mapper(settings, inventory, provider)

    def srcset(post: str) -> str:
        doc = page(f'<p>{post}</p><img src="{UPLOADS}lake.jpg" width="800">').encode()
        return elements(engine.rewrite(doc, mapper, None, handlers(mapper, doc)), "img")[0][
            "srcset"
        ]

    first = srcset("one post")
    asked = len(made)
    assert srcset("another post") == first
    assert len(made) == asked  # the list was not made again
    inventory.known["2024/03/lake.jpg"] = FileInfo(size=2, mtime=1_800_000_000)  # replaced
    changed = srcset("a third post")
    assert changed != first and len(made) > asked
    fresh = build_handlers(settings.features, build_delivery(settings.delivery))
    mapper = build_url_mapper(settings, inventory)
    doc = page(f'<p>a third post</p><img src="{UPLOADS}lake.jpg" width="800">').encode()
    assert (
        elements(engine.rewrite(doc, mapper, None, fresh(mapper, doc)), "img")[0]["srcset"]
        == changed
    )
