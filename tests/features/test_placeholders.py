"""Placeholders: a tiny Cloudinary-derived image as the CSS background of each lazy JPEG,
with src, srcset and loading untouched (the page needs no JavaScript)."""

from __future__ import annotations

import cloudinary
import cloudinary.utils
import pytest

from rewriteproxy.features.placeholders import EFFECTS, PREDOMINANT
from rewriteproxy.settings import ConfigError
from tests.delivery.factories import provider, ref
from tests.features.support import CLD, UPLOADS, config, elements, fixture, page, rewrite

LAZY = "  lazy: {enabled: true}\n"  # lazy images get placeholders


def blur(extra: str = "") -> str:
    return LAZY + "  placeholders: {style: blur" + extra + "}"


def background(style: str) -> str:
    start = style.index('background-image:url("') + len('background-image:url("')
    return style[start : style.index('")', start)]


def test_lazy_jpegs_on_a_gallery_page_get_a_blurred_background_and_keep_everything_else() -> None:
    doc = fixture("twentytwentythree-gallery.html")
    plain = elements(rewrite(doc, LAZY), "img")
    with_ph = elements(rewrite(doc, blur()), "img")
    for before, after in zip(plain, with_ph, strict=True):
        assert "style" not in before
        style = after.pop("style", None)
        assert after == before  # src, srcset, sizes, loading: exactly as without placeholders
        jpeg = ".jpg" in before["src"] and before.get("loading") == "lazy"
        assert (style is not None) == jpeg, before["src"]
        if style is not None:
            url = background(style)
            assert url.startswith(CLD) and "/c_limit,w_32/e_blur:2000,q_1,f_auto/" in url
            assert "background-size:cover" in style


def test_an_existing_style_is_kept_and_extended() -> None:
    # Twenty Twenty-Three's featured images carry their own inline style.
    out = elements(rewrite(fixture("twentytwentythree-home.html"), blur()), "img")
    second = out[1]
    assert second["style"].startswith("height:max(15vw, 30vh);object-fit:cover;background-image:")


@pytest.mark.parametrize(
    "markup",
    [
        f'<img src="{UPLOADS}first.jpg" width=800 height=600>',  # eager (the priority image)
        f'<img loading="eager" src="{UPLOADS}b.jpg">',
        f'<img loading="lazy" src="{UPLOADS}logo.png">',  # may be transparent
        f'<img loading="lazy" src="{UPLOADS}b.jpg" style="background:#eee">',
        '<img loading="lazy" src="https://other.example/b.jpg">',
        f'<noscript><img loading="lazy" src="{UPLOADS}b.jpg"></noscript>',
    ],
)
def test_images_without_a_placeholder(markup: str) -> None:
    out = elements(rewrite(page(markup), blur()), "img")[0]
    assert "background-image" not in out.get("style", "")


def test_png_gets_one_when_listed_in_formats() -> None:
    html = page(f'<img src="{UPLOADS}a.jpg" width=9 height=9><img src="{UPLOADS}logo.png">')
    out = elements(rewrite(html, blur(", formats: [png]")), "img")
    assert "e_blur" in out[1]["style"]


@pytest.mark.parametrize("style", ["pixelate", "predominant"])
def test_other_styles(style: str) -> None:
    html = page(
        f'<img src="{UPLOADS}a.jpg" width=9 height=9>'
        f'<img src="{UPLOADS}b-300x200.jpg" width=300 height=200>'
    )
    out = elements(rewrite(html, LAZY + f"  placeholders: {{style: {style}}}"), "img")
    url = background(out[1]["style"])
    assert f"/{EFFECTS[style]}/" in url
    assert url.startswith(CLD + "c_lfill,g_center,h_200,w_300/")  # the sub-size's own crop
    assert ("c_limit,w_32" in url) == (style == "pixelate")


@pytest.fixture
def _clean_sdk_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDINARY_URL", raising=False)
    cloudinary.reset_config()


@pytest.mark.usefixtures("_clean_sdk_config")
@pytest.mark.parametrize("signed", [False, True])
def test_placeholder_urls_equal_the_sdk_including_signatures(signed: bool) -> None:
    cld = provider(
        {
            "provider": "cloudinary",
            "cloudinary": {
                "cloud_name": "demo",
                "folder": "wp",
                "sign_urls": signed,
                "api_secret": "s3cr3t",
            },
        }
    )
    ours = cld.effect_url(ref("2024/03/lake.jpg"), None, 32, EFFECTS["blur"])  # type: ignore[attr-defined]
    theirs, _ = cloudinary.utils.cloudinary_url(
        "wp/2024/03/lake",
        format="jpg",
        cloud_name="demo",
        secure=True,
        force_version=False,
        raw_transformation="c_limit,w_32/" + EFFECTS["blur"],
        sign_url=signed,
        api_secret="s3cr3t",
    )
    assert ours == theirs


def test_no_placeholder_for_video_or_svg() -> None:
    cld = provider({"provider": "cloudinary", "cloudinary": {"cloud_name": "demo"}})
    for path in ("a.mp4", "a.svg", "a.pdf"):
        assert cld.effect_url(ref(path), None, 32, PREDOMINANT) is None  # type: ignore[attr-defined]


def test_placeholders_need_cloudinary_and_say_so() -> None:
    with pytest.raises(ConfigError, match=r"features\.placeholders\.style.*cloudinary"):
        config("  placeholders: {style: blur}", provider="cdn")
    config("  placeholders: {style: none}", provider="cdn")  # none is fine anywhere


@pytest.mark.parametrize(
    "yaml",
    ["placeholders: {style: vectorize}", "placeholders: {width: 0}", "placeholders: {colour: 1}"],
)
def test_bad_placeholder_settings_are_errors(yaml: str) -> None:
    with pytest.raises(ConfigError, match=r"features\.placeholders"):
        config("  " + yaml)


def test_placeholder_urls_are_built_once_and_then_remembered() -> None:
    cld = provider({"provider": "cloudinary", "cloudinary": {"cloud_name": "demo"}})
    lake = ref("2024/03/lake.jpg")
    first = cld.effect_url(lake, None, 32, EFFECTS["blur"])  # type: ignore[attr-defined]
    assert first is not None
    assert cld.effect_url(lake, None, 32, EFFECTS["blur"]) is first  # type: ignore[attr-defined]
    assert cld.effect_url(lake, None, 32, EFFECTS["pixelate"]) != first  # type: ignore[attr-defined]
    assert cld.url_for(lake, None, 32) != first  # delivery URLs are kept apart


def test_placeholder_urls_never_push_delivery_urls_out_of_the_cache() -> None:
    cld = provider(
        {"provider": "cloudinary", "cache_size": 2, "cloudinary": {"cloud_name": "demo"}}
    )
    lake = ref("2024/03/lake.jpg")
    delivered = cld.url_for(lake, None, 300)
    for name in ("a", "b", "c"):
        cld.effect_url(ref(f"2024/03/{name}.jpg"), None, 32, EFFECTS["blur"])  # type: ignore[attr-defined]
    assert cld.url_for(lake, None, 300) is delivered
