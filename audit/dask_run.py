"""`audit domain --scheduler ADDRESS`: a domain list audited on a Dask distributed cluster.

The client splits the list into chunks and submits one task per chunk; a worker runs the same
async batch engine (`audit.batch.audit_batch`) on its chunk with its own DNS cache, and sends
the reports back as the --jobs workers do (a digest and the finished JSON Lines line); the
client writes each line as it is when its chunk completes, into the same JSONL (or summary) as
a single-machine run. Dask retries a chunk whose worker was lost (and, `retries`, one that
raised). Needs the optional extra: `pip install audit[distributed]`.

Workers must be able to import `audit` and reach the DNS servers named (`--dns-server`) or the
zone directory (`--zone-dir`, at the same path on every worker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from audit.model import Report

DEFAULT_CHUNK = 50
RETRIES = 2


class DaskUnavailable(RuntimeError):
    """`distributed` is not installed, or the scheduler cannot be reached."""


def audit_chunk(
    names: Sequence[str],
    dns: tuple[tuple[str, ...], str | None, float],
    options: dict[str, Any],
    concurrency: int,
) -> list[bytes]:
    """Runs on a worker: one chunk through the batch engine, each report as the --jobs workers
    send it (audit.batch.report_message: its digest and its finished JSON Lines line)."""
    from audit.batch import audit_share, report_message

    reports: list[bytes] = []
    audit_share(names, dns, lambda r: reports.append(report_message(r)),
                concurrency=concurrency, **options)  # fmt: skip
    return reports


def chunks(names: Sequence[str], size: int) -> list[list[str]]:
    return [list(names[i : i + size]) for i in range(0, len(names), size)]


async def audit_on_cluster(
    scheduler: str,
    names: Sequence[str],
    dns: tuple[tuple[str, ...], str | None, float],
    on_done: Callable[[Report], None],
    *,
    concurrency: int,
    chunk_size: int = 0,
    connect_timeout: float = 30.0,
    **options: Any,
) -> int:
    """Submit the chunks to the cluster at `scheduler`; hand each report to `on_done` as its
    chunk comes back. Returns how many reports came back. `chunk_size` 0: sized so every
    worker thread gets about four chunks (at most DEFAULT_CHUNK domains each)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise DaskUnavailable(
            "--scheduler needs Dask distributed: pip install 'audit[distributed]'"
        ) from None
    from audit.batch import report_from_message

    try:
        client = await Client(scheduler, asynchronous=True, timeout=connect_timeout)
    except (OSError, TimeoutError) as exc:
        raise DaskUnavailable(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    count = 0
    try:
        threads = sum((await client.nthreads()).values()) if not chunk_size else 0
        size = chunk_size or max(1, min(DEFAULT_CHUNK, -(-len(names) // max(1, 4 * threads))))
        futures = [
            client.submit(audit_chunk, chunk, dns, options, concurrency, pure=False,
                          retries=RETRIES, key=f"audit-chunk-{i}-{id(names)}")
            for i, chunk in enumerate(chunks(names, size))
        ]  # fmt: skip
        async for future in as_completed(futures):
            for message in await future:
                on_done(report_from_message(message))
                count += 1
            future.release()
    finally:
        await client.close()
    return count
