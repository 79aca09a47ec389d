"""What ``sync`` and ``analyze`` share: where to offload to, from the config, and the uploads
directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Config
from ..delivery.cloudinary import CloudinaryConfig
from ..inventory.cloudinary import CloudinaryInventoryConfig, SdkMissing, require_sdk
from ..inventory.config import S3InventoryConfig
from ..offload import DEFAULT_PART_SIZE


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        required=True,
        metavar="FILE",
        help="the rewriteproxy YAML config file (its inventory.s3 or delivery.cloudinary)",
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
    target = _load(args, cloudinary=False)
    return target if isinstance(target, S3InventoryConfig) else None


def load_sync_target(
    args: argparse.Namespace,
) -> S3InventoryConfig | CloudinaryInventoryConfig | None:
    """``inventory.s3`` of the config or, without one, the Cloudinary account that
    ``delivery.cloudinary`` names; ``None`` after saying why neither is usable (exit 2)."""
    return _load(args, cloudinary=True)


def _load(
    args: argparse.Namespace, *, cloudinary: bool
) -> S3InventoryConfig | CloudinaryInventoryConfig | None:
    from ._common import load_or_explain

    config = load_or_explain(args.config)
    if config is None:
        return None
    target: S3InventoryConfig | CloudinaryInventoryConfig | None = config.inventory.s3
    if target is None and cloudinary and config.delivery.provider == "cloudinary":
        target = _cloudinary_target(config)
        if target is None:
            return None
    if target is None:
        print("rewriteproxy: the config has no inventory.s3 section", file=sys.stderr)
        return None
    if not Path(args.uploads_dir).is_dir():
        print(f"rewriteproxy: {args.uploads_dir} is not a directory", file=sys.stderr)
        return None
    return target


def _cloudinary_target(config: Config) -> CloudinaryInventoryConfig | None:
    """``inventory.cloudinary``, or the delivery's account with the listing defaults."""
    if config.inventory.cloudinary is not None:
        found: CloudinaryInventoryConfig = config.inventory.cloudinary
        return found
    account = config.delivery.settings
    if not isinstance(account, CloudinaryConfig):  # the caller asks only for provider cloudinary
        return None
    if account.delivery_type != "upload":
        print(
            "rewriteproxy: delivery.cloudinary.delivery_type is fetch: Cloudinary fetches "
            "from the origin, there is nothing to upload",
            file=sys.stderr,
        )
        return None
    if not account.has_api_credentials:
        print(
            "rewriteproxy: uploading to Cloudinary needs delivery.cloudinary.api_key "
            "and api_secret",
            file=sys.stderr,
        )
        return None
    try:
        require_sdk()
    except SdkMissing as exc:
        print(f"rewriteproxy: {exc}", file=sys.stderr)
        return None
    return CloudinaryInventoryConfig(account=account)
