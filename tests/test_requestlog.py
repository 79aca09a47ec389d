"""The access log: one line per request, in the common log format or as JSON; event lines
in the same format; request ids."""

from __future__ import annotations

import json
import logging
import re

import pytest
from aiohttp import web

from rewriteproxy.requestlog import JsonFormatter, request_id

from .conftest import PAGE

CLF = re.compile(
    r"(?P<host>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    r'"(?P<method>\S+) (?P<path>\S+) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+|-)'
)


def origin() -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xd8" * 100, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/image.jpg", image)
    return app


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rewriteproxy.access"]


async def test_each_request_is_one_line_in_the_common_log_format(start_proxy, caplog):
    caplog.set_level(logging.INFO, logger="rewriteproxy.access")
    client = await start_proxy(origin())
    for path in ("/page", "/image.jpg", "/page?rewriteproxy=off", "/missing"):
        await (await client.get(path)).read()
    lines = access_lines(caplog)
    assert len(lines) == 4
    fields = [CLF.fullmatch(line) for line in lines]
    assert all(fields), lines
    assert [(f["method"], f["path"], f["status"]) for f in fields if f] == [
        ("GET", "/page", "200"),
        ("GET", "/image.jpg", "200"),
        ("GET", "/page?rewriteproxy=off", "200"),
        ("GET", "/missing", "404"),
    ]
    assert fields[1] is not None and fields[1]["bytes"] == "200"
    assert fields[0] is not None and fields[0]["host"] == "127.0.0.1"


async def test_json_lines_say_what_the_proxy_did(start_proxy, caplog):
    caplog.set_level(logging.INFO, logger="rewriteproxy.access")
    client = await start_proxy(origin(), "log: {format: json}")
    await (await client.get("/page", headers={"X-Request-ID": "r-1"})).read()
    await (await client.get("/page", headers={"Cookie": "wordpress_logged_in_a=b"})).read()
    first, second = (json.loads(line) for line in access_lines(caplog))
    assert first["method"] == "GET" and first["path"] == "/page" and first["status"] == 200
    assert first["outcome"] == "rewritten" and first["bypass_reason"] is None
    assert first["request_id"] == "r-1" and first["bytes"] > len(PAGE)
    assert 0 <= first["upstream_time"] <= first["duration"]
    assert (second["outcome"], second["bypass_reason"]) == ("passthrough", "logged-in")
    assert second["bytes"] == len(PAGE)


async def test_access_false_writes_no_access_lines(start_proxy, caplog):
    caplog.set_level(logging.INFO, logger="rewriteproxy.access")
    client = await start_proxy(origin(), "log: {access: false}")
    await (await client.get("/page")).read()
    assert access_lines(caplog) == []


def test_events_in_json_are_one_object_a_line() -> None:
    record = logging.LogRecord("rewriteproxy.proxy", logging.WARNING, "", 0, "x %s", ("y",), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "warning" and entry["logger"] == "rewriteproxy.proxy"
    assert entry["message"] == "x y" and entry["time"].endswith("Z")


def test_a_request_id_is_believed_only_from_a_trusted_peer_and_only_when_plain() -> None:
    assert request_id("abc-123", trusted=True) == "abc-123"
    assert request_id("abc-123", trusted=False) != "abc-123"
    for bad in ("", "a b", "x" * 201, "a\nb", "é"):
        made = request_id(bad, trusted=True)
        assert made != bad and re.fullmatch(r"[0-9a-f]{16}", made)
    assert request_id(None, trusted=True) != request_id(None, trusted=True)
