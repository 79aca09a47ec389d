"""The documentation agrees with the product: the site builds, the README's examples work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from rewriteproxy.cli import COMMANDS
from rewriteproxy.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_docs_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "security" / "index.html").exists()


def test_every_page_in_docs_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if f": {p}" not in nav] == []


def test_the_readme_quick_start_config_loads():
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.DOTALL)
    config = parse_config(re.sub(r"^   ", "", blocks[0], flags=re.MULTILINE))
    assert config.site.hosts == ("example.com", "www.example.com")
    assert config.delivery.provider == "cdn"


def test_the_readme_lists_every_command():
    table = {m for m in re.findall(r"^\| `(\w+)[ `]", README, re.MULTILINE)}
    assert table == set(COMMANDS)


def test_the_readme_links_resolve():
    for target in re.findall(r"\]\(((?:docs|conf)/[^)#]*)\)", README):
        assert (ROOT / target).exists(), target


def test_the_security_page_names_every_header_a_stranger_cannot_send():
    from rewriteproxy.http.headers import CLIENT_CLAIMS

    page = (ROOT / "docs" / "security.md").read_text(encoding="utf-8").lower()
    assert sorted(name for name in CLIENT_CLAIMS if f"`{name}`" not in page) == []
