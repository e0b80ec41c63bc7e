"""audit/net/once.py: the one run-once-and-share cache behind the Resolver, the run-wide DNS cache,
the run memo, the DNSSEC validator, DomainContext.once and MessageContext.shared."""

import asyncio

import pytest

from audit.net.once import AskOnce, Memo, OnceCache


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


# ------------------------------------------------------------------ AskOnce (the DNS road)


class Kept(AskOnce[str, object]):
    """Keeps every value (as the Resolver does)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, object] = {}

    def kept(self, key: str) -> object | None:
        return self.values.get(key)

    def keep(self, key: str, value: object) -> None:
        self.values[key] = value


def test_ask_once_merges_callers_in_flight_and_keeps_what_the_subclass_keeps():
    cache = Kept()
    counter = Counter()

    async def scenario():
        first = await asyncio.gather(
            *(cache.get("k", counter.make("k", delay=0.01)) for _ in range(5))
        )
        later = await cache.get("k", counter.make("k"))
        return first, later

    first, later = asyncio.run(scenario())
    assert first == ["value of k"] * 5 and later == "value of k"
    assert counter.calls == ["k"] and cache.values == {"k": "value of k"}


def test_ask_once_without_keeping_shares_only_work_in_flight():
    cache: AskOnce[str, object] = AskOnce()
    counter = Counter()

    async def scenario():
        await asyncio.gather(cache.get("k", counter.make("k", delay=0.01)),
                             cache.get("k", counter.make("k")))  # fmt: skip
        await cache.get("k", counter.make("k"))

    asyncio.run(scenario())
    assert counter.calls == ["k", "k"]


def test_ask_once_a_failure_reaches_every_caller_and_is_not_kept():
    cache = Kept()
    counter = Counter()

    async def scenario():
        failed = await asyncio.gather(
            *(cache.get("k", counter.make("k", delay=0.01, fail=True)) for _ in range(3)),
            return_exceptions=True,
        )
        return failed, await cache.get("k", counter.make("k"))

    failed, later = asyncio.run(scenario())
    assert [type(f) for f in failed] == [ConnectionResetError] * 3
    assert later == "value of k" and counter.calls == ["k", "k"]


def test_ask_once_a_cancelled_first_caller_hands_the_work_to_those_still_waiting():
    cache = Kept()
    counter = Counter()

    async def scenario():
        first = asyncio.ensure_future(cache.get("k", counter.make("k", delay=0.02)))
        second = asyncio.ensure_future(cache.get("k", counter.make("k", delay=0.02)))
        third = asyncio.ensure_future(cache.get("k", counter.make("k", delay=0.02)))
        await asyncio.sleep(0.005)
        first.cancel()
        third.cancel()  # a waiter giving up cancels only itself
        return await second, first.cancelled(), third.cancelled()

    assert asyncio.run(scenario()) == ("value of k", True, True)
    assert counter.calls == ["k", "k"]  # asked again for the one still waiting
    assert cache.values == {"k": "value of k"}


def test_ask_once_a_cancelled_first_caller_alone_drops_the_work():
    cache = Kept()
    counter = Counter()

    async def scenario():
        first = asyncio.ensure_future(cache.get("k", counter.make("k", delay=0.02)))
        await asyncio.sleep(0.005)
        first.cancel()
        await asyncio.sleep(0.03)
        return await cache.get("k", counter.make("k"))

    assert asyncio.run(scenario()) == "value of k"
    assert counter.calls == ["k", "k"]


def test_memo_keeps_results_and_failures_for_later_callers():
    memo: Memo[str, object] = Memo()
    counter = Counter()

    async def scenario():
        slow = counter.make("k", delay=0.01)
        good = await asyncio.gather(*(memo.get("k", slow) for _ in range(3)))
        again = await memo.get("k", counter.make("k"))
        with pytest.raises(ConnectionResetError):
            await memo.get("bad", counter.make("bad", fail=True))
        with pytest.raises(ConnectionResetError):  # shared, not retried
            await memo.get("bad", counter.make("bad"))
        return good, again

    good, again = asyncio.run(scenario())
    assert good == ["value of k"] * 3 and again == "value of k"
    assert counter.calls == ["k", "bad"]
