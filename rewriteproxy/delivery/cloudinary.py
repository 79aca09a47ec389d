"""The ``cloudinary`` provider: Cloudinary's Transformation URL API, built without its SDK.

URLs have the shape Cloudinary's Python SDK (``cloudinary.utils.cloudinary_url``)
gives for the same public ID, transformation, version and options; the test
suite checks that, with the SDK as oracle. Building them here costs a few
string operations instead of the SDK's ~50 µs, and :class:`CachedProvider`
caches them.

Mapping a local upload (path below the uploads base, percent-decoded) to
Cloudinary:

- **Resource type** by extension: ``image_formats`` are images,
  ``video_formats`` videos, ``audio_formats`` audio, which Cloudinary keeps
  and serves as the ``video`` resource type (with ``audio_transformation``,
  none by default: ``f_auto`` would pick a video format); anything else (PDF,
  ZIP…) stays local (``other_files: local``, ``None``) or is a ``raw`` upload
  whose public ID keeps its extension (``other_files: raw``, upload delivery
  only: fetch cannot serve raw files).
- **Delivery type** ``upload``: public ID = ``folder`` + path without
  extension, format = extension (:meth:`CloudinaryDelivery.stored_asset`, which
  ``sync`` and the Cloudinary inventory use too). ``fetch``: Cloudinary
  fetches ``origin_base_url`` + path itself; nothing needs uploading.
  A converter's sibling ``photo.jpg.webp`` is a file of its own (public ID
  ``photo.jpg``, format ``webp``), never ``photo.jpg`` itself.
- **WordPress sizes** (``derive_originals``): ``photo-300x200.jpg`` is served
  from the master ``photo.jpg`` with ``c_lfill,g_center,h_200,w_300``:
  exactly 300x200 like WordPress's file whether WordPress cropped or scaled
  it (a scaled sub-size has the original's aspect ratio, so filling it crops
  nothing), with WordPress's centre gravity. ``lfill`` never upscales (it
  equals ``fill`` whenever the master is at least that big, which WordPress
  guarantees for every size it names). ``photo-scaled.jpg`` is the master
  limited to ``big_image_threshold`` (``c_limit,h_2560,w_2560``). This assumes
  the master is what was uploaded to Cloudinary under the original's name.
- **Width** requests add ``c_limit,w_<width>`` (never upscales), and are
  dropped when the variant's own width is known and not larger.
- **Transformations**: the size step first, then the configured one
  (``transformation``, default ``f_auto,q_auto``; ``video_transformation``
  and ``gif_transformation`` override it per type). SVG gets no
  transformation and no size at all (rasterising would break it); GIFs get
  ``fl_animated`` so ``f_auto`` picks an animated format.
- **Version**: ``v<mtime>`` when the inventory knows the file's modification
  time (the Cloudinary inventory reports the asset's own version there), else
  ``fallback_version`` (default: none). A WordPress size is delivered from its
  master, so it carries the master's version (:meth:`source_key` tells the
  caller which file to ask the inventory about). Cloudinary serves the
  current file for any version number; the number only changes the URL, so
  CDN caches cannot serve a replaced file. With fetch delivery the version is
  a query parameter on the origin URL instead (a new origin URL makes
  Cloudinary fetch again; a ``v`` segment would only bypass the CDN).
- **Options**: ``secure`` / ``secure_distribution`` (CNAME over HTTPS) /
  ``cname`` (over HTTP) / ``private_cdn``, signed URLs (``s--SIGNATURE--``
  from ``api_secret``, SHA-1 or the 32-character SHA-256 form), SEO suffixes
  (``/images/<public_id>/<name>.<ext>``, images on upload delivery only).

Known difference from the SDK, on purpose: the SEO suffix is percent-escaped
here (the SDK writes it raw, which breaks ``srcset`` when a name has spaces).
Not supported: ``cdn_subdomain`` sharding, auth tokens, ``shorten``,
``use_root_path``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote, unquote

from rewriteproxy.delivery.base import (
    CachedProvider,
    SiteContext,
    base_url,
    matching,
    without_scheme,
)
from rewriteproxy.delivery.versioning import (
    VersioningConfig,
    unix_version,
    version_token,
    with_query,
)
from rewriteproxy.media import FileInfo, UploadRef, wordpress_variant
from rewriteproxy.settings import Section

__all__ = [
    "DEFAULT_AUDIO_FORMATS",
    "DEFAULT_IMAGE_FORMATS",
    "DEFAULT_VIDEO_FORMATS",
    "Asset",
    "CloudinaryConfig",
    "CloudinaryDelivery",
    "parse_cloudinary",
    "smart_escape",
]

SHARED_CDN = "res.cloudinary.com"
DEFAULT_TRANSFORMATION = "f_auto,q_auto"
DEFAULT_IMAGE_FORMATS = (
    "jpg",
    "jpeg",
    "jpe",
    "png",
    "gif",
    "webp",
    "avif",
    "bmp",
    "tif",
    "tiff",
    "ico",
    "heic",
    "heif",
    "svg",
)
DEFAULT_VIDEO_FORMATS = ("mp4", "m4v", "webm", "mov", "ogv", "avi", "mkv", "3gp")
# Cloudinary stores audio as the video resource type.
DEFAULT_AUDIO_FORMATS = ("mp3", "m4a", "ogg", "oga", "wav", "flac", "aac")

# Kinds of file, decided once per extension: they select transformation rules.
_IMAGE, _GIF, _SVG, _VIDEO, _AUDIO = "image", "gif", "svg", "video", "audio"
_RESOURCE_TYPES = {_IMAGE: "image", _GIF: "image", _SVG: "image", _VIDEO: "video", _AUDIO: "video"}

_name = matching(r"[A-Za-z0-9_-]+", "letters, digits, _ and -")
_gravity = matching(r"[a-z_]+(:[a-z_0-9]+)*", "such as center, north or auto")
_hostname = matching(r"[A-Za-z0-9.-]+(:[0-9]+)?", "a host name without scheme or path")
_TRANSFORMATION_BAD = re.compile(r"[\s?#\\]")
_UNSAFE = re.compile(rb"[^a-zA-Z0-9_.\-/:]")
_DUPLICATE_SLASHES = re.compile(r"([^:])/+")


@dataclass(frozen=True, slots=True)
class CloudinaryConfig:
    """``delivery.cloudinary``; see docs/delivery.md for each key."""

    cloud_name: str
    delivery_type: str = "upload"
    folder: str = ""
    origin_base_url: str | None = None
    transformation: str = DEFAULT_TRANSFORMATION
    video_transformation: str = DEFAULT_TRANSFORMATION
    gif_transformation: str = "f_auto,fl_animated,q_auto"
    audio_transformation: str = ""
    image_formats: tuple[str, ...] = DEFAULT_IMAGE_FORMATS
    video_formats: tuple[str, ...] = DEFAULT_VIDEO_FORMATS
    audio_formats: tuple[str, ...] = DEFAULT_AUDIO_FORMATS
    other_files: str = "local"
    derive_originals: bool = True
    crop_gravity: str = "center"
    big_image_threshold: int = 2560
    secure: bool = True
    secure_distribution: str | None = None
    cname: str | None = None
    private_cdn: bool = False
    sign_urls: bool = False
    api_secret: str | None = field(default=None, repr=False)
    long_url_signature: bool = False
    seo_suffix: bool = False
    fallback_version: int | None = None
    # The account's API credentials, for the inventory, sync and check (never for URLs).
    api_key: str | None = field(default=None, repr=False)
    api_base_url: str | None = None  # the SDK's upload_prefix; None: https://api.cloudinary.com

    @property
    def has_api_credentials(self) -> bool:
        return self.api_key is not None and self.api_secret is not None


def _transformation(value: str) -> str:
    if _TRANSFORMATION_BAD.search(value):
        raise ValueError("no spaces, ?, # or \\")
    return "/".join(step for step in value.split("/") if step)


def _with_animated(transformation: str) -> str:
    """``transformation`` with ``fl_animated`` added to its last step, in the SDK's key order."""
    if not transformation:
        return ""
    *chain, last = transformation.split("/")
    params = [*last.split(","), "fl_animated"]
    if not any(p.startswith(("if_", "$")) for p in params):  # order matters only for those
        params.sort()
    return "/".join([*chain, ",".join(params)])


