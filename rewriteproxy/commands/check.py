"""``rewriteproxy check``: validate the config and probe what it points at."""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp

from ._common import add_config_argument, load_or_explain

NAME = "check"
HELP = "validate the config and probe the upstream, the delivery side and the inventory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds to wait for each probe (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    if config is None:
        return 2
    print(f"config: {args.config} is valid (rewriting {'on' if config.enabled else 'off'})")
    ok = asyncio.run(_probe(config, args.timeout))
    return 0 if ok else 1


async def _probe(config: object, timeout: float) -> bool:
    from ..config import Config
    from ..inventory import build_inventory
    from .rewrite import _wait_ready

    assert isinstance(config, Config)
    ok = True
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        ok &= await _probe_url(session, "upstream", config.upstream + "/")
        base = getattr(config.delivery, "probe_url", None)
        if base:
            ok &= await _probe_url(session, "delivery", base)
        else:
            print("delivery: nothing to probe for this provider")
    inventory = build_inventory(config.inventory)
    await inventory.start()
    try:
        await _wait_ready(inventory, seconds=timeout)
        stats = inventory.snapshot_stats()
        if inventory.ready:
            print(f"inventory: ready {stats}")
        else:
            ok = False
            print(f"inventory: NOT ready after {timeout:g}s {stats}", file=sys.stderr)
    finally:
        await inventory.close()
    return ok


async def _probe_url(session: aiohttp.ClientSession, label: str, url: str) -> bool:
    try:
        async with session.get(url, allow_redirects=False) as response:
            print(f"{label}: {url} answered {response.status} {response.reason}")
            return response.status < 500
    except (TimeoutError, aiohttp.ClientError) as exc:
        print(f"{label}: {url} is NOT reachable: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
