"""``rewriteproxy schema``: print the JSON Schema of the config file.

Point an editor's YAML language server at it for completion, help on hover and
validation while typing (the README shows how). The schema is generated from
the same models that validate the file, so it cannot disagree with ``check``.
"""

from __future__ import annotations

import argparse
import json

from rewriteproxy.reference import json_schema

NAME = "schema"
HELP = "print the config file's JSON Schema (for an editor's YAML language server)"

__all__ = ["HELP", "NAME", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the schema is the same for every config."""


def run(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return 0