def _fallback_version(value: str) -> int | None:
    if value.lower() == "none":
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError("none or a positive number")
    return int(value)


def _api_base(value: str) -> str:
    return base_url(value).rstrip("/")  # the SDK appends "/v1_1/<cloud>/..."


def _formats(section: Section, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.lower().lstrip(".") for f in section.texts(key, default))


def parse_cloudinary(section: Section, site: SiteContext) -> CloudinaryConfig:
    if not section.has("cloud_name"):
        raise section.error("cloud_name", "is required for provider cloudinary")
    cloud_name = section.parsed("cloud_name", "", _name, "a cloud name")
    delivery_type = section.choice("delivery_type", "upload", ("upload", "fetch"))
    folder = section.text("folder", "").strip("/")
    origin = section.parsed("origin_base_url", site.uploads_base_url, base_url, "an http(s) URL")
    transformation = section.parsed(
        "transformation", DEFAULT_TRANSFORMATION, _transformation, "a Cloudinary transformation"
    )
    video = section.parsed(
        "video_transformation", transformation, _transformation, "a Cloudinary transformation"
    )
    gif_default = _with_animated(transformation)
    gif = section.parsed(
        "gif_transformation", gif_default, _transformation, "a Cloudinary transformation"
    )
    audio = section.parsed(
        "audio_transformation", "", _transformation, "a Cloudinary transformation"
    )
    image_formats = _formats(section, "image_formats", DEFAULT_IMAGE_FORMATS)
    video_formats = _formats(section, "video_formats", DEFAULT_VIDEO_FORMATS)
    audio_formats = _formats(section, "audio_formats", DEFAULT_AUDIO_FORMATS)
    other_files = section.choice("other_files", "local", ("local", "raw"))
    derive = section.flag("derive_originals", True)
    gravity = section.parsed("crop_gravity", "center", _gravity, "a Cloudinary gravity")
    threshold = section.integer("big_image_threshold", 2560, minimum=1)
    secure = section.flag("secure", True)
    secure_distribution = section.parsed("secure_distribution", None, _hostname, "a host name")
    cname = section.parsed("cname", None, _hostname, "a host name")
    private_cdn = section.flag("private_cdn", False)
    sign_urls = section.flag("sign_urls", False)
    api_secret = section.secret("api_secret")
    long_signature = section.flag("long_url_signature", False)
    seo_suffix = section.flag("seo_suffix", False)
    api_key = section.secret("api_key")
    api_base = section.parsed("api_base_url", None, _api_base, "an http(s) URL")
    fallback_text = section.text("fallback_version", "none")  # YAML gives 1 or "none"
    try:
        fallback = _fallback_version(fallback_text)
    except ValueError as exc:
        raise section.error(
            "fallback_version", f"{fallback_text!r} is not allowed: expected {exc}"
        ) from exc
    section.done()

    if delivery_type == "fetch" and origin is None:
        raise section.error(
            "origin_base_url",
            "is required for delivery_type fetch (or set site.scheme and site.hosts)",
        )
    if delivery_type == "fetch" and other_files == "raw":
        raise section.error(
            "other_files",
            "raw is not possible with delivery_type fetch "
            "(Cloudinary fetches images and videos only)",
        )
    if sign_urls and api_secret is None:
        raise section.error(
            "api_secret",
            "is required when sign_urls is true (write api_secret: ${CLOUDINARY_API_SECRET})",
        )
    if set(image_formats) & set(video_formats):
        raise section.error("video_formats", "an extension cannot be both image and video")
    if set(audio_formats) & (set(image_formats) | set(video_formats)):
        raise section.error("audio_formats", "an extension cannot be audio and also image or video")
    return CloudinaryConfig(
        cloud_name=cloud_name,
        delivery_type=delivery_type,
        folder=folder,
        origin_base_url=origin,
        transformation=transformation,
        video_transformation=video,
        gif_transformation=gif,
        audio_transformation=audio,
        image_formats=image_formats,
        video_formats=video_formats,
        audio_formats=audio_formats,
        other_files=other_files,
        derive_originals=derive,
        crop_gravity=gravity,
        big_image_threshold=threshold,
        secure=secure,
        secure_distribution=secure_distribution,
        cname=cname,
        private_cdn=private_cdn,
        sign_urls=sign_urls,
        api_secret=api_secret,
        long_url_signature=long_signature,
        seo_suffix=seo_suffix,
        fallback_version=fallback,
        api_key=api_key,
        api_base_url=api_base,
    )


