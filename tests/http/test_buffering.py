"""A spool gives back exactly what was put in, in order, within its memory and disk bounds."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from rewriteproxy.http.buffering import Buffers, Spool, SpoolBroken, SpoolClosed, SpoolLimits

from ..support.files import open_files_in


def limits(tmp_path: Path, memory: int = 1 << 20, total: int = 1 << 30, files: int = 1 << 30):
    return SpoolLimits(
        memory_per_body=memory, memory_total=total, files_total=files, directory=str(tmp_path)
    )


async def drained(spool: Spool) -> bytes:
    out = b""
    while piece := await spool.get():
        out += piece
    return out


async def until_closed(directory: Path) -> None:
    for _ in range(500):
        if not open_files_in(directory):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the temporary file was never closed")


PARTS = [bytes([i]) * 30_000 for i in range(10)]


async def test_memory_then_a_file_and_back_in_order(tmp_path):
    buffers = Buffers()
    spool = buffers.spool(limits(tmp_path, memory=100_000), backpressure=True)
    for part in PARTS:
        await spool.put(part)
    spool.finish()
    assert spool.uses_file and len(open_files_in(tmp_path)) == 1
    assert os.listdir(tmp_path) == []  # unlinked from the start
    assert buffers.memory == 90_000 and buffers.disk == 210_000
    assert await drained(spool) == b"".join(PARTS)
    spool.close()
    assert (buffers.memory, buffers.disk) == (0, 0)
    await until_closed(tmp_path)


async def test_memory_pieces_come_out_joined_up_to_a_write(tmp_path):
    spool = Buffers().spool(limits(tmp_path), backpressure=True)
    for _ in range(40):
        await spool.put(b"x" * 4096)  # as PHP sends
    spool.finish()
    sizes = [len(await spool.get()) for _ in range(3)]
    assert sizes == [65536, 65536, 32768]
    assert await spool.get() == b""


async def test_the_worker_total_sends_other_bodies_to_a_file(tmp_path):
    buffers = Buffers()
    first = buffers.spool(limits(tmp_path, total=50_000), backpressure=True)
    second = buffers.spool(limits(tmp_path, total=50_000), backpressure=True)
    await first.put(PARTS[0])
    await second.put(PARTS[1])
    assert first.in_memory and second.uses_file
    assert buffers.memory == 30_000
    for spool in (first, second):
        spool.close()
    assert (buffers.memory, buffers.disk) == (0, 0)


async def test_a_file_read_to_the_end_is_written_again_from_its_start(tmp_path):
    buffers = Buffers()
    spool = buffers.spool(limits(tmp_path, memory=0), backpressure=True)
    for part in PARTS[:3]:
        await spool.put(part)
        assert await spool.get() == part
    assert buffers.disk == 30_000  # one chunk's room, used three times
    spool.close()


async def test_without_disk_room_the_writer_waits_for_the_reader(tmp_path):
    buffers = Buffers()
    spool = buffers.spool(limits(tmp_path, memory=0, files=30_000), backpressure=True)
    await spool.put(PARTS[0])  # the file's room
    writer = asyncio.create_task(spool.put(PARTS[1]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not writer.done()  # waits: nothing goes over the bounds but one chunk
    assert await spool.get() == PARTS[0]
    await asyncio.wait_for(writer, 5)
    spool.finish()
    assert await drained(spool) == PARTS[1]
    spool.close()


async def test_a_failed_writer_leaves_the_reader_what_it_wrote_then_says_so(tmp_path):
    spool = Buffers().spool(limits(tmp_path), backpressure=True)
    await spool.put(b"abc")
    spool.fail()
    assert await spool.get() == b"abc"
    with pytest.raises(SpoolBroken):
        await spool.get()


async def test_closing_stops_a_waiting_writer_and_gives_everything_back(tmp_path):
    buffers = Buffers()
    spool = buffers.spool(limits(tmp_path, memory=0, files=0), backpressure=True)
    await spool.put(b"a" * 1000)  # over both bounds: held in memory, one chunk
    writer = asyncio.create_task(spool.put(b"b" * 1000))
    await asyncio.sleep(0)
    spool.close()
    with pytest.raises(SpoolClosed):
        await writer
    assert (buffers.memory, buffers.disk) == (0, 0)
    with pytest.raises(SpoolClosed):
        await spool.put(b"c")


async def test_a_cancelled_read_of_the_file_still_closes_it(tmp_path):
    spool = Buffers().spool(limits(tmp_path, memory=0), backpressure=True)
    await spool.put(b"x" * 100_000)
    reader = asyncio.create_task(spool.get())
    await asyncio.sleep(0)
    reader.cancel()
    spool.close()
    await until_closed(tmp_path)


async def test_a_request_body_that_cannot_be_written_is_an_error(tmp_path):
    spool = Buffers().spool(
        SpoolLimits(0, 1 << 20, 0, directory=str(tmp_path / "missing")), backpressure=False
    )
    with pytest.raises(OSError):
        await spool.put(b"body")
    spool.close()


async def test_a_request_body_in_memory_comes_whole(tmp_path):
    spool = Buffers().spool(limits(tmp_path), backpressure=False)
    for part in (b"one,", b"two"):
        await spool.put(part)
    spool.finish()
    assert spool.in_memory and spool.whole() == b"one,two" and spool.size == 7
    spool.close()
