"""The run history store and the drift between two runs (pure: in-memory reports, tmp files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from audit.drift import NOT_ASKED, compare
from audit.history import HistoryError, HistoryStore, default_history_path
from audit.model import CheckOutcome, Finding, QueryRecord, Report, Status
from audit.rules import get_rule


def report(target: str, findings: list[Finding], queries: list[QueryRecord]) -> Report:
    outcome = CheckOutcome("spf", target, Status.COMPLETED, findings=findings)
    return Report("domain", target, [outcome], queries, tool_version="t")


def spf_finding(evidence: str) -> Finding:
    return Finding(get_rule("SPF201"), "example.com", "too many lookups", [evidence])


def q(name: str, answers: tuple[str, ...], status: str = "NOERROR") -> QueryRecord:
    return QueryRecord(name, "TXT", status, answers, 3.0)


def test_default_path_prefers_the_state_dir_variable():
    assert default_history_path({"AUDIT_STATE_DIR": "/x/y"}) == Path("/x/y/history.sqlite3")
    assert default_history_path({"XDG_STATE_HOME": "/s"}) == Path("/s/audit/history.sqlite3")
    assert default_history_path({}).parts[-3:] == ("state", "audit", "history.sqlite3")


def test_record_list_load_and_last(tmp_path: Path):
    store = HistoryStore(tmp_path / "deep" / "h.sqlite3")
    one = report("example.com", [spf_finding("11 lookups")], [q("example.com", ('"v=spf1"',))])
    first = store.record("check", [one], 1, config="/p/audit.toml", run_id="20261201T000000Z-a")
    second = store.record("domain", [one], 1, run_id="20261202T000000Z-b")
    runs = store.runs_for("Example.COM.")
    assert [(r.id, r.command, r.findings, r.exit_code) for r in runs] == [
        (second, "domain", 1, 1), (first, "check", 1, 1)
    ]  # fmt: skip
    again = store.load(first)
    assert again[0].to_dict() == one.to_dict()  # the whole report, fingerprints included
    assert store.load("20261201")[0].target == "example.com"  # a unique prefix is enough
    assert store.last_run("check", "/p/audit.toml") == first
    assert store.last_run("check", "/p/audit.toml", before=first) is None
    assert store.last_run("check", "/other/audit.toml") is None
    with sqlite3.connect(store.path) as db:
        indexed = db.execute("SELECT rule_id, fingerprint FROM run_findings").fetchall()
    assert indexed[0] == ("SPF201", one.findings()[0].fingerprint("example.com"))
    with pytest.raises(HistoryError, match="no run 'nope'"):
        store.load("nope")


def test_missing_history_is_an_error_not_a_new_file(tmp_path: Path):
    with pytest.raises(HistoryError, match="no run history"):
        HistoryStore(tmp_path / "none.sqlite3").runs_for("example.com")
    assert not (tmp_path / "none.sqlite3").exists()


def test_drift_findings_and_dns_answers():
    before = report(
        "example.com",
        [spf_finding("11 lookups"), Finding(get_rule("DMARC101"), "example.com", "p=none", ["x"])],
        [q("example.com", ('"v=spf1 include:a -all"',)), q("_dmarc.example.com", ("p=none",)),
         q("gone.example.com", ("1",)), q("slow.example.com", (), "TIMEOUT")],
    )  # fmt: skip
    after = report(
        "example.com",
        [spf_finding("13 lookups"), Finding(get_rule("DMARC101"), "example.com", "p=none", ["x"])],
        [q("example.com", ('"v=spf1 include:a include:b -all"',)), q("_dmarc.example.com",
         ("p=none",)), q("new.example.com", (), "NXDOMAIN"), q("slow.example.com", ("2",))],
    )  # fmt: skip
    drift = compare([before], [after], "A", "B")
    assert [c.finding.evidence for c in drift.new] == [["13 lookups"]]
    assert [c.finding.evidence for c in drift.resolved] == [["11 lookups"]]
    assert [c.finding.rule.id for c in drift.unchanged] == ["DMARC101"]
    assert [(c.name, c.before, c.after) for c in drift.dns] == [
        ("example.com", '"v=spf1 include:a -all"', '"v=spf1 include:a include:b -all"'),
        ("gone.example.com", "1", NOT_ASKED),
        ("new.example.com", NOT_ASKED, "NXDOMAIN"),
        ("slow.example.com", NOT_ASKED, "2"),  # a timeout is unknown, not an old answer
    ]
    assert drift.to_dict()["summary"] == {"new": 1, "resolved": 1, "unchanged": 1,
                                          "dns_changed": 4}  # fmt: skip