def _extension(key: str) -> str:
    """As :attr:`UploadRef.extension`, for a key."""
    name = key.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot + 1 :].lower() if dot > 0 else ""


def smart_escape(text: str) -> str:
    """Percent-escape every UTF-8 byte outside ``A-Za-z0-9_.-/:``, as Cloudinary's SDKs do."""
    return _UNSAFE.sub(lambda m: b"%%%02X" % m.group()[0], text.encode()).decode("ascii")


def url_prefix(config: CloudinaryConfig) -> str:
    """Scheme, host and (on shared domains) the cloud name, the way the SDK chooses them."""
    cloud = config.cloud_name
    shared = not config.private_cdn
    if config.secure:
        distribution = config.secure_distribution
        if distribution is None:
            distribution = f"{cloud}-res.cloudinary.com" if config.private_cdn else SHARED_CDN
        shared = shared or distribution == SHARED_CDN
        prefix = "https://" + distribution
    elif config.cname:
        prefix = "http://" + config.cname
    else:
        prefix = "http://" + (f"{cloud}-res" if config.private_cdn else "res") + ".cloudinary.com"
    return prefix + "/" + cloud if shared else prefix


class Asset(NamedTuple):
    """Where one file is kept in Cloudinary, with upload delivery: where ``sync`` puts it
    and what the inventory looks for.

    ``public_id`` includes the folder and is un-escaped as the URL's public ID
    is; ``format`` is the extension (lower case), ``""`` for raw files, whose
    public ID keeps it.
    """

    resource_type: str  # image | video | raw
    public_id: str
    format: str


