"""`[[path]]` tables of the project config (audit.toml) through `audit check` against Knot:
each table is a sending path of every declared domain, named as in the file."""

from __future__ import annotations

import re
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


def test_esp_profiles_and_path_domains(knot_server, tmp_path: Path):
    """`esp_profiles` (relative to the file) adds the team's own provider profiles to the
    `[[path]]` tables' `esp` (once only the built-in ones were known: exit 2), and a path's
    `domains` limits it to the domains it sends for: path-own.test is not judged by the
    provider path of path-sg-default.test."""
    profiles = tmp_path / "esp"
    profiles.mkdir()
    (profiles / "inhouse.toml").write_text(
        'name = "In-house ESP"\nsigns_own_domain = "esp-inhouse.test"\n'
        'sources = ["https://docs.example.net/esp"]\n'
    )
    write_config(tmp_path, knot_server.dns_server, '''
domains = ["path-sg-default.test", "path-own.test"]
esp_profiles = "esp"

[[path]]
name = "newsletter"
esp = "inhouse"
domains = ["path-sg-default.test"]

[[path]]
name = "everyone"
ips = ["192.0.2.200"]
''')  # fmt: skip
    proc = run_audit("check", "--no-probes", "--format", "json", cwd=tmp_path, state=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    reports = json_reports(proc)

    def rows(domain: str) -> dict:
        report = next(r for r in reports if r["target"] == domain)
        outcome = next(o for o in report["outcomes"] if o["check"] == "sending_paths")
        return {p["name"]: p for p in outcome["facts"]["sending_paths"]["paths"]}

    sg = rows("path-sg-default.test")
    assert set(sg) >= {"newsletter", "everyone"}
    assert sg["newsletter"]["provider"] == "In-house ESP"
    own = rows("path-own.test")
    assert "newsletter" not in own and "everyone" in own


def test_bad_esp_profiles_directory_is_bad_input(knot_server, tmp_path: Path):
    write_config(tmp_path, knot_server.dns_server, '''
domains = ["path-sg-default.test"]
esp_profiles = "missing-dir"
''')  # fmt: skip
    proc = run_audit("check", "--no-probes", cwd=tmp_path, state=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert re.search(r"audit\.toml:\d+: esp_profiles: .*missing-dir: not a directory", lines[0])
