"""Runs checks concurrently, each under its own timeout; a crash becomes an outcome, never a gap."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Protocol, TypeVar

from audit.checks import Check
from audit.checks.caps import cap_facts, cap_findings
from audit.model import CheckOutcome, Finding, Status

C = TypeVar("C")
GC_YOUNG = 20_000  # allocations between young-generation collections (Python's default: 700)


class CheckObserver(Protocol):
    """Told when each check starts and ends (sslyze's observer): a progress display on a long
    run, never part of the result. It must not raise or block."""

    def check_started(self, target: str, check: str) -> None: ...

    def check_finished(self, outcome: CheckOutcome) -> None: ...


def relax_gc() -> None:
    """For a process about to run many audits (a domain list): what is loaded by now (modules,
    rule tables) lives as long as the process, so the collector stops scanning it
    (gc.freeze), and each audit's short-lived objects are collected in larger, rarer batches.
    With Python's default thresholds, 500 domains in flight cost ~6.5 ms of collection per
    domain (a third of the CPU): every collection walks the many live objects of the audits
    in flight; with these, ~0.5 ms. Once per process."""
    if gc.get_threshold()[0] >= GC_YOUNG:
        return  # done already (or the process chose larger batches itself)
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


async def run_check(
    name: str,
    target: str,
    check: Check,
    ctx: C,
    timeout: float,
    observer: CheckObserver | None = None,
) -> CheckOutcome:
    """One check, observed: the observer hears of it before it starts and after it ends."""
    if observer is not None:
        observer.check_started(target, name)
    outcome = await _contained(name, target, check, ctx, timeout)
    if observer is not None:
        observer.check_finished(outcome)
    return outcome


async def _contained(name: str, target: str, check: Check, ctx: C, timeout: float) -> CheckOutcome:
    """One check, timed and contained: a timeout is inconclusive, an exception is an error."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):  # in this task: no task and waiter per check
            result = await check(ctx)
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
        # temperrors merged first, then hostile input multiplies items, not findings
        findings=cap_findings(collapse_temperrors(result.findings, target, name)),
        error=result.error,
        duration_ms=(time.perf_counter() - start) * 1000,
    )


async def run_checks(
    target: str,
    ctx: C,
    checks: Sequence[tuple[str, Check]],
    timeout: float,
    observer: CheckObserver | None = None,
) -> list[CheckOutcome]:
    """All checks at once; outcomes come back in the order the checks were given."""
    return list(
        await asyncio.gather(
            *(run_check(name, target, fn, ctx, timeout, observer) for name, fn in checks)
        )
    )


MAX_LISTED_LOOKUPS = 20
COLLAPSED_RULE = "DNS001"  # only failed lookups are merged; BL001, STS301... keep their targets


def collapse_temperrors(findings: list[Finding], target: str, check: str = "") -> list[Finding]:
    """One DNS001 per check, listing every failed lookup.

    A DNS server that stops answering fails every lookup a check makes (48 guessed DKIM
    selectors): one finding that names them all says the same, and keeps the real verdicts
    visible. It takes the place of the first; its target is the common one, else the check's.
    """
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.rule.id == COLLAPSED_RULE:
            grouped.setdefault(finding.rule.id, []).append(finding)
    if all(len(group) == 1 for group in grouped.values()):
        return findings
    out: list[Finding] = []
    for finding in findings:
        group = grouped.get(finding.rule.id) if finding.rule.id == COLLAPSED_RULE else None
        if group is None or len(group) == 1:
            out.append(finding)
        elif finding is group[0]:
            out.append(_merged(group, target, check))
    return out


def _merged(group: list[Finding], target: str, check: str) -> Finding:
    first = group[0]
    targets = {f.target for f in group}
    listed = [f.message for f in group[:MAX_LISTED_LOOKUPS]]
    if len(group) > MAX_LISTED_LOOKUPS:
        listed.append(f"... and {len(group) - MAX_LISTED_LOOKUPS} more failed lookups")
    worst = max((f.effective_severity for f in group), key=lambda s: s.rank)
    return Finding(
        first.rule,
        first.target if len(targets) == 1 else target,
        message=f"{len(group)} DNS lookups failed; the first: {first.message}",
        evidence=listed,
        fix=first.fix,
        severity=worst,
        # stable across runs whatever lookups failed this time: baselines and drift see one
        # "this check could not tell" finding, not a new one each run
        fingerprint_key=f"{COLLAPSED_RULE}:{check}",
    )
