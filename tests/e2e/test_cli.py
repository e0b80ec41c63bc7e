"""The CLI as a user runs it: exit codes, one-line errors, formats, several domains."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ZONES
from tests.json_output import report_of, reports_of


def audit(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["domain", "not a domain", "--zone-dir", str(ZONES)], "not a valid domain name"),
        (["domain", "user@example.com", "--zone-dir", str(ZONES)], "email address"),
        (["domain", "localhost", "--zone-dir", str(ZONES)], "fully qualified"),
        (["domain", "clean.test", "--bogus-option"], "No such option"),
        (["domain", "clean.test", "--zone-dir", "/nonexistent/zones"], "does not exist"),
        (["domain", "clean.test", "--zone-dir", "/tmp", "--dns-server", "127.0.0.1"], "either"),
        (["domain", "clean.test", "--dns-server", "dns.example.com"], "must be an IP address"),
        (["domain", "clean.test", "--dns-server", "127.0.0.1:99999"], "out of range"),
        (["domain", "clean.test", "--timeout", "0"], "positive"),
        (["domain", "clean.test", "--format", "pdf"], "pdf"),
        (["domain"], "Missing argument"),
        (["rule", "XYZ999"], "unknown rule id"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, says):
    assert says in one_line_error(audit(*args))


def test_zone_dir_without_zones(tmp_path):
    assert "no *.zone files" in one_line_error(
        audit("domain", "a.test", "--zone-dir", str(tmp_path))
    )


def test_zone_dir_with_broken_zone(tmp_path):
    (tmp_path / "broken.test.zone").write_text("@ SOA this is not a zone\n")
    assert "does not parse" in one_line_error(
        audit("domain", "broken.test", "--zone-dir", str(tmp_path))
    )


def test_unwritable_output(tmp_path):
    target = tmp_path / "missing-dir" / "out.json"
    line = one_line_error(
        audit(
            "domain",
            "clean.test",
            "--zone-dir",
            str(ZONES),
            "--format",
            "json",
            "--output",
            str(target),
        )
    )
    assert "cannot write" in line


def test_clean_domain_exits_0_with_json():
    proc = audit("domain", "clean.test", "--zone-dir", str(ZONES), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = report_of(proc.stdout)
    assert report["kind"] == "domain" and report["target"] == "clean.test"
    assert report["summary"]["inconclusive"] is False
    assert all(o["findings"] == [] for o in report["outcomes"])


def test_findings_at_fail_on_exit_1_and_below_exit_0():
    args = ["domain", "dmarc-none.test", "--zone-dir", str(ZONES), "--format", "json"]
    assert audit(*args).returncode == 0  # DMARC101 is medium, default --fail-on high
    proc = audit(*args, "--fail-on", "medium")
    assert proc.returncode == 1
    ids = {f["rule_id"] for o in report_of(proc.stdout)["outcomes"] for f in o["findings"]}
    assert "DMARC101" in ids


def test_several_domains_give_a_json_array_in_order():
    proc = audit(
        "domain", "dmarc-missing.test", "clean.test", "--zone-dir", str(ZONES), "--format", "json"
    )
    assert proc.returncode == 1  # DMARC001 is high
    reports = reports_of(proc.stdout)
    assert [r["target"] for r in reports] == ["dmarc-missing.test", "clean.test"]


def test_terminal_report_names_rule_and_fix():
    proc = audit("domain", "dmarc-norua.test", "--zone-dir", str(ZONES))
    assert "DMARC103" in proc.stdout
    assert "rua=mailto:dmarc-reports@dmarc-norua.test" in proc.stdout


def test_html_report_written_to_file(tmp_path):
    out = tmp_path / "r.html"
    proc = audit(
        "domain", "clean.test", "--zone-dir", str(ZONES), "--format", "html", "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "clean.test" in html


def test_rules_lists_and_rule_prints_doc():
    listing = audit("rules")
    assert listing.returncode == 0
    assert "DMARC101" in listing.stdout and "dmarc-policy-none" in listing.stdout
    doc = audit("rule", "dmarc101")
    assert doc.returncode == 0
    assert doc.stdout.startswith("# DMARC101 dmarc-policy-none")


def test_blocklist_option_replaces_the_default_lists():
    proc = audit(
        "domain", "dnsbl-listed.test", "--zone-dir", str(ZONES), "--format", "json",
        "--blocklist", "dnsbl-zone.test", "--blocklist", "rhsbl:dnsbl-rhsbl.test",
    )  # fmt: skip
    assert proc.returncode == 1
    found = {(f["rule_id"], f["target"]) for o in report_of(proc.stdout)["outcomes"]
             for f in o["findings"]}  # fmt: skip
    assert ("BL301", "198.51.100.60") in found
    blocklists = next(o for o in report_of(proc.stdout)["outcomes"] if o["check"] == "dnsbl")[
        "facts"
    ]["blocklists"]
    assert blocklists["zones"] == {"ip": ["dnsbl-zone.test"], "domain": ["dnsbl-rhsbl.test"]}


def test_bad_blocklist_prefix_is_exit_2():
    assert "rhsbl: or dnsbl:" in one_line_error(
        audit("domain", "clean.test", "--blocklist", "x:y.test")
    )
