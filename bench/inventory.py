"""Inventory load time and memory for large buckets.

Three measurements, each printed as a median over ``--runs``:

* ``pages``: synthetic ``list_objects_v2`` pages (boto3-shaped dicts, 1000
  keys each, built one page at a time) fed through
  :class:`rewriteproxy.inventory.listing.ListingBuilder`. Time counts only our
  parsing and packing; memory is what the finished listing retains
  (tracemalloc) and the process RSS growth.
* ``boto3``: the real path, :func:`rewriteproxy.inventory.s3.list_bucket`
  with a boto3 client, against a stand-in ListObjectsV2 endpoint on loopback
  that renders the same synthetic keys as XML in a separate process. Time
  includes HTTP, boto3's XML parsing and ours.
* ``seaweedfs``: a real SeaweedFS bucket of ``--seaweedfs N`` objects:
  listed into each worker's memory (the reference path); listed once into the
  machine's shared snapshot (what the elected worker does); the manifest
  ``sync`` publishes, written and then read with one GET; and a worker that
  maps the snapshot: map time, lookups per second, RSS growth.
* ``report``: an S3 Inventory report of ``--report N`` rows (gzipped CSV in
  Amazon's layout, generated and put into SeaweedFS) read into the shared
  snapshot, then the same worker measurements.

Each snapshot measurement runs in a fresh process (``spawn``), so its RSS
growth and peak are its own. Keys look like WordPress uploads:
``wp-content/uploads/2024/05/photo-123456-1024x768.jpg``.

    python bench/inventory.py                      # pages 100k + 1M, boto3 100k
    python bench/inventory.py --pages --boto3 --seaweedfs 1000000 --report 10000000 --runs 3
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import multiprocessing
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rewriteproxy.inventory.config import S3InventoryConfig
from rewriteproxy.inventory.listing import Listing, ListingBuilder
from rewriteproxy.inventory.s3 import (
    bucket_entries,
    fetch_manifest,
    list_bucket,
    make_client,
    publish_manifest,
    s3_identity,
)
from rewriteproxy.inventory.s3_report import latest_report, read_report, report_entries
from rewriteproxy.inventory.shared import SnapshotStore

PREFIX = "wp-content/uploads/"
PAGE = 1000
SIZES = ("", "-150x150", "-300x200", "-768x512", "-1024x683")
WHEN = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def key_of(i: int) -> str:
    year, month = 2010 + (i // 120_000) % 15, 1 + (i // 10_000) % 12
    return f"{PREFIX}{year}/{month:02}/photo-{i // 5}{SIZES[i % 5]}.jpg"


def etag_of(i: int) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


def synthetic_pages(count: int) -> Iterator[dict[str, Any]]:
    for start in range(0, count, PAGE):
        yield {
            "Contents": [
                {
                    "Key": key_of(i),
                    "LastModified": WHEN,
                    "ETag": f'"{etag_of(i)}"',
                    "Size": 1000 + i,
                    "StorageClass": "STANDARD",
                }
                for i in range(start, min(count, start + PAGE))
            ],
            "IsTruncated": start + PAGE < count,
        }


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


# -- pages: our parsing only -------------------------------------------------------


def load_pages(count: int) -> tuple[Listing, float]:
    builder = ListingBuilder(PREFIX)
    spent = 0.0
    for page in synthetic_pages(count):
        started = time.perf_counter()
        builder.add_page(page)
        spent += time.perf_counter() - started
    return builder.build(), spent


def bench_pages(count: int, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        gc.collect()
        listing, spent = load_pages(count)
        times.append(spent)
        del listing
    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    listing, _ = load_pages(count)
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    rss_growth = rss_bytes() - rss_before
    assert len(listing) == count
    sample = [key_of(i)[len(PREFIX) :] for i in range(0, count, max(1, count // 100_000))]
    get = listing.get
    started = time.perf_counter()
    for key in sample:
        get(key)
    lookup_us = (time.perf_counter() - started) / len(sample) * 1e6
    return {
        "seconds": statistics.median(times),
        "retained_mb": retained / 1e6,
        "bytes_per_key": retained / count,
        "rss_growth_mb": rss_growth / 1e6,
        "lookup_us": lookup_us,
    }


# -- boto3: the real client against a stand-in ListObjectsV2 endpoint ------------------


def _xml_page(count: int, start: int) -> bytes:
    end = min(count, start + PAGE)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>bench</Name><Prefix>{PREFIX}</Prefix><KeyCount>{end - start}</KeyCount>"
        f"<MaxKeys>{PAGE}</MaxKeys><IsTruncated>{'true' if end < count else 'false'}"
        "</IsTruncated>"
    ]
    for i in range(start, end):
        parts.append(
            f"<Contents><Key>{key_of(i)}</Key>"
            "<LastModified>2024-05-01T12:00:00.000Z</LastModified>"
            f"<ETag>&quot;{etag_of(i)}&quot;</ETag><Size>{1000 + i}</Size>"
            "<StorageClass>STANDARD</StorageClass></Contents>"
        )
    if end < count:
        parts.append(f"<NextContinuationToken>{end}</NextContinuationToken>")
    parts.append("</ListBucketResult>")
    return "".join(parts).encode()


def _serve(count: int, ready: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            start = int(query.get("continuation-token", ["0"])[0])
            body = _xml_page(count, start)
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.put(server.server_address[1])
    server.serve_forever()


def bench_boto3(count: int, runs: int) -> dict[str, float]:
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(count, queue), daemon=True)
    process.start()
    try:
        port = queue.get(timeout=10)
        config = S3InventoryConfig(
            bucket="bench",
            prefix=PREFIX,
            region="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            access_key_id="bench",
            secret_access_key="bench",
        )
        client = make_client(config)
        times = []
        for _ in range(runs):
            gc.collect()
            started = time.perf_counter()
            listing = list_bucket(client, config)
            times.append(time.perf_counter() - started)
            assert len(listing) == count, len(listing)
            del listing
        return {"seconds": statistics.median(times)}
    finally:
        process.terminate()
        process.join(5)


# -- seaweedfs and report: the shared snapshot against a real server ---------------------


def rss_parts() -> dict[str, int]:
    """RssAnon (this process's own memory) and RssFile (mapped files, shared) in bytes."""
    parts = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile", "VmHWM"):
                parts[name] = int(value.split()[0]) * 1024
    return parts


def in_fresh_process(function: Any, *args: Any) -> dict[str, float]:
    """``function(*args)`` in a spawned interpreter: its memory figures are its own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)  # type: ignore[no-any-return]


def s3_config(server: Any, bucket: str) -> S3InventoryConfig:
    return S3InventoryConfig(
        bucket=bucket,
        prefix=PREFIX,
        region=server["region"],
        endpoint_url=server["endpoint_url"],
        access_key_id=server["access_key_id"],
        secret_access_key=server["secret_access_key"],
        read_timeout=300,
    )


def _server_facts(server: Any) -> dict[str, str]:
    return {
        "region": server.region,
        "endpoint_url": server.endpoint_url,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
    }


def lead_by_listing(server: dict[str, str], bucket: str, directory: str) -> dict[str, float]:
    """The elected worker's refresh: list the bucket straight into the shared snapshot."""
    config = s3_config(server, bucket)
    client = make_client(config)
    store = SnapshotStore(directory, s3_identity(config))
    store.prepare()
    before = rss_parts()
    started = time.perf_counter()
    snapshot = store.publish(bucket_entries(client, config), ordered=True)
    seconds = time.perf_counter() - started
    after = rss_parts()
    return {
        "seconds": seconds,
        "keys": len(snapshot),
        "bytes": snapshot.nbytes,
        "peak_growth": after["VmHWM"] - before["RssAnon"] - before["RssFile"],
    }


def lead_by_report(
    server: dict[str, str], bucket: str, reports: str, directory: str
) -> dict[str, float]:
    """The elected worker's refresh from an S3 Inventory report (sorted in runs)."""
    config = s3_config(server, bucket)
    client = make_client(config)
    store = SnapshotStore(directory, s3_identity(config))
    store.prepare()
    before = rss_parts()
    started = time.perf_counter()
    key = latest_report(client, reports, REPORTS)
    assert key is not None
    report = read_report(client, reports, key)
    snapshot = store.publish(report_entries(client, reports, report, PREFIX))
    seconds = time.perf_counter() - started
    after = rss_parts()
    return {
        "seconds": seconds,
        "keys": len(snapshot),
        "bytes": snapshot.nbytes,
        "peak_growth": after["VmHWM"] - before["RssAnon"] - before["RssFile"],
    }


def read_manifest(server: dict[str, str], bucket: str, directory: str) -> dict[str, float]:
    """A proxy that finds the manifest ``sync`` published: one GET, checked, put in place."""
    config = s3_config(server, bucket)
    client = make_client(config)
    store = SnapshotStore(directory, s3_identity(config))
    store.prepare()
    started = time.perf_counter()
    got = fetch_manifest(client, config, store, None)
    seconds = time.perf_counter() - started
    assert got.snapshot is not None
    again = time.perf_counter()
    unchanged = fetch_manifest(client, config, store, got.etag)
    assert unchanged.unchanged
    return {"seconds": seconds, "unchanged_seconds": time.perf_counter() - again}


def follow(directory: str, bucket: str, count: int, lookups: int) -> dict[str, float]:
    """A worker that maps the snapshot: map time, lookups per second, RSS growth."""
    import functools
    import random

    store = SnapshotStore(directory, {"source": "s3", "bucket": bucket, "prefix": PREFIX})
    chooser = random.Random(1)
    present = [key_of(chooser.randrange(count))[len(PREFIX) :] for _ in range(lookups)]
    absent = [key[:-4] + "-x.jpg" for key in present]
    popular = present[:10_000]
    views = [popular[chooser.randrange(len(popular))] for _ in range(lookups)]
    gc.collect()
    before = rss_parts()  # the key lists above are the benchmark's, not the worker's
    started = time.perf_counter()
    snapshot = store.load()
    map_seconds = time.perf_counter() - started
    assert snapshot is not None and len(snapshot) == count
    get = snapshot.get
    started = time.perf_counter()
    found = sum(get(key) is not None for key in present)
    hit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    missing = sum(get(key) is None for key in absent)
    miss_seconds = time.perf_counter() - started
    assert found == missing == lookups
    after = rss_parts()
    # Pages ask for the same images again: 10,000 popular keys through the bounded memo.
    cached = functools.lru_cache(maxsize=100_000)(get)
    for key in popular:
        cached(key)
    started = time.perf_counter()
    for key in views:
        cached(key)
    cached_seconds = time.perf_counter() - started
    return {
        "map_seconds": map_seconds,
        "hits_per_s": lookups / hit_seconds,
        "misses_per_s": lookups / miss_seconds,
        "cached_per_s": lookups / cached_seconds,
        "anon_growth": after["RssAnon"] - before["RssAnon"],
        "file_growth": after["RssFile"] - before["RssFile"],
    }


def fill_bucket(server: Any, bucket: str, count: int) -> float:
    """Put ``count`` small objects through the filer's HTTP API (no S3 signing: setup only)."""
    import asyncio

    import aiohttp

    async def fill() -> None:
        limit = asyncio.Semaphore(64)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

            async def put(i: int) -> None:
                async with (
                    limit,
                    session.put(
                        f"{server.filer_url}/buckets/{bucket}/{key_of(i)}", data=str(i).encode()
                    ) as response,
                ):
                    assert response.status in (200, 201), response.status

            for start in range(0, count, 10_000):
                await asyncio.gather(*(put(i) for i in range(start, min(count, start + 10_000))))

    started = time.perf_counter()
    asyncio.run(fill())
    return time.perf_counter() - started


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(r[name] for r in results) for name in results[0]}


