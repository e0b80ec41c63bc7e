"""`audit domain --from-file ... --jobs 2`: a list on two worker processes gives the same reports
as one process (Knot on loopback), the run's bounds are split among the workers, the default
picks two processes only for a large list at a high concurrency, and a worker that dies leaves
an error report for each domain it had not finished, never a gap."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys

from audit.batch_procs import default_jobs, drain_workers, split_options, start_workers
from tests.conftest import ZONES

DOMAINS = sorted(p.name[: -len(".zone")] for p in ZONES.glob("*.test.zone"))[:24]


def _run(listing, out, server, jobs: int) -> dict[str, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "audit", "domain", "--from-file", str(listing), "--dns-server",
         str(server), "--no-probes", "--format", "jsonl", "-o", str(out), "--concurrency", "8",
         "--jobs", str(jobs)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    return {r["target"]: r for r in map(json.loads, out.read_text().splitlines())}


def _verdict(report: dict) -> list:
    return sorted(
        (o["check"], o["status"], sorted((f["rule_id"], f["target"]) for f in o["findings"]))
        for o in report["outcomes"]
    )


def test_two_processes_give_the_same_reports_as_one(tmp_path, knot_server):
    listing = tmp_path / "domains.txt"
    listing.write_text("\n".join(DOMAINS) + "\n")
    one = _run(listing, tmp_path / "one.jsonl", knot_server, 1)
    two = _run(listing, tmp_path / "two.jsonl", knot_server, 2)
    assert sorted(one) == sorted(two) == DOMAINS  # each domain exactly once
    assert {d: _verdict(r) for d, r in two.items()} == {d: _verdict(r) for d, r in one.items()}
    assert any(o["findings"] for r in two.values() for o in r["outcomes"])  # not vacuous


def test_the_bounds_are_split_and_the_default_is_one_process_for_small_runs():
    share = split_options({"max_in_flight": 256, "max_probes": 3, "dns_rate": 2000.0}, 2)
    assert share == {"max_in_flight": 128, "max_probes": 1, "dns_rate": 1000.0}
    assert split_options({"dns_rate": 0}, 2)["dns_rate"] == 0  # unlimited stays unlimited
    assert default_jobs(50, 10_000) == 1 and default_jobs(500, 20) == 1
    cores = len(os.sched_getaffinity(0))
    assert default_jobs(500, 10_000) == (2 if cores >= 2 else 1)


def test_a_worker_that_dies_leaves_an_error_report_per_unfinished_domain(knot_server):
    seen: list = []

    def on_done(report) -> None:
        if not seen:  # the first report in: kill every worker
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
        seen.append(report)

    dns = ((str(knot_server),), None, 3.0)
    workers = start_workers(DOMAINS, dns, jobs=2, concurrency=1, probes=False)
    count = asyncio.run(drain_workers(workers, on_done))
    assert count == len(seen) == len(DOMAINS)
    assert sorted(r.target for r in seen) == DOMAINS
    errors = [r for r in seen if r.outcomes[0].error and "worker process" in r.outcomes[0].error]
    assert errors and all(r.outcomes[0].status.value == "error" for r in errors)


def test_a_failing_consumer_stops_every_worker_and_its_error_is_what_the_caller_gets(knot_server):
    """`audit ... | head` closes stdout: writing a report fails in the parent. That error (not
    one from a pipe closed under a reader still watching it) reaches the caller, the other
    worker's reader stops first, and no worker is left running."""
    calls: list = []

    def on_done(report) -> None:
        calls.append(report)
        raise BrokenPipeError("stdout closed")

    dns = ((str(knot_server),), None, 3.0)
    workers = start_workers(DOMAINS, dns, jobs=2, concurrency=1, probes=False)
    try:
        asyncio.run(drain_workers(workers, on_done))
    except BrokenPipeError as exc:
        assert str(exc) == "stdout closed"
    else:
        raise AssertionError("the consumer's error was swallowed")
    assert len(calls) <= 2  # each drain stopped at its first failure (or was cancelled)
    assert not any(process.is_alive() for process, _, _ in workers)
    assert all(conn.closed for _, conn, _ in workers)
