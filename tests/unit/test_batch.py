"""The batch engine's pure parts: reading a domain list, bounded streaming, resume."""

from __future__ import annotations

import asyncio
import gc
import weakref

from audit.batch import read_domain_list, stream_audits
from audit.model import Report


def test_list_reading_skips_comments_blanks_and_repeats_and_numbers_bad_lines():
    listing = read_domain_list(
        ["a.example  # first\n", "\n", "# only a comment\n", "A.Example.\n", "http://x.example\n",
         "b.example\n", "nodot\n"],
        already=["b.example"],
    )  # fmt: skip
    assert listing.names == ["a.example"]
    assert [(b.line, b.text) for b in listing.bad] == [(5, "http://x.example"), (7, "nodot")]
    assert "URL" in listing.bad[0].reason and "fully qualified" in listing.bad[1].reason
    assert listing.duplicates == 2


def test_stream_keeps_at_most_concurrency_in_flight_and_drops_each_report():
    in_flight = peak = 0
    seen: list[str] = []
    refs: list[weakref.ref] = []

    async def audit_one(name: str) -> Report:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        if name == "boom.example":
            raise RuntimeError("a bug")
        return Report(kind="domain", target=name)

    def on_done(report: Report) -> None:
        seen.append(report.target)
        refs.append(weakref.ref(report))

    names = [f"d{i}.example" for i in range(200)] + ["boom.example"]
    count = asyncio.run(stream_audits(names, audit_one, on_done, concurrency=7))
    gc.collect()
    assert count == 201 and peak == 7
    assert sorted(seen) == sorted(names)  # each exactly once, the crashed one too
    assert all(ref() is None for ref in refs)  # nothing keeps a report after it was handed on


def test_batch_exit_code_orders_fail_then_crash_then_unknown():
    from collections import Counter

    from audit.cli_batch import _gate

    assert _gate(Counter(PASS=3)) == 0
    assert _gate(Counter(PASS=1, INCONCLUSIVE=2)) == 3
    assert _gate(Counter(INCONCLUSIVE=2, ERROR=1)) == 4  # a crashed check is a bug to report
    assert _gate(Counter(ERROR=1, FAIL=1, INCONCLUSIVE=1)) == 1
