"""Offloading the uploads directory to the bucket: compare (``analyze``) and upload (``sync``).

:func:`plan` walks the uploads directory and lists the bucket (the same
listing the proxy uses), and sorts every local file into *synced*, *missing*
(not in the bucket), *changed* (in the bucket with another size or content)
or *unsupported* (never offloaded, see :func:`supported`); bucket objects with
no local file are *extra* (what ``sync --delete`` removes).

Same content is decided without guessing, in this order:

1. sizes differ → changed;
2. a plain ETag (32 hex digits) is the object's MD5 → compare with the local MD5;
3. a multipart ETag (``md5-N``) is the MD5 of the parts' MD5s → compute it
   locally with ``part_size`` (the part size :func:`sync` uploads with);
4. if that still differs (another tool used another part size), ``HEAD`` the
   object and compare its ``x-amz-meta-md5`` metadata, which :func:`sync`
   writes on every upload; without it → changed.

ETags that are not MD5s (some encryption modes) fall through to step 4.
Every comparison reads the whole local file once (MD5).

:func:`sync` uploads missing and changed files in parallel threads, with a
guessed-by-extension ``Content-Type``, a long-lived ``Cache-Control`` and the
MD5 in metadata. It is resumable by construction: a new run plans again and
skips everything already uploaded. A multipart upload cut off by a killed
process leaves parts in the bucket until a lifecycle rule aborts them.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .inventory.config import S3InventoryConfig
from .inventory.s3 import list_bucket
from .media import FileInfo

__all__ = [
    "DEFAULT_CACHE_CONTROL",
    "DEFAULT_PART_SIZE",
    "LocalFile",
    "Plan",
    "SyncResult",
    "content_type",
    "delete_extra",
    "multipart_etag",
    "plan",
    "scan",
    "supported",
    "sync",
    "upload_all",
]

DEFAULT_PART_SIZE = 8 * 1024 * 1024  # boto3's default multipart threshold and chunk size
DEFAULT_CACHE_CONTROL = "public, max-age=31536000"
MD5_METADATA = "md5"  # stored as x-amz-meta-md5
MAX_KEY_BYTES = 1024  # S3's limit on an object key

# What WordPress lets users upload by default, plus what themes and page
# builders write into uploads (CSS, JS, JSON, fonts). Everything else (PHP,
# HTML, logs, dotfiles, backups) is unsupported: never offloaded.
MEDIA_EXTENSIONS = frozenset(
    """
    jpg jpeg jpe gif png bmp tif tiff webp avif ico heic heif svg
    mp4 m4v mov qt webm ogv avi wmv mpeg mpg mpe 3gp 3gpp 3g2 mkv flv
    mp3 m4a m4b aac wav ogg oga flac mid midi wma mka
    pdf doc docx docm dotx dotm xls xlsx xlsm xlsb xltx ppt pptx pptm pps ppsx potx
    odt ods odp odg odc odb odf rtf txt csv tsv ics vtt srt dfxp key numbers pages
    psd xcf zip gz gzip tar rar 7z
    css js json woff woff2 ttf otf eot
    """.split()  # noqa: SIM905 - a word list reads better than 100 quoted strings
)

_EXTRA_TYPES = {
    "webp": "image/webp",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
    "svg": "image/svg+xml",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "vtt": "text/vtt",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "js": "text/javascript",
    "json": "application/json",
}


@dataclass(frozen=True, slots=True)
class LocalFile:
    key: str  # path below the uploads directory, "/"-separated
    path: Path
    size: int


@dataclass
class Plan:
    synced: list[LocalFile] = field(default_factory=list)
    missing: list[LocalFile] = field(default_factory=list)
    changed: list[LocalFile] = field(default_factory=list)
    unsupported: list[LocalFile] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # bucket keys (below the prefix), no local file

    @property
    def to_upload(self) -> list[LocalFile]:
        return self.missing + self.changed

    def summary(self) -> dict[str, dict[str, int]]:
        def count(files: list[LocalFile]) -> dict[str, int]:
            return {"files": len(files), "bytes": sum(f.size for f in files)}

        unsynced = count(self.to_upload)
        return {
            "synced": count(self.synced),
            "unsynced": unsynced,
            "missing": count(self.missing),
            "changed": count(self.changed),
            "unsupported": count(self.unsupported),
            "extra": {"files": len(self.extra), "bytes": 0},
        }


@dataclass
class SyncResult:
    uploaded: list[LocalFile] = field(default_factory=list)
    failed: list[tuple[LocalFile, str]] = field(default_factory=list)

    @property
    def uploaded_bytes(self) -> int:
        return sum(f.size for f in self.uploaded)


# -- what is offloaded ---------------------------------------------------------


def supported(key: str) -> bool:
    """Whether a file at ``key`` is ever offloaded (media type, visible, a valid S3 key)."""
    name = key.rsplit("/", 1)[-1]
    if any(part.startswith(".") for part in key.split("/")):
        return False
    try:
        if len(key.encode("utf-8")) > MAX_KEY_BYTES:
            return False
    except UnicodeEncodeError:  # a file name that is not valid UTF-8
        return False
    dot = name.rfind(".")
    return dot > 0 and name[dot + 1 :].lower() in MEDIA_EXTENSIONS


def content_type(key: str) -> str:
    extension = key.rsplit(".", 1)[-1].lower() if "." in key else ""
    if extension in _EXTRA_TYPES:
        return _EXTRA_TYPES[extension]
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"


def scan(root: Path) -> Iterator[LocalFile]:
    """Every regular file below ``root``, in a stable order.

    A symbolic link counts only when it resolves to a file below ``root`` too: a link
    out of the uploads (planted by whoever can write there) must not get its target
    published. Linked directories are not entered (``os.walk``'s default).
    """
    real_root = os.path.realpath(root)
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(directory)
        for name in sorted(files):
            path = base / name
            try:
                if path.is_symlink() and not _within(os.path.realpath(path), real_root):
                    continue
                st = path.stat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            key = path.relative_to(root).as_posix()
            yield LocalFile(key=key, path=path, size=st.st_size)


def _within(path: str, directory: str) -> bool:
    return os.path.commonpath((path, directory)) == directory


# -- same content? -----------------------------------------------------------------


def _md5s(path: Path, part_size: int) -> tuple[str, list[bytes]]:
    """The whole file's MD5 (hex) and each part's MD5 (raw), in one read."""
    whole = hashlib.md5(usedforsecurity=False)
    parts: list[bytes] = []
    with path.open("rb") as handle:
        while chunk := handle.read(part_size):
            whole.update(chunk)
            parts.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    return whole.hexdigest(), parts


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag S3 gives an object uploaded in these parts."""
    combined = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(part_md5s)}"


