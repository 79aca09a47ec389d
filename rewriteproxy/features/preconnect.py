"""``<link rel="preconnect">`` to the delivery host, once, on pages that were rewritten.

The delivery origin (scheme and host) is found once per config by asking the
provider for the URL of a sample upload. On each page the link is inserted
right after the ``<head>`` start tag, only when at least one upload URL of the
page was rewritten (so a page whose images stay local gets none), and only if
the page does not already preconnect to that origin. No ``crossorigin``:
images are fetched without CORS, and a preconnect made for CORS would not be
used by them.

Limits: a page without a ``<head>`` start tag (the tag is optional in HTML)
gets no link; the origin of the sample URL is assumed to be the origin of
every delivery URL (true of the cdn, s3 and cloudinary providers).
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from rewriteproxy.delivery import DeliveryProvider
from rewriteproxy.html import Element, ElementHandler
from rewriteproxy.media import UploadRef
from rewriteproxy.settings import Settings

__all__ = ["Preconnect", "PreconnectConfig", "delivery_origin"]


class PreconnectConfig(Settings):
    """``features.preconnect``: a <link rel=preconnect> to the delivery host."""

    enabled: bool = False
    """Opt-in: by default only upload URLs change."""


def delivery_origin(provider: DeliveryProvider) -> str | None:
    """``scheme://host[:port]`` of the provider's URLs, or ``None`` if it keeps local URLs."""
    sample = provider.url_for(UploadRef(url="", path="2000/01/sample.jpg"))
    if sample is None:
        return None
    parts = urlsplit(sample)
    if not parts.netloc or parts.scheme not in ("", "http", "https"):
        return None
    # A protocol-relative CDN base gives "//host": the page's own scheme, as for the images.
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else f"//{parts.netloc}"


def _host(url: str) -> str:
    return urlsplit(url.strip()).netloc.lower()


class Preconnect(ElementHandler):
    """Per document: remembers ``<head>`` and existing preconnects; inserts at the end."""

    tags = frozenset({"head", "link"})

    def __init__(self, origin: str) -> None:
        self._origin = origin
        self._host = _host(origin)
        self._head: Element | None = None
        self._present = False

    def element(self, element: Element) -> None:
        if element.name == "head":
            if self._head is None and not element.within("template"):
                self._head = element
        elif (
            "preconnect" in (element.get("rel") or "").lower().split()
            and _host(element.get("href") or "") == self._host
        ):
            self._present = True

    def finish(self, rewritten: bool) -> None:
        if rewritten and self._head is not None and not self._present:
            href = html.escape(self._origin, quote=True)
            self._head.insert_after(f'<link rel="preconnect" href="{href}">')
