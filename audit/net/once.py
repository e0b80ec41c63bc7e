"""Run once and share: the first caller of a key starts the work, every caller awaits it.

Checks, the resolver and the validator run concurrently and often need the same thing at the
same time (one DNS answer, one STARTTLS probe of an MX address, one zone's DNSSEC keys). The
work runs as its own task, and each caller awaits it through `asyncio.shield`: a caller
cancelled by its check's time limit stops waiting, while the work (and everyone else waiting
on it) goes on.

A result is kept as long as the cache, and so is an exception (a failed probe is not retried
by every check that needs it). `max_entries` bounds memory (least recently used first out): a
long batch stays flat. The DNS road, where answers expire with their TTLs and failures are not
kept, uses the leaner `AskOnce` below (audit.net.dns_cache.SharedCache).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OnceCache(Generic[K, V]):
    """key -> the one task computing its value (see the module docstring)."""

    def __init__(self, *, max_entries: int | None = None) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[K, asyncio.Future[V]] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, make: Callable[[], Awaitable[V]]) -> Awaitable[V]:
        """The shared result for `key`, starting `make()` when there is none."""
        entry = self._entries.get(key)
        if entry is not None:
            self.hits += 1
            if self.max_entries is not None:
                self._entries.move_to_end(key)
            return asyncio.shield(entry)  # a done future comes back as it is: no new task
        self.misses += 1
        future = self._entries[key] = asyncio.ensure_future(make())
        if self.max_entries is not None:
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return asyncio.shield(future)

    def cancel(self) -> None:
        """Stop all work still running: the owner gives up on everything (a cancelled run)."""
        for future in self._entries.values():
            future.cancel()


class AskOnce(Generic[K, V]):
    """key -> value computed once, the lean way for the DNS road (tens of thousands of
    questions a run, where `OnceCache`'s task and shield per question were most of the cost).

    The first caller of a key runs `make()` itself, in its own task; callers that come while it
    runs each wait on a future of their own (a cancelled waiter cancels only its own). When the
    first caller is cancelled (its check's time limit) while others wait, the work starts again
    in a task for them; with nobody waiting it is simply dropped. An exception reaches every
    caller and is not kept. What is kept, and for how long, subclasses decide (`kept`/`keep`);
    here nothing is: only work in flight is shared.
    """

    def __init__(self) -> None:
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._handed: set[asyncio.Future[None]] = set()  # hand-over tasks, kept referenced

    def kept(self, key: K) -> V | None:
        """A finished value still valid for `key` (None: ask)."""
        return None

    def keep(self, key: K, value: V) -> None:
        """Remember a finished value (called before the waiters get it)."""

    def keep_failure(self, key: K, error: BaseException) -> None:
        """Remember a failure (called before the waiters get it); here it is not kept."""

    async def get(self, key: K, make: Callable[[], Awaitable[V]]) -> V:
        value = self.kept(key)
        if value is not None:
            return value
        waiting = self._waiting.get(key)
        if waiting is not None:
            future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
            waiting.append(future)
            return await future
        waiting = self._waiting[key] = []
        try:
            value = await make()
        except asyncio.CancelledError:
            self._hand_over(key, waiting, make)
            raise
        except BaseException as exc:
            self._finish(key, waiting, None, exc)
            raise
        self._finish(key, waiting, value)
        return value

    def _hand_over(
        self, key: K, waiting: list[asyncio.Future[V]], make: Callable[[], Awaitable[V]]
    ) -> None:
        """The first caller gave up: the others (if any still wait) get the work as a task."""
        if all(f.done() for f in waiting):
            if self._waiting.get(key) is waiting:
                del self._waiting[key]
            return

        async def finish() -> None:
            try:
                value = await make()
            except asyncio.CancelledError:
                self._finish(key, waiting, None, cancelled=True)
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the waiters
                self._finish(key, waiting, None, exc)
                return
            self._finish(key, waiting, value)

        task = asyncio.ensure_future(finish())
        self._handed.add(task)
        task.add_done_callback(self._handed.discard)

    def _finish(
        self,
        key: K,
        waiting: list[asyncio.Future[V]],
        value: V | None,
        error: BaseException | None = None,
        cancelled: bool = False,
    ) -> None:
        if self._waiting.get(key) is waiting:
            del self._waiting[key]
        if error is not None:
            self.keep_failure(key, error)
        elif not cancelled:
            self.keep(key, value)  # type: ignore[arg-type]
        for future in waiting:
            if future.done():
                continue
            if cancelled:
                future.cancel()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)  # type: ignore[arg-type]


class Memo(AskOnce[K, V]):
    """`AskOnce` keeping every result for its life, and every failure too (a later caller
    gets the same exception, as with `OnceCache`): derived facts of one audit."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[K, V] = {}
        self.failures: dict[K, BaseException] = {}

    def kept(self, key: K) -> V | None:
        failure = self.failures.get(key)
        if failure is not None:
            raise failure
        return self.values.get(key)

    def keep(self, key: K, value: V) -> None:
        self.values[key] = value

    def keep_failure(self, key: K, error: BaseException) -> None:
        if isinstance(error, Exception):  # KeyboardInterrupt and the like are not results
            self.failures[key] = error
