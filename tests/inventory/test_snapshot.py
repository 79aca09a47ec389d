"""The snapshot file: the same answers as the in-memory listing, in a few bytes a key.

The in-memory :class:`~rewriteproxy.inventory.listing.Listing` is the
reference: for random sets of keys and objects, every key present, and keys
next to them that are not, the snapshot gives the same answer as far as a
lookup's callers read it (exists, size, modification time, version token).
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewriteproxy.delivery.versioning import unix_version, version_token
from rewriteproxy.inventory import snapshot as snapshot_module
from rewriteproxy.inventory.listing import ListingBuilder, page_entries
from rewriteproxy.inventory.snapshot import (
    SnapshotError,
    open_snapshot,
    write_snapshot,
)
from rewriteproxy.media import FileInfo

PREFIX = "wp-content/uploads/"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def answer(info: FileInfo | None) -> tuple[Any, ...] | None:
    """What the rewriter and delivery read of a lookup."""
    if info is None:
        return None
    return (info.size, info.mtime, version_token(info), unix_version(info))


segment = st.text(
    alphabet=st.sampled_from("abcxyz019-_. é日€"),
    min_size=1,
    max_size=12,
)
keys = st.lists(segment, min_size=1, max_size=4).map("/".join)
etags = st.one_of(
    st.binary(min_size=16, max_size=16).map(lambda b: f'"{b.hex()}"'),
    st.tuples(st.binary(min_size=16, max_size=16), st.integers(1, 10_000)).map(
        lambda t: f'"{t[0].hex()}-{t[1]}"'
    ),
    st.sampled_from(['"odd-etag"', "", '"ABCDEF0123456789ABCDEF0123456789"']),
)
objects = st.dictionaries(
    keys,
    st.tuples(st.integers(0, 5 * 2**40), st.integers(0, 10**9), etags),
    min_size=0,
    max_size=300,
)


def pages_of(objs: dict[str, tuple[int, int, str]]) -> list[dict[str, Any]]:
    """boto3-shaped ``list_objects_v2`` pages, in S3's (UTF-8 byte) order."""
    items = [
        {
            "Key": PREFIX + key,
            "Size": size,
            "LastModified": EPOCH + timedelta(seconds=seconds),
            "ETag": etag,
        }
        for key, (size, seconds, etag) in objs.items()
    ]
    items.sort(key=lambda item: item["Key"].encode())
    return [{"Contents": items[i : i + 7]} for i in range(0, len(items), 7)] or [{}]


