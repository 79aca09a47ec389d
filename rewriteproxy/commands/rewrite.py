"""``rewriteproxy rewrite``: one document on stdin, the rewritten document on stdout.

It runs the very pipeline the proxy runs for a response of that content type,
so what it prints is what a browser would get.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import sys
from urllib.parse import urlsplit

from ._common import add_config_argument, load_or_explain

NAME = "rewrite"
HELP = "rewrite one document from stdin to stdout, exactly as the proxy would"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--content-type",
        default="text/html; charset=utf-8",
        help="the document's Content-Type (default: %(default)s)",
    )
    parser.add_argument(
        "--url",
        metavar="PAGE_URL",
        help="the page's URL; pages the bypass rules exclude (such as "
        "/wp-admin/) come out unchanged, as through the proxy",
    )
    parser.add_argument(
        "--diff", action="store_true", help="print a unified diff of input and output instead"
    )


def run(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    if config is None:
        return 2
    document = sys.stdin.buffer.read()
    output = document
    path = urlsplit(args.url).path if args.url else "/"
    bypassed = not config.enabled or any(path.startswith(p) for p in config.bypass.paths)
    if not bypassed:
        output = asyncio.run(_rewrite(config, document, args.content_type))
    if args.diff:
        before = document.decode("utf-8", "replace").splitlines(keepends=True)
        after = output.decode("utf-8", "replace").splitlines(keepends=True)
        label = args.url or "stdin"
        sys.stdout.writelines(
            difflib.unified_diff(before, after, f"{label} (upstream)", f"{label} (rewritten)")
        )
    else:
        sys.stdout.buffer.write(output)
    return 0


async def _rewrite(config: object, document: bytes, content_type: str) -> bytes:
    from ..config import Config
    from ..inventory import build_inventory
    from ..rewriting import build_pipeline

    assert isinstance(config, Config)
    inventory = build_inventory(config.inventory)
    await inventory.start()
    try:
        await _wait_ready(inventory, seconds=30.0)
        result = build_pipeline(config, inventory).apply(document, content_type)
    finally:
        await inventory.close()
    if result.status == "failed":
        print(f"rewriteproxy: rewrite failed, output is the input: {result.error}", file=sys.stderr)
    return result.body if result.body is not None else document


async def _wait_ready(inventory: object, seconds: float) -> None:
    """A one-shot command waits for the first listing, so its answer reflects the bucket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not getattr(inventory, "ready", True) and loop.time() < deadline:
        await asyncio.sleep(0.05)
