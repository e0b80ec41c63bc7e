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

import time
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import cast

from audit.net.dns_answers import (
    Backend,
    DnsAnswer,
    DnssecAnswer,
    DnssecLookup,
    dnssec_lookup,
    normalize_name,
)
from audit.net.once import AskOnce

FAILURE_TTL = 5.0
DEFAULT_MAX_ENTRIES = 10_000


class SharedCache(AskOnce[tuple[str, str, str], DnsAnswer | DnssecAnswer]):
    """(kind, name, type) -> answer, kept for the answer's TTL (a failure: FAILURE_TTL);
    in-flight questions merged; LRU-bounded."""

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.clock = clock
        self._kept: OrderedDict[tuple[str, str, str], tuple[float, DnsAnswer | DnssecAnswer]] = (
            OrderedDict()
        )
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)

    def kept(self, key: tuple[str, str, str]) -> DnsAnswer | DnssecAnswer | None:
        entry = self._kept.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry[0] <= self.clock():
            del self._kept[key]
            self.misses += 1
            return None
        self._kept.move_to_end(key)
        self.hits += 1
        return entry[1]

    def keep(self, key: tuple[str, str, str], value: DnsAnswer | DnssecAnswer) -> None:
        lifetime = _lifetime(value)
        if lifetime <= 0:
            self._kept.pop(key, None)
            return
        self._kept[key] = (self.clock() + lifetime, value)
        self._kept.move_to_end(key)
        while len(self._kept) > self.max_entries:
            self._kept.popitem(last=False)


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
        inner_dnssec = dnssec_lookup(inner)  # None: the Resolver answers "no DNSSEC support"
        self.lookup_dnssec: DnssecLookup | None = (
            None if inner_dnssec is None else partial(self._lookup_dnssec, inner_dnssec)
        )

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        key = ("", normalize_name(name), rdtype.upper())
        kept = self.cache.kept(key)  # most questions of a batch: no further coroutine
        if kept is not None:
            return cast(DnsAnswer, kept)
        return cast(DnsAnswer, await self.cache.get(key, lambda: self.inner.lookup(key[1], key[2])))

    async def _lookup_dnssec(self, ask: DnssecLookup, name: str, rdtype: str) -> DnssecAnswer:
        key = ("DO", normalize_name(name), rdtype.upper())
        return cast(DnssecAnswer, await self.cache.get(key, lambda: ask(*key[1:])))
