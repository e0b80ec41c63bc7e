"""audit/net/once.py: the one run-once-and-share cache behind the Resolver, the run-wide DNS cache,
the run memo, the DNSSEC validator, DomainContext.once and MessageContext.shared."""

import asyncio

import pytest

from audit.net.once import OnceCache


class Counter:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def make(self, key: str, result: object = None, delay: float = 0.0, fail: bool = False):
        async def work() -> object:
            self.calls.append(key)
            await asyncio.sleep(delay)
            if fail:
                raise ConnectionResetError(key)
            return result if result is not None else f"value of {key}"

        return work


def test_concurrent_callers_share_one_run():
    cache: OnceCache[str, object] = OnceCache()
    counter = Counter()

    async def scenario():
        return await asyncio.gather(
            *(cache.get("k", counter.make("k", delay=0.01)) for _ in range(5))
        )

    assert asyncio.run(scenario()) == ["value of k"] * 5
    assert counter.calls == ["k"] and (cache.hits, cache.misses) == (4, 1)


def test_without_a_lifetime_a_failure_is_kept_and_shared():
    cache: OnceCache[str, object] = OnceCache()
    counter = Counter()

    async def scenario():
        first = await asyncio.gather(
            cache.get("k", counter.make("k", fail=True)), return_exceptions=True
        )
        later = await asyncio.gather(cache.get("k", counter.make("k")), return_exceptions=True)
        return first + later

    results = asyncio.run(scenario())
    assert all(isinstance(r, ConnectionResetError) for r in results)
    assert counter.calls == ["k"]  # not retried


def test_with_a_lifetime_failures_are_dropped_and_results_expire():
    now = [0.0]
    cache: OnceCache[str, object] = OnceCache(lifetime=lambda v: 10.0, clock=lambda: now[0])
    counter = Counter()

    async def scenario():
        with pytest.raises(ConnectionResetError):
            await cache.get("bad", counter.make("bad", fail=True))
        assert await cache.get("bad", counter.make("bad")) == "value of bad"  # asked again
        await cache.get("good", counter.make("good"))
        now[0] = 9.9
        await cache.get("good", counter.make("good"))  # still fresh
        now[0] = 10.1
        await cache.get("good", counter.make("good"))  # expired: asked again

    asyncio.run(scenario())
    assert counter.calls == ["bad", "bad", "good", "good"]


def test_a_zero_lifetime_is_not_kept():
    cache: OnceCache[str, object] = OnceCache(lifetime=lambda v: 0.0)
    counter = Counter()

    async def scenario():
        await cache.get("k", counter.make("k"))
        await cache.get("k", counter.make("k"))

    asyncio.run(scenario())
    assert counter.calls == ["k", "k"] and len(cache) == 0


def test_least_recently_used_goes_first():
    cache: OnceCache[str, object] = OnceCache(max_entries=2)
    counter = Counter()

    async def scenario():
        for key in ("a", "b", "a", "c", "a", "b"):  # c evicts b (a was used after b)
            await cache.get(key, counter.make(key))

    asyncio.run(scenario())
    assert counter.calls == ["a", "b", "c", "b"] and len(cache) == 2


def test_a_cancelled_caller_leaves_the_work_running_for_the_others():
    cache: OnceCache[str, object] = OnceCache()
    counter = Counter()

    async def scenario():
        impatient = asyncio.ensure_future(cache.get("k", counter.make("k", delay=0.02)))
        patient = asyncio.ensure_future(cache.get("k", counter.make("k")))
        await asyncio.sleep(0.005)
        impatient.cancel()
        return await patient, impatient.cancelled()

    assert asyncio.run(scenario()) == ("value of k", True)
    assert counter.calls == ["k"]


def test_cancel_stops_the_work_still_running():
    cache: OnceCache[str, object] = OnceCache()
    counter = Counter()

    async def scenario():
        done = await cache.get("done", counter.make("done"))
        waiting = asyncio.ensure_future(cache.get("slow", counter.make("slow", delay=10)))
        await asyncio.sleep(0.005)
        cache.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return done, await cache.get("done", counter.make("done"))

    assert asyncio.run(scenario()) == ("value of done", "value of done")
