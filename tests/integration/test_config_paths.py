"""`[[path]]` tables of the project config (audit.toml) through `audit check` against Knot:
each table is a sending path of every declared domain, named as in the file."""

from __future__ import annotations

from pathlib import Path

from tests.integration.gate_world import findings, json_reports, run_audit
from tests.integration.test_gate_check import write_config


def test_config_paths_are_audited_by_name(knot_server, tmp_path: Path):
    write_config(tmp_path, knot_server.dns_server, '''
domains = ["path-sg-default.test"]

[[path]]
name = "newsletter"
esp = "sendgrid"

[[path]]
name = "billing-relay"
ips = ["192.0.2.200"]
''')  # fmt: skip
    proc = run_audit("check", "--no-probes", "--format", "json", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 1, proc.stderr
    reports = json_reports(proc)
    domain = next(r for r in reports if r["target"] == "path-sg-default.test")
    outcome = next(o for o in domain["outcomes"] if o["check"] == "sending_paths")
    got = {(f["rule_id"], f["target"]) for f in outcome["findings"]}
    assert got == {
        ("ESP101", "newsletter"),
        ("ESP102", "newsletter"),
        ("PATH001", "newsletter"),
        ("PATH002", "newsletter"),
        ("RP003", "path-sg-default.test"),
        ("PATH001", "billing-relay"),
    }
    assert ("path-sg-default.test", "PATH001", "newsletter") in findings(reports)
    rows = {p["name"]: p for p in outcome["facts"]["sending_paths"]["paths"]}
    assert rows["newsletter"]["origin"] == "config" and rows["newsletter"]["esp"] == "sendgrid"
    assert rows["billing-relay"]["spf"]["senders"][0]["result"] == "fail"


def test_unknown_esp_in_a_path_table_is_bad_input(knot_server, tmp_path: Path):
    write_config(tmp_path, knot_server.dns_server, '''
domains = ["path-sg-default.test"]

[[path]]
name = "mystery"
esp = "nosuchesp"
''')  # fmt: skip
    proc = run_audit("check", "--no-probes", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "[[path]] 'mystery': esp 'nosuchesp' is not a known provider" in lines[0]