def bench_seaweedfs(count: int, runs: int, list_runs: int) -> None:
    from tests.support.s3server import start_s3_server

    # Small objects kept in the filer's own store: a million PUTs in minutes, not an hour.
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_s3_server(Path(tmp), ("-filer.saveToFilerLimit=64",)) as server,
    ):
        bucket = server.new_bucket("bench")
        filled = fill_bucket(server, bucket, count)
        print(
            f"seaweedfs {count:>10,} objects put in {filled:.0f} s (setup, not a result)",
            flush=True,
        )
        facts = _server_facts(server)
        config = s3_config(facts, bucket)
        client = make_client(config)
        times = []
        for _ in range(list_runs):
            started = time.perf_counter()
            listing = list_bucket(client, config)
            times.append(time.perf_counter() - started)
            assert len(listing) == count
            del listing
        print(
            f"  memory listing (each worker, reference): {statistics.median(times):7.1f} s",
            flush=True,
        )
        leads = []
        for run in range(list_runs):
            leads.append(in_fresh_process(lead_by_listing, facts, bucket, f"{tmp}/state{run}"))
        lead = _median(leads)
        print(
            f"  shared snapshot, listed once per machine: {lead['seconds']:7.1f} s, "
            f"{lead['bytes'] / count:.1f} B/key on disk, leader peak RSS "
            f"+{lead['peak_growth'] / 1e6:.0f} MB",
            flush=True,
        )
        started = time.perf_counter()
        publish_manifest(client, config)
        published = time.perf_counter() - started
        reads = [
            in_fresh_process(read_manifest, facts, bucket, f"{tmp}/m{run}") for run in range(runs)
        ]
        read = _median(reads)
        print(
            f"  manifest: sync publishes it in {published:.1f} s; a proxy reads it with one GET "
            f"in {read['seconds']:.2f} s, an unchanged one (304) in "
            f"{read['unchanged_seconds'] * 1000:.1f} ms",
            flush=True,
        )
        report_follow(f"{tmp}/state0", bucket, count, runs)


