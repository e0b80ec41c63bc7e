"""MessageContext.shared: a message's shared verdicts are computed once however many checks
ask, concurrently or later, and a check that gives up waiting does not take the work away from
the others."""

from __future__ import annotations

import asyncio

from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.net.dns import Resolver, StaticBackend

RAW = b"From: a@clean.test\r\nTo: b@receiver.example\r\nSubject: s\r\n\r\nbody\r\n"


def _context(zone_data):
    return make_context(RawMessage("m.eml", RAW), Resolver(StaticBackend(zone_data)))


def _counted(runs: list[int], seconds: float, value):
    """A computation that notes each run in `runs` and takes `seconds`."""

    async def compute():
        runs.append(1)
        await asyncio.sleep(seconds)
        return value

    return compute


def test_computed_once_for_concurrent_and_later_callers(zone_data):
    ctx = _context(zone_data)
    runs: list[int] = []
    compute = _counted(runs, 0.01, ["verdict"])

    async def scenario():
        together = await asyncio.gather(*(ctx.shared("k", compute) for _ in range(3)))
        later = await ctx.shared("k", compute)
        return together, later

    together, later = asyncio.run(scenario())
    assert runs == [1]
    assert together == [["verdict"]] * 3 and later == ["verdict"]
    assert all(value is later for value in together)  # the one result, not copies


def test_a_first_caller_timing_out_hands_the_work_to_the_waiters(zone_data):
    ctx = _context(zone_data)
    runs: list[int] = []
    compute = _counted(runs, 0.05, "done")

    async def impatient():
        async with asyncio.timeout(0.01):  # a check's time limit
            return await ctx.shared("k", compute)

    async def scenario():
        first = asyncio.ensure_future(impatient())
        await asyncio.sleep(0)  # the first caller starts the work
        waiter = asyncio.ensure_future(ctx.shared("k", compute))
        results = await asyncio.gather(first, waiter, return_exceptions=True)
        return results, await ctx.shared("k", compute)

    (first, waited), later = asyncio.run(scenario())
    assert isinstance(first, TimeoutError)
    assert waited == "done" and later == "done"
    assert runs == [1, 1]  # restarted once for the waiter, then kept
