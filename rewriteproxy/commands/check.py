"""``rewriteproxy check``: is the config valid, and does everything it points at answer?

One line per part, in this order, each ``ok``, ``FAILED`` or ``skipped``:

- **config**: the file loads (else exit 2: nothing else can be checked).
- **upstream**: ``GET /`` of the upstream, sent as the proxy sends it (the
  site's Host, ``X-Forwarded-Proto`` of the site's scheme), answers below 500
  and is WordPress. The signal is what WordPress itself adds to its answers:
  the REST API's ``Link: <…/wp-json/>; rel="https://api.w.org/"`` header (every
  front-end page since WordPress 4.4), else ``X-Redirect-By: WordPress`` on a
  redirect, else ``/wp-content/`` or ``/wp-includes/`` in the page.
- **inventory**: the bucket (or the Cloudinary account) is listed once, as the
  proxy lists it, and its objects counted; the uploads directory's files are
  counted. One upload found there (an image where there is one) is the sample
  for the next lines.
- **delivery**: the delivery URL of that sample, with its version, answers
  below 400 (following redirects). The object exists, so a 404 is a failure.
- **cloudinary** (provider ``cloudinary`` only): the sample resized, as
  ``srcset`` candidates are, answers too (strict transformations refuse it).
- **mapping** (Cloudinary upload delivery without ``inventory.cloudinary``, with
  ``api_key`` and ``api_secret``): the folder's auto-upload mapping, through the
  Admin API, points at the uploads directory's URL.
- **circuit**: the running proxy's admin listener (``admin.listen``) reports
  every delivery host's circuit closed in its metrics. No proxy answering
  there is ``skipped``, not a failure: ``check`` may run before ``serve``.

``--json`` prints the same as one JSON object (times in ISO 8601). Everything
goes to stdout. Exit status: 0 when no part failed, 1 when one did, 2 when the
config is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client.parser import text_string_to_metric_families

from ..config import Config, ConfigError, load_config
from ..delivery import build_delivery
from ..delivery.base import DeliveryProvider
from ..delivery.health import CLOSED
from ..inventory.cloudinary import (
    CloudinaryInventoryConfig,
    list_resources,
    upload_mapping_report,
    uploads_listed,
)
from ..inventory.config import LocalInventoryConfig, S3InventoryConfig
from ..inventory.local import stat_upload
from ..inventory.refreshing import SourceCancelled
from ..inventory.s3 import list_bucket, make_client
from ..media import FileInfo, UploadRef
from ..metrics import CIRCUIT_STATE_VALUES
from ..sites import site_configs
from ._common import add_config_argument
from ._failures import describe

NAME = "check"
HELP = "validate the config and check the upstream, the inventory and the delivery host"

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
_API_LINK = 'rel="https://api.w.org/"'
_PAGE_MARKS = (b"/wp-content/", b"/wp-includes/")
_PAGE_BYTES = 512 * 1024  # read this much of the page at most, looking for a mark
_IMAGES = frozenset(("jpg", "jpeg", "png", "gif", "webp", "avif"))
_SAMPLE_FROM = 10_000  # keys looked at for a sample, at most
_RESIZED_WIDTH = 100  # Cloudinary limits to this width, never scales up
_USER_AGENT = "rewriteproxy-check"


@dataclass(frozen=True)
class Result:
    """What one part of the check found."""

    part: str
    status: str  # OK, FAILED or SKIPPED
    detail: str  # one line for a person
    facts: dict[str, Any] = field(default_factory=dict)  # more for --json


@dataclass(frozen=True)
class Sample:
    """An upload the inventory knows, to ask the delivery host for."""

    key: str
    info: FileInfo | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds each request may take (default: %(default)s)",
    )
    parser.add_argument(
        "--listing-timeout",
        type=float,
        default=120.0,
        help="seconds listing the bucket may take (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    checked_at = datetime.now(UTC)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        results = [Result("config", FAILED, str(exc))]
        code = 2
    else:
        results = asyncio.run(check(config, args.timeout, args.listing_timeout))
        code = 0 if all(r.status != FAILED for r in results) else 1
    print(report_json(results, checked_at, args.config) if args.json else report_text(results))
    return code


async def check(config: Config, timeout: float, listing_timeout: float) -> list[Result]:
    """Every part, in order (see the module docstring); with several sites, every part of
    each site in turn, each result naming its site."""
    if config.sites:
        results = []
        for view in site_configs(config):
            assert view.site is not None
            host = view.site.canonical_host
            for result in await check(view, timeout, listing_timeout):
                facts = {"site": host, **result.facts}
                results.append(
                    Result(result.part, result.status, f"[{host}] {result.detail}", facts)
                )
        return results
    assert config.site is not None
    provider = build_delivery(config.delivery)
    results = [
        Result(
            "config",
            OK,
            f"{config.source} is valid: rewriting {'on' if config.enabled else 'off'}, "
            f"delivery {config.delivery.provider}, inventory {_inventory_kind(config)}",
        )
    ]
    session_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(
        timeout=session_timeout,
        headers={"User-Agent": _USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    ) as session:
        results.append(await check_upstream(session, config))
        listed, sample = await check_inventory(config, provider, listing_timeout)
        results.append(listed)
        results.append(await check_delivery(session, config, provider, sample))
        if config.delivery.provider == "cloudinary":
            results.append(await check_resized(session, config, provider, sample))
            mapping = await asyncio.to_thread(upload_mapping_report, config, timeout)
            if mapping is not None:
                results.append(Result("mapping", OK if mapping.ok else FAILED, mapping.message))
        results.append(await check_circuit(session, config))
    return results


# -- upstream ---------------------------------------------------------------------


async def check_upstream(session: aiohttp.ClientSession, config: Config) -> Result:
    assert config.site is not None  # one site's config (see check)
    url = config.upstream + "/"
    headers: dict[str, str] = {"X-Forwarded-Proto": config.site.scheme}
    if config.proxy.preserve_host:
        headers["Host"] = config.site.canonical_host
    try:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            page = await _beginning(response, _PAGE_BYTES)
            status = f"{response.status} {response.reason}"
            sign = wordpress_sign(response.headers, page)
            facts = {"url": url, "http_status": response.status}
            if response.status >= 500:
                return Result("upstream", FAILED, f"{url} answered {status}", facts)
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Result("upstream", FAILED, f"{url} is not reachable: {_error(exc)}", {"url": url})
    if sign is None:
        return Result(
            "upstream",
            FAILED,
            f"{url} answered {status} but shows no sign of WordPress (no REST API Link "
            "header, no X-Redirect-By: WordPress, no /wp-content/ in the page)",
            facts,
        )
    return Result("upstream", OK, f"{url} answered {status}; WordPress: {sign}", facts)


async def _beginning(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The first ``limit`` bytes of the body (all of it if shorter)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def wordpress_sign(headers: CIMultiDictProxy[str] | CIMultiDict[str], page: bytes) -> str | None:
    """How an answer shows it comes from WordPress, in a few words; ``None`` if it does not."""
    for link in headers.getall("Link", ()):
        if _API_LINK in link:
            return "its REST API Link header " + link.split(";", 1)[0].strip()
    if headers.get("X-Redirect-By", "").lower() == "wordpress":
        return f"a WordPress redirect to {headers.get('Location', '?')}"
    for mark in _PAGE_MARKS:
        if mark in page:
            return f"{mark.decode()} in the page"
    return None


# -- inventory ----------------------------------------------------------------------


async def check_inventory(
    config: Config, provider: DeliveryProvider, listing_timeout: float
) -> tuple[Result, Sample | None]:
    s3, local = config.inventory.s3, config.inventory.local
    cloudinary = config.inventory.cloudinary
    if s3 is None and local is None and cloudinary is None:
        return Result(
            "inventory", SKIPPED, "none configured: every upload counts as existing"
        ), None
    parts: list[str] = []
    facts: dict[str, Any] = {}
    sample: Sample | None = None
    if s3 is not None:
        where = f"s3://{s3.bucket}/{s3.prefix}"
        try:
            count, sample = await _list_bucket(s3, provider, config, listing_timeout)
        except Exception as exc:  # whatever S3 or the network said, in one line
            return Result("inventory", FAILED, f"{where} cannot be listed: {describe(exc)}"), None
        parts.append(f"{where} lists {count} objects")
        facts["bucket"] = {"url": where, "objects": count}
    if cloudinary is not None:
        where = f"Cloudinary {cloudinary.account.cloud_name}/{cloudinary.account.folder}"
        try:
            count, sample = await _list_cloudinary(cloudinary, provider, config, listing_timeout)
        except Exception as exc:  # whatever the Admin API or the network said, in one line
            return Result("inventory", FAILED, f"{where} cannot be listed: {describe(exc)}"), None
        parts.append(f"{where} lists {count} assets")
        facts["cloudinary"] = {"account": where, "assets": count}
    if local is not None:
        try:
            count, found = await asyncio.to_thread(_walk_uploads, local, provider, config)
        except OSError as exc:
            return Result(
                "inventory", FAILED, f"{local.path} cannot be read: {describe(exc)}"
            ), None
        parts.append(f"{local.path} holds {count} files")
        facts["local"] = {"path": local.path, "files": count}
        sample = sample if s3 is not None or cloudinary is not None else found
    if sample is not None:
        facts["sample"] = sample.key
    return Result("inventory", OK, "; ".join(parts), facts), sample


async def _list_bucket(
    s3: S3InventoryConfig, provider: DeliveryProvider, config: Config, seconds: float
) -> tuple[int, Sample | None]:
    stop = threading.Event()

    def listing() -> tuple[int, Sample | None]:
        listed = list_bucket(make_client(s3), s3, cancelled=stop.is_set)
        key = pick_sample(listed, provider, config)
        return len(listed), None if key is None else Sample(key, listed.get(key))

    try:
        return await asyncio.wait_for(asyncio.to_thread(listing), seconds)
    except TimeoutError:
        stop.set()  # the thread stops at the next page
        raise TimeoutError(f"not done within {seconds:g}s (--listing-timeout)") from None
    except SourceCancelled:  # pragma: no cover - only after the timeout above
        raise TimeoutError(f"not done within {seconds:g}s (--listing-timeout)") from None


async def _list_cloudinary(
    source: CloudinaryInventoryConfig, provider: DeliveryProvider, config: Config, seconds: float
) -> tuple[int, Sample | None]:
    stop = threading.Event()

    def listing() -> tuple[int, Sample | None]:
        listed = list_resources(source, cancelled=stop.is_set).listing
        known = dict(itertools.islice(uploads_listed(listed, source.account), _SAMPLE_FROM))
        key = pick_sample(known, provider, config)
        return len(listed), None if key is None else Sample(key, known[key])

    try:
        return await asyncio.wait_for(asyncio.to_thread(listing), seconds)
    except TimeoutError:
        stop.set()  # the thread stops at the next page
        raise TimeoutError(f"not done within {seconds:g}s (--listing-timeout)") from None


def _walk_uploads(
    local: LocalInventoryConfig, provider: DeliveryProvider, config: Config
) -> tuple[int, Sample | None]:
    root = os.path.abspath(local.path)
    if not os.path.isdir(root):
        raise NotADirectoryError(20, "not a directory", root)
    count = 0
    first: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        relative = os.path.relpath(directory, root)
        for name in sorted(files):
            count += 1
            if len(first) < _SAMPLE_FROM:
                first.append(name if relative == "." else f"{relative}/{name}")
    key = pick_sample(first, provider, config)
    return count, None if key is None else Sample(key, stat_upload(root, key))


def pick_sample(keys: Iterable[str], provider: DeliveryProvider, config: Config) -> str | None:
    """The first of ``keys`` that is an image the provider delivers, else the first it
    delivers at all (among the first ``_SAMPLE_FROM`` keys)."""
    delivered: str | None = None
    for key in itertools.islice(keys, _SAMPLE_FROM):
        ref = _ref(key, config)
        if provider.url_for(ref) is None:
            continue
        if ref.extension in _IMAGES:
            return key
        delivered = delivered or key
    return delivered


def _ref(key: str, config: Config) -> UploadRef:
    from urllib.parse import quote

    assert config.site is not None  # one site's config (see check)
    path = quote(key)
    return UploadRef(url=config.site.uploads_path + path, path=path)


# -- delivery -----------------------------------------------------------------------


async def check_delivery(
    session: aiohttp.ClientSession,
    config: Config,
    provider: DeliveryProvider,
    sample: Sample | None,
) -> Result:
    if config.delivery.provider == "none":
        return Result("delivery", SKIPPED, "provider none: pages keep their local URLs")
    if sample is None:
        return Result(
            "delivery", SKIPPED, "no upload known to the inventory to ask the delivery host for"
        )
    url = provider.url_for(_ref(sample.key, config), sample.info)
    return await _fetch("delivery", session, url, sample)


async def check_resized(
    session: aiohttp.ClientSession,
    config: Config,
    provider: DeliveryProvider,
    sample: Sample | None,
) -> Result:
    if sample is None:
        return Result("cloudinary", SKIPPED, "no upload known to the inventory to resize")
    url = provider.url_for(_ref(sample.key, config), sample.info, width=_RESIZED_WIDTH)
    return await _fetch("cloudinary", session, url, sample)


async def _fetch(
    part: str, session: aiohttp.ClientSession, url: str | None, sample: Sample
) -> Result:
    if url is None:  # pragma: no cover - the sample is one the provider delivers
        return Result(part, SKIPPED, f"the provider keeps {sample.key} local")
    target = "https:" + url if url.startswith("//") else url
    facts: dict[str, Any] = {"url": target, "key": sample.key}
    try:
        async with session.get(target) as response:
            facts["http_status"] = response.status
            answer = f"{target} answered {response.status} {response.reason}"
    except (TimeoutError, aiohttp.ClientError) as exc:
        return Result(part, FAILED, f"{target} is not reachable: {_error(exc)}", facts)
    known = f"({sample.key} is in the inventory)"
    if response.status >= 400:
        return Result(part, FAILED, f"{answer} {known}", facts)
    return Result(part, OK, f"{answer} {known}", facts)


# -- circuit ------------------------------------------------------------------------


async def check_circuit(session: aiohttp.ClientSession, config: Config) -> Result:
    url = admin_metrics_url(config)
    if url is None:
        return Result("circuit", SKIPPED, "admin.listen is null: no admin listener to ask", {})
    try:
        async with session.get(url) as response:
            text = await response.text()
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        return Result(
            "circuit",
            SKIPPED,
            f"no rewriteproxy answering at {url} ({_error(exc)})",
            {"url": url},
        )
    try:
        states = circuit_states(text)
    except ValueError as exc:
        return Result("circuit", FAILED, f"{url} is not Prometheus text ({exc})", {"url": url})
    facts = {"url": url, "hosts": {name: {"state": state} for name, state in states.items()}}
    if not states:
        return Result("circuit", OK, "no delivery host probed yet by the running proxy", facts)
    words = ", ".join(f"{name} {state}" for name, state in states.items())
    failed = any(state != CLOSED for state in states.values())
    return Result("circuit", FAILED if failed else OK, words, facts)


def admin_metrics_url(config: Config) -> str | None:
    """Where the proxy this config describes serves its metrics (None: nowhere)."""
    address = config.admin.address
    if address is None:
        return None
    host, port = address
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/metrics"


def circuit_states(text: str) -> dict[str, str]:
    """Each delivery host's circuit, from the admin listener's metrics."""
    names = {value: name for name, value in CIRCUIT_STATE_VALUES.items()}
    return {
        sample.labels["host"]: names.get(sample.value, "?")
        for family in text_string_to_metric_families(text)
        if family.name == "rewriteproxy_delivery_circuit_state"
        for sample in family.samples
    }


# -- reports ------------------------------------------------------------------------


def report_text(results: list[Result]) -> str:
    width = max(len(r.part) for r in results)
    label = {OK: "ok", FAILED: "FAILED", SKIPPED: "skipped"}
    return "\n".join(f"{r.part:<{width}}  {label[r.status]:<7}  {r.detail}" for r in results)


def report_json(results: list[Result], checked_at: datetime, config_path: str) -> str:
    return json.dumps(
        {
            "ok": all(r.status != FAILED for r in results),
            "checked_at": checked_at.isoformat(timespec="seconds"),
            "config": config_path,
            "parts": [
                {"part": r.part, "status": r.status, "detail": r.detail, **r.facts} for r in results
            ],
        },
        indent=2,
    )


def iso_time(epoch: float | None) -> str | None:
    """``epoch`` seconds as ISO 8601 in UTC, or ``None``."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _inventory_kind(config: Config) -> str:
    sources = (
        ("s3", config.inventory.s3),
        ("cloudinary", config.inventory.cloudinary),
        ("local", config.inventory.local),
    )
    names = [n for n, c in sources if c]
    return " + ".join(names) or "none"


def _error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return describe(exc)
