"""``rewriteproxy sync``: upload what the bucket (or Cloudinary) lacks, optionally delete
what a bucket has extra.

The destination is ``inventory.s3`` of the config or, without one, the
Cloudinary account of ``delivery.cloudinary`` (upload delivery, with its
``api_key`` and ``api_secret``). The work is in :mod:`rewriteproxy.offload`
and :mod:`rewriteproxy.offload_cloudinary`. A bucket is finally listed once
more and published as its manifest (``<prefix>.rewriteproxy/manifest``, see
:func:`~rewriteproxy.inventory.s3.publish_manifest`), so proxies learn what
changed with one GET instead of listing. This module parses arguments, draws
a progress bar on stderr and prints a summary. Exit status: 0 done, 1 some
uploads failed, 2 unusable config or directory, 130 interrupted (run it
again to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .. import offload_cloudinary
from ..inventory.cloudinary import CloudinaryInventoryConfig
from ..inventory.s3 import make_client, publish_manifest
from ..offload import (
    DEFAULT_CACHE_CONTROL,
    LocalFile,
    SyncResult,
    delete_extra,
    plan,
    sync,
)
from ._offload import add_target_arguments, load_sync_target

NAME = "sync"
HELP = (
    "upload the WordPress uploads directory to the inventory's S3 bucket "
    "or to Cloudinary (resumable)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="show what would be uploaded or deleted, change nothing",
    )
    parser.add_argument(
        "--delete",
        action="store_true",
        help="also delete bucket objects that no longer exist locally",
    )
    parser.add_argument(
        "--yes", "-y", action="store_true", help="delete without asking (with --delete)"
    )
    parser.add_argument(
        "--no-manifest",
        dest="manifest",
        action="store_false",
        help="do not publish the bucket's manifest (the snapshot proxies read with one GET)",
    )
    parser.add_argument("--jobs", "-j", type=int, default=4, help="parallel uploads (default 4)")
    parser.add_argument(
        "--cache-control",
        default=DEFAULT_CACHE_CONTROL,
        help=f"uploaded objects' Cache-Control (default {DEFAULT_CACHE_CONTROL!r})",
    )


class ProgressBar:
    """``[#####.....] 12/40 files, 3.1/10.2 MB`` on one redrawn line (only on a terminal)."""

    def __init__(self, total_files: int, total_bytes: int, stream: TextIO) -> None:
        self.total_files, self.total_bytes = total_files, total_bytes
        self.files = self.bytes = self.errors = 0
        self._stream = stream
        self._live = stream.isatty()
        self._drawn = 0.0

    def advance(self, local: LocalFile, error: str | None) -> None:
        self.files += 1
        self.bytes += local.size
        if error is not None:
            self.errors += 1
            self._stream.write(f"\rfailed: {local.key}: {error}\n")
        now = time.monotonic()
        if self._live and (now - self._drawn > 0.1 or self.files == self.total_files):
            self._drawn = now
            self._draw()

    def _draw(self) -> None:
        done = self.bytes / self.total_bytes if self.total_bytes else 1.0
        filled = int(done * 30)
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.files}/{self.total_files} files, "
            f"{self.bytes / 1e6:.1f}/{self.total_bytes / 1e6:.1f} MB"
        )
        self._stream.flush()

    def finish(self) -> None:
        if self._live:
            self._stream.write("\n")


