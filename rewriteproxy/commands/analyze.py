"""``rewriteproxy analyze``: how far the uploads directory is offloaded, without changing anything.

Counts and bytes of synced, unsynced (missing or changed) and unsupported
files, and of objects only in the bucket; ``--json`` for scripts. The
comparison is :func:`rewriteproxy.offload.plan`. Exit status: 0 all synced,
1 something is unsynced, 2 unusable config or directory.
"""

from __future__ import annotations

import argparse
import json

from ..inventory.s3 import make_client
from ..offload import plan
from ._offload import add_target_arguments, load_target

NAME = "analyze"
HELP = "count the uploads that are synced, unsynced or unsupported in the inventory's S3 bucket"

_ROWS = (
    ("synced", "synced"),
    ("unsynced", "unsynced"),
    ("missing", "  missing from the bucket"),
    ("changed", "  changed since uploaded"),
    ("unsupported", "unsupported (never offloaded)"),
    ("extra", "in the bucket only"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")


def format_summary(summary: dict[str, dict[str, int]]) -> str:
    lines = [f"{'':32} {'files':>10} {'bytes':>16}"]
    for name, label in _ROWS:
        row = summary[name]
        lines.append(f"{label:32} {row['files']:>10} {row['bytes']:>16}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    s3 = load_target(args)
    if s3 is None:
        return 2
    summary = plan(make_client(s3), s3, args.uploads_dir, args.part_size_mb * 2**20).summary()
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 1 if summary["unsynced"]["files"] else 0
