"""Run once and share: the first caller of a key starts the work, every caller awaits it.

Checks, the resolver and the validator run concurrently and often need the same thing at the
same time (one DNS answer, one STARTTLS probe of an MX address, one zone's DNSSEC keys). The
work runs as its own task, and each caller awaits it through `asyncio.shield`: a caller
cancelled by its check's time limit stops waiting, while the work (and everyone else waiting
on it) goes on.

Two policies, by `lifetime`:
* without one, a result is kept as long as the cache, and so is an exception (a failed probe
  is not retried by every check that needs it);
* with one, a result expires `lifetime(result)` seconds after it arrived (0 or less: not kept),
  and a failure is dropped when it happens, so the next caller asks again (the DNS cache: TTLs).
`max_entries` bounds memory (least recently used first out): a long batch stays flat.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceCache(Generic[K, V]):
    """key -> the one task computing its value (see the module docstring for the policies)."""

    def __init__(
        self,
        *,
        max_entries: int | None = None,
        lifetime: Callable[[V], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._lifetime = lifetime
        self._entries: OrderedDict[K, tuple[float, asyncio.Future[V]]] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, make: Callable[[], Awaitable[V]]) -> Awaitable[V]:
        """The shared result for `key`, starting `make()` when there is none (or it expired)."""
        entry = self._entries.get(key)
        if entry is not None and (entry[0] == math.inf or entry[0] > self.clock()):
            self.hits += 1
            if self.max_entries is not None:
                self._entries.move_to_end(key)
            return asyncio.shield(entry[1])  # a done future comes back as it is: no new task
        self.misses += 1
        future = asyncio.ensure_future(make())
        self._entries[key] = (math.inf, future)  # in flight: never expires before it ends
        self._entries.move_to_end(key)
        if self._lifetime is not None:
            future.add_done_callback(lambda done: self._settle(key, done))
        if self.max_entries is not None:
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return asyncio.shield(future)

    def cancel(self) -> None:
        """Stop all work still running: the owner gives up on everything (a cancelled run)."""
        for _, future in self._entries.values():
            future.cancel()

    def _settle(self, key: K, future: asyncio.Future[V]) -> None:
        """With a lifetime: a finished entry gets its expiry; a failed one goes."""
        entry = self._entries.get(key)
        if entry is None or entry[1] is not future or self._lifetime is None:
            return  # evicted or replaced meanwhile
        if future.cancelled() or future.exception() is not None:
            del self._entries[key]
            return
        lifetime = self._lifetime(future.result())
        if lifetime <= 0:
            del self._entries[key]
        else:
            self._entries[key] = (self.clock() + lifetime, future)