def _same(
    local: LocalFile, remote: FileInfo, part_size: int, metadata_md5: Callable[[str], str | None]
) -> bool:
    if remote.size != local.size:
        return False
    md5, parts = _md5s(local.path, part_size)
    etag = remote.etag or ""
    if etag == md5:
        return True
    if "-" in etag and len(parts) > 1 and etag == multipart_etag(parts):
        return True
    if "-" not in etag and len(etag) == 32:
        return False  # a plain MD5 ETag that differs: different content
    return metadata_md5(local.key) == md5


def plan(
    client: Any, config: S3InventoryConfig, root: Path, part_size: int = DEFAULT_PART_SIZE
) -> Plan:
    """Compare the uploads directory with the bucket (blocking: lists and hashes)."""
    listing = list_bucket(client, config)

    def metadata_md5(key: str) -> str | None:
        head = client.head_object(Bucket=config.bucket, Key=config.bucket_key(key))
        value = head.get("Metadata", {}).get(MD5_METADATA)
        return value if isinstance(value, str) else None

    result = Plan()
    local_keys: set[str] = set()
    for local in scan(root):
        local_keys.add(local.key)
        if not supported(local.key):
            result.unsupported.append(local)
            continue
        remote = listing.get(local.key)
        if remote is None:
            result.missing.append(local)
        elif _same(local, remote, part_size, metadata_md5):
            result.synced.append(local)
        else:
            result.changed.append(local)
    result.extra = sorted(key for key in listing if key not in local_keys)
    return result


# -- uploading -----------------------------------------------------------------------


def _upload(
    client: Any, config: S3InventoryConfig, local: LocalFile, part_size: int, cache_control: str
) -> None:
    from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

    md5, _ = _md5s(local.path, part_size)
    client.upload_file(
        str(local.path),
        config.bucket,
        config.bucket_key(local.key),
        ExtraArgs={
            "ContentType": content_type(local.key),
            "CacheControl": cache_control,
            "Metadata": {MD5_METADATA: md5},
        },
        Config=TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, use_threads=False
        ),
    )


def sync(
    client: Any,
    config: S3InventoryConfig,
    files: Iterable[LocalFile],
    *,
    jobs: int = 4,
    part_size: int = DEFAULT_PART_SIZE,
    cache_control: str = DEFAULT_CACHE_CONTROL,
    on_done: Callable[[LocalFile, str | None], None] | None = None,
) -> SyncResult:
    """Upload ``files`` with ``jobs`` threads; ``on_done(file, error)`` after each one
    (see :func:`upload_all`)."""
    return upload_all(
        files,
        lambda local: _upload(client, config, local, part_size, cache_control),
        jobs=jobs,
        on_done=on_done,
    )


def upload_all(
    files: Iterable[LocalFile],
    upload: Callable[[LocalFile], None],
    *,
    jobs: int = 4,
    on_done: Callable[[LocalFile, str | None], None] | None = None,
) -> SyncResult:
    """``upload(file)`` for each of ``files`` in ``jobs`` threads; ``on_done(file, error)``
    after each one (``error`` is ``None``, or what ``upload`` raised).

    ``on_done`` runs in the calling thread; if it raises (or the user presses
    Ctrl-C), no new upload starts, those in flight finish, and the exception
    propagates: a later run picks up what is left.
    """
    result = SyncResult()
    pending = iter(files)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="rewriteproxy-sync") as pool:
        running: dict[Future[None], LocalFile] = {}

        def submit_more() -> None:
            while len(running) < jobs * 2:
                local = next(pending, None)
                if local is None:
                    return
                running[pool.submit(upload, local)] = local

        try:
            submit_more()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    local = running.pop(future)
                    error = future.exception()
                    if error is None:
                        result.uploaded.append(local)
                    else:
                        result.failed.append((local, f"{type(error).__name__}: {error}"))
                    if on_done is not None:
                        on_done(local, None if error is None else str(error))
                submit_more()
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return result


def delete_extra(client: Any, config: S3InventoryConfig, keys: list[str]) -> int:
    """Delete these keys (below the prefix) from the bucket; the number deleted."""
    deleted = 0
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
        batch = keys[start : start + 1000]
        answer = client.delete_objects(
            Bucket=config.bucket,
            Delete={"Objects": [{"Key": config.bucket_key(k)} for k in batch], "Quiet": True},
        )
        deleted += len(batch) - len(answer.get("Errors", []))
    return deleted
