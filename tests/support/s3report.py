"""Writing an S3 Inventory report the way Amazon S3 lays one out, into any S3 server.

SeaweedFS does not produce inventory reports, so tests and ``bench/inventory.py``
write one themselves in the documented format: gzipped CSV data files under
``<prefix>data/`` and ``<prefix><YYYY-MM-DDTHH-MMZ>/manifest.json`` naming
them with their MD5 and the column schema. Keys are URL-encoded in the CSV
(spaces as ``+``), as S3 writes them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

__all__ = ["SCHEMA", "Row", "write_report"]

SCHEMA = ("Bucket", "Key", "Size", "LastModifiedDate", "ETag", "StorageClass")

Row = tuple[str, int, datetime, str]
"""(object key, size, last modified, ETag)."""


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_report(
    client: Any,
    bucket: str,
    prefix: str,
    source_bucket: str,
    rows: Iterable[Row],
    *,
    when: datetime,
    rows_per_file: int = 1_000_000,
    schema: tuple[str, ...] = SCHEMA,
    file_format: str = "CSV",
) -> str:
    """Upload a report of ``rows`` below ``prefix``; returns its manifest key."""
    files = []
    for chunk in _chunks(rows, rows_per_file):
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as gz:
            text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
            writer = csv.writer(text, quoting=csv.QUOTE_ALL)
            for key, size, modified, etag in chunk:
                values = {
                    "Bucket": source_bucket,
                    "Key": quote_plus(key, safe="/"),
                    "Size": str(size),
                    "LastModifiedDate": modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "ETag": etag,
                    "StorageClass": "STANDARD",
                    "IsLatest": "true",
                    "IsDeleteMarker": "false",
                    "VersionId": "",
                }
                writer.writerow([values[column] for column in schema])
            text.flush()
            text.detach()
        data = out.getvalue()
        key = f"{prefix}data/{uuid.uuid4()}.csv.gz"
        client.put_object(Bucket=bucket, Key=key, Body=data)
        files.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
    manifest = {
        "sourceBucket": source_bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "creationTimestamp": str(int(when.timestamp() * 1000)),
        "fileFormat": file_format,
        "fileSchema": ", ".join(schema),
        "files": files,
    }
    folder = when.astimezone(UTC).strftime("%Y-%m-%dT%H-%MZ")
    manifest_key = f"{prefix}{folder}/manifest.json"
    body = json.dumps(manifest).encode()
    client.put_object(Bucket=bucket, Key=manifest_key, Body=body)
    client.put_object(
        Bucket=bucket,
        Key=f"{prefix}{folder}/manifest.checksum",
        Body=hashlib.md5(body).hexdigest().encode(),
    )
    return manifest_key