REPORTS = "inventory/bench/daily/"


def generated_rows(count: int) -> Iterator[tuple[str, int, datetime, str]]:
    for i in range(count):
        yield key_of(i), 1000 + i, WHEN, etag_of(i)


def bench_report(count: int, runs: int) -> None:
    from tests.support.s3report import write_report
    from tests.support.s3server import start_s3_server

    with tempfile.TemporaryDirectory() as tmp, start_s3_server(Path(tmp)) as server:
        bucket, reports = server.new_bucket("bench"), server.new_bucket("reports")
        started = time.perf_counter()
        write_report(server.client(), reports, REPORTS, bucket, generated_rows(count), when=WHEN)
        print(
            f"report    {count:>10,} rows generated and put in "
            f"{time.perf_counter() - started:.0f} s (setup, not a result)",
            flush=True,
        )
        facts = _server_facts(server)
        leads = [
            in_fresh_process(lead_by_report, facts, bucket, reports, f"{tmp}/state{run}")
            for run in range(runs)
        ]
        lead = _median(leads)
        print(
            f"  shared snapshot from the report: {lead['seconds']:7.1f} s, "
            f"{lead['bytes'] / count:.1f} B/key on disk, leader peak RSS "
            f"+{lead['peak_growth'] / 1e6:.0f} MB",
            flush=True,
        )
        report_follow(f"{tmp}/state0", bucket, count, runs)


