"""Delivery providers by name, and the ``delivery`` section of the config.

Adding a provider is one new module (a config model and a
:class:`DeliveryProvider` subclass), one field of :class:`DeliveryConfig`
named like it, and one line in :data:`PROVIDERS`.

Every provider's section in the file is validated, selected or not (a mistake
must not wait for the day someone switches provider); only the selected one is
built. An unset ``${VARIABLE}`` in a section that is not selected is not an
error (see :mod:`rewriteproxy.configfile`), so a ``cdn`` set-up may keep a
``cloudinary`` section whose secret is not set on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import Field, model_validator

from rewriteproxy.delivery.base import DeliveryProvider, NullDelivery
from rewriteproxy.delivery.cdn import CdnConfig, CdnDelivery
from rewriteproxy.delivery.cloudinary import CloudinaryConfig, CloudinaryDelivery
from rewriteproxy.delivery.health import HealthConfig, host_of
from rewriteproxy.delivery.s3 import S3Config, S3Delivery
from rewriteproxy.delivery.versioning import VersioningConfig
from rewriteproxy.media import UploadRef
from rewriteproxy.settings import Settings, rule

__all__ = [
    "PROVIDERS",
    "DeliveryConfig",
    "ProviderEntry",
    "ProviderName",
    "build_delivery",
    "delivery_host",
]

ProviderName = Literal["none", "cdn", "s3", "cloudinary"]
ProviderSettings = CdnConfig | S3Config | CloudinaryConfig | None
S = TypeVar("S")


class DeliveryConfig(Settings):
    """``delivery``: where uploads are served from."""

    provider: ProviderName = "none"
    """none (keep every local URL), cdn, s3 or cloudinary: the provider whose section is used."""
    versioning: VersioningConfig = VersioningConfig()
    """How cdn and s3 URLs carry a file's version."""
    cache_size: int = Field(4096, ge=0)
    """Delivery URLs kept in the LRU cache (entries); 0 turns it off."""
    health: HealthConfig = HealthConfig()
    """A probe per delivery host; local URLs while it is down."""
    cdn: CdnConfig | None = None
    """The cdn provider's settings."""
    s3: S3Config | None = None
    """The s3 provider's settings."""
    cloudinary: CloudinaryConfig | None = None
    """The cloudinary provider's settings."""

    @classmethod
    def unselected(cls, data: object) -> tuple[str, ...]:
        """The provider sections that raw ``delivery`` data does not select."""
        selected = data.get("provider") if isinstance(data, dict) else None
        if selected is None:
            selected = cls.model_fields["provider"].default
        return tuple(n for n in PROVIDERS if n in cls.model_fields and n != selected)

    @property
    def settings(self) -> ProviderSettings:
        """The selected provider's section (``None`` for provider none)."""
        return getattr(self, self.provider) if self.provider != "none" else None

    @model_validator(mode="before")
    @classmethod
    def _selected_section_is_required(cls, data: Any) -> Any:
        # The selected provider's section is validated even when absent, so each of its
        # required keys is named.
        if isinstance(data, dict) and data.get("provider") in PROVIDERS:
            name = data["provider"]
            if name != "none" and name not in data:
                return {**data, name: {}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> DeliveryConfig:
        if self.provider == "s3" and self.versioning.style == "path":
            raise rule(
                "path is not possible with provider s3 (a bucket serves objects by key)",
                at="versioning.style",
            )
        probe_url = self.health.probe_url
        if probe_url is not None:
            # probe_url must be on the host the provider delivers from, or it would vouch
            # for another host than the one pages link to.
            delivered = delivery_host(self)
            if delivered != host_of(probe_url):
                raise rule(
                    f"{probe_url!r} is not allowed: expected a URL on the delivery host "
                    f"({delivered or 'none: provider ' + self.provider + ' delivers nothing'})",
                    at="health.probe_url",
                )
        return self


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """How to build one provider from the validated config."""

    build: Callable[[DeliveryConfig], DeliveryProvider]


def _settings(config: DeliveryConfig, kind: type[S]) -> S:
    if not isinstance(config.settings, kind):
        raise TypeError(
            f"provider {config.provider} needs {kind.__name__}, "
            f"got {type(config.settings).__name__}"
        )
    return config.settings


PROVIDERS: dict[str, ProviderEntry] = {
    "none": ProviderEntry(lambda config: NullDelivery()),
    "cdn": ProviderEntry(
        lambda c: CdnDelivery(_settings(c, CdnConfig), c.versioning, c.cache_size)
    ),
    "s3": ProviderEntry(lambda c: S3Delivery(_settings(c, S3Config), c.versioning, c.cache_size)),
    "cloudinary": ProviderEntry(
        lambda c: CloudinaryDelivery(_settings(c, CloudinaryConfig), c.versioning, c.cache_size)
    ),
}


def delivery_host(config: DeliveryConfig) -> str | None:
    """The host the provider delivers from (``host[:port]``), or ``None`` if it delivers nothing."""
    sample = build_delivery(config).url_for(UploadRef(url="", path="2000/01/sample.jpg"))
    return host_of(sample) if sample is not None else None


def build_delivery(config: DeliveryConfig) -> DeliveryProvider:
    """The provider the config names, ready for the hot path."""
    return PROVIDERS[config.provider].build(config)
