"""DomainContext.once: concurrent checks share one probe per key, failures included."""

from __future__ import annotations

import asyncio

from audit.checks.common import DomainContext
from audit.net.dns import Resolver, memory_backend


def _ctx() -> DomainContext:
    return DomainContext("example.test", Resolver(memory_backend({})))


def test_once_runs_the_factory_once_for_concurrent_callers() -> None:
    ctx, calls = _ctx(), []

    async def probe() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        return "chain"

    async def main() -> list[str]:
        return await asyncio.gather(*(ctx.once(("smtp", "mx1"), probe) for _ in range(5)))

    assert asyncio.run(main()) == ["chain"] * 5
    assert calls == [1]


def test_once_shares_an_exception_and_keeps_keys_apart() -> None:
    ctx, calls = _ctx(), []

    async def boom() -> str:
        calls.append("boom")
        raise ConnectionRefusedError("refused")

    async def fine() -> str:
        calls.append("fine")
        return "ok"

    async def main() -> tuple[list[BaseException | str], str]:
        results = await asyncio.gather(
            ctx.once("a", boom), ctx.once("a", boom), return_exceptions=True
        )
        return results, await ctx.once("b", fine)

    results, other = asyncio.run(main())
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert other == "ok"
    assert calls == ["boom", "fine"]


def test_memory_backend_context_is_usable_without_options() -> None:
    ctx = _ctx()
    assert ctx.smtp_port == 25 and ctx.trust_anchor_file is None
    assert len(ctx._memo) == 0  # nothing shared before a check asks


def test_a_cancelled_waiter_does_not_poison_the_others() -> None:
    """A check cancelled by its timeout while it started the shared probe: the other checks
    still get the probe's result (once() must never hand them a CancelledError)."""
    ctx = _ctx()

    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "probed"

    async def main() -> str:
        first = asyncio.ensure_future(ctx.once("k", slow))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(ctx.once("k", slow))
        await asyncio.sleep(0.01)
        first.cancel()
        return await second

    assert asyncio.run(main()) == "probed"
