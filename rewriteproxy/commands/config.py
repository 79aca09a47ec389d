"""``rewriteproxy config --example [cdn|s3|cloudinary]``: print a commented starting file.

The file loads as it is (the tests load each one); its comments are the keys'
help text from the config models, and every key it leaves out has a default
(docs/reference.md lists them all).
"""

from __future__ import annotations

import argparse

from rewriteproxy.reference import EXAMPLES, example

NAME = "config"
HELP = "print a commented starting config file for a provider"

__all__ = ["HELP", "NAME", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--example",
        nargs="?",
        const=EXAMPLES[0],
        choices=EXAMPLES,
        required=True,
        metavar="PROVIDER",
        help=f"the delivery provider: {', '.join(EXAMPLES)} (default {EXAMPLES[0]})",
    )


def run(args: argparse.Namespace) -> int:
    print(example(args.example), end="")
    return 0
