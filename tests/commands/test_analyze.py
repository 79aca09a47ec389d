"""The analyze command's table."""

from __future__ import annotations

from pathlib import Path

from rewriteproxy.commands.analyze import format_summary
from rewriteproxy.offload import LocalFile, Plan


def test_the_table_has_one_row_per_group_with_files_and_bytes() -> None:
    plan = Plan(
        synced=[LocalFile("a.jpg", Path("a.jpg"), 10)],
        missing=[LocalFile("b.jpg", Path("b.jpg"), 20)],
        unsupported=[LocalFile("x.php", Path("x.php"), 3)],
        extra=["gone.jpg"],
    )
    rows = format_summary(plan.summary()).splitlines()
    assert rows[1].split() == ["synced", "1", "10"]
    assert rows[2].split() == ["unsynced", "1", "20"]
    assert rows[3].split() == ["missing", "from", "the", "bucket", "1", "20"]
    assert rows[5].split()[-2:] == ["1", "3"]  # unsupported
    assert rows[6].split()[-2:] == ["1", "0"]  # in the bucket only (sizes not listed)