def run(args: argparse.Namespace) -> int:
    s3 = load_sync_target(args)
    if s3 is None:
        return 2
    if isinstance(s3, CloudinaryInventoryConfig):
        return _run_cloudinary(args, s3)
    root = Path(args.uploads_dir)
    part_size = args.part_size_mb * 2**20
    client = make_client(s3, max_pool_connections=max(10, args.jobs))
    print(f"comparing {root} with s3://{s3.bucket}/{s3.prefix} ...", file=sys.stderr)
    the_plan = plan(client, s3, root, part_size)
    todo = the_plan.to_upload
    print(
        f"{len(the_plan.synced)} already synced, {len(the_plan.missing)} missing, "
        f"{len(the_plan.changed)} changed, {len(the_plan.unsupported)} unsupported; "
        f"{len(the_plan.extra)} in the bucket only",
        file=sys.stderr,
    )
    if args.dry_run:
        for local in todo:
            print(f"would upload {local.key} ({local.size} bytes)")
        if args.delete:
            for key in the_plan.extra:
                print(f"would delete {key}")
        return 0
    result = _with_bar(
        todo,
        lambda on_done: sync(
            client,
            s3,
            todo,
            jobs=args.jobs,
            part_size=part_size,
            cache_control=args.cache_control,
            on_done=on_done,
        ),
    )
    if result is None:
        return 130
    status = 1 if result.failed else 0
    if args.delete and the_plan.extra:
        if not args.yes and not _confirm(len(the_plan.extra), s3.bucket):
            print("deletion skipped", file=sys.stderr)
        else:
            deleted = delete_extra(client, s3, the_plan.extra)
            print(f"deleted {deleted} objects from the bucket", file=sys.stderr)
    if args.manifest:
        keys = publish_manifest(client, s3)
        print(f"published the manifest of {keys} objects for the proxies", file=sys.stderr)
    return status


def _with_bar(
    todo: list[LocalFile],
    upload: Callable[[Callable[[LocalFile, str | None], None]], SyncResult],
) -> SyncResult | None:
    """Run ``upload(on_done)`` behind the progress bar and print its summary; ``None`` if
    the user interrupted it."""
    bar = ProgressBar(len(todo), sum(f.size for f in todo), sys.stderr)
    started = time.monotonic()
    try:
        result = upload(bar.advance)
    except KeyboardInterrupt:
        bar.finish()
        print(
            f"interrupted after {bar.files} of {len(todo)} files; run again to resume",
            file=sys.stderr,
        )
        return None
    bar.finish()
    seconds = time.monotonic() - started
    print(
        f"uploaded {len(result.uploaded)} files ({result.uploaded_bytes / 1e6:.1f} MB) "
        f"in {seconds:.1f}s; {len(result.failed)} failed",
        file=sys.stderr,
    )
    return result


def _run_cloudinary(args: argparse.Namespace, target: CloudinaryInventoryConfig) -> int:
    account = target.account
    where = f"Cloudinary {account.cloud_name}/{account.folder}"
    if args.delete:
        print(f"rewriteproxy: --delete is not supported for {where}", file=sys.stderr)
        return 2
    root = Path(args.uploads_dir)
    print(f"comparing {root} with {where} ...", file=sys.stderr)
    the_plan = offload_cloudinary.plan(target, root)
    todo = the_plan.to_upload
    print(
        f"{len(the_plan.synced)} already synced, {len(the_plan.missing)} missing, "
        f"{len(the_plan.changed)} changed; {len(the_plan.derived)} sizes delivered from "
        f"their masters, {len(the_plan.local)} kept local, {len(the_plan.clashes)} clashing",
        file=sys.stderr,
    )
    for local, other in the_plan.clashes:
        print(f"clash: {local.key} has the public ID of {other}; it stays local", file=sys.stderr)
    if args.dry_run:
        for local in todo:
            asset = the_plan.assets[local.key]
            print(
                f"would upload {local.key} ({local.size} bytes) as {asset.resource_type} "
                f"{asset.public_id}"
            )
        return 0
    result = _with_bar(
        todo,
        lambda on_done: offload_cloudinary.sync(
            target, the_plan, todo, jobs=args.jobs, on_done=on_done
        ),
    )
    if result is None:
        return 130
    return 1 if result.failed else 0


def _confirm(count: int, bucket: str) -> bool:
    if not sys.stdin.isatty():
        print(
            f"{count} objects exist only in the bucket; pass --yes to delete them", file=sys.stderr
        )
        return False
    answer = input(f"delete {count} objects from {bucket} that no longer exist locally? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
