"""``rewriteproxy rewrite``: one document on stdin, the rewritten document on stdout.

It runs the very pipeline the proxy runs for a response of that content type,
and the very bypass rules for the request ``--url``, ``--header`` and
``--cookie`` describe, so what it prints is what a browser would get.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import re
import sys
from collections import Counter

from multidict import CIMultiDict
from yarl import URL

from ..bypass import Bypass
from ..config import Config
from ..sites import site_for_url
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
        help="the page's URL; requests the bypass rules exclude (such as "
        "/wp-admin/ or ?context=edit) come out unchanged, as through the proxy, and "
        "relative URLs in the page resolve against it; with several sites, its host "
        "selects the site",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header, for the bypass rules (repeatable)",
    )
    parser.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a request cookie, for the bypass rules (repeatable)",
    )
    parser.add_argument(
        "--method", default="GET", help="the request method, for the bypass rules (default: GET)"
    )
    parser.add_argument(
        "--diff", action="store_true", help="print a unified diff of input and output instead"
    )


def run(args: argparse.Namespace) -> int:
    config = load_or_explain(args.config)
    if config is None:
        return 2
    headers = _request_headers(args.header, args.cookie)
    if headers is None:
        return 2
    document = sys.stdin.buffer.read()
    output = document
    reason = "disabled" if not config.enabled else _bypass_reason(config, args, headers)
    site = site_for_url(config, args.url or "")  # with several sites, --url's host selects
    if reason is None and site is None:
        reason = "unknown-host"
    config = site or config
    if reason is not None:
        print(f"rewriteproxy: not rewritten: the bypass rule {reason!r} applies", file=sys.stderr)
    else:
        output = asyncio.run(_rewrite(config, document, args.content_type, args.url or ""))
        if output == document:
            print(
                f"rewriteproxy: nothing rewritten: {why_unchanged(config, document)}",
                file=sys.stderr,
            )
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


_ANY_HOST_UPLOAD = r"""(?:(?:https?:)?(?:\\?/){{2}}([A-Za-z0-9.:\[\]-]+))?{path}"""


def why_unchanged(config: Config, document: bytes) -> str:
    """Why a document came out as it went in: what upload-path URLs it holds, and where."""
    site = config.site or config.sites[0]
    path = re.escape(site.uploads_path).replace("/", r"\\?/")
    pattern = re.compile(_ANY_HOST_UPLOAD.format(path=path).encode(), re.IGNORECASE)
    ours, foreign = 0, Counter[str]()
    for match in pattern.finditer(document):
        host = (match.group(1) or b"").decode("ascii", "replace").lower()
        if not host or host in site.hosts or host.split(":")[0] in site.hosts:
            ours += 1
        else:
            foreign[host] += 1
    parts = []
    if foreign:
        hosts = ", ".join(f"{h} ({n})" for h, n in foreign.most_common(5))
        parts.append(
            f"{sum(foreign.values())} URLs under {site.uploads_path} are on hosts "
            f"not in site.hosts: {hosts}"
        )
    if ours:
        parts.append(
            f"{ours} upload URLs of this site were kept local (not in the inventory, "
            "a type the provider keeps local, or not a file)"
        )
    return "; ".join(parts) or f"no URL under {site.uploads_path} in the document"


def _request_headers(header: list[str], cookie: list[str]) -> CIMultiDict[str] | None:
    headers: CIMultiDict[str] = CIMultiDict()
    for line in header:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            print(f"rewriteproxy: --header {line!r}: expected 'Name: value'", file=sys.stderr)
            return None
        headers.add(name.strip(), value.strip())
    if cookie:
        headers.add("Cookie", "; ".join(cookie))
    return headers


def _bypass_reason(
    config: Config, args: argparse.Namespace, headers: CIMultiDict[str]
) -> str | None:
    url = URL(args.url or "/")
    query = url.query if url.raw_query_string else None
    return Bypass(config.bypass).reason(args.method, url.raw_path or "/", query, headers)


async def _rewrite(config: object, document: bytes, content_type: str, url: str = "") -> bytes:
    from ..config import Config
    from ..inventory import build_inventory
    from ..rewriting import build_pipeline

    assert isinstance(config, Config)
    inventory = build_inventory(config.inventory)
    await inventory.start()
    try:
        await _wait_ready(inventory, seconds=30.0)
        result = build_pipeline(config, inventory).apply(document, content_type, "", url)
    finally:
        await inventory.close()
    if result.status == "failed":
        print(f"rewriteproxy: rewrite failed, output is the input: {result.error}", file=sys.stderr)
    if result.url_errors:
        print(
            f"rewriteproxy: {result.url_errors} URL(s) kept local, mapping them failed; "
            f"first: {result.url_error}",
            file=sys.stderr,
        )
    return result.body if result.body is not None else document


async def _wait_ready(inventory: object, seconds: float) -> None:
    """A one-shot command waits for the first listing, so its answer reflects the bucket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not getattr(inventory, "ready", True) and loop.time() < deadline:
        await asyncio.sleep(0.05)
