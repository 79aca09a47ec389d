"""Small builders shared by the delivery tests."""

from __future__ import annotations

from typing import Any

import yaml

from rewriteproxy.delivery import DeliveryConfig, DeliveryProvider, SiteContext, build_delivery
from rewriteproxy.media import UploadLocator, UploadRef

from ..support.config import validate_section

SITE = SiteContext(("wp.test",), "/wp-content/uploads/", "https://wp.test")
LOCATOR = UploadLocator(SITE.hosts, SITE.uploads_path)


def ref(path: str, query: str = "", fragment: str = "") -> UploadRef:
    """An upload as the locator would give it for a root-relative URL."""
    url = (
        "/wp-content/uploads/"
        + path
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else "")
    )
    return UploadRef(url=url, path=path, query=query, fragment=fragment)


def parse_delivery(
    data: dict[str, Any] | str, environ: dict[str, str] | None = None, site: SiteContext = SITE
) -> DeliveryConfig:
    """The ``delivery`` section from a dict or from YAML text, validated as in a file."""
    if isinstance(data, str):
        data = yaml.safe_load(data)["delivery"]
    return validate_section(
        DeliveryConfig, data, "delivery", environ, site, DeliveryConfig.unselected(data)
    )


def provider(
    data: dict[str, Any] | str, environ: dict[str, str] | None = None, site: SiteContext = SITE
) -> DeliveryProvider:
    return build_delivery(parse_delivery(data, environ, site))
