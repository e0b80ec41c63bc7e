"""Run history and drift against Knot: runs recorded, a zone edited between two runs, and the
diff naming the changed record (terminal, JSON, HTML, two JSON report files, --since last)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.gate_world import EditableKnot, run_audit
from tests.json_output import document_of


def _history(target: str, cwd: Path, state: Path) -> list[dict]:
    proc = run_audit("history", target, "--format", "json", cwd=cwd, state=state)
    assert proc.returncode == 0, proc.stderr
    return document_of(proc.stdout, "runs")


def test_zone_change_shows_as_a_diff(editable_knot: EditableKnot, tmp_path: Path):
    state = tmp_path / "state"
    project = tmp_path / "project"
    project.mkdir()

    def check(*extra: str):
        (project / "audit.toml").write_text(
            f'domains = ["dmarc-none.test"]\ndns_servers = ["{editable_knot.address}"]\n'
        )
        return run_audit("check", "--no-probes", *extra, cwd=project, state=state)

    first = check()
    assert first.returncode == 0, first.stderr
    runs = _history("dmarc-none.test", project, state)
    assert [(r["command"], r["target"]) for r in runs] == [("check", "dmarc-none.test")]
    # the change: p=none -> p=reject (DMARC101 resolved, the record changed)
    editable_knot.edit("dmarc-none.test", "p=none", "p=reject")
    second = check("--since", "last")
    assert "RESOLVED\n  - DMARC101 dmarc-policy-none" in second.stdout
    assert "_dmarc.dmarc-none.test TXT" in second.stdout
    runs = _history("dmarc-none.test", project, state)
    assert len(runs) == 2 and runs[0]["id"] > runs[1]["id"]  # newest first
    a, b = runs[1]["id"], runs[0]["id"]

    text = run_audit("diff", a, b, cwd=project, state=state)
    assert text.returncode == 0, text.stderr
    assert "0 new, 1 resolved" in text.stdout
    assert "  _dmarc.dmarc-none.test TXT\n    before: \"v=DMARC1; p=none;" in text.stdout
    assert "    after:  \"v=DMARC1; p=reject;" in text.stdout

    data = json.loads(run_audit("diff", a, b, "--format", "json", cwd=project,
                                state=state).stdout)  # fmt: skip
    assert [f["rule_id"] for f in data["resolved"]] == ["DMARC101"]
    assert data["new"] == []
    changed = {(c["name"], c["type"]): c for c in data["dns"]}
    dmarc = changed[("_dmarc.dmarc-none.test", "TXT")]
    assert "p=none" in dmarc["before"] and "p=reject" in dmarc["after"]
    assert ("dmarc-none.test", "MX") not in changed  # unchanged records are not listed

    html = run_audit("diff", a, b, "--format", "html", cwd=project, state=state).stdout
    assert "<h2 class=\"resolved\">Resolved findings (1)</h2>" in html
    assert "p=reject" in html and "<script" not in html


def test_domain_runs_recorded_and_two_json_reports_compared(knot_server, tmp_path: Path):
    state = tmp_path / "state"
    dns = knot_server.dns_server
    for name in ("a.json", "b.json"):
        zone = "dmarc-none.test" if name == "a.json" else "clean.test"
        proc = run_audit("domain", zone, "--dns-server", dns, "--no-probes", "--format", "json",
                         "-o", name, cwd=tmp_path, state=state)  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr
    assert len(_history("clean.test", tmp_path, state)) == 1
    none = run_audit("domain", "clean.test", "--dns-server", dns, "--no-probes", "--no-history",
                     cwd=tmp_path, state=state)  # fmt: skip
    assert none.returncode == 0
    assert len(_history("clean.test", tmp_path, state)) == 1  # --no-history: not recorded
    data = json.loads(run_audit("diff", "a.json", "b.json", "--format", "json", cwd=tmp_path,
                                state=state).stdout)  # fmt: skip
    assert data["schema_version"] == 2
    assert "domain clean.test" in data["targets_added"]
    assert "DMARC101" in {f["rule_id"] for f in data["resolved"]}
    # files written before schema 2 (one report: a bare object; several: an array) still load
    (old,) = json.loads((tmp_path / "a.json").read_text())["reports"]
    (new,) = json.loads((tmp_path / "b.json").read_text())["reports"]
    (tmp_path / "a1.json").write_text(json.dumps({**old, "schema_version": 1}))
    (tmp_path / "b1.json").write_text(json.dumps([{**new, "schema_version": 1}]))
    again = run_audit("diff", "a1.json", "b1.json", "--format", "json", cwd=tmp_path, state=state)
    assert again.returncode == 0, again.stderr
    assert {k: v for k, v in json.loads(again.stdout).items() if k not in ("before", "after")} == {
        k: v for k, v in data.items() if k not in ("before", "after")
    }


def test_history_write_failure_is_a_warning_not_a_failure(knot_server, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run_audit("domain", "clean.test", "--dns-server", knot_server.dns_server,
                     "--no-probes", "--history", str(blocker / "h.sqlite3"), cwd=tmp_path,
                     state=tmp_path)  # fmt: skip
    assert proc.returncode == 0
    assert proc.stderr.startswith("audit: warning: run not recorded in the history")
    assert "PASS" in proc.stdout


def test_diff_unknown_run_is_exit_2(tmp_path: Path):
    proc = run_audit("diff", "nope", "nada", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
