"""Capture real WordPress 6.1 output as test fixtures and as the demo site bundle.

    python tests/e2e/wordpress/capture.py            # (root, packages installed)

Starts the harness's WordPress with its public address fixed at http://wp.test
(WP_HOME), so the captured bytes need no editing, and saves them as WordPress
sent them:

- tests/fixtures/wordpress/: every seeded post and page, and the home page, with
  each theme (``<theme>-<page>.html``); the REST media and posts listings, the
  RSS feed and the sitemaps (theme-independent, no theme prefix); manifest.json
  (file → request path, status, content type, theme); uploads.json (every file
  WordPress made in the uploads folder, with its size: what a real uploads
  inventory holds).
- rewriteproxy/demo/site/: a few pages of the block theme, the whole uploads
  folder, the theme and core assets the pages load, each at its URL path, and
  manifest.json (URL path → file, content type). Pages name http://wp.test;
  the manifest says so (``public_url``), so a server of the bundle can put its own
  address in its place.

Limits: the pages carry the date of the run in a few places (the feed's
generator line is fixed, but ``lastBuildDate`` follows the posts' fixed dates);
re-running rewrites every file.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import urllib.parse
from pathlib import Path

from harness import BLOCK_THEME, THEMES, WordPress

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "wordpress"
DEMO = REPO / "rewriteproxy" / "demo" / "site"
PUBLIC_URL = "http://wp.test"

# Pages rendered by the theme: fixture name → path.
THEME_PAGES = {
    "home": "/",
    "image-block": "/image-block/",
    "gallery": "/gallery/",
    "cover": "/cover/",
    "media-text": "/media-text/",
    "video-and-file": "/video-and-file/",
    "classic": "/classic/",
    "everything": "/everything/",
    "page-about": "/about/",
}
# Output that does not depend on the theme: file name → path.
PLAIN_PAGES = {
    "rest-media.json": "/wp-json/wp/v2/media?per_page=100",
    "rest-posts.json": "/wp-json/wp/v2/posts?per_page=100",
    "feed.xml": "/feed/",
    "sitemap-index.xml": "/wp-sitemap.xml",
    "sitemap-posts.xml": "/wp-sitemap-posts-post-1.xml",
    "sitemap-pages.xml": "/wp-sitemap-posts-page-1.xml",
}
DEMO_PAGES = {"/": "home", "/everything/": "everything", "/about/": "page-about"}

# Same-origin URLs in HTML attributes, srcset lists and CSS url(): enough to find
# what a page loads; this is a capture tool, not the product's scanner.
SAME_ORIGIN = re.compile(re.escape(PUBLIC_URL) + r"""(/[^\s"'()<>,\\]*)""")
# Block themes write their @font-face sources root-relative.
ROOT_RELATIVE_CSS = re.compile(r"""url\(['"]?(/wp-(?:content|includes)/[^'")]+)""")
# Theme and core assets larger than this stay out of the demo bundle (two of the
# block theme's variable fonts are 0.3 and 0.8 MB); browsers fall back without them.
MAX_ASSET = 100_000


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def capture_fixtures(wp: WordPress, out: Path) -> None:
    # A fresh capture replaces the old one whole; only the folder's README stays.
    for old in out.glob("*"):
        if old.name != "README.md":
            old.unlink()
    manifest: dict[str, dict[str, object]] = {}

    def save(name: str, path: str, theme: str | None) -> None:
        resp = site.get(path)
        if resp.status != 200:
            raise SystemExit(f"capture: {path} answered {resp.status}")
        _write(out / name, resp.body)
        manifest[name] = {
            "path": path,
            "status": resp.status,
            "content_type": resp.content_type,
            "theme": theme,
        }

    assert wp.site is not None
    site = wp.site
    for theme in THEMES:
        site = wp.set_theme(theme)
        for name, path in THEME_PAGES.items():
            save(f"{theme}-{name}.html", path, theme)
    for name, path in PLAIN_PAGES.items():
        save(name, path, None)
    _write(out / "manifest.json", _json(dict(sorted(manifest.items()))))
    uploads = {
        str(p.relative_to(site.uploads_dir)): p.stat().st_size
        for p in sorted(site.uploads_dir.rglob("*"))
        if p.is_file()
    }
    _write(out / "uploads.json", _json(uploads))


def capture_demo(wp: WordPress, out: Path) -> int:
    """Save the demo pages and every same-origin file they load; return the bundle's size."""
    shutil.rmtree(out, ignore_errors=True)
    site = wp.set_theme(BLOCK_THEME)
    files: dict[str, dict[str, str]] = {}
    # Every upload, not only those the pages name: the bundle's uploads folder is a
    # whole, real one (originals, -scaled, every sub-size, the PDF and the MP4).
    uploads_path = urllib.parse.urlsplit(site.uploads_url).path
    uploads = [
        f"{uploads_path}/{urllib.parse.quote(str(p.relative_to(site.uploads_dir)))}"
        for p in sorted(site.uploads_dir.rglob("*"))
        if p.is_file()
    ]
    queue = [*DEMO_PAGES, *uploads]
    seen = set(queue)
    while queue:
        url_path = queue.pop(0)
        resp = site.get(url_path)
        if resp.status != 200:
            # A missing asset is the site's own state; the bundle records only what exists.
            print(f"capture: skipping {url_path} ({resp.status})", file=sys.stderr)
            continue
        is_asset = url_path not in DEMO_PAGES and not url_path.startswith("/wp-content/uploads/")
        if is_asset and len(resp.body) > MAX_ASSET:
            print(f"capture: leaving out {url_path} ({len(resp.body)} bytes)", file=sys.stderr)
            continue
        if url_path in DEMO_PAGES:
            rel = f"pages/{DEMO_PAGES[url_path]}.html"
        else:
            rel = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path).lstrip("/")
        _write(out / rel, resp.body)
        # Keyed by path alone: WordPress versions its assets with ?ver=, which a
        # server of the bundle can ignore.
        files[urllib.parse.urlsplit(url_path).path] = {
            "file": rel,
            "content_type": resp.content_type,
        }
        if resp.content_type.startswith(("text/html", "text/css")):
            # Inline scripts name some assets JSON-escaped (the emoji loader's
            # "concatemoji":"http:\/\/…"), so the unescaped form is searched too.
            text = resp.body.decode("utf-8", "replace").replace("\\/", "/")
            for found in SAME_ORIGIN.findall(text) + ROOT_RELATIVE_CSS.findall(text):
                path = found.replace("&#038;", "&").replace("&amp;", "&")
                if _loadable(path) and path not in seen:
                    seen.add(path)
                    queue.append(path)
    # Browsers ask for /favicon.ico; WordPress redirects it to its logo when the
    # site has no icon. The bundle serves that image at both paths.
    favicon = site.get("/favicon.ico")
    logo = urllib.parse.urlsplit(favicon.headers.get("location", "")).path
    if favicon.status in (301, 302) and _loadable(logo):
        image = site.get(logo)
        if image.status == 200:
            _write(out / logo.lstrip("/"), image.body)
            files[logo] = files["/favicon.ico"] = {
                "file": logo.lstrip("/"),
                "content_type": image.content_type,
            }
    manifest = {
        "public_url": PUBLIC_URL,
        "theme": BLOCK_THEME,
        "captured_from": "WordPress 6.1 (Debian), tests/e2e/wordpress/capture.py",
        "files": dict(sorted(files.items())),
    }
    _write(out / "manifest.json", _json(manifest))
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file())


def _loadable(path: str) -> bool:
    """Files a page loads (uploads, theme and core assets), not links to other pages."""
    return path.startswith(("/wp-content/", "/wp-includes/"))


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--demo", type=Path, default=DEMO)
    args = parser.parse_args()
    wp = WordPress(public_url=PUBLIC_URL)
    wp.start()
    try:
        capture_fixtures(wp, args.fixtures)
        size = capture_demo(wp, args.demo)
    finally:
        wp.stop()
    print(f"capture: fixtures in {args.fixtures}, demo bundle in {args.demo} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
