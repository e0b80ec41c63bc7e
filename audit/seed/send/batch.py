"""Sending to every seed: pacing, retries with backoff, and a clean stop.

Jobs go out one after another, in order, each attempt waiting for its slot at `rate` messages
per second (a retry takes a slot too: the provider counts requests, not seeds). A retryable
failure (4xx SMTP reply, HTTP 429/5xx, a dropped connection) is tried again after
`base_delay * 2**(n-1)` seconds, or after the server's Retry-After when it gave one, both capped
at `max_delay`. A permanent failure ends that job. So does a `maybe_sent` one (the message was
handed over and the answer lost: a retry could deliver a second copy). A failure flagged
`stop_run` (the relay refused our credentials, the API key was refused, the certificate is not
trusted) ends the run: every job not yet attempted is reported as skipped, never silently
dropped. So does a relay that could not be reached at all (`unreachable`) through all of a job's
attempts before anything was sent in this batch: a dead relay costs one seed's retries, not
every seed's.

`sleep`, `clock` (pacing, monotonic) and `wall_clock` (`SendResult.sent_at`) are injectable so
tests can check the schedule without waiting.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from .base import Sender, SendError, SendJob, SendResult

log = logging.getLogger("audit.seed.send")

Callback = Callable[..., object]
UNREACHABLE = "the relay could not be reached"


def backoff_delay(
    attempt: int, base_delay: float, max_delay: float, retry_after: float | None = None
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    if retry_after is not None:
        return min(max_delay, max(0.0, retry_after))
    return min(max_delay, base_delay * 2 ** (attempt - 1))


class _Pacer:
    """At most `rate` attempts per second: each attempt starts no sooner than 1/rate after the
    previous one started."""

    def __init__(
        self, rate: float, sleep: Callable[[float], Awaitable[object]], clock: Callable[[], float]
    ):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.sleep = sleep
        self.clock = clock
        self.next_at: float | None = None

    async def wait(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            await self.sleep(self.next_at - now)
            now = self.clock()
        self.next_at = max(now, self.next_at or now) + self.interval


async def _call(callback: Callback | None, *args: object) -> None:
    if callback is None:
        return
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome


async def send_all(
    sender: Sender,
    jobs: Iterable[SendJob | tuple[str, str, bytes]],
    *,
    rate: float = 1.0,
    max_attempts: int = 4,
    base_delay: float = 2.0,
    max_delay: float = 60.0,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    before_send: Callback | None = None,
    on_result: Callback | None = None,
) -> list[SendResult]:
    """Sends every job; one SendResult per job, in the jobs' order.

    `jobs`: SendJob or (mail_from, rcpt, message) tuples. `rate`: attempts per second (<= 0:
    no pacing). `max_attempts` >= 1 counts the first try. `before_send(rcpt)` is called (and
    awaited if it returns an awaitable) once per job, after the rate wait and right before its
    first attempt goes out, so a caller can record "sending" just before anything leaves and
    a resumed run never sends twice. `on_result(result)` is called as soon as each job is
    done (before the next job starts), skipped ones included; `result.sent_at` is when the
    message was accepted.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    pacer = _Pacer(rate, sleep, clock)
    results: list[SendResult] = []
    pending = [j if isinstance(j, SendJob) else SendJob(*j) for j in jobs]
    stopped_by: str | None = None
    any_sent = False
    for job in pending:
        if stopped_by is not None:
            result = SendResult(
                address=job.rcpt,
                ok=False,
                status="not sent",
                error=f"not sent: the run stopped after {stopped_by}",
                skipped=True,
            )
        else:
            result = await _send_one(
                sender,
                job,
                pacer,
                max_attempts,
                base_delay,
                max_delay,
                sleep,
                wall_clock,
                before_send,
            )
            any_sent = any_sent or result.ok
            if result.unreachable and not any_sent and not result.stop_run:
                result.stop_run = True  # a dead relay: every other seed would fail the same way
                log.info("send to %s: %s; stopping the run", job.rcpt, UNREACHABLE)
            if result.stop_run and result.unreachable:
                stopped_by = f"{UNREACHABLE} ({result.error})"
            elif result.stop_run:
                stopped_by = result.error or "a fatal error"
        results.append(result)
        await _call(on_result, result)
    return results


async def _send_one(
    sender: Sender,
    job: SendJob,
    pacer: _Pacer,
    max_attempts: int,
    base_delay: float,
    max_delay: float,
    sleep: Callable[[float], Awaitable[object]],
    wall_clock: Callable[[], float],
    before_send: Callback | None,
) -> SendResult:
    attempt = 0
    while True:
        attempt += 1
        await pacer.wait()
        if attempt == 1:
            await _call(before_send, job.rcpt)  # after the rate wait: it leaves right now
        try:
            message_id = await sender.send(job.mail_from, job.rcpt, job.message)
        except SendError as exc:
            last_try = exc.permanent or exc.maybe_sent or attempt >= max_attempts
            if last_try:
                log.info("send to %s failed after %d attempt(s): %s", job.rcpt, attempt, exc)
                status = exc.status
                if exc.maybe_sent and not status.startswith("possibly sent"):
                    status = f"possibly sent: {status or exc}"
                return SendResult(
                    address=job.rcpt,
                    ok=False,
                    status=status,
                    code=exc.code,
                    attempts=attempt,
                    error=str(exc),
                    permanent=exc.permanent,
                    stop_run=exc.stop_run,
                    maybe_sent=exc.maybe_sent,
                    unreachable=exc.unreachable,
                )
            delay = backoff_delay(attempt, base_delay, max_delay, exc.retry_after)
            log.info("send to %s: %s; retrying in %.1f s", job.rcpt, exc, delay)
            await sleep(delay)
            continue
        except Exception as exc:  # noqa: BLE001 - a sender bug fails this job, not the run
            log.warning("send to %s: unexpected %s", job.rcpt, type(exc).__name__)
            return SendResult(
                address=job.rcpt,
                ok=False,
                status="error",
                attempts=attempt,
                error=f"unexpected {type(exc).__name__} in the sender",
                permanent=True,
            )
        sent_at = wall_clock()
        log.info("sent to %s (attempt %d), id %s", job.rcpt, attempt, message_id)
        return SendResult(
            address=job.rcpt,
            ok=True,
            status="sent",
            provider_id=message_id,
            attempts=attempt,
            sent_at=sent_at,
        )
