"""The ``rewriteproxy`` command line: one sub-command per module in :mod:`rewriteproxy.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .commands._failures import describe
from .settings import ConfigError

__all__ = ["main"]

# Listed here, in help order; each module has NAME, HELP, add_arguments() and run().
COMMANDS = ("serve", "demo", "rewrite", "url", "check", "config", "schema", "sync", "analyze")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line naming the command and where to look (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="rewriteproxy",
        description="Serve a WordPress site's uploads from a CDN or Cloudinary, "
        "without touching its database.",
    )
    parser.add_argument("--version", action="version", version=f"rewriteproxy {__version__}")
    parser.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="overrides the config's log.level (default: info)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules, parsers = {}, {}
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        modules[module.NAME], parsers[module.NAME] = module, command
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command's own parser, which knows its options
        parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=args.log_level or "INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.log_level != "DEBUG":  # "Found credentials in environment variables" and the like
        logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        return int(modules[args.command].run(args))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # a command that loads more than the file (a reload, a part)
        print(f"rewriteproxy {args.command}: invalid config: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the operation failed: one line, the traceback only at DEBUG
        logging.getLogger("rewriteproxy").debug("%s failed", args.command, exc_info=True)
        print(f"rewriteproxy {args.command}: {describe(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
