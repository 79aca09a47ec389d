"""``rewriteproxy demo``: the whole product on loopback, with no WordPress, network or config."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

import aiohttp
from aiohttp import web

NAME = "demo"
HELP = (
    "run a bundled WordPress origin, a stand-in CDN and the proxy on 127.0.0.1, "
    "and show the rewriting"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=8000,
        help="the proxy's port (default: %(default)s); the origin and the CDN take the next two",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="fetch every demo page through the proxy, check that every upload "
        "URL now loads from the CDN, print a report and exit",
    )


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args.port, args.check))


async def _start(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def _demo(port: int, check: bool) -> int:
    from ..app import create_app
    from ..config import parse_config
    from ..demo import cdn_app, demo_config_yaml, load_site, origin_app

    site = load_site()
    proxy_url = f"http://127.0.0.1:{port}"
    origin_url, cdn_url = f"http://127.0.0.1:{port + 1}", f"http://127.0.0.1:{port + 2}"
    config = parse_config(
        demo_config_yaml(origin_url, cdn_url, port, site.uploads), source="<demo>"
    )
    runners = [
        await _start(origin_app(site, proxy_url), port + 1),
        await _start(cdn_app(site), port + 2),
        await _start(create_app(config), port),
    ]
    try:
        if check:
            return await _check(proxy_url, cdn_url, site.pages)
        print(
            f"""rewriteproxy demo
  WordPress origin (bundled pages)  {origin_url}
  stand-in CDN                      {cdn_url}
  the proxy                         {proxy_url}

Open {proxy_url}/ in a browser: every image comes from the CDN.
Compare {proxy_url}/?rewriteproxy=off (the same page, untouched).
Or with curl:
  diff <(curl -s '{proxy_url}/?rewriteproxy=off') <(curl -s {proxy_url}/)
Pages: {", ".join(site.pages)}
Stop with Ctrl-C.""",
            flush=True,
        )
        await asyncio.Event().wait()
        return 0
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


_UPLOAD_URL = re.compile(r"""https?://[^\s"'<>(),\\]+/wp-content/uploads/[^\s"'<>(),\\]+""")


async def _check(proxy_url: str, cdn_url: str, pages: list[str]) -> int:
    """Every page through the proxy: no local upload URL left, every CDN URL answers 200."""
    failures = 0
    async with aiohttp.ClientSession() as session:
        for path in pages:
            async with session.get(proxy_url + path) as response:
                text = await response.text()
            urls = set(_UPLOAD_URL.findall(text))
            local = sorted(u for u in urls if not u.startswith(cdn_url))
            on_cdn = sorted(u for u in urls if u.startswith(cdn_url))
            broken = []
            for url in on_cdn:
                async with session.get(url) as media:
                    if media.status != 200:
                        broken.append(f"{url} → {media.status}")
            status = "ok" if not local and not broken and on_cdn else "FAIL"
            print(
                f"{status:4} {path}: {len(on_cdn)} upload URLs on the CDN, "
                f"{len(local)} left local, {len(broken)} broken"
            )
            for item in local[:5] + broken[:5]:
                print(f"     {item}")
            failures += status != "ok"
    print(
        "demo check passed" if not failures else f"demo check: {failures} page(s) failed",
        file=sys.stderr if failures else sys.stdout,
    )
    return 1 if failures else 0
