"""A real Chromium (Debian's) loading pages as a visitor would, and reporting what it saw.

Playwright drives the system browser (``/usr/bin/chromium``); it never downloads
one of its own. The report lists every image with the URL it actually loaded
(``currentSrc``, which honours ``srcset``), its natural width and its
``loading`` attribute, plus every failed request and console error.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class Image:
    src: str  # the attribute
    current_src: str  # what the browser loaded
    natural_width: int
    loading: str | None
    fetchpriority: str | None


@dataclass
class PageReport:
    url: str
    status: int
    images: list[Image] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def require_chromium() -> None:
    """Skip the calling test without Debian's Chromium (fail instead where it is required)."""
    import os

    import pytest

    if Path(CHROMIUM).exists():
        return
    message = "Debian's chromium is not installed (scripts/install-system-packages installs it)"
    if os.environ.get("REWRITEPROXY_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


async def visit(
    urls: list[str], screenshot_prefix: str | None = None, extra_args: Sequence[str] = ()
) -> list[PageReport]:
    """Load each URL, scroll through it so lazy images load, and report.

    ``extra_args`` are added to Chromium's command line, for example
    ``--proxy-server=http://127.0.0.1:PORT`` to reach a site's public address
    through a proxy on loopback. Chromium never sends requests for loopback
    addresses through that proxy, so media on 127.0.0.1 is fetched directly.
    """
    from playwright.async_api import async_playwright

    reports = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, *extra_args]
        )
        try:
            for index, url in enumerate(urls):
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                report = PageReport(url, 0)
                page.on(
                    "requestfailed",
                    lambda r, rep=report: rep.failed_requests.append(f"{r.url} {r.failure}"),
                )
                page.on("request", lambda r, rep=report: rep.requested.append(r.url))
                page.on(
                    "response",
                    lambda r, rep=report: (
                        rep.failed_requests.append(f"{r.url} {r.status}")
                        if r.status >= 400
                        else None
                    ),
                )
                page.on(
                    "console",
                    lambda m, rep=report: (
                        rep.console_errors.append(f"{m.text} ({m.location.get('url')})")
                        if m.type == "error"
                        else None
                    ),
                )
                response = await page.goto(url, wait_until="load")
                report.status = response.status if response else 0
                await _scroll_through(page)
                await page.wait_for_load_state("networkidle")
                await page.wait_for_function(
                    "Array.from(document.images).every(i => i.complete)", timeout=15000
                )
                report.images = [
                    Image(**i)
                    for i in await page.evaluate(
                        """Array.from(document.images).map(i => ({
                        src: i.getAttribute('src') || '', current_src: i.currentSrc,
                        natural_width: i.naturalWidth, loading: i.getAttribute('loading'),
                        fetchpriority: i.getAttribute('fetchpriority')}))"""
                    )
                ]
                if screenshot_prefix:
                    ARTIFACTS.mkdir(exist_ok=True)
                    report.screenshot = ARTIFACTS / f"{screenshot_prefix}-{index}.png"
                    await page.screenshot(path=str(report.screenshot), full_page=True)
                reports.append(report)
                await page.close()
        finally:
            await browser.close()
    return reports


async def _scroll_through(page) -> None:  # type: ignore[no-untyped-def]
    height = await page.evaluate("document.body.scrollHeight")
    for y in range(0, int(height) + 900, 600):
        await page.evaluate(f"window.scrollTo(0, {y})")
        await page.wait_for_timeout(50)
    await page.evaluate("window.scrollTo(0, 0)")
