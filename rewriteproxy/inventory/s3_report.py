"""Reading an Amazon S3 Inventory report instead of listing the bucket.

S3 can write a daily (or weekly) list of a bucket's objects into a bucket of
your choice: CSV files, gzipped, described by a ``manifest.json`` under
``<destination prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/``.
For a bucket of millions of objects, reading those files (a few GETs of
compressed text) is far cheaper than millions of keys' worth of
``ListObjectsV2`` calls, and checking whether a new report exists costs one
small listing of the dated folders.

Only what a lookup needs is read: ``Key`` (URL-encoded in the CSV),
``Size``, ``LastModifiedDate`` and ``ETag``; rows that are not the latest
version or are delete markers (reports that include versions) are skipped.
Each data file is checked against its ``MD5checksum`` from the manifest.
Reports in ORC or Parquet are refused with an error that says so.

A report is as old as the day it was made: objects uploaded since are found
by the ``HEAD`` on a miss (``lookup_on_miss``), objects deleted since are
still thought to exist until the next report.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from ..media import FileInfo
from .listing import RESERVED

__all__ = ["Report", "ReportError", "latest_report", "read_report", "report_entries"]

_DATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z/$")


class ReportError(Exception):
    """The report cannot be used (another bucket's, another format, a damaged file)."""


@dataclass(frozen=True, slots=True)
class ReportFile:
    key: str
    md5: str | None


@dataclass(frozen=True, slots=True)
class Report:
    """One ``manifest.json``: when it was made, its columns and its data files."""

    manifest_key: str
    created: str  # creationTimestamp, milliseconds since the epoch as text
    source_bucket: str
    schema: tuple[str, ...]
    files: tuple[ReportFile, ...]


def latest_report(client: Any, bucket: str, prefix: str) -> str | None:
    """The key of the newest ``manifest.json`` below ``prefix``, or ``None`` (blocking)."""
    folders: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", ()):
            name = common["Prefix"]
            if _DATED.search(name):
                folders.append(name)
    if not folders:
        return None
    return max(folders) + "manifest.json"  # the names sort as the times they stand for


def read_report(client: Any, bucket: str, manifest_key: str) -> Report:
    body = client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read()
    try:
        manifest = json.loads(body)
        fmt = manifest.get("fileFormat", "")
        schema = tuple(column.strip() for column in manifest["fileSchema"].split(","))
        files = tuple(
            ReportFile(item["key"], item.get("MD5checksum")) for item in manifest["files"]
        )
        created = str(manifest["creationTimestamp"])
        source = str(manifest["sourceBucket"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReportError(f"{manifest_key} is not an S3 Inventory manifest: {exc}") from exc
    if fmt != "CSV":
        raise ReportError(f"{manifest_key}: {fmt!r} reports are not supported, only CSV")
    if "Key" not in schema:
        raise ReportError(f"{manifest_key}: the report has no Key column")
    return Report(manifest_key, created, source, schema, files)


def report_entries(
    client: Any,
    bucket: str,
    report: Report,
    source_prefix: str,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[tuple[str, FileInfo]]:
    """Every object of ``report`` below ``source_prefix`` as ``(key, facts)``, in no order."""
    column = {name: index for index, name in enumerate(report.schema)}
    key_at = column["Key"]
    size_at, modified_at, etag_at = (column.get(n) for n in ("Size", "LastModifiedDate", "ETag"))
    latest_at, marker_at = column.get("IsLatest"), column.get("IsDeleteMarker")
    cut = len(source_prefix)
    for item in report.files:
        if cancelled is not None and cancelled():
            return
        body = client.get_object(Bucket=bucket, Key=item.key)["Body"]
        checked = _Md5Reader(body)
        buffered = io.BufferedReader(checked, 1 << 20)
        raw: Any = gzip.GzipFile(fileobj=buffered) if item.key.endswith(".gz") else buffered
        text = codecs.getreader("utf-8")(raw)
        for row in csv.reader(text):
            if len(row) <= key_at:
                continue
            if latest_at is not None and row[latest_at] != "true":
                continue
            if marker_at is not None and row[marker_at] == "true":
                continue
            name = unquote_plus(row[key_at])
            if not name.startswith(source_prefix) or name.endswith("/"):
                continue
            key = name[cut:]
            if key.startswith(RESERVED):
                continue
            yield (
                key,
                FileInfo(
                    size=_int(row, size_at),
                    mtime=_mtime(row, modified_at),
                    etag=(row[etag_at].strip('"') or None) if etag_at is not None else None,
                ),
            )
        checked.drain()
        if item.md5 and checked.hexdigest() != item.md5:
            raise ReportError(f"{item.key} does not match its MD5checksum in the manifest")


def _int(row: list[str], at: int | None) -> int | None:
    if at is None or not row[at]:
        return None
    try:
        return int(row[at])
    except ValueError:
        return None


def _mtime(row: list[str], at: int | None) -> float | None:
    if at is None or not row[at]:
        return None
    try:
        return float(int(datetime.fromisoformat(row[at]).timestamp()))
    except ValueError:
        return None


class _Md5Reader(io.RawIOBase):
    """A readable stream over a botocore body that hashes what passes through."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._md5 = hashlib.md5()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        self._md5.update(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read (and hash) whatever the parser left, so the checksum covers the whole file."""
        while data := self._body.read(1 << 20):
            self._md5.update(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()
