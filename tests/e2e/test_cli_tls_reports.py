"""`audit tls-reports` through the CLI: the RFC 8460 example report (parsedmarc's sample copy),
gzip/zip packaging, and the tie-back of failure types to a fresh domain audit's findings."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema

from tests.conftest import FIXTURES, ZONES
from tests.e2e.test_cli import audit, one_line_error
from tests.json_output import report_of
from tests.unit.test_report_schema import SCHEMA

SAMPLE = FIXTURES / "dmarc_reports" / "parsedmarc" / "rfc8460.json"


def _report(policy_domain: str, failures: dict[str, int], ok: int) -> bytes:
    """A TLS-RPT report (RFC 8460 4.4) in Google's shape: one sts policy, failure details."""
    return json.dumps(
        {
            "organization-name": "Google Inc.",
            "date-range": {
                "start-datetime": "2026-12-01T00:00:00Z",
                "end-datetime": "2026-12-01T23:59:59Z",
            },
            "contact-info": "smtp-tls-reporting@google.com",
            "report-id": "2026-12-01T00:00:00Z_" + policy_domain,
            "policies": [
                {
                    "policy": {
                        "policy-type": "sts",
                        "policy-string": ["version: STSv1", "mode: enforce", "max_age: 86400"],
                        "policy-domain": policy_domain,
                    },
                    "summary": {
                        "total-successful-session-count": ok,
                        "total-failure-session-count": sum(failures.values()),
                    },
                    "failure-details": [
                        {
                            "result-type": kind,
                            "sending-mta-ip": "209.85.222.201",
                            "receiving-mx-hostname": "mx1." + policy_domain,
                            "failed-session-count": count,
                        }
                        for kind, count in failures.items()
                    ],
                }
            ],
        }
    ).encode()


def _findings(report: dict) -> list[dict]:
    return [f for o in report["outcomes"] for f in o["findings"]]


def test_rfc8460_example() -> None:
    proc = audit("tls-reports", str(SAMPLE), "--no-audit", "--zone-dir", str(ZONES),
                 "--format", "json")  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # 5.38% failed: HIGH
    report = report_of(proc.stdout)  # the envelope, one report in it
    assert report["kind"] == "tls-reports" and report["target"] == "company-y.example"
    (finding,) = _findings(report)
    assert (finding["rule_id"], finding["target"]) == ("RPT401", "company-y.example")
    assert finding["severity"] == "high"
    assert finding["message"].startswith("303 of 5629 TLS session(s) (5.38%)")
    assert "failing MX mx2.mail.company-y.example: 200" in finding["evidence"]
    policy = report["outcomes"][0]["facts"]["tls_reports"]["policies"][0]
    assert policy["result_types"] == {
        "certificate-expired": 100, "starttls-not-supported": 200, "validation-failure": 3,
    }  # fmt: skip


def test_failures_tied_to_the_domain_audit(tmp_path: Path) -> None:
    """sts-invalid.test publishes a broken _mta-sts record (STS002): a reporter's
    sts-policy-invalid failures are explained by it."""
    path = tmp_path / "google.com!sts-invalid.test!1764547200!1764633599.json.gz"
    path.write_bytes(gzip.compress(_report("sts-invalid.test", {"sts-policy-invalid": 12}, 988)))
    proc = audit("tls-reports", str(path), "--zone-dir", str(ZONES), "--format", "json")
    report = report_of(proc.stdout)  # the envelope, one report in it
    (finding,) = _findings(report)
    assert finding["severity"] == "medium"  # 1.2% of sessions
    assert any(line.startswith("sts-policy-invalid -> STS002:") for line in finding["evidence"])
    assert finding["fix"].startswith("The domain audit finds the cause: STS002")
    jsonschema.validate(json.loads(proc.stdout), SCHEMA)  # the whole document
    audit_facts = report["outcomes"][1]["facts"]
    assert any(f["rule_id"] == "STS002" for f in audit_facts["transport_findings"])


def test_clean_report_and_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_bytes(_report("clean.test", {}, 500))
    proc = audit("tls-reports", str(path), "--no-audit", "--zone-dir", str(ZONES),
                 "--format", "json")  # fmt: skip
    assert proc.returncode == 0
    assert _findings(report_of(proc.stdout)) == []
    dmarc_only = SAMPLE.parent / "outlook.xml"  # a valid report, but DMARC, not TLS-RPT
    assert "no TLS-RPT report" in one_line_error(
        audit("tls-reports", str(dmarc_only), "--no-audit", "--zone-dir", str(ZONES))
    )
