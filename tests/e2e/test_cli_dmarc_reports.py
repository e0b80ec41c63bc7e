"""`audit dmarc-reports` through the CLI as users call it: report files in each big reporter's
format (tests/infra/dmarc_report_files.py), the sample reports parsedmarc publishes, and bad
archives; DNS (reverse DNS of the sources) from the fixture zone files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import FIXTURES, ZONES
from tests.e2e.test_cli import audit, one_line_error
from tests.infra.dmarc_report_files import aggregate_xml, entity_bomb, packaged, zip_bomb
from tests.json_output import report_of, reports_of
from tests.unit.test_report_schema import SCHEMA

DOMAIN = "reports-own.test"
SAMPLES = FIXTURES / "dmarc_reports" / "parsedmarc"

OWN = {  # the domain's own server: SPF aligned pass, DKIM aligned pass
    "ip": "203.0.113.25", "count": 1000, "dkim": "pass", "spf": "pass",
    "auth_dkim": [(DOMAIN, "pass", "s1")], "auth_spf": [(DOMAIN, "pass")],
}  # fmt: skip
SENDGRID = {  # SendGrid without domain authentication: passes for sendgrid.net only
    "ip": "149.72.1.2", "count": 500, "dkim": "fail", "spf": "fail",
    "envelope_from": "sendgrid.net",
    "auth_dkim": [("sendgrid.net", "pass", "smtpapi")], "auth_spf": [("sendgrid.net", "pass")],
}  # fmt: skip
SPOOF = {  # nobody's: fails everything, no reverse DNS
    "ip": "198.18.7.9", "count": 40, "dkim": "fail", "spf": "fail",
    "auth_dkim": [], "auth_spf": [(DOMAIN, "fail")],
}  # fmt: skip
FORWARDED = {  # a mailing list re-sent our mail: the reporter says so
    "ip": "192.0.2.200", "count": 7, "dkim": "fail", "spf": "fail", "override": "forwarded",
    "auth_dkim": [(DOMAIN, "fail", "s1")], "auth_spf": [("lists.example", "pass")],
}  # fmt: skip
IMPOSTOR = {  # PTR says mail.reports-own.test, but that name does not resolve back to it
    "ip": "203.0.113.230", "count": 3, "dkim": "fail", "spf": "fail",
    "auth_dkim": [], "auth_spf": [(DOMAIN, "fail")],
}  # fmt: skip


def _write(tmp_path: Path, style: str, rows: list[dict], **kw) -> Path:
    name, data = packaged(style, DOMAIN, aggregate_xml(style, DOMAIN, rows, **kw))
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _run(*args: str) -> tuple[int, dict, str]:
    proc = audit("dmarc-reports", *args, "--zone-dir", str(ZONES), "--format", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    data = report_of(proc.stdout) if proc.stdout.strip() else {}
    return proc.returncode, data, proc.stderr


def _facts(report: dict, check: str) -> dict:
    return next(o["facts"] for o in report["outcomes"] if o["check"] == check)


def _findings(report: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for outcome in report["outcomes"]:
        for f in outcome["findings"]:
            out.setdefault(f["rule_id"], []).append(f)
    return out


@pytest.fixture
def mixed_reports(tmp_path: Path) -> list[Path]:
    """Google, Microsoft and Yahoo each saw part of the same day's mail (several records per
    source across reporters, as real reports have)."""
    return [
        _write(tmp_path, "google", [OWN, SENDGRID, SPOOF]),
        _write(tmp_path, "microsoft", [dict(SENDGRID, count=20), FORWARDED, IMPOSTOR]),
        _write(tmp_path, "yahoo", [dict(OWN, count=10)]),
    ]


def test_sources_judged_across_reporters(mixed_reports: list[Path]) -> None:
    code, report, _ = _run(*map(str, mixed_reports), "--domain", DOMAIN)
    assert code == 0  # p=none: DMARC401 is MEDIUM, below the default --fail-on high
    sources = {s["ip"]: s for s in _facts(report, "sources")["sources"]}
    assert sources["203.0.113.25"]["category"] == "authenticated"
    assert sources["203.0.113.25"]["attribution"] == "own"
    assert sources["203.0.113.25"]["ptr"] == ["mail.reports-own.test"]
    assert sources["203.0.113.25"]["messages"] == 1010
    assert sources["149.72.1.2"]["provider"] == "sendgrid"
    assert sources["149.72.1.2"]["category"] == "legitimate-failing"
    assert sources["149.72.1.2"]["messages"] == 520
    assert sources["149.72.1.2"]["reporters"] == {"google.com": 500, "outlook.com": 20}
    assert sources["198.18.7.9"]["category"] == "spoofing"
    assert sources["192.0.2.200"]["category"] == "forwarded"
    # the PTR name does not resolve back to 203.0.113.230: not attributed to the domain
    assert sources["203.0.113.230"]["ptr"] == []
    assert sources["203.0.113.230"]["category"] == "spoofing"

    found = _findings(report)
    (failing,) = found["DMARC401"]
    assert failing["target"] == DOMAIN and failing["severity"] == "medium"
    assert "(149.72.1.2)" in failing["message"]
    assert "520 of 520" in failing["message"]
    assert "d=sendgrid.net" in failing["message"]
    assert "s1, s2" in failing["fix"] and "u*.wl*.sendgrid.net" in failing["fix"]
    (spoofing,) = found["DMARC402"]
    assert spoofing["message"].startswith("43 message(s) from 2 source(s)")
    (not_safe,) = found["DMARC403"]
    assert "520 of 1530 legitimate" in not_safe["message"]

    ready = _facts(report, "readiness")["readiness"]
    assert ready["current_policy"] == "none"
    assert ready["legitimate_messages"] == 1530
    assert ready["legitimate_failing"] == 520
    assert ready["spoofing_messages"] == 43
    assert ready["forwarded_failing"] == 7
    assert ready["safe_to_tighten"] is False
    assert ready["next_step"].startswith("stay at p=none")


def test_ready_when_legitimate_mail_passes(tmp_path: Path) -> None:
    """Near miss: spoofing alone does not make reject unsafe; the next step is quarantine."""
    files = [_write(tmp_path, "google", [OWN, SPOOF])]
    code, report, _ = _run(*map(str, files))
    found = _findings(report)
    assert "DMARC401" not in found and "DMARC403" not in found
    assert [f["target"] for f in found["DMARC402"]] == [DOMAIN]
    ready = _facts(report, "readiness")["readiness"]
    assert ready["safe_to_tighten"] is True
    assert ready["next_step"].startswith("p=quarantine")


def test_enforcing_policy_makes_failing_sources_high(tmp_path: Path) -> None:
    files = [_write(tmp_path, "dmarcbis", [OWN, SENDGRID], policy="reject")]
    code, report, _ = _run(*map(str, files))
    assert code == 1
    found = _findings(report)
    assert found["DMARC401"][0]["severity"] == "high"
    assert "DMARC403" not in found  # already at reject: DMARC401 says what is lost
    assert _facts(report, "readiness")["readiness"]["next_step"] == "already at p=reject"


def test_bad_archives_refused_one_by_one(tmp_path: Path) -> None:
    good = _write(tmp_path, "google", [OWN])
    truncated = tmp_path / "truncated.xml.gz"
    truncated.write_bytes(gzip.compress(aggregate_xml("yahoo", DOMAIN, [OWN]))[:-30])
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zip_bomb(60))
    laughs = tmp_path / "laughs.xml"
    laughs.write_bytes(entity_bomb())
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"this is not a report")
    code, report, stderr = _run(*map(str, [good, truncated, bomb, laughs, junk]))
    listed = _facts(report, "reports")["reports"]["refused"]
    refused = {Path(r["file"]).name: r["reason"] for r in listed}
    assert refused["truncated.xml.gz"] == "truncated gzip file"
    assert refused["bomb.zip"] == "decompresses to more than 50 MiB"
    assert "entity" in refused["laughs.xml"]
    assert "neither XML" in refused["junk.xml"]
    assert stderr.count("audit: refused") == 4
    # the good file was still read
    sources = {s["ip"]: s for s in _facts(report, "sources")["sources"]}
    assert sources["203.0.113.25"]["messages"] == 1000


def test_nothing_readable_is_bad_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<feedback><nonsense/></feedback>")
    proc = audit("dmarc-reports", str(junk), "--zone-dir", str(ZONES))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("audit: error: no report could be read")
    assert "no such file" in one_line_error(
        audit("dmarc-reports", str(tmp_path / "missing.xml"), "--zone-dir", str(ZONES))
    )


def test_parsedmarc_sample_reports() -> None:
    """The samples parsedmarc's own repository publishes (copied with their licence)."""
    files = sorted(SAMPLES.glob("*.xml"))
    code, report, _ = _run(*map(str, files), "--domain", "example.com")
    sources = {s["ip"]: s for s in _facts(report, "sources")["sources"]}
    assert sources["192.0.2.123"]["category"] == "authenticated"  # RFC 9990 sample: DKIM pass
    assert sources["192.0.2.123"]["messages"] == 123
    assert sources["100.24.188.149"]["category"] == "spoofing"
    assert sources["100.24.188.149"]["reporters"] == {"outlook.com": 1}
    assert sources["199.230.200.36"]["category"] == "spoofing"
    summary = _facts(report, "reports")["reports"]
    assert summary["aggregate_reports"] == 3 and summary["messages"] == 125


