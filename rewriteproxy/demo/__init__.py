"""The embedded demo: a bundled WordPress origin, a stand-in CDN and the proxy, all on loopback.

The bundle in ``site/`` holds pages captured from a real WordPress 6.1 (home,
posts with image, gallery, cover and media-text blocks) and the upload files
they reference, sub-sizes included, exactly as WordPress's GD made them.

- The *origin* serves every file listed in ``site/manifest.json`` at the path
  WordPress served it from, with its content type. WordPress writes its own
  site URL into every page; the captured pages hold the capture's site URL
  (``manifest.json``'s ``public_url``), and the origin writes the proxy's
  address there instead, as a WordPress configured for that address would.
- The *stand-in CDN* serves the same upload files on another port, with the
  long-lived caching headers a CDN gives them.
- The *proxy* is the real application, configured in memory from YAML text
  with the CDN as delivery, the bundle's uploads directory as inventory
  (so versioning suffixes come from the files' modification times), and lazy
  loading, fetchpriority and preconnect switched on.

Nothing here reaches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

__all__ = ["SITE", "DemoFile", "DemoSite", "cdn_app", "demo_config_yaml", "load_site", "origin_app"]

SITE = Path(__file__).parent / "site"


@dataclass(frozen=True)
class DemoFile:
    path: Path
    content_type: str


@dataclass(frozen=True)
class DemoSite:
    root: Path
    site_url: str  # the site URL written in the captured pages
    files: dict[str, DemoFile]  # request path (with query, as WordPress links it) → file

    @property
    def uploads(self) -> Path:
        return self.root / "wp-content" / "uploads"

    @property
    def pages(self) -> list[str]:
        return sorted(p for p, f in self.files.items() if f.content_type.startswith("text/html"))


def load_site(root: Path = SITE) -> DemoSite:
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    files = {
        path: DemoFile(root / entry["file"], entry["content_type"])
        for path, entry in manifest["files"].items()
    }
    return DemoSite(root, manifest["public_url"].rstrip("/"), files)


def _upload_file(uploads: Path, name: str) -> Path:
    path = (uploads / name).resolve()
    if uploads.resolve() not in path.parents or not path.is_file():
        raise web.HTTPNotFound()
    return path


def origin_app(site: DemoSite, public_url: str) -> web.Application:
    """The bundled WordPress origin, as if its site URL were ``public_url``."""
    captured, public = site.site_url.encode(), public_url.rstrip("/").encode()
    # The same substitution for the JSON-escaped form (REST responses write "http:\\/\\/…").
    captured_json, public_json = captured.replace(b"/", b"\\/"), public.replace(b"/", b"\\/")

    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/wp-content/uploads/"):
            return web.FileResponse(_upload_file(site.uploads, path[len("/wp-content/uploads/") :]))
        entry = site.files.get(request.path_qs) or site.files.get(path)
        if entry is None:
            raise web.HTTPNotFound()
        body = entry.path.read_bytes()
        if entry.content_type.startswith(("text/", "application/json", "application/rss")):
            body = body.replace(captured, public).replace(captured_json, public_json)
        return web.Response(body=body, headers={"Content-Type": entry.content_type})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
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
features:
  lazy: {{enabled: true}}
  preconnect: {{enabled: true}}
"""
