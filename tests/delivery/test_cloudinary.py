"""The cloudinary provider.

The first tests are worked examples, one per rule. The matrix after them
checks every URL against Cloudinary's own Python SDK
(``cloudinary.utils.cloudinary_url``), called with the public ID,
transformation, version and options that the rules say the URL stands for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import cloudinary
import cloudinary.utils
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriteproxy.delivery.cloudinary import CloudinaryConfig, smart_escape
from rewriteproxy.delivery.registry import DeliveryConfig
from rewriteproxy.delivery.versioning import version_token
from rewriteproxy.media import FileInfo, UploadRef
from rewriteproxy.settings import ConfigError

from .factories import SITE, SiteContext, parse_delivery, provider, ref

RES = "https://res.cloudinary.com/demo"
MTIME = FileInfo(size=1234, mtime=1700000000.5, etag="9a0364b9e99bb480dd25e1f0284c8555")


def cld(environ: dict[str, str] | None = None, **settings: Any) -> Any:
    return provider(
        {
            "provider": "cloudinary",
            "cloudinary": {"cloud_name": "demo", "folder": "wp", **settings},
        },
        environ,
    )


# -- worked examples ------------------------------------------------------------


def test_an_original_image_gets_the_default_transformation() -> None:
    assert (
        cld().url_for(ref("2024/05/photo.jpg"))
        == f"{RES}/image/upload/f_auto,q_auto/wp/2024/05/photo.jpg"
    )


def test_a_sub_size_is_the_master_filled_to_exactly_that_size() -> None:
    assert cld().url_for(ref("2024/05/photo-300x200.jpg"), MTIME) == (
        f"{RES}/image/upload/c_lfill,g_center,h_200,w_300/f_auto,q_auto"
        "/v1700000000/wp/2024/05/photo.jpg"
    )


def test_a_scaled_image_is_the_master_limited_to_the_big_image_threshold() -> None:
    assert (
        cld().url_for(ref("2024/05/photo-scaled.jpg"))
        == f"{RES}/image/upload/c_limit,h_2560,w_2560/f_auto,q_auto/wp/2024/05/photo.jpg"
    )
    assert (
        cld(big_image_threshold=4096).url_for(ref("photo-scaled.jpg"))
        == f"{RES}/image/upload/c_limit,h_4096,w_4096/f_auto,q_auto/wp/photo.jpg"
    )


def test_numbered_and_edited_names_are_their_own_masters() -> None:
    assert cld().url_for(ref("photo-1.jpg")) == f"{RES}/image/upload/f_auto,q_auto/wp/photo-1.jpg"
    assert (
        cld().url_for(ref("photo-300x200-1.jpg"))
        == f"{RES}/image/upload/f_auto,q_auto/wp/photo-300x200-1.jpg"
    )
    assert (
        cld().url_for(ref("photo-e1699999999-150x150.jpg"))
        == f"{RES}/image/upload/c_lfill,g_center,h_150,w_150/f_auto,q_auto/wp/photo-e1699999999.jpg"
    )


def test_derivation_can_be_turned_off_when_cloudinary_holds_every_size() -> None:
    assert (
        cld(derive_originals=False).url_for(ref("photo-300x200.jpg"))
        == f"{RES}/image/upload/f_auto,q_auto/wp/photo-300x200.jpg"
    )


def test_a_width_request_never_upscales() -> None:
    delivery = cld()
    assert delivery.transforms is True
    assert delivery.url_for(ref("photo-300x200.jpg"), None, 150) == (
        f"{RES}/image/upload/c_lfill,g_center,h_200,w_300/c_limit,w_150/f_auto,q_auto/wp/photo.jpg"
    )
    # Wider than the sub-size itself: the sub-size as it is.
    assert delivery.url_for(ref("photo-300x200.jpg"), None, 600) == delivery.url_for(
        ref("photo-300x200.jpg")
    )
    assert delivery.url_for(ref("photo.jpg"), None, 0) == delivery.url_for(ref("photo.jpg"))
    # Size unknown: c_limit, which only ever shrinks.
    assert (
        delivery.url_for(ref("photo.jpg"), None, 800)
        == f"{RES}/image/upload/c_limit,w_800/f_auto,q_auto/wp/photo.jpg"
    )


def test_svg_gets_no_raster_transformation_and_no_size() -> None:
    assert (
        cld().url_for(ref("logo-300x200.svg"), None, 100)
        == f"{RES}/image/upload/wp/logo-300x200.svg"
    )


def test_gifs_stay_animated() -> None:
    assert (
        cld().url_for(ref("anim-150x150.gif"))
        == f"{RES}/image/upload/c_lfill,g_center,h_150,w_150/f_auto,fl_animated,q_auto/wp/anim.gif"
    )
    assert (
        cld(transformation="q_auto:eco").url_for(ref("anim.gif"))
        == f"{RES}/image/upload/fl_animated,q_auto:eco/wp/anim.gif"
    )


def test_videos_are_video_resources_with_their_own_transformation() -> None:
    assert (
        cld().url_for(ref("2024/05/clip.mp4"))
        == f"{RES}/video/upload/f_auto,q_auto/wp/2024/05/clip.mp4"
    )
    assert (
        cld(video_transformation="vc_auto,q_auto").url_for(ref("clip.MOV"))
        == f"{RES}/video/upload/vc_auto,q_auto/wp/clip.mov"
    )
    # WordPress does not size videos: a name that looks like a size is just a name.
    assert (
        cld(video_transformation="").url_for(ref("clip-640x360.webm"))
        == f"{RES}/video/upload/wp/clip-640x360.webm"
    )


def test_audio_is_a_video_resource_delivered_as_it_is() -> None:
    for name in ("song.mp3", "voice.m4a", "take.ogg", "raw.wav", "hi.flac", "x.aac"):
        stem, format_ = name.split(".")
        assert cld().url_for(ref("2024/05/" + name), MTIME, 300) == (
            f"{RES}/video/upload/v1700000000/wp/2024/05/{stem}.{format_}"
        )
    assert (
        cld(audio_transformation="q_auto").url_for(ref("song.mp3"))
        == f"{RES}/video/upload/q_auto/wp/song.mp3"
    )
    assert cld(audio_formats=[]).url_for(ref("song.mp3")) is None


def test_a_converters_sibling_is_its_own_file_not_the_original() -> None:
    # WebP Express and EWWW write photo.jpg.webp beside photo.jpg: other bytes, other asset.
    delivery = cld()
    assert delivery.url_for(ref("2024/05/photo.jpg.webp"), MTIME) == (
        f"{RES}/image/upload/f_auto,q_auto/v1700000000/wp/2024/05/photo.jpg.webp"
    )
    assert delivery.url_for(ref("2024/05/photo-300x200.jpg.webp")) == (
        f"{RES}/image/upload/f_auto,q_auto/wp/2024/05/photo-300x200.jpg.webp"
    )
    assert delivery.source_key("2024/05/photo-300x200.jpg.webp") == "2024/05/photo-300x200.jpg.webp"
    assert delivery.stored_asset("2024/05/photo.jpg.webp") == (
        "image",
        "wp/2024/05/photo.jpg",
        "webp",
    )
    assert delivery.stored_asset("2024/05/photo.jpg") == ("image", "wp/2024/05/photo", "jpg")


def test_a_size_is_delivered_from_its_master_so_the_inventory_is_asked_about_the_master() -> None:
    delivery = cld()
    assert delivery.source_key("2024/05/photo-300x200.jpg") == "2024/05/photo.jpg"
    assert delivery.source_key("2024/05/photo-scaled.jpg") == "2024/05/photo.jpg"
    assert delivery.source_key("2024/05/photo.jpg") == "2024/05/photo.jpg"
    # Only images are sized by WordPress, and SVGs are never derived.
    assert delivery.source_key("clip-640x360.webm") == "clip-640x360.webm"
    assert delivery.source_key("logo-300x200.svg") == "logo-300x200.svg"
    assert delivery.source_key("report-1x2.pdf") == "report-1x2.pdf"
    assert cld(derive_originals=False).source_key("photo-300x200.jpg") == "photo-300x200.jpg"
    # Derived once, as the URL is: the master of a-10x10-20x20.jpg is the file a-10x10.jpg.
    assert delivery.source_key("a-10x10-20x20.jpg") == "a-10x10.jpg"
    assert delivery.stored_asset("a-10x10.jpg") == ("image", "wp/a-10x10", "jpg")


def test_stored_assets_by_kind() -> None:
    assert cld().stored_asset("2024/05/song.mp3") == ("video", "wp/2024/05/song", "mp3")
    assert cld().stored_asset("docs/report.pdf") is None
    assert cld().stored_asset("README") is None
    assert cld(other_files="raw").stored_asset("docs/report.pdf") == (
        "raw",
        "wp/docs/report.pdf",
        "",
    )
    assert cld(folder="").stored_asset("a/b.JPG") == ("image", "a/b", "jpg")
    assert cld(delivery_type="fetch").stored_asset("a.jpg") is None


def test_a_name_whose_public_id_would_climb_out_of_the_folder_stays_local() -> None:
    # Public IDs are percent-decoded once more than the upload's key (as the SDK does), so
    # a file named "..%2Fother%2Flogo.png" (URL: ..%252Fother...) must not become the
    # public ID wp/../other/logo: its URL, signed or not, and its upload would name
    # another folder of the account (another site's, for an agency).
    for name in ("..%2Fother%2Flogo.png", "a%2F..%2F..%2Fx.jpg", "a%2F.%2Fb.jpg", "a%5Cb.jpg"):
        for delivery in (cld(), cld(sign_urls=True, api_secret="s"), cld(other_files="raw")):
            assert delivery.url_for(UploadRef("/u/" + quote(name), quote(name))) is None, name
            assert delivery.stored_asset(name) is None, name
    assert cld().stored_asset("a%2Fb.jpg") == ("image", "wp/a/b", "jpg")  # no climb: as before


def test_other_files_stay_local_or_are_raw_uploads() -> None:
    assert cld().url_for(ref("docs/report.pdf")) is None
    assert cld().url_for(ref("noextension")) is None
    assert (
        cld(other_files="raw").url_for(ref("docs/report.pdf"), MTIME)
        == f"{RES}/raw/upload/v1700000000/wp/docs/report.pdf"
    )


def test_transformations_are_replaceable() -> None:
    assert cld(transformation="").url_for(ref("a.jpg")) == f"{RES}/image/upload/wp/a.jpg"
    assert cld(transformation="e_sharpen/f_auto,q_auto:best").url_for(ref("a-10x10.jpg")) == (
        f"{RES}/image/upload/c_lfill,g_center,h_10,w_10/e_sharpen/f_auto,q_auto:best/wp/a.jpg"
    )
    assert (
        cld(crop_gravity="auto").url_for(ref("a-10x10.jpg"))
        == f"{RES}/image/upload/c_lfill,g_auto,h_10,w_10/f_auto,q_auto/wp/a.jpg"
    )


def test_versions_come_from_the_inventory_or_the_configured_fallback() -> None:
    assert (
        cld().url_for(ref("a.jpg"), FileInfo(etag="only-an-etag"))
        == f"{RES}/image/upload/f_auto,q_auto/wp/a.jpg"
    )
    assert (
        cld(fallback_version=1).url_for(ref("a.jpg"))
        == f"{RES}/image/upload/f_auto,q_auto/v1/wp/a.jpg"
    )
    assert (
        cld(fallback_version=1).url_for(ref("a.jpg"), MTIME)
        == f"{RES}/image/upload/f_auto,q_auto/v1700000000/wp/a.jpg"
    )


def test_the_page_query_is_dropped_and_the_fragment_kept() -> None:
    assert (
        cld(folder="").url_for(ref("a.jpg", query="ver=1", fragment="f"))
        == f"{RES}/image/upload/f_auto,q_auto/a.jpg#f"
    )


def test_fetch_delivery_passes_the_origin_url() -> None:
    delivery = cld(delivery_type="fetch")
    assert delivery.url_for(ref("2024/05/photo-300x200.jpg")) == (
        f"{RES}/image/fetch/c_lfill,g_center,h_200,w_300/f_auto,q_auto/"
        "https://wp.test/wp-content/uploads/2024/05/photo.jpg"
    )
    # The version is a query on the origin URL, so Cloudinary fetches the new file.
    token = version_token(MTIME)
    assert delivery.url_for(ref("a.jpg"), MTIME) == (
        f"{RES}/image/fetch/f_auto,q_auto/https://wp.test/wp-content/uploads/a.jpg%3Fv%3D{token}"
    )
    assert delivery.url_for(ref("report.pdf")) is None


def test_seo_suffix() -> None:
    assert cld(seo_suffix=True).url_for(ref("2024/05/photo-300x200.jpg")) == (
        "https://res.cloudinary.com/demo/images/c_lfill,g_center,h_200,w_300/f_auto,q_auto/"
        "wp/2024/05/photo/photo.jpg"
    )


def test_private_cdn_and_custom_domains() -> None:
    assert (
        cld(private_cdn=True).url_for(ref("a.jpg"))
        == "https://demo-res.cloudinary.com/image/upload/f_auto,q_auto/wp/a.jpg"
    )
    assert (
        cld(private_cdn=True, secure_distribution="img.example.net").url_for(ref("a.jpg"))
        == "https://img.example.net/image/upload/f_auto,q_auto/wp/a.jpg"
    )
    assert (
        cld(secure=False, cname="img.example.net").url_for(ref("a.jpg"))
        == "http://img.example.net/demo/image/upload/f_auto,q_auto/wp/a.jpg"
    )


def test_signed_urls() -> None:
    url = cld(sign_urls=True, api_secret="${SECRET}", environ={"SECRET": "abcd"}).url_for(
        ref("a.jpg")
    )
    assert url is not None
    assert url.startswith(f"{RES}/image/upload/s--")
    assert url.endswith("--/f_auto,q_auto/wp/a.jpg")


def test_owns_its_own_urls() -> None:
    delivery = cld()
    url = delivery.url_for(ref("a.jpg"))
    assert url is not None and delivery.owns(url)
    assert not delivery.owns("https://res.cloudinary.com/other/image/upload/a.jpg")
    assert not delivery.owns("https://wp.test/wp-content/uploads/a.jpg")


def test_smart_escape() -> None:
    assert smart_escape("a b/é:ok-_.") == "a%20b/%C3%A9:ok-_."
    assert smart_escape("(1)+&?") == "%281%29%2B%26%3F"


# -- the SDK as oracle ----------------------------------------------------------

FILL = lambda w, h: {"crop": "lfill", "gravity": "center", "width": w, "height": h}  # noqa: E731
AUTO = {"fetch_format": "auto", "quality": "auto"}
ANIMATED = {"fetch_format": "auto", "quality": "auto", "flags": "animated"}

# path as the page writes it -> what it stands for in Cloudinary:
# (resource type, public id below the folder, format, size steps, own width, transformation)
FILES: dict[str, tuple[str, str, str, list[dict[str, Any]], int | None, dict[str, Any] | None]] = {
    "2024/05/photo.jpg": ("image", "2024/05/photo", "jpg", [], None, AUTO),
    "2024/05/photo-300x200.jpg": ("image", "2024/05/photo", "jpg", [FILL(300, 200)], 300, AUTO),
    "2024/05/photo-scaled.jpg": (
        "image",
        "2024/05/photo",
        "jpg",
        [{"crop": "limit", "width": 2560, "height": 2560}],
        2560,
        AUTO,
    ),
    "2024/05/my%20photo%20%C3%A9t%C3%A9-150x150.jpeg": (
        "image",
        "2024/05/my photo été",
        "jpeg",
        [FILL(150, 150)],
        150,
        AUTO,
    ),
    "2024/05/naïve file (1)+x.png": ("image", "2024/05/naïve file (1)+x", "png", [], None, AUTO),
    "2024/05/日本語.webp": ("image", "2024/05/日本語", "webp", [], None, AUTO),
    "2024/05/clip.mp4": ("video", "2024/05/clip", "mp4", [], None, AUTO),
    "2024/05/clip-640x360.webm": ("video", "2024/05/clip-640x360", "webm", [], None, AUTO),
    "2024/05/logo.svg": ("image", "2024/05/logo", "svg", [], None, None),
    "2024/05/anim-150x150.gif": ("image", "2024/05/anim", "gif", [FILL(150, 150)], 150, ANIMATED),
    "2024/05/song.mp3": ("video", "2024/05/song", "mp3", [], None, None),
    "2024/05/photo.jpg.webp": ("image", "2024/05/photo.jpg", "webp", [], None, AUTO),
    "2024/05/photo-300x200.jpg.webp": (
        "image",
        "2024/05/photo-300x200.jpg",
        "webp",
        [],
        None,
        AUTO,
    ),
}

FILES_BELOW = [p for p in FILES if p.endswith((".jpg", ".mp4", ".mp3", ".webp", ".svg"))]
SECRET = "s3cr3t-Ab9"
# option set -> (our config keys, the SDK's keyword arguments)
OPTIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "default": ({}, {}),
    "signed": ({"sign_urls": True, "api_secret": SECRET}, {"sign_url": True}),
    "signed-long": (
        {"sign_urls": True, "api_secret": SECRET, "long_url_signature": True},
        {"sign_url": True, "long_url_signature": True},
    ),
    "secure-distribution": (
        {"secure_distribution": "media.example.net"},
        {"secure_distribution": "media.example.net"},
    ),
    "private-cdn": ({"private_cdn": True}, {"private_cdn": True}),
    "private-cdn-cname": (
        {"private_cdn": True, "secure_distribution": "media.example.net"},
        {"private_cdn": True, "secure_distribution": "media.example.net"},
    ),
    "http-cname": (
        {"secure": False, "cname": "img.example.net"},
        {"secure": False, "cname": "img.example.net"},
    ),
    "http-private": (
        {"secure": False, "private_cdn": True},
        {"secure": False, "private_cdn": True},
    ),
    "seo": ({"seo_suffix": True}, {}),
    "seo-signed-private": (
        {"seo_suffix": True, "sign_urls": True, "api_secret": SECRET, "private_cdn": True},
        {"sign_url": True, "private_cdn": True},
    ),
}
WIDTHS = (None, 200, 4000)
INFOS = (None, MTIME)


@pytest.fixture(autouse=True)
def _clean_sdk_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads defaults from CLOUDINARY_URL; the oracle must see only what it is given.
    monkeypatch.delenv("CLOUDINARY_URL", raising=False)
    cloudinary.reset_config()


def sdk(source: str, steps: list[dict[str, Any]], **options: Any) -> str:
    options.setdefault("secure", True)
    url, _ = cloudinary.utils.cloudinary_url(
        source,
        cloud_name="demo",
        transformation=steps,
        force_version=False,
        cdn_subdomain=False,
        api_secret=SECRET,
        **options,
    )
    return str(url)


def expected_steps(
    kind: str,
    sizes: list[dict[str, Any]],
    own: int | None,
    transformation: dict[str, Any] | None,
    width: int | None,
) -> list[Any]:
    steps = list(sizes)
    if width is not None and transformation is not None and (own is None or width < own):
        steps.append({"crop": "limit", "width": width})
    if transformation is not None:
        steps.append(transformation)
    return steps


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("path", FILES)
def test_upload_urls_equal_the_sdk(path: str, option: str) -> None:
    ours, theirs = OPTIONS[option]
    resource_type, public_id, format_, sizes, own, transformation = FILES[path]
    delivery = cld(**ours)
    for width in WIDTHS:
        for info in INFOS:
            options = dict(theirs)
            if ours.get("seo_suffix") and resource_type == "image":
                options["url_suffix"] = smart_escape(public_id.rsplit("/", 1)[-1].replace(".", "-"))
            url = delivery.url_for(ref(path), info, width)
            assert url == sdk(
                "wp/" + public_id,
                expected_steps(resource_type, sizes, own, transformation, width),
                resource_type=resource_type,
                type="upload",
                format=format_,
                version=1700000000 if info else None,
                **options,
            ), (width, info)


ORIGIN = "https://wp.test/wp-content/uploads/"


@pytest.mark.parametrize("option", [o for o in OPTIONS if not o.startswith("seo")])
@pytest.mark.parametrize("path", FILES)
def test_fetch_urls_equal_the_sdk(path: str, option: str) -> None:
    ours, theirs = OPTIONS[option]
    resource_type, public_id, format_, sizes, own, transformation = FILES[path]
    delivery = cld(delivery_type="fetch", **ours)
    for width in WIDTHS:
        for info in INFOS:
            origin = ORIGIN + quote(f"{public_id}.{format_}")
            if info is not None:
                origin += f"?v={version_token(info)}"
            url = delivery.url_for(ref(path), info, width)
            assert url == sdk(
                origin,
                expected_steps(resource_type, sizes, own, transformation, width),
                resource_type=resource_type,
                type="fetch",
                **theirs,
            ), (width, info)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("path", ["docs/report.pdf", "docs/an archive (2).zip", "x/ünï.docx"])
def test_raw_urls_equal_the_sdk(path: str, option: str) -> None:
    ours, theirs = OPTIONS[option]
    delivery = cld(other_files="raw", **ours)
    for info in INFOS:
        assert delivery.url_for(ref(path), info) == sdk(
            "wp/" + path,
            [],
            resource_type="raw",
            type="upload",
            version=1700000000 if info else None,
            **theirs,
        )


def test_the_fallback_version_equals_the_sdk() -> None:
    assert cld(fallback_version=1).url_for(ref("2024/05/photo-300x200.jpg")) == sdk(
        "wp/2024/05/photo", [FILL(300, 200), AUTO], format="jpg", version=1
    )


@pytest.mark.parametrize("path", [*FILES_BELOW, "a/b.JPG", "2024/05/x%41%20y.png"])
def test_a_stored_asset_is_what_the_url_of_its_file_names(path: str) -> None:
    # Whatever sync uploads under this public ID is what the builder's URL delivers.
    delivery = cld(derive_originals=False, transformation="")
    asset = delivery.stored_asset(unquote(path))
    assert asset is not None
    assert delivery.url_for(ref(path)) == sdk(
        asset.public_id, [], resource_type=asset.resource_type, format=asset.format or None
    )


NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\?#"),
    min_size=1,
    max_size=24,
)


@settings(max_examples=300, deadline=None)
@given(stem=NAMES, signed=st.booleans(), seo=st.booleans())
def test_any_file_name_equals_the_sdk(stem: str, signed: bool, seo: bool) -> None:
    # Whatever the page wrote (escaped here, as WordPress does), the public ID is the
    # decoded name and the URL is the SDK's.
    ours: dict[str, Any] = {"derive_originals": False, "seo_suffix": seo}
    theirs: dict[str, Any] = {}
    if signed:
        ours |= {"sign_urls": True, "api_secret": SECRET}
        theirs["sign_url"] = True
    if seo:
        theirs["url_suffix"] = smart_escape(stem.replace(".", "-"))
    url = cld(**ours).url_for(ref("2024/05/" + quote(stem) + ".jpg"), MTIME)
    assert url == sdk("wp/2024/05/" + stem, [AUTO], format="jpg", version=1700000000, **theirs)


# -- configuration --------------------------------------------------------------


def test_config_defaults() -> None:
    config = parse_delivery({"provider": "cloudinary", "cloudinary": {"cloud_name": "demo"}})
    assert config.settings == CloudinaryConfig(
        cloud_name="demo", origin_base_url="https://wp.test/wp-content/uploads/"
    )


def test_the_api_secret_never_shows_in_repr() -> None:
    config = parse_delivery(
        {
            "provider": "cloudinary",
            "cloudinary": {"cloud_name": "demo", "sign_urls": True, "api_secret": "${S}"},
        },
        {"S": "TOPSECRET"},
    )
    assert isinstance(config, DeliveryConfig)
    assert "TOPSECRET" not in repr(config)
    assert isinstance(config.settings, CloudinaryConfig)
    assert config.settings.api_secret == "TOPSECRET"


def test_fetch_needs_an_origin() -> None:
    no_canonical = SiteContext(SITE.hosts, SITE.uploads_path)
    with pytest.raises(ConfigError, match=r"delivery\.cloudinary\.origin_base_url: is required"):
        parse_delivery(
            {
                "provider": "cloudinary",
                "cloudinary": {"cloud_name": "demo", "delivery_type": "fetch"},
            },
            site=no_canonical,
        )
    config = parse_delivery(
        {
            "provider": "cloudinary",
            "cloudinary": {
                "cloud_name": "demo",
                "delivery_type": "fetch",
                "origin_base_url": "https://origin.test/up",
            },
        },
        site=no_canonical,
    )
    assert isinstance(config.settings, CloudinaryConfig)
    assert config.settings.origin_base_url == "https://origin.test/up/"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, r"cloud_name: is required"),
        ({"cloud_name": "de mo"}, r"cloud_name"),
        ({"cloud_name": "d", "delivery_type": "private"}, r"delivery_type"),
        ({"cloud_name": "d", "sign_urls": True}, r"api_secret: is required when sign_urls"),
        ({"cloud_name": "d", "delivery_type": "fetch", "other_files": "raw"}, r"other_files"),
        ({"cloud_name": "d", "transformation": "w_100 h_100"}, r"transformation"),
        ({"cloud_name": "d", "fallback_version": "latest"}, r"fallback_version"),
        ({"cloud_name": "d", "secure_distribution": "https://x.test/"}, r"secure_distribution"),
        ({"cloud_name": "d", "video_formats": ["jpg"]}, r"video_formats"),
        ({"cloud_name": "d", "crop_gravity": "Center!"}, r"crop_gravity"),
        ({"cloud_name": "d", "big_image_threshold": 0}, r"big_image_threshold"),
        ({"cloud_name": "d", "apikey": "x"}, r"apikey: unknown key"),
        ({"cloud_name": "d", "api_base_url": "ftp://api.test"}, r"api_base_url"),
        ({"cloud_name": "d", "audio_formats": ["mp4"]}, r"audio_formats"),
    ],
)
def test_config_errors_name_the_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_delivery({"provider": "cloudinary", "cloudinary": settings})


def test_a_secret_in_an_error_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as error:
        parse_delivery(
            {
                "provider": "cloudinary",
                "cloudinary": {"cloud_name": "d", "api_secret": ["TOPSECRET"]},
            }
        )
    assert "TOPSECRET" not in str(error.value)


def test_fetch_versions_follow_versioning_style_none() -> None:
    delivery = provider(
        {
            "provider": "cloudinary",
            "versioning": {"style": "none"},
            "cloudinary": {"cloud_name": "demo", "delivery_type": "fetch"},
        }
    )
    assert (
        delivery.url_for(ref("a.jpg"), MTIME)
        == f"{RES}/image/fetch/f_auto,q_auto/https://wp.test/wp-content/uploads/a.jpg"
    )


def test_the_folder_is_written_without_outer_slashes() -> None:
    config = parse_delivery(
        {"provider": "cloudinary", "cloudinary": {"cloud_name": "demo", "folder": "/wp/"}}
    )
    assert isinstance(config.settings, CloudinaryConfig)
    assert config.settings.folder == "wp"
