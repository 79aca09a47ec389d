"""Shared fixtures: a real origin server on a loopback socket and the proxy in front of it.

Nothing here mocks aiohttp: the origin is an aiohttp app on a real port, the
proxy is the real application on another, and tests talk HTTP to it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from rewriteproxy.app import create_app
from rewriteproxy.config import Config, parse_config

PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Hello</title></head><body>\n"
    b'<img src="http://wp.test/wp-content/uploads/2024/05/photo-300x200.jpg" alt="x">\n'
    b'<a href="/wp-content/themes/t/style.css">theme</a>\n</body></html>\n'
)
CDN = "https://cdn.example.net/wp-content/uploads/"
REWRITTEN_SRC = CDN.encode() + b"2024/05/photo-300x200.jpg"


def make_config(upstream: str, extra: str = "") -> Config:
    return parse_config(
        f"""
upstream: {upstream}
site:
  hosts: [wp.test, www.wp.test]
delivery:
  provider: cdn
  cdn:
    base_url: {CDN}
  health: {{enabled: false}}  # cdn.example.net is a name only; the probe: tests/test_app.py
{extra}
"""
    )


ProxyFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture(scope="session", autouse=True)
def private_state_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Inventory snapshots of a test run go to its own directory, as systemd's would."""
    before = os.environ.get("STATE_DIRECTORY")
    os.environ["STATE_DIRECTORY"] = str(tmp_path_factory.mktemp("state"))
    yield
    if before is None:
        os.environ.pop("STATE_DIRECTORY", None)
    else:
        os.environ["STATE_DIRECTORY"] = before


@pytest.fixture
def start_proxy(aiohttp_server, aiohttp_client) -> ProxyFactory:  # type: ignore[no-untyped-def]
    """``await start_proxy(origin_app, extra_yaml="")`` → a client of the proxy in front of it."""

    async def start(
        origin: web.Application | str, extra_yaml: str = "", config_path: str | None = None
    ) -> TestClient:
        if isinstance(origin, str):
            upstream = origin
        else:
            server: TestServer = await aiohttp_server(origin)
            upstream = str(server.make_url("")).rstrip("/")
        config = make_config(upstream, extra_yaml)
        return await aiohttp_client(create_app(config, config_path))

    return start


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A real S3 server (SeaweedFS) on loopback, shared by the whole session."""
    from .support.s3server import s3_server_fixture

    yield from s3_server_fixture(tmp_path_factory)
