"""One snapshot per machine: one process leads, readers re-map, nobody sees half a file.

Processes here are real forked processes, as the workers of ``serve --workers``
are: the lock is the kernel's ``flock``, the file is renamed into place.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import time
from pathlib import Path

import pytest

from rewriteproxy.inventory.shared import SnapshotStore, fingerprint
from rewriteproxy.inventory.snapshot import SnapshotError, write_snapshot
from rewriteproxy.media import FileInfo

IDENTITY = {"source": "s3", "bucket": "media", "prefix": "wp-content/uploads/"}
fork = multiprocessing.get_context("fork")


def store(directory: Path, **identity: str) -> SnapshotStore:
    made = SnapshotStore(directory, {**IDENTITY, **identity})
    made.prepare()
    return made


def entries(count: int, size: int = 1) -> list[tuple[str, FileInfo]]:
    return [(f"2024/05/{i:07}.jpg", FileInfo(size=size, mtime=1.7e9)) for i in range(count)]


def test_the_fingerprint_names_bucket_and_prefix() -> None:
    assert fingerprint(IDENTITY) == fingerprint(dict(reversed(IDENTITY.items())))
    assert fingerprint(IDENTITY) != fingerprint({**IDENTITY, "prefix": "other/"})


def _hold_the_lead(
    directory: str,
    led: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
) -> None:
    mine = SnapshotStore(directory, IDENTITY)
    if mine.lead():
        led.set()
    stop.wait(30)


def test_one_process_leads_and_another_takes_over_when_it_exits(tmp_path: Path) -> None:
    led, stop = fork.Event(), fork.Event()
    leader = fork.Process(target=_hold_the_lead, args=(str(tmp_path), led, stop))
    leader.start()
    try:
        assert led.wait(10)
        here = store(tmp_path)
        assert not here.lead() and not here.leading
    finally:
        stop.set()
        leader.join(10)
    assert here.lead() and here.leading  # the lock went with the process
    assert not store(tmp_path).lead()  # even another open file in this process is excluded
    here.resign()
    assert store(tmp_path).lead()


def test_a_reader_sees_a_new_publish_and_keeps_the_old_file_readable(tmp_path: Path) -> None:
    writer, reader = store(tmp_path), store(tmp_path)
    assert reader.load() is None and not reader.changed(None)
    writer.publish(entries(100, size=1))
    assert reader.changed(None)
    first = reader.load()
    assert first is not None and first.get("2024/05/0000007.jpg") == FileInfo(size=1, mtime=1.7e9)
    assert not reader.changed(first)
    writer.touch()  # "checked, unchanged" is no new file
    assert not reader.changed(first)
    writer.publish(entries(50, size=2))
    assert reader.changed(first)
    second = reader.load()
    assert second is not None and len(second) == 50
    assert first.get("2024/05/0000099.jpg") == FileInfo(size=1, mtime=1.7e9)  # still mapped


def test_a_snapshot_of_another_prefix_is_never_used(tmp_path: Path) -> None:
    store(tmp_path).publish(entries(3))
    other = store(tmp_path, prefix="elsewhere/")
    assert other.path != store(tmp_path).path
    os.replace(store(tmp_path).path, other.path)  # even under its name
    assert other.load() is None


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(SnapshotError, match="writable"):
        SnapshotStore(shared, IDENTITY).prepare()


def test_a_new_directory_is_private(tmp_path: Path) -> None:
    store(tmp_path / "state" / "inventory")
    assert (tmp_path / "state" / "inventory").stat().st_mode & 0o777 == 0o700


def _publish_again_and_again(directory: str, rounds: int) -> None:
    writer = SnapshotStore(directory, IDENTITY)
    for n in range(rounds):
        writer.publish(entries(2000 + n * 37, size=n))


def test_readers_never_see_a_half_written_snapshot(tmp_path: Path) -> None:
    reader = store(tmp_path)
    reader.publish(entries(2000, size=999))
    writer = fork.Process(target=_publish_again_and_again, args=(str(tmp_path), 30))
    writer.start()
    loads = 0
    try:
        while writer.is_alive():
            snapshot = reader.load()
            assert snapshot is not None  # never missing, never refused as truncated
            snapshot.verify()
            size = snapshot.get("2024/05/0000000.jpg").size  # type: ignore[union-attr]
            assert len(snapshot) == (2000 if size == 999 else 2000 + size * 37)
            loads += 1
    finally:
        writer.join(30)
    assert writer.exitcode == 0 and loads > 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_age_is_since_the_last_check(tmp_path: Path) -> None:
    here = store(tmp_path)
    assert here.age() is None
    write_snapshot(here.path, [], {"fingerprint": here.fingerprint})
    old = time.time() - 1000
    os.utime(here.path, (old, old))
    assert here.age() == pytest.approx(1000, abs=5)
    here.touch()
    assert here.age() < 5  # type: ignore[operator]
