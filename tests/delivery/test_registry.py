"""The ``delivery`` section and the provider registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from rewriteproxy.delivery import (
    PROVIDERS,
    NullDelivery,
    ProviderName,
    SiteContext,
    build_delivery,
)
from rewriteproxy.delivery.cdn import CdnConfig
from rewriteproxy.delivery.cloudinary import CloudinaryDelivery
from rewriteproxy.delivery.health import HealthConfig
from rewriteproxy.delivery.registry import DeliveryConfig
from rewriteproxy.delivery.s3 import S3Delivery
from rewriteproxy.delivery.versioning import VersioningConfig
from rewriteproxy.media import UploadLocator
from rewriteproxy.settings import ConfigError

from .factories import parse_delivery, provider, ref

CONF = Path(__file__).resolve().parents[2] / "conf"

# The shape documented for users, as written (other providers' sections may stay in the file).
DOCUMENTED = """
delivery:
  provider: cdn            # cdn | s3 | cloudinary | none
  cdn:
    base_url: https://cdn.example.net/wp-content/uploads/
    force_https: false
  versioning: {style: query, param: v}   # query | path | none  (for cdn/s3)
  s3: {bucket: media, region: eu-west-1, prefix: up, endpoint_url: ~, addressing: virtual}
  cloudinary: {cloud_name: demo, delivery_type: upload, folder: wp, transformation: "f_auto,q_auto",
               video_transformation: q_auto, other_files: local, secure_distribution: ~,
               private_cdn: false, sign_urls: false, api_secret: "${CLOUDINARY_API_SECRET}",
               seo_suffix: false, fallback_version: none}
