"""Work shared by every domain of one run: network probes made once per destination.

Many domains share MX hosts (a provider's `aspmx.l.google.com` serves millions), and mail
providers rate-limit port 25: a batch must probe each (MX host, address, port) once and share
the verdict. Probes also get their own bound (`max_probes` at a time), apart from DNS.
The memo is LRU-bounded so a long run keeps flat memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from audit.net.once import OnceCache

T = TypeVar("T")

DEFAULT_MAX_PROBES = 32
DEFAULT_MAX_ENTRIES = 10_000


class RunMemo:
    """`once(key, make)` across the whole run; `probe(key, make)` also holds a probe slot."""

    def __init__(
        self, max_probes: int = DEFAULT_MAX_PROBES, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        self._tasks: OnceCache[Hashable, Any] = OnceCache(max_entries=max_entries)
        self._slots = asyncio.Semaphore(max_probes)
        self.max_entries = max_entries

    @property
    def started(self) -> int:
        """How many distinct pieces of work were started (the rest were shared)."""
        return self._tasks.misses

    async def once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        result: T = await self._tasks.get(key, make)
        return result

    async def probe(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        async def bounded() -> T:
            async with self._slots:
                return await make()

        return await self.once(key, bounded)
