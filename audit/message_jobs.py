"""`audit message --jobs N`: messages on every core.

DKIM/RSA verification and MIME parsing are CPU bound, so messages are split into chunks and
audited by N worker processes. Each worker keeps one event loop and one DNS cache for its
whole life (every message from the same sender asks the same questions), built once from the
command's DNS options. Reports travel back as their JSON dicts (the schema is the contract).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, audit_message
from audit.model import Report, report_from_dict
from audit.net.dns import build_backend
from audit.net.dns_limits import shared_backend

MAX_CHUNK = 25

_worker: dict[str, Any] = {}  # per process: the event loop and the shared backend


def _start_worker(dns_servers: tuple[str, ...], zone_dir: str | None, timeout: float) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _worker["loop"] = loop
    _worker["backend"] = shared_backend(build_backend(dns_servers, zone_dir, timeout))


def _audit_chunk(messages: Sequence[RawMessage], options: dict[str, Any]) -> list[dict[str, Any]]:
    loop, backend = _worker["loop"], _worker["backend"]

    async def run() -> list[dict[str, Any]]:
        return [(await audit_message(m, backend, **options)).to_dict() for m in messages]

    return loop.run_until_complete(run())


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
    on_done: Callable[[Report], None] | None = None,
) -> list[Report]:
    """Audit `messages` in `jobs` processes. With `on_done`, each report is handed on as its
    chunk ends (any order) and nothing is kept; without, reports come back in input order."""
    envelope = envelope or EnvelopeOptions()
    options = {"envelope": envelope, "now": now, "check_timeout": check_timeout}
    start_args = (tuple(dns_servers), str(zone_dir) if zone_dir else None, timeout)
    with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=start_args) as pool:
        futures = [pool.submit(_audit_chunk, chunk, options) for chunk in _chunks(messages, jobs)]
        if on_done is not None:
            for future in as_completed(futures):
                for data in future.result():
                    on_done(report_from_dict(data))
            return []
        return [report_from_dict(d) for future in futures for d in future.result()]
