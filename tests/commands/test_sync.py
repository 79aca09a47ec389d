"""The sync command's progress bar: drawn on a terminal only, failures always reported."""

from __future__ import annotations

import io
from pathlib import Path

from rewriteproxy.commands.sync import ProgressBar
from rewriteproxy.offload import LocalFile


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def file(key: str, size: int) -> LocalFile:
    return LocalFile(key=key, path=Path(key), size=size)


def test_the_bar_is_redrawn_in_place_on_a_terminal() -> None:
    out = Terminal()
    bar = ProgressBar(2, 4_000_000, out)
    bar.advance(file("a.jpg", 1_000_000), None)
    bar.advance(file("b.jpg", 3_000_000), None)
    bar.finish()
    last = out.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert last == "[" + "#" * 30 + "] 2/2 files, 4.0/4.0 MB"


def test_without_a_terminal_only_failures_are_written() -> None:
    out = io.StringIO()
    bar = ProgressBar(2, 10, out)
    bar.advance(file("a.jpg", 5), None)
    bar.advance(file("b.jpg", 5), "AccessDenied")
    bar.finish()
    assert out.getvalue() == "\rfailed: b.jpg: AccessDenied\n"
    assert (bar.files, bar.errors) == (2, 1)
