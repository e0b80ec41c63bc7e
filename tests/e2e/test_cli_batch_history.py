"""Batch (`--from-file`) and `audit message --jobs` runs are recorded in the run history like a
single run: each target indexed with its findings, the whole reports loadable for `audit diff`."""

from __future__ import annotations

import json
import sqlite3
import zlib
from contextlib import closing

from tests.conftest import ZONES
from tests.e2e.test_cli_batch import audit
from tests.e2e.test_cli_message_jobs import _mbox


def _runs(target: str, history) -> list[dict]:
    proc = audit("history", target, "--history", str(history), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema_version"] == 2
    return document["runs"]


def test_a_streamed_domain_batch_is_one_recorded_run(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\nspf-too-many.test\nnot a domain\n")
    history = tmp_path / "h.sqlite3"
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--format", "jsonl", "--concurrency", "2", "--history", str(history))  # fmt: skip
    assert proc.returncode == 2, proc.stderr  # the bad line: after the whole run
    failing, clean = _runs("spf-too-many.test", history), _runs("clean.test", history)
    assert len(failing) == len(clean) == 1
    assert failing[0]["id"] == clean[0]["id"]  # one run for the whole batch
    assert failing[0]["command"] == "domain" and failing[0]["exit_code"] == 1  # that target's code
    assert failing[0]["findings"] > 0
    assert _runs("not a domain", history) == []
    diff = audit("diff", failing[0]["id"], failing[0]["id"], "--history", str(history),
                 "--format", "json")  # fmt: skip
    assert diff.returncode == 0, diff.stderr  # the stored reports load back
    streamed = {json.loads(line)["target"]: json.loads(line) for line in proc.stdout.splitlines()}
    rule_ids = {f["rule_id"] for o in streamed["spf-too-many.test"]["outcomes"]
                for f in o["findings"]}  # fmt: skip
    assert "SPF201" in rule_ids


def test_no_history_leaves_a_batch_unrecorded(tmp_path):
    listing = tmp_path / "domains.txt"
    listing.write_text("clean.test\n")
    history = tmp_path / "h.sqlite3"
    proc = audit("domain", "--from-file", str(listing), "--zone-dir", str(ZONES),
                 "--format", "jsonl", "--history", str(history), "--no-history")  # fmt: skip
    assert proc.returncode in (0, 1, 3), proc.stderr
    assert not history.exists()


def test_message_jobs_streaming_jsonl_is_recorded(tmp_path):
    box = _mbox(tmp_path, count=6)
    history = tmp_path / "h.sqlite3"
    proc = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "jsonl",
                 "--jobs", "2", "--history", str(history))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    tampered, intact = _runs(f"{box}#2", history), _runs(f"{box}#1", history)
    assert tampered[0]["id"] == intact[0]["id"] and tampered[0]["command"] == "message"
    assert tampered[0]["exit_code"] == 1 and intact[0]["exit_code"] == 0  # DKIM302 on #2 only
    assert tampered[0]["findings"] > intact[0]["findings"]


def _index(history) -> tuple[list[tuple], list[tuple]]:
    """The history's index rows of its one run, without the run id."""
    with closing(sqlite3.connect(history)) as db:
        targets = sorted(row[1:] for row in db.execute("SELECT * FROM run_targets"))
        findings = sorted(row[1:] for row in db.execute("SELECT * FROM run_findings"))
    return targets, findings


def test_message_jobs_record_the_index_one_process_records(tmp_path):
    """The workers send each report's index rows beside its line: the parent records them
    without parsing the line back, and they are the rows a single process records."""
    box = _mbox(tmp_path, count=6)
    runs = {}
    for jobs in ("1", "2"):
        history = tmp_path / f"h{jobs}.sqlite3"
        proc = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "jsonl",
                     "--jobs", jobs, "--history", str(history))  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        runs[jobs] = _index(history)
    targets, findings = runs["2"]
    assert runs["1"] == (targets, findings)
    assert [(t[1], t[3]) for t in targets] == [(f"{box}#{i}", int(i % 3 == 2)) for i in range(1, 7)]
    assert (f"{box}#2", "DKIM302") in {(f[0], f[2]) for f in findings}
    assert (f"{box}#1", "DKIM302") not in {(f[0], f[2]) for f in findings}


def test_a_single_process_jsonl_run_stores_the_reports_it_wrote(tmp_path):
    """One process writes each report's JSONL line once and the history keeps that same text
    (serialised once, not twice): the stored reports are the lines, in order."""
    box = _mbox(tmp_path, count=3)
    history = tmp_path / "h.sqlite3"
    proc = audit("message", str(box), "--zone-dir", str(ZONES), "--format", "jsonl",
                 "--history", str(history))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    with closing(sqlite3.connect(history)) as db:
        (blob,) = db.execute("SELECT reports FROM runs").fetchone()
    stored = json.loads(zlib.decompress(blob))
    written = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["target"] for r in written] == [f"{box}#{i}" for i in range(1, 4)]
    assert stored == written
