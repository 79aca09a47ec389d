"""Delivery: where a local upload is served from (a CDN, a bucket, Cloudinary, or nowhere else).

The contract is :class:`DeliveryProvider` (:mod:`.base`); each provider is one
module; :mod:`.registry` names them and declares the ``delivery`` config section.
"""

from rewriteproxy.delivery.base import DeliveryProvider, NullDelivery, SiteContext
from rewriteproxy.delivery.registry import (
    PROVIDERS,
    DeliveryConfig,
    ProviderName,
    build_delivery,
    delivery_host,
)
from rewriteproxy.delivery.versioning import VersioningConfig

__all__ = [
    "PROVIDERS",
    "DeliveryConfig",
    "DeliveryProvider",
    "NullDelivery",
    "ProviderName",
    "SiteContext",
    "VersioningConfig",
    "build_delivery",
    "delivery_host",
]
