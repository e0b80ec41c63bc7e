"""Runs checks concurrently, each under its own timeout; a crash becomes an outcome, never a gap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from audit.checks.caps import cap_facts, cap_findings
from audit.model import CheckOutcome, CheckResult, Status

C = TypeVar("C")
Check = Callable[[C], Awaitable[CheckResult]]


async def run_check(name: str, target: str, check: Check, ctx: C, timeout: float) -> CheckOutcome:
    """One check, timed and contained: a timeout is inconclusive, an exception is an error."""
    start = time.perf_counter()
    try:
        result = await asyncio.wait_for(check(ctx), timeout)
    except TimeoutError:
        return CheckOutcome(
            name,
            target,
            Status.INCONCLUSIVE,
            error=f"check did not finish within {timeout:g}s",
            duration_ms=(time.perf_counter() - start) * 1000,
        )
    except Exception as exc:  # noqa: BLE001 - a crashed check is reported, not raised
        return CheckOutcome(
            name,
            target,
            Status.ERROR,
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=(time.perf_counter() - start) * 1000,
        )
    return CheckOutcome(
        name,
        target,
        result.status,
        facts=cap_facts(result.facts),
        findings=cap_findings(result.findings),  # hostile input multiplies items, not findings
        error=result.error,
        duration_ms=(time.perf_counter() - start) * 1000,
    )


async def run_checks(
    target: str, ctx: C, checks: Sequence[tuple[str, Check]], timeout: float
) -> list[CheckOutcome]:
    """All checks at once; outcomes come back in the order the checks were given."""
    return list(
        await asyncio.gather(*(run_check(name, target, fn, ctx, timeout) for name, fn in checks))
    )
