"""The captured fixtures and the demo bundle are whole and describe the harness's site.

The first two tests read only committed files; the last compares them with a live
WordPress, so a change to seed.php without a new capture shows up here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness import Site

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "wordpress"
BUNDLE = REPO / "rewriteproxy" / "demo" / "site"
UPLOAD_URL = re.compile(rb"http://wp\.test/wp-content/uploads/[^\s\\\"'<>,)]+")


def upload_urls(body: bytes) -> set[bytes]:
    """Upload URLs in HTML, XML or JSON (where WordPress escapes slashes as \\/)."""
    return set(UPLOAD_URL.findall(body.replace(b"\\/", b"/")))


def test_every_file_in_the_demo_manifest_exists_and_the_bundle_stays_small() -> None:
    manifest = json.loads((BUNDLE / "manifest.json").read_text())
    assert manifest["public_url"] == "http://wp.test"
    for path, entry in manifest["files"].items():
        assert "?" not in path
        assert (BUNDLE / entry["file"]).is_file(), path
        assert entry["content_type"]
    assert {"/", "/everything/", "/about/"} <= set(manifest["files"])
    size = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    assert size < 1_500_000


def test_the_bundle_holds_the_whole_uploads_folder_the_fixtures_list() -> None:
    listed = json.loads((FIXTURES / "uploads.json").read_text())
    uploads = BUNDLE / "wp-content" / "uploads"
    on_disk = {
        str(p.relative_to(uploads)): p.stat().st_size for p in uploads.rglob("*") if p.is_file()
    }
    assert on_disk == listed
    assert "2024/03/wide-panorama-scaled.jpg" in listed


def test_fixture_entries_name_the_files_that_exist() -> None:
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    assert {p.name for p in FIXTURES.iterdir()} == {
        *manifest,
        "manifest.json",
        "uploads.json",
        "README.md",
    }
    listed = json.loads((FIXTURES / "uploads.json").read_text())
    for name in manifest:
        for url in upload_urls((FIXTURES / name).read_bytes()):
            relative = url.decode().split("/wp-content/uploads/", 1)[1].split("?", 1)[0]
            assert relative in listed, (name, url)


@pytest.mark.wordpress
def test_live_pages_use_the_same_uploads_as_the_captured_ones(
    wordpress: Site,
) -> None:
    if wordpress.public_url != "http://wp.test":
        pytest.skip("the fixtures were captured with the public address http://wp.test")
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    for name, entry in manifest.items():
        if entry["theme"] not in (None, wordpress.theme):
            continue
        live = wordpress.get(entry["path"])
        assert live.status == entry["status"], name
        captured = (FIXTURES / name).read_bytes()
        assert upload_urls(live.body) == upload_urls(captured), name
