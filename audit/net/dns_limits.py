"""Bounds on what a run sends to its DNS servers: queries in flight, and queries a second.

A batch of thousands of domains must not flood the resolver it uses (a public resolver
rate-limits, then drops: every drop would be a DNS001 the tool caused itself). The bounds sit in
front of the network backend, *before* a question is sent: the wait in line is not counted in
the question's timeout, which starts when the question really leaves (dnspython's lifetime),
so a long queue never turns into timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from audit.net.dns_answers import Backend, DnsAnswer, DnssecAnswer, DnssecLookup, dnssec_lookup
from audit.net.dns_cache import CachingBackend, SharedCache
from audit.net.dns_network import NetworkBackend

R = TypeVar("R")

DEFAULT_MAX_IN_FLIGHT = 256
DEFAULT_RATE = 2000.0  # queries a second to each DNS server (0: no limit)
ADMIT_POLL = 0.005
BUCKET_TICK = 0.01  # rate-limited questions are let through in groups, at most this often
ADMIT_STEPS = 8  # event-loop steps for an admitted domain's first questions to reach the queue


class Slots:
    """At most `count` holders at a time; the others wait first come, first served.

    asyncio.Semaphore looks at every waiter on each acquire: with thousands of questions queued
    behind the in-flight bound that was a large share of a batch run's CPU. Here a released
    slot goes straight to the longest waiter.
    """

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot just as the waiter was cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class TokenBucket:
    """At most `rate` acquisitions a second on average, bursts up to `burst`; first come, first
    served. Waiters are let through together, every BUCKET_TICK at most: one wake-up per token
    (a timer and an event-loop turn each, thousands a second) cost more CPU than the questions.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def acquire(self) -> None:
        if not self._waiters:
            self._refill()
            if self.tokens >= 1:
                self.tokens -= 1
                return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if self._timer is None:
            self._wait()
        await future  # a waiter cancelled before its turn just leaves its place

    def _wait(self) -> None:
        pause = max((1 - self.tokens) / self.rate, BUCKET_TICK)
        self._timer = asyncio.get_running_loop().call_later(pause, self._let_through)

    def _let_through(self) -> None:
        self._timer = None
        self._refill()
        while self._waiters and self.tokens >= 1:
            future = self._waiters.popleft()
            if not future.done():
                self.tokens -= 1
                future.set_result(None)
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if self._waiters:
            self._wait()


class LimitedBackend:
    """A Backend that sends at most `max_in_flight` questions at a time and at most `rate` a
    second per DNS server (`servers` of them: the total is rate x servers)."""

    def __init__(
        self,
        inner: Backend,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        rate: float = DEFAULT_RATE,
        servers: int = 1,
    ) -> None:
        self.inner = inner
        self._slots = Slots(max_in_flight)
        self.max_in_flight = max_in_flight
        self.queued = 0
        self._door = asyncio.Lock()
        self._bucket = TokenBucket(rate * max(1, servers)) if rate > 0 else None
        self.in_flight = self.peak_in_flight = self.sent = 0
        inner_dnssec = dnssec_lookup(inner)  # None: the Resolver answers "no DNSSEC support"
        self.lookup_dnssec: DnssecLookup | None = (
            None if inner_dnssec is None else partial(self._lookup_dnssec, inner_dnssec)
        )

    async def admit(self) -> None:
        """Wait while more questions are queued than can be in flight: a batch starts its next
        domain only when the DNS road has room, so a high --concurrency on a slow machine or
        resolver queues domains, not questions (a question queued for long would eat into its
        check's time limit and end as "did not finish", a failure the tool made itself)."""
        async with self._door:  # one at a time
            for _ in range(ADMIT_STEPS):  # the domain admitted last queues its first questions
                await asyncio.sleep(0)
            while self.queued >= self.max_in_flight:
                await asyncio.sleep(ADMIT_POLL)

    async def _send(self, ask: Callable[[str, str], Awaitable[R]], name: str, rdtype: str) -> R:
        self.queued += 1
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        try:
            if self._bucket is not None:
                await self._bucket.acquire()
            self.in_flight += 1
            self.sent += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                return await ask(name, rdtype)
            finally:
                self.in_flight -= 1
        finally:
            self._slots.release()

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        return await self._send(self.inner.lookup, name, rdtype)

    async def _lookup_dnssec(self, ask: DnssecLookup, name: str, rdtype: str) -> DnssecAnswer:
        return await self._send(ask, name, rdtype)


def shared_backend(
    backend: Backend,
    *,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    rate: float = DEFAULT_RATE,
    cache: SharedCache | None = None,
) -> CachingBackend:
    """The run's one road to DNS: a shared cache over (for the network) the in-flight and
    rate bounds. Zone files and in-memory data need no bounds."""
    if isinstance(backend, CachingBackend):
        return backend
    if isinstance(backend, NetworkBackend):
        servers = backend.server_count
        backend = LimitedBackend(backend, max_in_flight, rate, servers)
    return CachingBackend(backend, cache)
