"""Delivery URL builds per second, cold (cache off) and cached, for every provider.

Cold builds run with ``cache_size: 0`` over a corpus of distinct upload
paths (WordPress sub-sizes, scaled images, unicode and spaces, videos, PDFs);
cached builds repeat the same corpus through a warm cache, as a page full of
repeated thumbnails does. Each figure is the median of several rounds.
For comparison, the last line times Cloudinary's Python SDK
(``cloudinary.utils.cloudinary_url``) on the same public IDs, when installed.

    python bench/urls.py [--rounds 7] [--count 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewriteproxy.delivery import DeliveryConfig, SiteContext, build_delivery
from rewriteproxy.media import FileInfo, UploadRef

SITE = SiteContext(("wp.test",), "/wp-content/uploads/", "https://wp.test")
SETUPS: dict[str, dict[str, Any]] = {
    "cdn": {"provider": "cdn", "cdn": {"base_url": "https://cdn.example.net/wp-content/uploads/"}},
    "s3": {"provider": "s3", "s3": {"bucket": "media", "region": "eu-west-3"}},
    "cloudinary": {"provider": "cloudinary", "cloudinary": {"cloud_name": "demo", "folder": "wp"}},
    "cloudinary-signed": {
        "provider": "cloudinary",
        "cloudinary": {
            "cloud_name": "demo",
            "folder": "wp",
            "sign_urls": True,
            "api_secret": "bench-secret",
            "seo_suffix": True,
        },
    },
    "cloudinary-fetch": {
        "provider": "cloudinary",
        "cloudinary": {"cloud_name": "demo", "delivery_type": "fetch"},
    },
}
NAMES = (
    "photo-{i}.jpg",
    "photo-{i}-300x200.jpg",
    "photo-{i}-scaled.jpg",
    "caf%C3%A9 {i}-1024x683.png",
    "clip-{i}.mp4",
    "anim-{i}-150x150.gif",
    "doc-{i}.pdf",
)


def corpus(count: int) -> list[tuple[UploadRef, FileInfo | None]]:
    items = []
    for i in range(count):
        path = f"2024/{i % 12 + 1:02d}/" + NAMES[i % len(NAMES)].format(i=i)
        info = FileInfo(size=i, mtime=1_700_000_000.0 + i) if i % 2 else None
        items.append((UploadRef("/wp-content/uploads/" + path, path), info))
    return items


def rate(run: Callable[[], int], rounds: int) -> float:
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = run()
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_provider(
    settings: dict[str, Any], items: list[tuple[UploadRef, FileInfo | None]], rounds: int
) -> tuple[float, float]:
    site = {"site": SITE}
    cold = build_delivery(
        DeliveryConfig.model_validate({**settings, "cache_size": 0}, context=site)
    )
    warm = build_delivery(
        DeliveryConfig.model_validate({**settings, "cache_size": len(items)}, context=site)
    )

    def cold_pass() -> int:
        for ref, info in items:
            cold.url_for(ref, info)
        return len(items)

    def warm_pass() -> int:
        for ref, info in items:
            warm.url_for(ref, info)
        return len(items)

    warm_pass()  # fill the cache
    return rate(cold_pass, rounds), rate(warm_pass, rounds)


def bench_sdk(count: int, rounds: int) -> float | None:
    try:
        from cloudinary.utils import cloudinary_url
    except ImportError:
        return None
    ids = [f"wp/2024/05/photo-{i}" for i in range(count)]

    def sdk_pass() -> int:
        for public_id in ids:
            cloudinary_url(
                public_id,
                cloud_name="demo",
                secure=True,
                format="jpg",
                transformation=[{"fetch_format": "auto", "quality": "auto"}],
            )
        return len(ids)

    return rate(sdk_pass, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    items = corpus(args.count)
    print(
        f"{'provider':<20}{'cold builds/s':>16}{'cached builds/s':>18}"
        f"   (median of {args.rounds} rounds, {args.count} URLs)"
    )
    for name, settings in SETUPS.items():
        cold, cached = bench_provider(settings, items, args.rounds)
        print(f"{name:<20}{cold:>16,.0f}{cached:>18,.0f}")
    sdk = bench_sdk(args.count, args.rounds)
    if sdk is not None:
        print(f"{'cloudinary SDK':<20}{sdk:>16,.0f}{'':>18}   (reference: the SDK itself)")


if __name__ == "__main__":
    main()
