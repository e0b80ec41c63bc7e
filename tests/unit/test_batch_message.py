"""What a worker process sends for each report (audit.batch.report_message): the parent writes
the worker's JSON Lines line unchanged and reads only the digest, which must judge the report
exactly as the whole report does; hostile DNS text stays escaped on one line. Also: where the
batch may fork its workers, and which event loop a batch runs on."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import sys
import threading

import pytest

from audit.batch import report_from_message, report_message
from audit.batch_procs import can_fork
from audit.cli_batch import Sink
from audit.event_loop import ENV, loop_name, run
from audit.json_document import jsonl_line
from audit.model import CheckOutcome, Finding, Report, Severity, Status, Suppression
from audit.rules import get_rule

HOSTILE = 'v=spf1 "quoted"\nnext line\u2028sep\x00nul é ü \u202eevil'


def _report() -> Report:
    spf, dns = get_rule("SPF001"), get_rule("DNS001")
    assert spf is not None and dns is not None
    return Report(
        kind="domain",
        target="hostile.example",
        outcomes=[
            CheckOutcome(
                "spf", "hostile.example", Status.COMPLETED,
                facts={"spf": {"record": HOSTILE, "records": [HOSTILE] * 3}},
                findings=[Finding(spf, "hostile.example", f"got {HOSTILE}", evidence=[HOSTILE])],
            ),
            CheckOutcome(
                "dmarc", "hostile.example", Status.INCONCLUSIVE,
                findings=[Finding(dns, "_dmarc.hostile.example", "timed out")],
            ),
            CheckOutcome(
                "mx", "hostile.example", Status.COMPLETED,
                findings=[Finding(spf, "x.example", "ignored one", severity=Severity.LOW,
                                  ignored=Suppression("config", "known", "2027-01-01"))],
            ),
            CheckOutcome("esp", "hostile.example", Status.ERROR, error="ValueError: bug"),
        ],
    )  # fmt: skip


def test_the_line_crosses_unchanged_and_the_digest_judges_as_the_report():
    report = _report()
    received = report_from_message(report_message(report))
    assert received.rendered == jsonl_line(report)  # byte for byte what one process writes
    assert jsonl_line(received) == received.rendered
    assert received.rendered.count("\n") == 1 and received.rendered.endswith("\n")
    assert "\\n" in received.rendered and "\\u0000" in received.rendered  # escaped, on one line
    assert json.loads(received.rendered)["outcomes"][0]["facts"]["spf"]["record"] == HOSTILE
    # the digest: statuses, errors and findings; no facts nor queries
    assert all(not o.facts for o in received.outcomes)
    assert [(o.check, o.status, o.error) for o in received.outcomes] == [
        (o.check, o.status, o.error) for o in report.outcomes
    ]
    ours = [(f.rule.id, f.target, f.effective_severity, f.ignored) for f in report.findings()]
    theirs = [(f.rule.id, f.target, f.effective_severity, f.ignored) for f in received.findings()]
    assert ours == theirs
    assert [f.fingerprint(received.target) for f in received.findings()] == [
        f.fingerprint(report.target) for f in report.findings()
    ]
    for level in Severity:
        assert received.exit_code(level) == report.exit_code(level)
    assert report.exit_code(Severity.HIGH) == 1 and report.exit_code(Severity.CRITICAL) == 4


def test_a_digest_is_written_from_its_line_in_both_streamed_formats():
    report = _report()
    received = report_from_message(report_message(report))
    for fmt in ("jsonl", "json"):
        ours, theirs = io.StringIO(), io.StringIO()
        Sink(fmt, ours, close=False).write(report)
        Sink(fmt, theirs, close=False).write(received)
        assert theirs.getvalue() == ours.getvalue()
        assert HOSTILE not in theirs.getvalue()  # the raw newline and NUL never reach the output


def test_workers_are_forked_only_from_a_quiet_process():
    assert can_fork() is (sys.platform == "linux" and threading.active_count() == 1)

    async def inside_a_loop() -> bool:
        return can_fork()

    assert asyncio.run(inside_a_loop()) is False
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert can_fork() is False
    finally:
        stop.set()
        other.join()


@pytest.mark.parametrize("choice", ["asyncio", ""])
def test_the_batch_loop_is_uvloop_when_installed_unless_asyncio_is_asked(monkeypatch, choice):
    monkeypatch.setenv(ENV, choice)
    expected = "uvloop" if choice == "" and importlib.util.find_spec("uvloop") else "asyncio"

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert loop_name() == expected
    assert run(which()) == expected
