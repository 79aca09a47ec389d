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
* ``seaweedfs``: the real path against a real SeaweedFS bucket of
  ``--seaweedfs N`` objects (creating them is slow, so N stays small).

Keys look like WordPress uploads: ``wp-content/uploads/2024/05/photo-123456-1024x768.jpg``.

    python bench/inventory.py                      # pages 100k + 1M, boto3 100k
    python bench/inventory.py --boto3 100000 1000000 --seaweedfs 2000
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
from rewriteproxy.inventory.s3 import list_bucket, make_client

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


# -- seaweedfs: the real path against a real server ----------------------------------------


def bench_seaweedfs(count: int, runs: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.s3server import start_s3_server

    with tempfile.TemporaryDirectory() as tmp, start_s3_server(Path(tmp)) as server:
        bucket = server.new_bucket("bench")
        client = server.client(max_pool_connections=16)
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: client.put_object(Bucket=bucket, Key=key_of(i), Body=b"x"),
                    range(count),
                )
            )
        config = S3InventoryConfig(
            bucket=bucket,
            prefix=PREFIX,
            region=server.region,
            endpoint_url=server.endpoint_url,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key,
        )
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            listing = list_bucket(client, config)
            times.append(time.perf_counter() - started)
            assert len(listing) == count
        return {"seconds": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--boto3", type=int, nargs="*", default=[100_000])
    parser.add_argument("--seaweedfs", type=int, nargs="*", default=[])
    parser.add_argument("--runs", type=int, default=3)
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
        r = bench_seaweedfs(count, args.runs)
        print(
            f"seaweedfs {count:>9,} keys: {r['seconds']:6.2f} s "
            f"({count / r['seconds']:,.0f} keys/s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
