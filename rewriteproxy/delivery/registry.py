"""Delivery providers by name, and the ``delivery`` section of the config.

Adding a provider is one new module (a frozen config dataclass, a
``parse_<name>(section, site)`` function and a :class:`DeliveryProvider`
subclass) plus one line in :data:`PROVIDERS`.

Only the selected provider's section is read: the sections of the others
may stay in the file (handy when switching), and are not checked, so an
unset ``${CLOUDINARY_API_SECRET}`` does not stop a ``cdn`` set-up from loading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rewriteproxy.delivery.base import DeliveryProvider, NullDelivery, SiteContext
from rewriteproxy.delivery.cdn import CdnConfig, CdnDelivery, parse_cdn
from rewriteproxy.delivery.cloudinary import (
    CloudinaryConfig,
    CloudinaryDelivery,
    parse_cloudinary,
)
from rewriteproxy.delivery.health import HealthConfig, host_of, parse_health
from rewriteproxy.delivery.s3 import S3Config, S3Delivery, parse_s3
from rewriteproxy.delivery.versioning import VersioningConfig, parse_versioning
from rewriteproxy.media import UploadRef
from rewriteproxy.settings import Section

__all__ = [
    "PROVIDERS",
    "DeliveryConfig",
    "ProviderEntry",
    "build_delivery",
    "delivery_host",
    "parse_delivery",
]

ProviderSettings = CdnConfig | S3Config | CloudinaryConfig | None
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """The ``delivery`` section, parsed once."""

    provider: str = "none"
    versioning: VersioningConfig = field(default_factory=VersioningConfig)
    cache_size: int = 4096
    settings: ProviderSettings = None
    health: HealthConfig = field(default_factory=HealthConfig)


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """How to read one provider's section, and how to build it from the parsed config."""

    parse: Callable[[Section, SiteContext], ProviderSettings]
    build: Callable[[DeliveryConfig], DeliveryProvider]


def _settings(config: DeliveryConfig, kind: type[S]) -> S:
    if not isinstance(config.settings, kind):
        raise TypeError(
            f"provider {config.provider} needs {kind.__name__}, "
            f"got {type(config.settings).__name__}"
        )
    return config.settings


PROVIDERS: dict[str, ProviderEntry] = {
    "none": ProviderEntry(lambda section, site: None, lambda config: NullDelivery()),
    "cdn": ProviderEntry(
        parse_cdn, lambda c: CdnDelivery(_settings(c, CdnConfig), c.versioning, c.cache_size)
    ),
    "s3": ProviderEntry(
        parse_s3, lambda c: S3Delivery(_settings(c, S3Config), c.versioning, c.cache_size)
    ),
    "cloudinary": ProviderEntry(
        parse_cloudinary,
        lambda c: CloudinaryDelivery(_settings(c, CloudinaryConfig), c.versioning, c.cache_size),
    ),
}


def parse_delivery(section: Section, site: SiteContext) -> DeliveryConfig:
    """Read ``delivery``: the provider's own section, ``versioning``, ``cache_size``, ``health``."""
    provider = section.choice("provider", "none", tuple(PROVIDERS))
    versioning = parse_versioning(section.section("versioning"))
    cache_size = section.integer("cache_size", 4096, minimum=0)
    health = parse_health(section.section("health"))
    settings: Any = None
    for name, entry in PROVIDERS.items():
        if name == "none" or not section.has(name):
            continue
        own = section.section(name)  # marks the key read; a non-mapping is still an error
        if name == provider:
            settings = entry.parse(own, site)
    if provider != "none" and settings is None:
        settings = PROVIDERS[provider].parse(section.section(provider), site)
    if provider == "s3" and versioning.style == "path":
        raise section.section("versioning").error(
            "style", "path is not possible with provider s3 (a bucket serves objects by key)"
        )
    section.done()
    config = DeliveryConfig(provider, versioning, cache_size, settings, health)
    if health.probe_url is not None:
        _check_probe_host(section.section("health"), config)
    return config


def _check_probe_host(section: Section, config: DeliveryConfig) -> None:
    """``probe_url`` must be on the host the provider delivers from, or it would vouch for
    another host than the one pages link to."""
    delivered = delivery_host(config)
    probed = host_of(config.health.probe_url or "")
    if delivered != probed:
        raise section.error(
            "probe_url",
            f"{config.health.probe_url!r} is not allowed: expected a URL on the delivery host "
            f"({delivered or 'none: provider ' + config.provider + ' delivers nothing'})",
        )


def delivery_host(config: DeliveryConfig) -> str | None:
    """The host the provider delivers from (``host[:port]``), or ``None`` if it delivers nothing."""
    sample = build_delivery(config).url_for(UploadRef(url="", path="2000/01/sample.jpg"))
    return host_of(sample) if sample is not None else None


def build_delivery(config: DeliveryConfig) -> DeliveryProvider:
    """The provider the config names, ready for the hot path."""
    return PROVIDERS[config.provider].build(config)