class CloudinaryDelivery(CachedProvider):
    name = "cloudinary"
    transforms = True

    def __init__(
        self, config: CloudinaryConfig, versioning: VersioningConfig, cache_size: int
    ) -> None:
        super().__init__(cache_size)
        self._config = config
        self._prefix = url_prefix(config)
        self._owned = without_scheme(self._prefix + "/")
        self._fetch = config.delivery_type == "fetch"
        self._folder = config.folder + "/" if config.folder else ""
        self._param = versioning.param
        self._fetch_versions = versioning.style != "none"
        self._derive = config.derive_originals
        self._raw = config.other_files == "raw" and not self._fetch
        self._kinds: dict[str, str] = {ext: _IMAGE for ext in config.image_formats}
        self._kinds.update({ext: _VIDEO for ext in config.video_formats})
        self._kinds.update({ext: _AUDIO for ext in config.audio_formats})
        if "gif" in self._kinds and self._kinds["gif"] == _IMAGE:
            self._kinds["gif"] = _GIF
        if "svg" in self._kinds and self._kinds["svg"] == _IMAGE:
            self._kinds["svg"] = _SVG
        self._transformations = {
            _IMAGE: config.transformation,
            _GIF: config.gif_transformation,
            _SVG: "",
            _VIDEO: config.video_transformation,
            _AUDIO: config.audio_transformation,
        }

    @property
    def config(self) -> CloudinaryConfig:
        return self._config

    def owns(self, url: str) -> bool:
        return without_scheme(url).startswith(self._owned)

    def source_key(self, key: str) -> str:
        """The master of a WordPress size (delivered from it), else ``key`` itself."""
        if not self._derive:
            return key
        if self._kinds.get(_extension(key)) not in (_IMAGE, _GIF):
            return key
        variant = wordpress_variant(key)
        return key if variant is None else variant.original_path

    def stored_asset(self, key: str) -> Asset | None:
        """Where the file ``key`` itself is kept in Cloudinary (no WordPress size is derived
        here: ask :meth:`source_key` first); ``None`` for a file that stays local, and
        for every file with fetch delivery (nothing is uploaded)."""
        if self._fetch:
            return None
        extension = _extension(key)
        kind = self._kinds.get(extension)
        if kind is None:
            if self._raw and extension:
                return Asset("raw", self._public_id(key), "")
            return None
        return Asset(_RESOURCE_TYPES[kind], self._public_id(key[: -len(extension) - 1]), extension)

    def build(self, ref: UploadRef, info: FileInfo | None, width: int | None) -> str | None:
        return self._build(ref, info, width, None)

    def effect_url(
        self, ref: UploadRef, info: FileInfo | None, width: int | None, transformation: str
    ) -> str | None:
        """The image ``ref`` with ``transformation`` in place of the configured one.

        For derived images such as low-quality placeholders; ``None`` for anything
        that is not a raster image (videos, SVG, other files). Kept in the provider's
        cache like delivery URLs.
        """
        if self._kinds.get(ref.extension) not in (_IMAGE, _GIF):
            return None
        key = (ref.path, ref.query, ref.fragment, info, width, transformation)
        return self.remembered(key, lambda: self._build(ref, info, width, transformation))

    def _public_id(self, path: str) -> str:
        # The SDK un-escapes public IDs before escaping them into the URL; doing the same
        # keeps the URLs equal (a public ID is never stored percent-encoded).
        return unquote(_DUPLICATE_SLASHES.sub(r"\1/", self._folder + path))

    def _build(
        self,
        ref: UploadRef,
        info: FileInfo | None,
        width: int | None,
        transformation_override: str | None,
    ) -> str | None:
        kind = self._kinds.get(ref.extension)
        if kind is None:
            if self._raw and ref.extension:
                return self._url("raw", "upload", "", self._public_id(ref.key), None, info, ref)
            return None  # kept local
        key, steps = self._size_steps(kind, ref.key, width)
        configured = self._transformations[kind]
        if transformation_override is not None:
            configured = transformation_override
        if configured:
            steps.append(configured)
        resource_type = _RESOURCE_TYPES[kind]
        transformation = "/".join(steps)
        if self._fetch:
            token = version_token(info) if self._fetch_versions else None
            origin = f"{self._config.origin_base_url}{quote(key, safe='/')}"
            origin += with_query("", self._param, token)
            return self._url(resource_type, "fetch", transformation, origin, None, None, ref)
        dot = key.rfind(".")
        public_id, format_ = self._public_id(key[:dot]), key[dot + 1 :].lower()
        return self._url(resource_type, "upload", transformation, public_id, format_, info, ref)

    def _size_steps(self, kind: str, key: str, width: int | None) -> tuple[str, list[str]]:
        """The file to start from (the original, for a WordPress size) and the resizing steps."""
        steps: list[str] = []
        own_width: int | None = None
        variant = wordpress_variant(key) if kind in (_IMAGE, _GIF) and self._derive else None
        if variant is not None:
            key = variant.original_path
            if variant.scaled:
                limit = self._config.big_image_threshold
                steps.append(f"c_limit,h_{limit},w_{limit}")
                own_width = limit
            else:
                steps.append(
                    f"c_lfill,g_{self._config.crop_gravity},h_{variant.height},w_{variant.width}"
                )
                own_width = variant.width
        if width is None or width < 1 or kind in (_SVG, _AUDIO):
            return key, steps
        if own_width is None or width < own_width:  # never wider than the variant itself
            steps.append(f"c_limit,w_{width}")
        return key, steps

    def _url(
        self,
        resource_type: str,
        delivery_type: str,
        transformation: str,
        source: str,
        format_: str | None,
        info: FileInfo | None,
        ref: UploadRef,
    ) -> str:
        """Assemble the URL as the SDK does: prefix/type/signature/transformation/version/source."""
        config = self._config
        if delivery_type == "fetch":
            source = to_sign = smart_escape(_DUPLICATE_SLASHES.sub(r"\1/", source))
            version = None
        else:  # a public ID, from _public_id
            source = to_sign = smart_escape(source)
            if config.seo_suffix and resource_type == "image":
                stem = source.rsplit("/", 1)[-1]
                source += "/" + stem.replace(".", "-")
                resource_type, delivery_type = "images", ""
            if format_:
                source += "." + format_
                to_sign += "." + format_
            version = unix_version(info) or config.fallback_version
        parts = [self._prefix, resource_type, delivery_type]
        if config.sign_urls:
            parts.append(
                self._signature(f"{transformation}/{to_sign}" if transformation else to_sign)
            )
        if transformation:
            parts.append(transformation)
        if version:
            parts.append(f"v{version}")
        parts.append(source)
        fragment = "#" + ref.fragment if ref.fragment else ""
        return "/".join(p for p in parts if p) + fragment

    def _signature(self, to_sign: str) -> str:
        secret = self._config.api_secret or ""
        if self._config.long_url_signature:
            digest = hashlib.sha256((to_sign + secret).encode()).digest()
            length = 32
        else:
            digest = hashlib.sha1((to_sign + secret).encode()).digest()
            length = 8
        return "s--" + base64.urlsafe_b64encode(digest)[:length].decode("ascii") + "--"
