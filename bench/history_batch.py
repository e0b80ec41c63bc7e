"""Memory of recording a streamed batch in the run history: RunBuffer (compressed JSON and index
rows, report by report) against the baseline of keeping every Report until the end and calling
HistoryStore.record, in the same run. Reports are the fixture zones' domain audits (offline),
repeated to COUNT.

    python bench/history_batch.py [COUNT]     # default 5000

Prints each side's peak traced memory (tracemalloc) and the ratio baseline / buffer.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.domain_audit import audit_domains  # noqa: E402
from audit.history import HistoryStore, RunBuffer  # noqa: E402
from audit.model import Report  # noqa: E402
from audit.net.dns import build_backend  # noqa: E402
from audit.report_load import report_from_dict  # noqa: E402

ZONES = Path(__file__).resolve().parent.parent / "fixtures" / "zones"


def sample() -> list[dict]:
    names = sorted(p.stem for p in ZONES.glob("*.zone") if "arpa" not in p.stem and "." in p.stem)
    reports = asyncio.run(audit_domains(names, build_backend((), str(ZONES), 5.0), probes=False))
    return [r.to_dict() for r in reports]


def stream(dicts: list[dict], count: int) -> object:
    """Reports as a batch hands them over: one at a time, each built afresh."""
    for i in range(count):
        yield report_from_dict(dicts[i % len(dicts)])


def peak(work: Callable[[], None]) -> int:
    tracemalloc.start()
    work()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    dicts = sample()
    folder = Path(tempfile.mkdtemp(prefix="audit-bench-history-"))

    def baseline() -> None:
        kept: list[Report] = list(stream(dicts, count))
        HistoryStore(folder / "baseline.sqlite3").record("domain", kept, 1)

    def buffered() -> None:
        run = RunBuffer()
        for report in stream(dicts, count):
            run.add(report)
        HistoryStore(folder / "buffer.sqlite3").save("domain", run, 1)

    keep, buffer = peak(baseline), peak(buffered)
    print(f"{count} domain reports ({len(dicts)} distinct fixture domains)")
    print(f"baseline (keep every Report, record at the end): peak {keep / 2**20:.1f} MiB")
    print(f"RunBuffer (streamed, compressed):                  peak {buffer / 2**20:.1f} MiB")
    print(f"ratio baseline / buffer: {keep / buffer:.1f}x")


if __name__ == "__main__":
    main()