def report_follow(directory: str, bucket: str, count: int, runs: int) -> None:
    follows = [in_fresh_process(follow, directory, bucket, count, 200_000) for _ in range(runs)]
    f = _median(follows)
    print(
        f"  a worker maps it in {f['map_seconds'] * 1000:.0f} ms; lookups/s: "
        f"{f['hits_per_s']:,.0f} found, {f['misses_per_s']:,.0f} missing, "
        f"{f['cached_per_s']:,.0f} through the memo; after 400k lookups RSS +"
        f"{f['anon_growth'] / 1e6:.1f} MB own, +{f['file_growth'] / 1e6:.0f} MB of shared "
        "file pages",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--boto3", type=int, nargs="*", default=[100_000])
    parser.add_argument("--seaweedfs", type=int, nargs="*", default=[])
    parser.add_argument("--report", type=int, nargs="*", default=[])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--list-runs",
        type=int,
        default=None,
        help="runs of the SeaweedFS listings, which take minutes at 1M keys (default: --runs)",
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, median of {args.runs} runs")
    for count in args.pages:
        r = bench_pages(count, args.runs)
        print(
            f"pages     {count:>9,} keys: {r['seconds']:6.2f} s, listing retains "
            f"{r['retained_mb']:7.1f} MB ({r['bytes_per_key']:.0f} B/key), RSS +"
            f"{r['rss_growth_mb']:.0f} MB, lookup {r['lookup_us']:.2f} us",
            flush=True,
        )
    for count in args.boto3:
        r = bench_boto3(count, args.runs)
        print(
            f"boto3     {count:>9,} keys: {r['seconds']:6.2f} s "
            f"({count / r['seconds']:,.0f} keys/s, stand-in endpoint)",
            flush=True,
        )
    for count in args.seaweedfs:
        bench_seaweedfs(count, args.runs, args.list_runs or args.runs)
    for count in args.report:
        bench_report(count, args.runs)


if __name__ == "__main__":
    main()
