"""The runner: a check that overruns its timeout is inconclusive, a crash is an error, and
neither holds up or hides the checks beside it."""

from __future__ import annotations

import asyncio

from audit.model import CheckResult, Status
from audit.runner import run_check, run_checks


async def _slow(ctx: dict) -> CheckResult:
    await asyncio.sleep(5)
    return CheckResult(facts={"never": True})


async def _crash(ctx: dict) -> CheckResult:
    raise ValueError("bad record")


async def _quick(ctx: dict) -> CheckResult:
    return CheckResult(facts={"seen": ctx["name"], "items": list(range(3))})


def test_a_check_past_its_timeout_is_inconclusive_and_cancelled():
    cancelled: list[bool] = []

    async def slow(ctx: dict) -> CheckResult:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return CheckResult()

    outcome = asyncio.run(run_check("slow", "example.test", slow, {}, 0.05))
    assert outcome.status is Status.INCONCLUSIVE
    assert outcome.error == "check did not finish within 0.05s"
    assert outcome.facts == {} and cancelled == [True]


def test_checks_side_by_side_keep_their_own_outcomes_in_order():
    outcomes = asyncio.run(
        run_checks(
            "example.test",
            {"name": "example.test"},
            [("slow", _slow), ("crash", _crash), ("quick", _quick)],
            0.05,
        )
    )
    assert [(o.check, o.status) for o in outcomes] == [
        ("slow", Status.INCONCLUSIVE),
        ("crash", Status.ERROR),
        ("quick", Status.COMPLETED),
    ]
    assert outcomes[1].error == "ValueError: bad record"
    assert outcomes[2].facts == {"seen": "example.test", "items": [0, 1, 2]}
