"""What several commands share: the ``--config`` option and loading it with a clear error."""

from __future__ import annotations

import argparse
import sys

from ..config import Config, ConfigError, load_config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", required=True, metavar="FILE", help="the rewriteproxy YAML config file"
    )


def load_or_explain(path: str) -> Config | None:
    """The config, or ``None`` after printing why it is unusable (the caller exits 2)."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"rewriteproxy: invalid config: {exc}", file=sys.stderr)
        return None
