"""What ``sync`` and ``analyze`` share: the bucket from the config and the uploads directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..inventory.config import S3InventoryConfig
from ..offload import DEFAULT_PART_SIZE


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        required=True,
        metavar="FILE",
        help="the rewriteproxy YAML config file (its inventory.s3 section)",
    )
    parser.add_argument(
        "uploads_dir",
        metavar="UPLOADS_DIR",
        type=Path,
        help="the WordPress uploads directory, e.g. wp-content/uploads",
    )
    parser.add_argument(
        "--part-size-mb",
        type=int,
        default=DEFAULT_PART_SIZE // 2**20,
        help="multipart part size and threshold in MiB (default 8)",
    )


def load_target(args: argparse.Namespace) -> S3InventoryConfig | None:
    """``inventory.s3`` of the config, or ``None`` after saying why it is unusable (exit 2)."""
    from ._common import load_or_explain

    config = load_or_explain(args.config)
    if config is None:
        return None
    s3: S3InventoryConfig | None = config.inventory.s3
    if s3 is None:
        print("rewriteproxy: the config has no inventory.s3 section", file=sys.stderr)
        return None
    if not Path(args.uploads_dir).is_dir():
        print(f"rewriteproxy: {args.uploads_dir} is not a directory", file=sys.stderr)
        return None
    return s3
