"""The embedded demo: a bundled WordPress origin, a stand-in CDN and the proxy, all on loopback.

The bundle in ``site/`` holds pages captured from a real WordPress 6.1 (home,
posts with image, gallery, cover and media-text blocks) and the upload files
they reference, sub-sizes included, exactly as WordPress's GD made them.

- The *origin* serves ``site/pages/`` the way WordPress would, and the files
  under ``site/uploads/`` at ``/wp-content/uploads/``. WordPress writes its own
  site URL into every page; the captured pages hold the capture's site URL
  (``manifest.json``'s ``site_url``), and the origin writes the proxy's
  address there instead, as a WordPress configured for that address would.
- The *stand-in CDN* serves the same upload files on another port, with the
  long-lived caching headers a CDN gives them.
- The *proxy* is the real application, configured in memory from YAML text
  with the CDN as delivery and the bundle's uploads directory as inventory
  (so versioning suffixes come from the files' modification times).

Nothing here reaches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

__all__ = ["SITE", "DemoSite", "cdn_app", "demo_config_yaml", "load_site", "origin_app"]

SITE = Path(__file__).parent / "site"


@dataclass(frozen=True)
class DemoSite:
    root: Path
    site_url: str  # the site URL written in the captured pages
    pages: dict[str, Path]  # request path → file

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"


def load_site(root: Path = SITE) -> DemoSite:
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    pages = {path: root / "pages" / file for path, file in manifest["pages"].items()}
    return DemoSite(root, manifest["site_url"].rstrip("/"), pages)


def _content_type(path: Path) -> str:
    if path.suffix == ".html":
        return "text/html; charset=UTF-8"
    if path.suffix == ".json":
        return "application/json; charset=UTF-8"
    if path.suffix == ".xml":
        return "application/rss+xml; charset=UTF-8" if "feed" in path.name else "text/xml"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _upload_file(uploads: Path, name: str) -> Path:
    path = (uploads / name).resolve()
    if uploads.resolve() not in path.parents or not path.is_file():
        raise web.HTTPNotFound()
    return path


def origin_app(site: DemoSite, public_url: str) -> web.Application:
    """The bundled WordPress origin, as if its site URL were ``public_url``."""
    captured, public = site.site_url.encode(), public_url.rstrip("/").encode()
    # The same substitution for the JSON-escaped form (REST responses write "http:\/\/…").
    captured_json, public_json = captured.replace(b"/", b"\\/"), public.replace(b"/", b"\\/")

    async def page(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/wp-content/uploads/"):
            return web.FileResponse(_upload_file(site.uploads, path[len("/wp-content/uploads/") :]))
        file = site.pages.get(path) or site.pages.get(path.rstrip("/") + "/")
        if file is None:
            file = site.pages.get("/404")
            if file is None:
                raise web.HTTPNotFound()
            status = 404
        else:
            status = 200
        body = file.read_bytes().replace(captured, public).replace(captured_json, public_json)
        return web.Response(status=status, body=body, headers={"Content-Type": _content_type(file)})

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


def cdn_app(site: DemoSite) -> web.Application:
    """A stand-in CDN: the upload files, with the caching headers a CDN sends."""

    async def upload(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        response = web.FileResponse(_upload_file(site.uploads, name))
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    app = web.Application()
    app.router.add_get("/wp-content/uploads/{name:.+}", upload)
    return app


def demo_config_yaml(origin_url: str, cdn_url: str, proxy_port: int, uploads: Path) -> str:
    """The proxy's config for the demo, as the YAML a user would write."""
    return f"""
upstream: {origin_url}
listen: {{host: 127.0.0.1, port: {proxy_port}}}
site:
  hosts: [127.0.0.1, localhost]
  scheme: http
delivery:
  provider: cdn
  cdn:
    base_url: {cdn_url}/wp-content/uploads/
inventory:
  local:
    path: {json.dumps(str(uploads))}
"""
