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


_PROBE = "rewriteproxy-check.png"


async def _probe(config: object, timeout: float) -> bool:
    from ..config import Config
    from ..delivery import build_delivery
    from ..inventory import build_inventory
    from ..inventory.cloudinary import upload_mapping_report
    from ..media import UploadRef
    from .rewrite import _wait_ready

    assert isinstance(config, Config)
    ok = True
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        ok &= await _probe_url(session, "upstream", config.upstream + "/")
        # A made-up file: any HTTP answer (a 404 too) shows the delivery host is reachable.
        probe = build_delivery(config.delivery).url_for(
            UploadRef(url=config.site.uploads_path + _PROBE, path=_PROBE)
        )
        if probe:
            ok &= await _probe_url(session, "delivery", probe)
        else:
            print("delivery: none (pages keep their local URLs)")
    mapping = await asyncio.to_thread(upload_mapping_report, config, timeout)
    if mapping is not None:
        print(
            f"cloudinary auto-upload: {mapping.message}",
            file=sys.stdout if mapping.ok else sys.stderr,
        )
        ok &= mapping.ok
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
            print(f"{label}: {url} answered {response.status} {response.reason} (reachable)")
            return response.status < 500
    except (TimeoutError, aiohttp.ClientError) as exc:
        print(f"{label}: {url} is NOT reachable: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
