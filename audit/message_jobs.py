"""`audit message --jobs N`: messages on every core.

DKIM/RSA verification and MIME parsing are CPU bound, so messages are split into chunks and
audited by N worker processes. Each worker keeps one event loop and one DNS cache for its
whole life (every message from the same sender asks the same questions), built once from the
command's DNS options. Reports travel back as their JSON dicts (the schema is the contract).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from audit.history import IndexRows, index_rows
from audit.json_document import jsonl_line
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, audit_messages, relax_gc
from audit.model import Report, Severity
from audit.net.dns import build_backend
from audit.net.dns_limits import shared_backend
from audit.report_load import report_from_dict

MAX_CHUNK = 25

_worker: dict[str, Any] = {}  # per process: the event loop and the shared backend


def _start_worker(dns_servers: tuple[str, ...], zone_dir: str | None, timeout: float) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _worker["loop"] = loop
    _worker["backend"] = shared_backend(build_backend(dns_servers, zone_dir, timeout))


def _audit_chunk(
    messages: Sequence[RawMessage], options: dict[str, Any], fail_on: Severity | None
) -> list[Any]:
    """Reports as dicts; with `fail_on`, as (exit code, JSONL line, history index rows): the
    parent writes and records lines without parsing them again (it shares the cores with the
    workers)."""
    loop, backend = _worker["loop"], _worker["backend"]
    reports = loop.run_until_complete(audit_messages(messages, backend, **options))
    if fail_on is None:
        return [report.to_dict() for report in reports]
    out = []
    for report in reports:
        rows = index_rows(report, fail_on)
        out.append((rows[0][3], jsonl_line(report), rows))
    return out


def _preload() -> None:
    """Import what every worker needs before the workers fork, so each starts ready instead of
    importing the check modules (and dkimpy, the rule docs' tables) again on its own."""
    import audit.checks.message.bulk  # noqa: F401 - imported for its side: loaded once
    from audit.checks.message import message_checks

    message_checks()
    relax_gc()


def _context() -> BaseContext | None:
    """fork where the platform has it (the parent's imports are shared, nothing re-imported);
    elsewhere the platform's default."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def _chunks(messages: Sequence[RawMessage], jobs: int) -> Iterator[Sequence[RawMessage]]:
    """Small enough to spread the work evenly, large enough to amortize the hand-over."""
    size = max(1, min(MAX_CHUNK, math.ceil(len(messages) / (jobs * 4))))
    for start in range(0, len(messages), size):
        yield messages[start : start + size]


def audit_messages_parallel(
    messages: Sequence[RawMessage],
    *,
    jobs: int,
    dns_servers: tuple[str, ...] = (),
    zone_dir: Path | None = None,
    timeout: float = 5.0,
    envelope: EnvelopeOptions | None = None,
    now: datetime | None = None,
    check_timeout: float = 30.0,
    on_line: Callable[[int, str, IndexRows], None] | None = None,
    fail_on: Severity = Severity.HIGH,
) -> list[Report]:
    """Audit `messages` in `jobs` processes, in input order. With `on_line`, each report's exit
    code, JSONL line and history index rows are handed on as soon as the reports before it are
    (nothing is kept); without, the reports are returned."""
    envelope = envelope or EnvelopeOptions()
    options = {"envelope": envelope, "now": now, "check_timeout": check_timeout}
    start_args = (tuple(dns_servers), str(zone_dir) if zone_dir else None, timeout)
    lines = fail_on if on_line is not None else None
    _preload()
    with ProcessPoolExecutor(
        jobs, mp_context=_context(), initializer=_start_worker, initargs=start_args
    ) as pool:
        futures = [
            pool.submit(_audit_chunk, chunk, options, lines) for chunk in _chunks(messages, jobs)
        ]
        if on_line is not None:
            for future in futures:  # input order: a chunk waits only for the ones before it
                for code, line, rows in future.result():
                    on_line(code, line, rows)
            return []
        return [report_from_dict(d) for future in futures for d in future.result()]
