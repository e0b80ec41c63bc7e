"""The parent's reading of worker reports off a pipe (batch_procs.received): every message in
order however the bytes arrive, the loop never waiting on half a message, a message cut short
by the end of the pipe dropped. A real multiprocessing pipe, written from a thread."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import struct
import threading
from contextlib import aclosing

from audit.batch_procs import ConnectionFrames, received


def _pipe():
    return multiprocessing.get_context("fork").Pipe(duplex=False)


async def _collect(reader) -> list[bytes]:
    async with aclosing(received(reader)) as messages:
        return [m async for m in messages]


def test_every_message_in_order_small_large_and_empty():
    reader, writer = _pipe()
    big = os.urandom(3 << 20)  # over the pipe's buffer: arrives in many reads

    def write() -> None:
        for message in (b"first", big, b"", b"last"):
            writer.send_bytes(message)
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    got = asyncio.run(_collect(reader))
    thread.join()
    assert got == [b"first", big, b"", b"last"]


def test_half_a_message_does_not_hold_the_loop_and_a_cut_one_is_dropped():
    reader, writer = _pipe()
    fd = writer.fileno()

    async def run() -> tuple[list[bytes], int]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        async def write() -> None:
            os.write(fd, struct.pack("!i", 5) + b"whole")
            os.write(fd, struct.pack("!i", 10) + b"half")  # the rest never comes
            await asyncio.sleep(0.2)
            writer.close()  # the worker dies mid-message

        tick = asyncio.ensure_future(ticker())
        writing = asyncio.ensure_future(write())
        got = await _collect(reader)
        await writing
        stop.set()
        await tick
        return got, ticks

    got, ticks = asyncio.run(run())
    assert got == [b"whole"]
    assert ticks >= 10  # the loop ran while the half message waited (about 40 ticks)


def test_frames_split_anywhere_and_the_long_header():
    frames = ConnectionFrames()
    data = struct.pack("!i", 3) + b"abc" + struct.pack("!i", -1) + struct.pack("!Q", 2) + b"xy"
    out = []
    for i in range(len(data)):  # one byte at a time
        out += frames.feed(data[i : i + 1])
    assert out == [b"abc", b"xy"] and not frames.buffer