def nearby(key: str) -> list[str]:
    """Keys that sort right next to ``key`` and are (most likely) not in the set."""
    return [key + "x", key[:-1], key + "/", "0" + key, key.upper(), key + "\x00"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(objs=objects)
def test_the_snapshot_answers_as_the_listing_does(tmp_path: Path, objs: dict[str, Any]) -> None:
    pages = pages_of(objs)
    builder = ListingBuilder(PREFIX)
    for page in pages:
        builder.add_page(page)
    listing = builder.build()
    path = tmp_path / "s.snap"
    entries = (entry for page in pages for entry in page_entries(page, PREFIX))
    written = write_snapshot(path, entries, {"fingerprint": "f"}, ordered=True)
    snapshot = open_snapshot(path)
    assert written == len(snapshot) == len(listing)
    for key in objs:
        assert answer(snapshot.get(key)) == answer(listing.get(key)) is not None
        for other in nearby(key):
            assert answer(snapshot.get(other)) == answer(listing.get(other))
    assert sorted(snapshot) == sorted(listing)


record_values = st.tuples(
    st.one_of(st.none(), st.integers(0, 2**48 - 1)),  # sizes are kept up to 256 TiB
    st.one_of(st.none(), st.integers(0, 2**32 - 1).map(float)),
    st.one_of(st.none(), st.sampled_from(["0" * 32, "abc", "d41d8cd98f00b204e9800998ecf8427e-3"])),
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(objs=st.dictionaries(keys, record_values, max_size=200), run=st.integers(1, 50))
def test_any_order_gives_the_same_file_and_unknown_fields_stay_unknown(
    tmp_path: Path, objs: dict[str, Any], run: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sources that list in no particular order (a directory walk, an API) are sorted in
    # runs; a small run makes the merge of several of them happen here.
    monkeypatch.setattr(snapshot_module, "RUN", run)
    infos = {key: FileInfo(size=s, mtime=m, etag=e) for key, (s, m, e) in objs.items()}
    shuffled = list(infos.items())[::-1]
    write_snapshot(tmp_path / "a.snap", shuffled + shuffled[:3], {}, ordered=False)
    write_snapshot(
        tmp_path / "b.snap", sorted(infos.items(), key=lambda kv: kv[0].encode()), {}, ordered=True
    )
    a, b = open_snapshot(tmp_path / "a.snap"), open_snapshot(tmp_path / "b.snap")
    assert list(a.records()) == list(b.records())
    for key, info in infos.items():
        assert answer(a.get(key)) == answer(info)


def test_an_answer_has_the_version_token_of_the_etag_not_the_etag() -> None:
    md5 = hashlib.md5(b"jpeg").hexdigest()
    record = snapshot_module.record_of(FileInfo(size=4, mtime=1.5e9, etag=md5))
    info = snapshot_module.info_of(record)
    assert info.etag is None and info.etag_token == version_token(FileInfo(etag=md5))
    assert version_token(info) == version_token(FileInfo(size=4, mtime=1.5e9, etag=md5))


def test_keys_must_ascend_when_the_source_says_they_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ascend"):
        write_snapshot(
            tmp_path / "s.snap", [("b", FileInfo()), ("a", FileInfo())], {}, ordered=True
        )
    assert list(tmp_path.iterdir()) == []  # the half-written file is gone, no snapshot appeared


def test_an_empty_snapshot_knows_nothing(tmp_path: Path) -> None:
    write_snapshot(tmp_path / "s.snap", [], {"fingerprint": "f"})
    snapshot = open_snapshot(tmp_path / "s.snap")
    assert len(snapshot) == 0 and snapshot.get("a.jpg") is None and list(snapshot) == []
    assert snapshot.fingerprint == "f"


def test_a_key_no_bucket_can_hold_is_simply_not_found(tmp_path: Path) -> None:
    write_snapshot(tmp_path / "s.snap", [("a.jpg", FileInfo(size=1))], {})
    assert open_snapshot(tmp_path / "s.snap").get("a\udcff.jpg") is None


def some_snapshot(path: Path, count: int = 1000) -> None:
    write_snapshot(
        path,
        ((f"{i:06}.jpg", FileInfo(size=i, mtime=float(i))) for i in range(count)),
        {"fingerprint": "f"},
    )


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.snap"
    some_snapshot(path)
    data = path.read_bytes()
    for cut in (0, 5, 40, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(SnapshotError):
            open_snapshot(path)


def test_a_corrupted_body_fails_verification(tmp_path: Path) -> None:
    path = tmp_path / "s.snap"
    some_snapshot(path)
    open_snapshot(path).verify()
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match="checksum"):
        open_snapshot(path).verify()


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.snap"
    some_snapshot(path)
    current = f'"format": {snapshot_module.FORMAT}'.encode()
    assert current in path.read_bytes()
    data = path.read_bytes().replace(current, b'"format": 9')
    path.write_bytes(data)
    with pytest.raises(SnapshotError, match="format"):
        open_snapshot(path)


def wordpress_key(i: int) -> str:
    sizes = ("", "-150x150", "-300x200", "-768x512", "-1024x683")
    year, month = 2010 + (i // 120_000) % 15, 1 + (i // 10_000) % 12
    return f"{year}/{month:02}/photo-{i // 5}{sizes[i % 5]}.jpg"


def test_a_wordpress_uploads_key_costs_well_under_40_bytes(tmp_path: Path) -> None:
    count = 50_000
    entries = (
        (
            wordpress_key(i),
            FileInfo(
                size=20_000 + i, mtime=1.7e9 + i, etag=hashlib.md5(str(i).encode()).hexdigest()
            ),
        )
        for i in range(count)
    )
    path = tmp_path / "s.snap"
    write_snapshot(path, entries, {"fingerprint": "f"})
    assert os.path.getsize(path) / count < 40
