"""`audit message`: replay what a receiver concludes about one sent message."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit import __version__
from audit.checks.message import message_checks
from audit.checks.message.bulk import evaluate
from audit.checks.message.context import MessageContext
from audit.checks.message.providers import VerdictProviders
from audit.message.envelope import reconstruct_envelope
from audit.message.load import RawMessage
from audit.message.mime import parse_message
from audit.model import Report
from audit.net.dns import Backend, Resolver
from audit.runner import CheckObserver, run_check, run_checks


@dataclass(frozen=True)
class EnvelopeOptions:
    """What the user told us about the envelope; anything None is read from the message."""

    ip: str | None = None
    helo: str | None = None
    mail_from: str | None = None
    trusted_hops: int | None = None
    receiver_domain: str | None = None
    given_by: str | None = None  # where ip/helo/mail_from come from; None: the CLI options


def make_context(
    message: RawMessage,
    resolver: Resolver,
    *,
    envelope: EnvelopeOptions = EnvelopeOptions(),
    now: datetime | None = None,
    verdicts: VerdictProviders | None = None,
) -> MessageContext:
    """Parse (leniently: compat32 keeps raw header text; never deeper than the MIME depth cap)
    and reconstruct the envelope. `verdicts`: where checks get sibling verdicts (the real
    families unless given)."""
    parsed, mime_depth = parse_message(message.raw)
    return MessageContext(
        name=message.name,
        raw=message.raw,
        message=parsed,
        envelope=reconstruct_envelope(
            parsed,
            ip=envelope.ip,
            helo=envelope.helo,
            mail_from=envelope.mail_from,
            trusted_hops=envelope.trusted_hops,
            receiver_domain=envelope.receiver_domain,
            given_by=envelope.given_by,
        ),
        resolver=resolver,
        now=now or datetime.now(UTC),
        receiver_domain=envelope.receiver_domain,
        mime_depth=mime_depth,
        verdicts=verdicts or VerdictProviders(),
    )


async def audit_message(
    message: RawMessage,
    backend: Backend,
    *,
    envelope: EnvelopeOptions = EnvelopeOptions(),
    now: datetime | None = None,
    check_timeout: float = 30.0,
    observer: CheckObserver | None = None,
) -> Report:
    resolver = Resolver(backend)
    ctx = make_context(message, resolver, envelope=envelope, now=now)
    start = time.perf_counter()
    outcomes = await run_checks(message.name, ctx, message_checks(), check_timeout, observer)

    async def bulk_table(context: MessageContext):
        return await evaluate(context, outcomes)

    outcomes.append(
        await run_check("bulk", message.name, bulk_table, ctx, check_timeout, observer)
    )
    return Report(
        kind="message",
        target=message.name,
        outcomes=outcomes,
        queries=list(resolver.log),
        tool_version=__version__,
        duration_ms=(time.perf_counter() - start) * 1000,
    )


IN_FLIGHT = 32  # messages audited at once per process: one's DNS wait is another's CPU time
IN_FLIGHT_BYTES = 32 * 1024 * 1024  # and at most this much raw message (a larger one: alone)
GC_YOUNG = 20_000  # allocations between young-generation collections (Python's default: 700)


def relax_gc() -> None:
    """For a process that audits many messages: what is loaded by now (modules, rule tables)
    lives as long as the process, so the collector stops scanning it (gc.freeze; before a fork
    it also keeps those pages shared), and each audit's short-lived objects are collected in
    larger, rarer batches (bench/scale.py's mbox audited twice in one process: 2.4 s of
    collection before, 0.26 s after)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


class _Room:
    """How many messages, and how many bytes of them, are being audited; the one producer
    waits here until the next message fits (an oversized one waits until it is alone)."""

    def __init__(self, count: int, budget: int) -> None:
        self.count, self.budget = max(1, count), budget
        self.messages = self.bytes = 0
        self._freed = asyncio.Event()

    async def enter(self, size: int) -> None:
        while self.messages and (self.messages >= self.count or self.bytes + size > self.budget):
            self._freed.clear()
            await self._freed.wait()
        self.messages += 1
        self.bytes += size

    def leaver(self, size: int) -> Callable[[object], None]:
        """A done-callback for the task auditing a message of `size` bytes."""

        def leave(_: object) -> None:
            self.messages -= 1
            self.bytes -= size
            self._freed.set()

        return leave


async def audit_messages(
    messages: Sequence[RawMessage],
    backend: Backend,
    *,
    on_done: Callable[[Report], None] | None = None,
    in_flight: int = IN_FLIGHT,
    in_flight_bytes: int = IN_FLIGHT_BYTES,
    **options: Any,
) -> list[Report]:
    """In input order, several at a time over one DNS cache: messages from one sender ask the
    same questions (each report still logs every answer it used), and while one message waits
    for an answer the others use the CPU. Messages start in input order as room frees up (at
    most `in_flight` of them and `in_flight_bytes` of raw message at once), and `on_done` hears
    of each in input order as soon as those before it are done."""
    from audit.net.dns_limits import shared_backend

    backend = shared_backend(backend)
    room = _Room(in_flight, in_flight_bytes)
    started: deque[asyncio.Future[Report]] = deque()
    reports: list[Report] = []

    def hand_on(report: Report) -> None:
        reports.append(report)
        if on_done is not None:
            on_done(report)

    try:
        for message in messages:
            size = len(message.raw)
            await room.enter(size)
            task = asyncio.ensure_future(audit_message(message, backend, **options))
            task.add_done_callback(room.leaver(size))
            started.append(task)
            while started and started[0].done():
                hand_on(started.popleft().result())
        while started:
            hand_on(await started[0])
            started.popleft()
    finally:
        for running in started:
            running.cancel()  # only after a failure: a finished task ignores it
    return reports
