"""An S3 Inventory report as the snapshot's source, read from a real S3 server (SeaweedFS).

The report is written here in Amazon's documented layout
(:mod:`tests.support.s3report`); the proxy finds the newest one, reads its
CSV files and answers from the snapshot without listing the bucket.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rewriteproxy.delivery.versioning import version_token
from rewriteproxy.inventory import S3Inventory
from rewriteproxy.inventory.config import ReportConfig
from rewriteproxy.inventory.s3 import s3_identity
from rewriteproxy.inventory.s3_report import latest_report, read_report, report_entries
from rewriteproxy.inventory.shared import SnapshotStore
from rewriteproxy.media import FileInfo
from tests.inventory.test_s3 import PREFIX, settings
from tests.support.s3report import write_report
from tests.support.s3server import S3Server

pytestmark = pytest.mark.s3

WHEN = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
REPORTS = "inventory/media/daily/"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def rows(keys: list[str], bucket_prefix: str = PREFIX) -> list[tuple[str, int, datetime, str]]:
    return [(bucket_prefix + key, 100 + i, WHEN, md5(key)) for i, key in enumerate(keys)]


KEYS = ["2024/05/a.jpg", "2024/05/with space+plus.jpg", "2024/05/é.png", "2024/06/b-300x200.jpg"]


@pytest.fixture
def buckets(s3_server: S3Server) -> tuple[str, str]:
    return s3_server.new_bucket("media"), s3_server.new_bucket("reports")


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[S3Inventory] = []

    async def start(config: Any) -> S3Inventory:
        inventory = S3Inventory(config, store=SnapshotStore(tmp_path, s3_identity(config)))
        made.append(inventory)
        await inventory.start()
        return inventory

    yield start
    for inventory in made:
        await inventory.close()


def test_the_newest_report_is_found_and_read(s3_server: S3Server, buckets: tuple[str, str]) -> None:
    media, reports = buckets
    client = s3_server.client()
    assert latest_report(client, reports, REPORTS) is None
    write_report(client, reports, REPORTS, media, rows(KEYS[:1]), when=WHEN - timedelta(days=1))
    newest = write_report(client, reports, REPORTS, media, rows(KEYS), when=WHEN, rows_per_file=3)
    assert latest_report(client, reports, REPORTS) == newest
    report = read_report(client, reports, newest)
    assert (report.source_bucket, len(report.files)) == (media, 2)
    got = dict(report_entries(client, reports, report, PREFIX))
    assert sorted(got) == sorted(KEYS)  # URL-encoded keys decoded, spaces and plus kept apart
    assert got["2024/05/a.jpg"] == FileInfo(
        size=100, mtime=WHEN.timestamp(), etag=md5("2024/05/a.jpg")
    )


def test_old_versions_and_delete_markers_are_not_objects(
    s3_server: S3Server, buckets: tuple[str, str]
) -> None:
    media, reports = buckets
    client = s3_server.client()
    schema = (
        "Bucket",
        "Key",
        "VersionId",
        "IsLatest",
        "IsDeleteMarker",
        "Size",
        "LastModifiedDate",
        "ETag",
    )
    key = write_report(client, reports, REPORTS, media, rows(KEYS), when=WHEN, schema=schema)
    report = read_report(client, reports, key)
    assert len(dict(report_entries(client, reports, report, PREFIX))) == len(KEYS)
    # Turn one row into an old version and one into a delete marker, as a versioned report has.
    data_key = report.files[0].key
    body = gzip.decompress(client.get_object(Bucket=reports, Key=data_key)["Body"].read())
    lines = body.decode().splitlines()
    lines[0] = lines[0].replace('"true","false"', '"false","false"')
    lines[1] = lines[1].replace('"true","false"', '"true","true"')
    changed = gzip.compress(("\n".join(lines) + "\n").encode())
    client.put_object(Bucket=reports, Key=data_key, Body=changed)
    report = dataclasses.replace(report, files=(dataclasses.replace(report.files[0], md5=None),))
    assert len(dict(report_entries(client, reports, report, PREFIX))) == len(KEYS) - 2


async def test_the_inventory_answers_from_the_report_without_listing(
    s3_server: S3Server, buckets: tuple[str, str], started: Any
) -> None:
    media, reports = buckets
    client = s3_server.client()
    write_report(client, reports, REPORTS, media, rows(KEYS), when=WHEN)
    config = settings(s3_server, media, report=ReportConfig(prefix=REPORTS, bucket=reports))
    inventory = await started(config)
    stats = inventory.snapshot_stats()
    assert (stats["lists"], stats["served_from"], stats["keys"]) == (0, "report", 4)
    info = inventory.lookup("2024/05/with space+plus.jpg")
    assert version_token(info) == version_token(FileInfo(etag=md5("2024/05/with space+plus.jpg")))
    # The same report again: nothing is read but the folder listing.
    assert await inventory.refresh()
    assert inventory.snapshot_stats()["unchanged_refreshes"] == 1
    # Tomorrow's report replaces it.
    write_report(client, reports, REPORTS, media, rows(KEYS[:2]), when=WHEN + timedelta(days=1))
    assert await inventory.refresh()
    assert inventory.snapshot_stats()["keys"] == 2
    assert inventory.lookup("2024/06/b-300x200.jpg") is None


async def test_until_s3_writes_a_report_the_bucket_is_listed(
    s3_server: S3Server, buckets: tuple[str, str], started: Any
) -> None:
    media, reports = buckets
    s3_server.client().put_object(Bucket=media, Key=PREFIX + "x.jpg", Body=b"x")
    config = settings(s3_server, media, report=ReportConfig(prefix=REPORTS, bucket=reports))
    inventory = await started(config)
    assert (inventory.snapshot_stats()["lists"], inventory.snapshot_stats()["keys"]) == (1, 1)


@pytest.mark.parametrize(
    ("damage", "message"),
    [("checksum", "MD5checksum"), ("format", "ORC"), ("bucket", "report of bucket")],
)
async def test_an_unusable_report_is_an_error_and_nothing_is_served_from_it(
    s3_server: S3Server, buckets: tuple[str, str], started: Any, damage: str, message: str
) -> None:
    media, reports = buckets
    client = s3_server.client()
    key = write_report(
        client,
        reports,
        REPORTS,
        "another-bucket" if damage == "bucket" else media,
        rows(KEYS),
        when=WHEN,
        file_format="ORC" if damage == "format" else "CSV",
    )
    if damage == "checksum":
        data_key = read_report(client, reports, key).files[0].key
        forged = f'"{media}","{PREFIX}forged.jpg","1","2026-05-01T01:00:00.000Z","x","STANDARD"\n'
        client.put_object(Bucket=reports, Key=data_key, Body=gzip.compress(forged.encode()))
    config = settings(s3_server, media, report=ReportConfig(prefix=REPORTS, bucket=reports))
    inventory = await started(config.model_copy(update={"startup_wait_seconds": 5}))
    stats = inventory.snapshot_stats()
    assert not inventory.ready and stats["keys"] == 0
    assert message in stats["last_error"]
