"""``rewriteproxy serve``: run the proxy."""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from ._common import add_config_argument, load_or_explain

NAME = "serve"
HELP = "run the proxy in front of WordPress (SIGHUP reloads the config)"

log = logging.getLogger("rewriteproxy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--host", help="listen on this address (overrides listen.host)")
    parser.add_argument("--port", type=int, help="listen on this port (overrides listen.port)")


def run(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    if config is None:
        return 2
    host = args.host or config.listen.host
    port = args.port if args.port is not None else config.listen.port
    _use_uvloop()
    asyncio.run(serve(config, args.config, host, port))
    return 0


async def serve(
    config: object,
    config_path: str | None,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
) -> None:
    from ..app import STATE, create_app, install_reload_signal
    from ..config import Config

    assert isinstance(config, Config)
    app = create_app(config, config_path)
    # handler_cancellation: a client that goes away cancels its upstream request.
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    install_reload_signal(app[STATE])
    log.info(
        "rewriteproxy on http://%s:%s → %s (rewriting %s)",
        host,
        port,
        config.upstream,
        "on" if config.enabled else "off",
    )
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()
