"""Many domains in one run: the domain list, resuming from a JSONL output, and the streaming
engine that audits a bounded number of domains at a time and hands each report on as it ends.

Memory is bounded by the concurrency, not by the number of domains: a report is handed to
`on_done` and dropped; only the list of names (and the set of those already seen) is kept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audit import __version__
from audit.domains import normalize_domain
from audit.json_document import jsonl_text
from audit.model import CheckOutcome, Report, Status
from audit.net.dns import Backend
from audit.net.dns_limits import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_RATE,
    LimitedBackend,
    shared_backend,
)
from audit.net.run_memo import DEFAULT_MAX_PROBES, RunMemo
from audit.report_load import report_from_dict

DEFAULT_CONCURRENCY = 50  # domains in flight: a laptop on a home resolver copes with this


@dataclass(frozen=True)
class BadLine:
    """A line of the domain list that is not a domain name: reported, never fatal."""

    line: int
    text: str
    reason: str


@dataclass
class DomainList:
    """The unique valid names of a list, in order of first appearance, and its bad lines."""

    names: list[str]
    bad: list[BadLine]
    duplicates: int = 0


def read_domain_list(lines: Iterable[str], already: Iterable[str] = ()) -> DomainList:
    """One domain a line; `#` starts a comment; blank lines and repeats are skipped.

    `already` are names given another way (arguments): a repeat of one of them is a duplicate.
    """
    seen = dict.fromkeys(already)
    names: list[str] = []
    bad: list[BadLine] = []
    duplicates = 0
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            name = normalize_domain(text)
        except ValueError as exc:
            reason = str(exc)
            reason = reason if len(reason) <= 300 else reason[:300] + "..."  # a huge line
            bad.append(BadLine(number, text[:200], reason))
            continue
        if name in seen:
            duplicates += 1
            continue
        seen[name] = None
        names.append(name)
    return DomainList(names, bad, duplicates)


def done_targets(path: Path) -> set[str]:
    """The targets already written to a JSONL output (for --resume). A line that does not parse
    (the last one, cut by a crash) counts as not done: that domain is audited again."""
    done: set[str] = set()
    try:
        stream = path.open("r", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return done
    with stream:
        for line in stream:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("target"), str):
                done.add(data["target"])
    return done


def open_for_append(path: Path) -> IO[str]:
    """Open a JSONL file to add lines, first cutting a trailing partial line (a crash in the
    middle of a write) so every line stays one whole JSON object."""
    if path.exists():
        with path.open("rb+") as raw:
            data = raw.read()
            if data and not data.endswith(b"\n"):
                raw.truncate(data.rfind(b"\n") + 1)
    return path.open("a", encoding="utf-8")


def crashed_report(domain: str, exc: BaseException) -> Report:
    """A domain whose audit itself failed still gets its line: an error, not a gap."""
    outcome = CheckOutcome("audit", domain, Status.ERROR, error=f"{type(exc).__name__}: {exc}")
    return Report(kind="domain", target=domain, outcomes=[outcome], tool_version=__version__)


def report_message(report: Report) -> bytes:
    """A finished report as a worker process (or a cluster task) hands it back: its digest
    (the report's JSON without facts and queries: what the summary, the exit code and the
    run history read), a newline, then its JSON Lines line exactly as it is written. The
    receiving process writes the line as it is and parses only the small digest."""
    data = report.to_dict()
    digest = {
        **data,
        "summary": None,
        "outcomes": [{**outcome, "facts": {}} for outcome in data["outcomes"]],
        "queries": [],
    }
    return (json.dumps(digest) + "\n" + jsonl_text(data)).encode()


def report_from_message(message: bytes) -> Report:
    """The digest of a report_message: statuses, errors and findings (fingerprints as the
    worker computed them), no facts nor queries; `rendered` holds the whole JSON Lines line."""
    digest, line = message.decode().split("\n", 1)
    report = report_from_dict(json.loads(digest))
    report.rendered = line
    return report


async def stream_audits(
    names: Iterable[str],
    audit_one: Callable[[str], object],
    on_done: Callable[[Report], None],
    concurrency: int = DEFAULT_CONCURRENCY,
) -> int:
    """Audit `names` with `concurrency` workers pulling from one iterator; each report goes to
    `on_done` as soon as it ends and is then dropped. Returns how many were audited."""
    iterator: Iterator[str] = iter(names)
    count = 0

    async def worker() -> None:
        nonlocal count
        for name in iterator:  # one shared iterator: each name is taken by exactly one worker
            try:
                report = await audit_one(name)  # type: ignore[misc]
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one domain's crash is its own report
                report = crashed_report(name, exc)
            on_done(report)
            count += 1

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return count


async def audit_batch(
    names: Iterable[str],
    backend: Backend,
    on_done: Callable[[Report], None],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    dns_rate: float = DEFAULT_RATE,
    max_probes: int = DEFAULT_MAX_PROBES,
    **options,
) -> int:
    """`audit domain` over many names: `concurrency` domains at a time, each report handed to
    `on_done` as it ends; one DNS cache and one probe memo for the run. Returns how many
    domains were audited."""
    from audit.domain_audit import audit_domain

    shared = shared_backend(backend, max_in_flight=max_in_flight, rate=dns_rate)
    limiter = shared.inner if isinstance(shared.inner, LimitedBackend) else None
    run = RunMemo(max_probes=max_probes)

    async def one(name: str) -> Report:
        if limiter is not None:
            await limiter.admit()  # a new domain only when DNS has room
        return await audit_domain(name, shared, run=run, **options)

    return await stream_audits(names, one, on_done, concurrency)


def audit_share(
    names: Sequence[str],
    dns: tuple[tuple[str, ...], str | None, float],
    on_done: Callable[[Report], None],
    *,
    concurrency: int,
    **options: Any,
) -> None:
    """A share of a list audited in an event loop of its own over its own resolver (built
    from the CLI's DNS settings): the unit of work of a worker process or a Dask task."""
    from audit.event_loop import run as run_loop
    from audit.net.dns import build_backend

    async def run() -> None:
        await audit_batch(names, build_backend(*dns), on_done, concurrency=concurrency, **options)

    run_loop(run())
