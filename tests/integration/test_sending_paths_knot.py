"""Sending paths over a real DNS server: the path-*.test scenarios and the fake providers
(sendgrid.net, outlook.com, onmicrosoft.com ...) served by Knot on loopback, through the CLI."""

from __future__ import annotations

from tests.integration.test_knot_parity import cli
from tests.json_output import report_of


def sending_paths(knot_server, domain: str, *flags: str) -> tuple[int, set, dict]:
    proc = cli(
        "domain", domain, "--dns-server", knot_server.address, "--no-probes",
        "--no-dkim-discovery", "--format", "json", *flags,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    outcome = next(o for o in report["outcomes"] if o["check"] == "sending_paths")
    found = {(f["rule_id"], f["target"]) for f in outcome["findings"]}
    rows = {p["name"]: p for p in outcome["facts"]["sending_paths"]["paths"]}
    return proc.returncode, found, rows


def test_sendgrid_paths_through_knot(knot_server):
    code, found, rows = sending_paths(
        knot_server, "path-sg-ok.test", "--esp", "sendgrid",
        "--return-path", "em123.path-sg-ok.test",
    )  # fmt: skip
    assert (code, found) == (0, set())
    row = rows["sendgrid"]
    assert row["return_path_record"] == {"records": ["u123.wl45.sendgrid.net"], "ok": True}
    assert (row["dmarc"], row["gmail"]["signed_by"], row["gmail"]["via"]) == (
        "pass",
        "path-sg-ok.test",
        None,
    )
    code, found, rows = sending_paths(knot_server, "path-sg-default.test", "--esp", "sendgrid")
    assert code == 1
    assert found == {
        ("ESP101", "sendgrid"),
        ("ESP102", "sendgrid"),
        ("PATH001", "sendgrid"),
        ("PATH002", "sendgrid"),
    }
    assert (rows["sendgrid"]["dmarc"], rows["sendgrid"]["disposition"]) == ("fail", "reject")


def test_own_mta_and_detected_365_through_knot(knot_server):
    code, found, rows = sending_paths(
        knot_server, "path-strict.test", "--helo", "mail.path-strict.test",
        "--return-path", "bounces.path-strict.test",
    )  # fmt: skip
    assert found == {("RP004", "bounces.path-strict.test"), ("PATH001", "own-mta")}
    assert rows["own-mta"]["spf"]["senders"][0]["ip"] == "198.51.100.8"
    code, found, rows = sending_paths(knot_server, "esp-m365.test")
    assert found == set()
    assert rows["microsoft-365"]["origin"] == "detected"
    assert rows["microsoft-365"]["dmarc"] == "pass"
