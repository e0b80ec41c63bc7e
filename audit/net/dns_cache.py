"""One DNS cache for a whole run, shared by every domain (or message) audited in it.

Each audit keeps its own `Resolver` (its own query log: the report's evidence lists every answer
its checks used, cached or not); they all sit on one `CachingBackend`, so a provider's records
(`_spf.google.com`, `sendgrid.net`) are asked once per run, however many domains include them.

* TTLs are honoured: an answer expires after its TTL (RFC 2308 for NXDOMAIN/NODATA); answers
  without one (zone files, in-memory data) last as long as the run.
* A failure (timeout, SERVFAIL) is kept briefly (RFC 9520 3.2: at least 1 s, at most 5 min), so
  fifty domains including one broken name do not ask it fifty times in a row.
* Identical questions in flight are merged across audits.
* The cache is bounded (least recently used first out): memory stays flat over a long list.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from audit.net.dns_answers import Backend, DnsAnswer, DnssecAnswer, normalize_name

FAILURE_TTL = 5.0
DEFAULT_MAX_ENTRIES = 10_000


class SharedCache:
    """(kind, name, type) -> answer future, with an expiry time per entry; LRU-bounded."""

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[tuple, tuple[float, asyncio.Future[Any]]] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: tuple, ask: Callable[[], Awaitable[Any]]) -> Any:
        """The cached answer for `key`, or `ask()` once (callers of the same key share it)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self.clock():
            self._entries.move_to_end(key)
            self.hits += 1
            if entry[1].done():
                return entry[1].result()  # the common case: no task, no shield
            return await asyncio.shield(entry[1])
        self.misses += 1
        future = asyncio.ensure_future(ask())
        self._entries[key] = (float("inf"), future)  # in flight: never expires before it ends
        self._entries.move_to_end(key)
        future.add_done_callback(lambda done: self._settle(key, done))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return await asyncio.shield(future)

    def _settle(self, key: tuple, future: asyncio.Future[Any]) -> None:
        entry = self._entries.get(key)
        if entry is None or entry[1] is not future:
            return  # evicted or replaced meanwhile
        if future.cancelled() or future.exception() is not None:
            del self._entries[key]
            return
        lifetime = _lifetime(future.result())
        if lifetime <= 0:
            del self._entries[key]
        else:
            self._entries[key] = (self.clock() + lifetime, future)


def _lifetime(answer: DnsAnswer | DnssecAnswer) -> float:
    if answer.temperror:
        return FAILURE_TTL
    ttl = getattr(answer, "ttl", None)
    if ttl is None and isinstance(answer, DnssecAnswer):
        ttls = [r.ttl for r in (*answer.answer, *answer.authority)]
        ttl = min(ttls) if ttls else None
    return float("inf") if ttl is None else float(ttl)


class CachingBackend:
    """A Backend that answers from a run-wide `SharedCache` before asking `inner`."""

    def __init__(self, inner: Backend, cache: SharedCache | None = None) -> None:
        self.inner = inner
        self.cache = cache if cache is not None else SharedCache()
        if getattr(inner, "lookup_dnssec", None) is None:
            self.lookup_dnssec = None  # the Resolver reads None as "no DNSSEC support"

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        key = ("", normalize_name(name), rdtype.upper())
        return await self.cache.get(key, lambda: self.inner.lookup(key[1], key[2]))

    async def lookup_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:  # type: ignore[misc]
        key = ("DO", normalize_name(name), rdtype.upper())
        return await self.cache.get(key, lambda: self.inner.lookup_dnssec(key[1], key[2]))