def test_every_domain_in_the_reports_without_domain(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_bytes(aggregate_xml("dmarcbis", "clean.test", [dict(OWN, ip="192.0.2.10")]))
    files = [_write(tmp_path, "google", [OWN]), other]
    proc = audit("dmarc-reports", *map(str, files), "--zone-dir", str(ZONES), "--format", "json")
    reports = reports_of(proc.stdout)
    assert sorted(r["target"] for r in reports) == ["clean.test", DOMAIN]
    jsonschema.validate(json.loads(proc.stdout), SCHEMA)  # the whole document


def test_html_has_charts_and_escapes_reporter_text(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>'
    files = [_write(tmp_path, "google", [OWN, SENDGRID, SPOOF], org_name=hostile)]
    out = tmp_path / "r.html"
    proc = audit("dmarc-reports", *map(str, files), "--zone-dir", str(ZONES), "--format", "html",
                 "-o", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.count("<svg") == 3
    assert "Policy readiness" in html and "stay at p=none" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_a_source_the_providers_spf_authorizes_is_that_provider(tmp_path: Path) -> None:
    """No d=, envelope or PTR of SendGrid's, but sendgrid.net's SPF (the fake provider zone:
    ip4:203.0.113.0/25) authorizes the IP: the source is SendGrid's, legitimate but failing."""
    row = {"ip": "203.0.113.77", "count": 12, "dkim": "fail", "spf": "fail",
           "auth_dkim": [], "auth_spf": [(DOMAIN, "softfail")]}  # fmt: skip
    near_miss = dict(row, ip="203.0.113.240")  # outside the /25: nobody's
    code, report, _ = _run(str(_write(tmp_path, "google", [OWN, row, near_miss])))
    sources = {s["ip"]: s for s in _facts(report, "sources")["sources"]}
    assert sources["203.0.113.77"]["provider"] == "sendgrid"
    assert sources["203.0.113.77"]["attribution_evidence"] == (
        "SPF of sendgrid.net authorizes 203.0.113.77"
    )
    assert sources["203.0.113.77"]["category"] == "legitimate-failing"
    assert sources["203.0.113.240"]["category"] == "spoofing"
    assert [f["target"] for f in _findings(report)["DMARC401"]] == [DOMAIN]
