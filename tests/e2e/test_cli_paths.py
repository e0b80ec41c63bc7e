"""`audit domain` with declared sending paths, as a user runs it: bad input is one line and
exit 2; every format carries the Sending paths section."""

from __future__ import annotations

import pytest

from tests.conftest import ZONES
from tests.e2e.test_cli import audit, one_line_error
from tests.json_output import report_of


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--esp", "nope"], "--esp 'nope' is not a known provider (known: amazon-ses, brevo"),
        (["--sending-ip", "198.51.100.999"], "--sending-ip '198.51.100.999' is not an IPv4"),
        (["--return-path", "not a domain"], "--return-path"),
        (["--helo", "bad..name"], "--helo"),
        (["--smtp-relay", "relay.example.com"], "must be HOST:PORT"),
    ],
)
def test_bad_path_flags_exit_2_with_one_line(args, says):
    line = one_line_error(audit("domain", "path-own.test", "--zone-dir", str(ZONES), *args))
    assert line.startswith("audit: error: ") and says in line, line


def paths_of(report: dict) -> tuple[set[tuple[str, str]], dict[str, dict]]:
    outcome = next(o for o in report["outcomes"] if o["check"] == "sending_paths")
    found = {(f["rule_id"], f["target"]) for f in outcome["findings"]}
    return found, {p["name"]: p for p in outcome["facts"]["sending_paths"]["paths"]}


def test_json_for_an_esp_path_and_an_own_mta_path():
    proc = audit(
        "domain", "path-sg-default.test", "--zone-dir", str(ZONES), "--no-dkim-discovery",
        "--esp", "sendgrid", "--sending-ip", "192.0.2.200", "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # PATH001 critical at p=reject
    found, rows = paths_of(report_of(proc.stdout))
    assert found == {
        ("ESP101", "sendgrid"),
        ("ESP102", "sendgrid"),
        ("PATH001", "sendgrid"),
        ("PATH002", "sendgrid"),
        ("RP003", "path-sg-default.test"),
        ("PATH001", "own-mta"),
    }
    assert (rows["sendgrid"]["dmarc"], rows["sendgrid"]["disposition"]) == ("fail", "reject")
    assert rows["sendgrid"]["gmail"]["via"] == "sendgrid.net"
    assert rows["own-mta"]["spf"]["senders"][0] == {
        "ip": "192.0.2.200",
        "result": "fail",
        "matched": "-all",
        "reason": None,
    }


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "sarif", "junit"])
def test_every_format_carries_the_path_findings(fmt):
    proc = audit(
        "domain", "path-sg-wrong.test", "--zone-dir", str(ZONES), "--no-dkim-discovery",
        "--esp", "sendgrid", "--return-path", "em123.path-sg-wrong.test", "--format", fmt,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # RP006 is high
    assert "RP006" in proc.stdout and "em123.path-sg-wrong.test" in proc.stdout
    if fmt in ("terminal", "markdown"):
        assert "Sending paths" in proc.stdout


def test_esp_from_esp_profiles_dir(tmp_path):
    (tmp_path / "ownrelay.toml").write_text(
        'name = "Our relay"\nspf_includes = ["path-own.test"]\n'
        'sources = ["https://wiki.example.net/relay"]\n'
    )
    proc = audit(
        "domain", "path-own.test", "--zone-dir", str(ZONES), "--no-dkim-discovery",
        "--esp-profiles", str(tmp_path), "--esp", "ownrelay",
        "--return-path", "bounces.path-own.test", "--format", "json",
    )  # fmt: skip
    found, rows = paths_of(report_of(proc.stdout))
    row = rows["ownrelay"]
    assert (row["provider"], row["envelope_domain"]) == ("Our relay", "bounces.path-own.test")
    # bounces.path-own.test lists 198.51.100.7 only: the relay's include is not reached
    assert ("RP003", "bounces.path-own.test") in found
    assert row["spf"]["include_reached"] is False
