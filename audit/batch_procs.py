"""A domain list on several cores: `audit domain --from-file ... --jobs N`.

One Python process audits on one core (the event loop, answer parsing and report building share
it), so a list is split across N worker processes, each running the same streaming engine
(`audit.batch.audit_batch`) on every N-th name with its own event loop, DNS cache and probe memo.
The run's bounds are split among them (concurrency, queries in flight, queries a second, probe
slots), so the totals stay what the user asked. Each worker sends every report back as it ends:
one message on a pipe, its digest and its JSON Lines line (audit.batch.report_message). The
parent parses only the digest and writes the line as it is; it alone writes the output, the
history and the progress bar, so the stream, --resume and Ctrl-C behave as with one process. A
worker that dies leaves no gap: each name it did not report gets an error report.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import struct
import sys
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from audit.batch import crashed_report, report_from_message
from audit.model import Report

AUTO_CONCURRENCY = 200  # from this --concurrency on, a list uses two processes by default
DIVIDED = ("max_in_flight", "max_probes")  # per-run bounds split among the workers
DONE = b""  # the last message of a worker that finished its share
READ_SIZE = 1 << 20  # bytes read off a worker's pipe at a time


def default_jobs(concurrency: int, names: int) -> int:
    """Two processes for a large list at a high concurrency on a machine with two cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 if concurrency >= AUTO_CONCURRENCY and (cores or 1) >= 2 and names >= 100 else 1


def _worker(
    names: list[str],
    dns: tuple[tuple[str, ...], str | None, float],
    options: dict[str, Any],
    concurrency: int,
    conn: Connection,
) -> None:
    """In a worker process: audit `names`, each report sent as it ends (report_message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the run stops
    from audit.batch import audit_share, report_message
    from audit.runner import relax_gc

    relax_gc()

    def send(report: Report) -> None:
        conn.send_bytes(report_message(report))

    audit_share(names, dns, send, concurrency=concurrency, **options)
    conn.send_bytes(DONE)
    conn.close()


def split_options(options: dict[str, Any], jobs: int) -> dict[str, Any]:
    """Each worker's share of the run's bounds (at least 1; a rate of 0 stays unlimited)."""
    share = dict(options)
    for key in DIVIDED:
        if key in share:
            share[key] = max(1, int(share[key]) // jobs)
    if share.get("dns_rate"):
        share["dns_rate"] = share["dns_rate"] / jobs
    return share


Worker = tuple[BaseProcess, Connection, list[str]]


def can_fork() -> bool:
    """Whether workers may be forked from this process now: Linux (fork is the platform's own
    way there), and nothing running that a fork would copy half-way: no event loop, no other
    thread."""
    return (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and asyncio._get_running_loop() is None
    )


def start_workers(
    names: Sequence[str],
    dns: tuple[tuple[str, ...], str | None, float],
    *,
    jobs: int,
    concurrency: int,
    fork: bool = False,
    **options: Any,
) -> list[Worker]:
    """Start `jobs` worker processes, each on every jobs-th name. With `fork` (and can_fork),
    they are forked from this process: nothing to start or import again, where a spawned
    worker spends ~0.75 s of CPU (a new interpreter importing the engine, the public suffix
    list and the ESP profiles) before its first domain. Otherwise (a caller inside an event
    loop, another thread running) they are spawned."""
    forked = fork and can_fork()
    if forked:
        from audit.checks.domain import domain_checks

        domain_checks()  # the check modules, imported once here rather than in every worker
        sys.stdout.flush()  # what this process buffered, a child must not write again at its exit
        sys.stderr.flush()
    context: ForkContext | SpawnContext = (
        multiprocessing.get_context("fork") if forked else multiprocessing.get_context("spawn")
    )
    each = split_options(options, jobs)
    workers: list[Worker] = []
    for share in (list(names[i::jobs]) for i in range(jobs)):
        if not share:
            continue
        parent, child = context.Pipe(duplex=False)
        process = context.Process(
            target=_worker,
            args=(share, dns, each, max(1, concurrency // jobs), child),
            daemon=True,
        )
        process.start()
        child.close()
        workers.append((process, parent, share))
    return workers


async def drain_workers(workers: list[Worker], on_done: Callable[[Report], None]) -> int:
    """Hand each report of the started `workers` to `on_done` as it arrives; an error report
    for each name of a worker that ended without finishing. Cancelling stops the workers."""
    count = 0

    async def drain(process: BaseProcess, conn: Connection, share: list[str]) -> None:
        nonlocal count
        pending = dict.fromkeys(share)
        finished = False
        async with aclosing(received(conn)) as messages:  # stops watching the pipe at once
            async for data in messages:
                if data == DONE:
                    finished = True
                    break
                report = report_from_message(data)
                pending.pop(report.target, None)
                on_done(report)
                count += 1
        await asyncio.to_thread(process.join)
        if not finished:
            reason = RuntimeError(f"worker process ended with exit code {process.exitcode}")
            for name in pending:
                on_done(crashed_report(name, reason))
                count += 1

    tasks = [asyncio.ensure_future(drain(*worker)) for worker in workers]
    try:
        await asyncio.gather(*tasks)
    finally:  # one drain failed, or the run was cancelled: the others stop watching first
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        stop_workers(workers)
    return count


async def received(conn: Connection) -> AsyncGenerator[bytes, None]:
    """The messages on `conn` until its writer closes it. The loop watches the pipe and, when it
    wakes, reads what is there without waiting for the rest of a message (a worker stopped
    half-way through one must not freeze the loop: the other workers' reports, the progress
    bar, Ctrl-C); no thread hand-over per message (a report each, a few hundred a second).
    Where the loop cannot watch a pipe (Windows) a thread reads each message. A message cut
    short by the end of the pipe (a worker killed while writing) is dropped."""
    loop = asyncio.get_running_loop()
    fd = conn.fileno()  # kept: the caller may close `conn` before this generator is closed
    ready = asyncio.Event()
    try:
        loop.add_reader(fd, ready.set)
    except NotImplementedError:
        while True:
            try:
                yield await asyncio.to_thread(conn.recv_bytes)
            except (EOFError, OSError):
                return
    os.set_blocking(fd, False)  # a wake-up may come after the bytes it announced were read
    frames = ConnectionFrames()
    try:
        while True:
            await ready.wait()
            ready.clear()
            try:
                chunk = os.read(fd, READ_SIZE)  # what is there, at once
            except BlockingIOError:
                continue
            except OSError:
                return
            if not chunk:
                return
            for message in frames.feed(chunk):
                yield message
    finally:
        loop.remove_reader(fd)


class ConnectionFrames:
    """Messages out of the bytes of a multiprocessing Connection, as they come: each is a
    4-byte big-endian signed length then the bytes (length -1: an 8-byte length follows, for
    messages over 2 GiB), as Connection.send_bytes writes them on Unix."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self.buffer += chunk
        messages = []
        while True:
            if len(self.buffer) < 4:
                break
            (size,) = struct.unpack_from("!i", self.buffer)
            start = 4
            if size == -1:
                if len(self.buffer) < 12:
                    break
                (size,) = struct.unpack_from("!Q", self.buffer, 4)
                start = 12
            if len(self.buffer) < start + size:
                break
            messages.append(bytes(self.buffer[start : start + size]))
            del self.buffer[: start + size]
        return messages


def stop_workers(workers: list[Worker]) -> None:
    """End what is still running (a cancelled run) and close the pipes."""
    for process, _, _ in workers:
        if process.is_alive():
            process.terminate()  # its pipe then ends: a reader waiting on it returns
    for process, conn, _ in workers:
        process.join(5)
        conn.close()
