"""Small builders shared by the delivery tests."""

from __future__ import annotations

from typing import Any

import yaml

from rewriteproxy.delivery import DeliveryConfig, DeliveryProvider, SiteContext, build_delivery
from rewriteproxy.delivery import parse_delivery as _parse_delivery
from rewriteproxy.media import UploadLocator, UploadRef
from rewriteproxy.settings import Section

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


def section(data: dict[str, Any] | str, environ: dict[str, str] | None = None) -> Section:
    """The ``delivery`` section from a dict or from YAML text."""
    if isinstance(data, str):
        data = yaml.safe_load(data)["delivery"]
    return Section(data, "delivery", environ=environ or {})


def parse_delivery(
    data: dict[str, Any] | str, environ: dict[str, str] | None = None, site: SiteContext = SITE
) -> DeliveryConfig:
    return _parse_delivery(section(data, environ), site)


def provider(
    data: dict[str, Any] | str, environ: dict[str, str] | None = None, site: SiteContext = SITE
) -> DeliveryProvider:
    return build_delivery(parse_delivery(data, environ, site))