"""


def test_no_delivery_section_keeps_local_urls() -> None:
    config = parse_delivery({})
    assert config == DeliveryConfig(
        provider="none", versioning=VersioningConfig(style="query", param="v"), cache_size=4096
    )
    assert config.settings is None
    assert isinstance(build_delivery(config), NullDelivery)


def test_the_documented_shape_works_as_written() -> None:
    # provider: cdn, so the cloudinary section is not read: its unset secret is no error.
    config = parse_delivery(DOCUMENTED, environ={})
    assert config.provider == "cdn"
    assert config.settings == CdnConfig(
        base_url="https://cdn.example.net/wp-content/uploads/", force_https=False
    )
    assert (
        provider(DOCUMENTED).url_for(ref("a.jpg"))
        == "https://cdn.example.net/wp-content/uploads/a.jpg"
    )


@pytest.mark.parametrize(("name", "kind"), [("s3", S3Delivery), ("cloudinary", CloudinaryDelivery)])
def test_switching_provider_reads_the_other_section(name: str, kind: type) -> None:
    text = DOCUMENTED.replace("provider: cdn ", f"provider: {name} ")
    built = provider(text, environ={"CLOUDINARY_API_SECRET": "x"})
    assert isinstance(built, kind)
    assert built.name == name


def test_an_unquoted_transformation_in_a_flow_mapping_is_a_named_error() -> None:
    # In YAML's {...} form commas separate entries, so f_auto,q_auto must be quoted there;
    # unquoted, "q_auto" becomes a key of its own, and is reported rather than ignored.
    text = DOCUMENTED.replace('"f_auto,q_auto"', "f_auto,q_auto").replace(
        "provider: cdn ", "provider: cloudinary "
    )
    with pytest.raises(ConfigError, match=r"delivery\.cloudinary\.q_auto: unknown key"):
        parse_delivery(text, environ={"CLOUDINARY_API_SECRET": "x"})


def test_every_registered_provider_builds_and_names_itself() -> None:
    settings: dict[str, dict[str, Any]] = {
        "none": {},
        "cdn": {"base_url": "https://c.test/"},
        "s3": {"bucket": "bkt"},
        "cloudinary": {"cloud_name": "demo"},
    }
    assert set(PROVIDERS) == set(settings) == set(get_args(ProviderName))
    for name, own in settings.items():
        built = provider({"provider": name, name: own} if own else {"provider": name})
        assert built.name == name


def test_cache_size() -> None:
    assert parse_delivery({"cache_size": 0}).cache_size == 0
    with pytest.raises(ConfigError, match=r"delivery\.cache_size"):
        parse_delivery({"cache_size": -1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"provider": "akamai"}, r"delivery\.provider: 'akamai' is not allowed"),
        ({"provider": "cdn", "cdn": "https://c.test/"}, r"delivery\.cdn: .* expected a mapping"),
        ({"provider": "none", "s3": ["x"]}, r"delivery\.s3: .* expected a mapping"),
        ({"provider": "none", "cdnn": {}}, r"delivery\.cdnn: unknown key"),
        ({"provider": "cdn"}, r"delivery\.cdn\.base_url: is required"),
    ],
)
def test_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_delivery(data)


def test_delivery_health_is_on_by_default_and_read_from_its_section() -> None:
    assert parse_delivery({}).health == HealthConfig()
    assert HealthConfig().enabled
    config = parse_delivery({"health": {"enabled": False, "interval": 1}})
    assert config.health == HealthConfig(enabled=False, interval=1.0)


@pytest.mark.parametrize(
    ("delivery", "probe_url"),
    [
        (
            {"provider": "cdn", "cdn": {"base_url": "https://cdn.test/u/"}},
            "https://cdn.test/ok.jpg",
        ),
        (
            {"provider": "s3", "s3": {"bucket": "media", "region": "eu-west-1"}},
            "https://media.s3.eu-west-1.amazonaws.com/ok.jpg",
        ),
        (
            {"provider": "cloudinary", "cloudinary": {"cloud_name": "demo"}},
            "https://res.cloudinary.com/demo/image/upload/sample.jpg",
        ),
    ],
)
def test_the_probe_url_is_an_object_on_the_delivery_host(
    delivery: dict[str, Any], probe_url: str
) -> None:
    assert parse_delivery({**delivery, "health": {"probe_url": probe_url}}).health.probe_url == (
        probe_url
    )
    elsewhere = probe_url.replace("://", "://other.")
    with pytest.raises(ConfigError, match=r"delivery\.health\.probe_url: .* on the delivery host"):
        parse_delivery({**delivery, "health": {"probe_url": elsewhere}})


def test_a_probe_url_without_a_delivery_host_is_an_error() -> None:
    with pytest.raises(ConfigError, match="provider none delivers nothing"):
        parse_delivery({"health": {"probe_url": "https://cdn.test/ok.jpg"}})


def test_build_refuses_settings_of_another_provider() -> None:
    with pytest.raises(TypeError):
        build_delivery(
            DeliveryConfig.model_construct(provider="s3", s3=CdnConfig(base_url="https://c.test/"))
        )


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_load_and_deliver(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    for site in document.get("sites") or [document["site"]]:  # each site of several too
        canonical = f"{site.get('scheme', 'https')}://{site['hosts'][0]}"
        uploads_path = site.get("uploads_path", "/wp-content/uploads/")
        context = SiteContext(tuple(site["hosts"]), uploads_path, canonical)
        section = site.get("delivery") or document["delivery"]
        config = parse_delivery(
            section, environ={"CLOUDINARY_API_SECRET": "example-secret"}, site=context
        )
        assert config.provider == section["provider"] != "none"
        upload = UploadLocator(context.hosts, context.uploads_path).parse(
            f"https://{context.hosts[0]}{context.uploads_path}2024/05/photo-300x200.jpg"
        )
        assert upload is not None
        delivery = build_delivery(config)
        url = delivery.url_for(upload)
        assert url is not None and url.startswith("https://") and delivery.owns(url)


def test_the_example_configs_cover_every_provider() -> None:
    used = {yaml.safe_load(p.read_text())["delivery"]["provider"] for p in CONF.glob("*.yaml")}
    assert used == set(PROVIDERS) - {"none"}
