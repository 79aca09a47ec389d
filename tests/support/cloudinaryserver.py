"""A stand-in for Cloudinary's Admin and Upload APIs, on loopback, for the SDK to talk to.

Cloudinary is a hosted service and these tests have no network, so this is a
stand-in, not the real part: an aiohttp server that answers the requests the
official SDK (``cloudinary`` on PyPI) sends, in the request and response
shapes Cloudinary documents, so the code under test runs the real SDK over
real HTTP. The SDK is pointed at it with its per-call ``upload_prefix``
option (``delivery.cloudinary.api_base_url``).

What it serves (paths below ``/v1_1/<cloud_name>/``):

- ``GET resources/<resource_type>/upload``: the Admin API's asset listing,
  ``prefix``, ``max_results`` (1..500, else 400) and ``next_cursor`` as
  documented, newest first, with ``X-FeatureRateLimit-*`` headers.
- ``GET upload_mappings?folder=``: one auto-upload mapping, or 404.
- ``POST <resource_type>/upload``: the Upload API, multipart, the chunked
  form (``Content-Range`` + ``X-Unique-Upload-Id``) included; the answer has
  ``public_id``, ``version`` (the upload time, increasing), ``format``,
  ``bytes``, ``etag`` (MD5) as Cloudinary's does. ``overwrite`` is honoured.

Authentication is checked loosely: Admin calls need HTTP Basic with the
account's key and secret (401 otherwise); uploads need the key, a timestamp
and a 40-hex-digit signature, whose value is not recomputed (the SDK's signing
is not what these tests are about). Errors are ``{"error": {"message": …}}``
with the documented status codes. What it does not model: transformations,
delivery (``res.cloudinary.com``), rate limiting itself, eager and async
processing, and the many upload options the proxy never sends.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .net import free_port

__all__ = ["CloudinaryStandIn", "StoredAsset", "cloudinary_stand_in", "threaded_stand_in"]

API_KEY = "123456789012345"
API_SECRET = "stand-in-secret"
CLOUD = "demo"
_FORMATS = {"jpeg": "jpg", "jpe": "jpg", "tif": "tiff"}  # as Cloudinary names them
_SIGNATURE = re.compile(r"[0-9a-f]{40}")


@dataclass
class StoredAsset:
    resource_type: str
    public_id: str
    format: str
    data: bytes
    version: int
    created_at: str
    filename: str = ""  # as the upload named it

    def resource(self, cloud: str) -> dict[str, Any]:
        """The asset as the Admin API lists it (no etag: listings do not carry one)."""
        path = f"v{self.version}/{self.public_id}" + (f".{self.format}" if self.format else "")
        entry: dict[str, Any] = {
            "asset_id": hashlib.md5(f"{self.resource_type}:{self.public_id}".encode()).hexdigest(),
            "public_id": self.public_id,
            "version": self.version,
            "resource_type": self.resource_type,
            "type": "upload",
            "created_at": self.created_at,
            "bytes": len(self.data),
            "url": f"http://res.cloudinary.com/{cloud}/{self.resource_type}/upload/{path}",
            "secure_url": f"https://res.cloudinary.com/{cloud}/{self.resource_type}/upload/{path}",
        }
        if self.format:
            entry["format"] = self.format
        return entry


@dataclass
class CloudinaryStandIn:
    """The account's state, which tests read and change directly."""

    cloud_name: str = CLOUD
    api_key: str = API_KEY
    api_secret: str = API_SECRET
    assets: dict[tuple[str, str], StoredAsset] = field(default_factory=dict)
    mappings: dict[str, str] = field(default_factory=dict)  # folder -> template
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    failing: bool = False  # every call answers 500 while set
    rate_limit: int = 500
    base_url: str = ""  # the SDK's upload_prefix, once started
    _last_version: int = 0
    _chunks: dict[str, dict[int, bytes]] = field(default_factory=dict)

    # -- what tests call ------------------------------------------------------------

    def put(self, resource_type: str, public_id: str, format_: str, data: bytes) -> StoredAsset:
        """Store an asset as an upload would (a version newer than any before)."""
        self._last_version = max(int(time.time()), self._last_version + 1)
        asset = StoredAsset(
            resource_type,
            public_id,
            format_,
            data,
            self._last_version,
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self.assets[(resource_type, public_id)] = asset
        return asset

    def calls(self, method: str, path_part: str) -> list[dict[str, str]]:
        """The parameters of every request so far whose path contains ``path_part``."""
        return [params for m, path, params in self.requests if m == method and path_part in path]

    # -- the HTTP side --------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=64 * 2**20)
        prefix = f"/v1_1/{self.cloud_name}"
        app.router.add_get(prefix + "/resources/{resource_type}/upload", self._list)
        app.router.add_get(prefix + "/upload_mappings", self._mapping)
        app.router.add_post(prefix + "/{resource_type}/upload", self._upload)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        if self.failing:
            return _error(500, "General Error")
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPNotFound:
            return _error(404, f"Resource not found - {request.path}")
        response.headers["X-FeatureRateLimit-Limit"] = str(self.rate_limit)
        response.headers["X-FeatureRateLimit-Remaining"] = str(self.rate_limit - 1)
        return response

    def _admin_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        try:
            scheme, _, encoded = header.partition(" ")
            key, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _error(401, "Invalid authorization header")
        if scheme.lower() != "basic" or (key, secret) != (self.api_key, self.api_secret):
            return _error(401, "Invalid credentials")
        return None

    async def _list(self, request: web.Request) -> web.Response:
        if (denied := self._admin_auth(request)) is not None:
            return denied
        resource_type = request.match_info["resource_type"]
        if resource_type not in ("image", "video", "raw"):
            return _error(400, f"Invalid resource type {resource_type}")
        try:
            max_results = int(request.query.get("max_results", "10"))
        except ValueError:
            return _error(400, "max_results must be a number")
        if not 1 <= max_results <= 500:
            return _error(400, "max_results should be between 1 and 500")
        prefix = request.query.get("prefix", "")
        chosen = sorted(
            (
                a
                for (kind, public_id), a in self.assets.items()
                if kind == resource_type and public_id.startswith(prefix)
            ),
            key=lambda a: (a.version, a.public_id),
            reverse=True,
        )
        cursor = request.query.get("next_cursor")
        start = int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0
        page = chosen[start : start + max_results]
        body: dict[str, Any] = {"resources": [a.resource(self.cloud_name) for a in page]}
        if start + max_results < len(chosen):
            body["next_cursor"] = base64.urlsafe_b64encode(
                str(start + max_results).encode()
            ).decode()
        return web.json_response(body)

    async def _mapping(self, request: web.Request) -> web.Response:
        if (denied := self._admin_auth(request)) is not None:
            return denied
        folder = request.query.get("folder", "")
        if folder not in self.mappings:
            return _error(404, f"Mapping for folder {folder} not found")
        return web.json_response(
            {"folder": folder, "template": self.mappings[folder], "external_id": "m-" + folder}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        resource_type = request.match_info["resource_type"]
        if resource_type not in ("image", "video", "raw", "auto"):
            return _error(400, f"Invalid resource type {resource_type}")
        fields: dict[str, str] = {}
        data = b""
        filename = ""
        reader = await request.multipart()
        async for part in reader:
            if part.name == "file":
                filename = getattr(part, "filename", None) or ""
                data = await part.read()  # type: ignore[union-attr]
            elif part.name:
                fields[part.name] = await part.text()  # type: ignore[union-attr]
        if fields.get("api_key") != self.api_key:
            return _error(401, "Unknown API key")
        if not fields.get("timestamp", "").isdigit():
            return _error(400, "Missing required parameter - timestamp")
        if not _SIGNATURE.fullmatch(fields.get("signature", "")):
            return _error(401, "Invalid Signature")
        upload_id = request.headers.get("X-Unique-Upload-Id", "")
        public_id = fields.get("public_id") or hashlib.md5(upload_id.encode() or data).hexdigest()
        whole = self._assembled(request, data)
        if whole is None:  # a chunk before the last: the SDK sends the answer's public_id on
            return web.json_response({"done": False, "public_id": public_id})
        data = whole
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        format_ = "" if resource_type == "raw" else _FORMATS.get(extension, extension)
        existing = self.assets.get((resource_type, public_id))
        if existing is not None and fields.get("overwrite") in ("0", "false"):
            asset = existing
        else:
            asset = self.put(resource_type, public_id, format_, data)
            asset.filename = filename
        answer = asset.resource(self.cloud_name)
        answer |= {
            "etag": hashlib.md5(asset.data).hexdigest(),
            "signature": hashlib.sha1(asset.data).hexdigest(),
            "original_filename": filename.rsplit("/", 1)[-1].rsplit(".", 1)[0],
            "placeholder": False,
            "tags": [],
        }
        return web.json_response(answer)

    def _assembled(self, request: web.Request, data: bytes) -> bytes | None:
        """The whole file of a chunked upload once its last chunk came, else ``None``."""
        content_range = request.headers.get("Content-Range")
        upload_id = request.headers.get("X-Unique-Upload-Id")
        if not content_range or not upload_id:
            return data
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
        if match is None:
            raise web.HTTPBadRequest(text="bad Content-Range")
        first, last, total = map(int, match.groups())
        chunks = self._chunks.setdefault(upload_id, {})
        chunks[first] = data
        if last + 1 < total:
            return None
        del self._chunks[upload_id]
        return b"".join(chunks[offset] for offset in sorted(chunks))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)


@asynccontextmanager
async def cloudinary_stand_in(**state: Any) -> AsyncIterator[CloudinaryStandIn]:
    """The stand-in, listening on a free loopback port until the block ends."""
    stand_in = CloudinaryStandIn(**state)
    runner = web.AppRunner(stand_in.app())
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    stand_in.base_url = f"http://127.0.0.1:{port}"
    try:
        yield stand_in
    finally:
        await runner.cleanup()


@contextmanager
def threaded_stand_in(**state: Any) -> Iterator[CloudinaryStandIn]:
    """The stand-in on an event loop of its own thread: for tests that call the SDK
    directly (it blocks) as well as for async ones."""
    loop = asyncio.new_event_loop()
    started: asyncio.Future[CloudinaryStandIn] = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with cloudinary_stand_in(**state) as stand_in:
            started.set_result(stand_in)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(_wait(started), loop).result(10)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


async def _wait(future: asyncio.Future[CloudinaryStandIn]) -> CloudinaryStandIn:
    return await future
