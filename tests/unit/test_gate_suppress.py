"""Fingerprints, [[ignore]] matching and expiry, and the baseline: pure logic on Findings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from audit.config import Ignore
from audit.fingerprint import fingerprint, normalize
from audit.model import CheckOutcome, Finding, Report, Severity, Status
from audit.rules import get_rule
from audit.suppress import (
    BaselineError,
    apply_baseline,
    apply_ignores,
    load_baseline,
    write_baseline,
)

TODAY = dt.date(2026, 12, 4)


def finding(rule_id: str, target: str, *evidence: str, message: str = "m") -> Finding:
    return Finding(get_rule(rule_id), target, message, list(evidence))


def report(target: str, *findings: Finding) -> Report:
    outcome = CheckOutcome("x", target, Status.COMPLETED, findings=list(findings))
    return Report("domain", target, [outcome])


def test_fingerprint_ignores_volatile_text_and_order():
    a = finding("TLS305", "mx1.example.com", "notAfter 2027-01-01T00:00:00Z (in 28 days)",
                "probe took 340 ms", message="expires in 28 days")  # fmt: skip
    b = finding("TLS305", "mx1.example.com", "probe took 1.2 s",
                "notAfter 2027-01-02T00:00:00Z (in 27 days)",
                message="expires in 27 days")  # fmt: skip
    assert fingerprint(a, "example.com") == fingerprint(b, "example.com")
    assert normalize("Date: Tue, 24 Nov 2026 10:00:00 +0000") == "Date: # # +0000"


def test_fingerprint_changes_with_the_fault_rule_target_and_scope():
    base = finding("SPF201", "example.com", "example.com: 4 lookup(s) here, 11 with descendants")
    worse = finding("SPF201", "example.com", "example.com: 4 lookup(s) here, 13 with descendants")
    other_rule = finding("SPF204", "example.com", *base.evidence)
    other_target = finding("SPF201", "example.net", *base.evidence)
    prints = {
        fingerprint(base, "example.com"),
        fingerprint(worse, "example.com"),
        fingerprint(other_rule, "example.com"),
        fingerprint(other_target, "example.com"),
        fingerprint(base, "example.org"),
    }
    assert len(prints) == 5


def test_fingerprint_key_replaces_the_evidence():
    one = finding("DKIM001", "example.com", "tried: a, b")
    two = finding("DKIM001", "example.com", "tried: a, b, c")
    one.fingerprint_key = two.fingerprint_key = "no key"
    assert one.fingerprint("example.com") == two.fingerprint("example.com")


def test_ignores_matched_expired_and_unused():
    dmarc = finding("DMARC101", "example.com", "v=DMARC1; p=none")
    ptr = finding("PTR001", "192.0.2.1", "1.2.0.192.in-addr.arpa PTR -> NXDOMAIN")
    spf = finding("SPF201", "example.com", "x")
    reports = [report("example.com", dmarc, ptr, spf)]
    ignores = [
        Ignore("DMARC101", "example.com", "collecting reports", dt.date(2026, 12, 4), line=3),
        Ignore("PTR001", "*.com", "pattern on the run's target", None, line=8),
        Ignore("SPF201", None, "flattening later", dt.date(2026, 12, 3), line=12),
        Ignore("MX001", "example.com", "not a finding here", None, line=16),
        Ignore("DMARC101", "example.net", "other domain", None, line=20),
    ]
    out = apply_ignores(reports, ignores, TODAY, "audit.toml")
    assert dmarc.ignored is not None and dmarc.ignored.reason == "collecting reports"
    assert dmarc.ignored.until == "2026-12-04"  # the until day itself is covered
    assert ptr.ignored is not None and ptr.ignored.kind == "config"
    assert spf.ignored is None  # expired: counts again
    assert [(f.rule.id, f.target) for f in out] == [
        ("CFG001", "audit.toml"), ("CFG003", "audit.toml"), ("CFG003", "audit.toml")
    ]
    assert "SPF201" in out[0].message and "line 12" in out[0].message
    assert "MX001" in out[1].message and "DMARC101 on example.net" in out[2].message
    assert reports[0].exit_code(Severity.HIGH) == 1  # SPF201 (high) still fails
    spf.ignored = dmarc.ignored
    assert reports[0].exit_code(Severity.HIGH) == 0


def test_baseline_write_apply_and_update(tmp_path: Path):
    path = tmp_path / "baseline.json"
    spf = finding("SPF201", "example.com", "11 with descendants")
    dmarc = finding("DMARC001", "example.com", "_dmarc.example.com TXT -> NXDOMAIN")
    assert write_baseline(path, [report("example.com", spf, dmarc)]) == (2, 2, 0)
    accepted = load_baseline(path)
    assert accepted == {spf.fingerprint("example.com"), dmarc.fingerprint("example.com")}
    doc = json.loads(path.read_text())
    assert {e["rule"] for e in doc["findings"]} == {"SPF201", "DMARC001"}

    worse = finding("SPF201", "example.com", "13 with descendants")
    again = finding("DMARC001", "example.com", "_dmarc.example.com TXT -> NXDOMAIN")
    run = [report("example.com", worse, again)]
    assert apply_baseline(run, accepted, "baseline.json") == 1
    assert again.ignored is not None and again.ignored.kind == "baseline"
    assert worse.ignored is None
    assert run[0].exit_code(Severity.HIGH) == 1
    assert write_baseline(path, run) == (2, 1, 1)


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "does not exist"), ("{", "not JSON"), ("[]", "not an audit baseline"),
     ('{"version": 1, "findings": [{}]}', "no fingerprint")],
)  # fmt: skip
def test_bad_baselines(tmp_path: Path, content, says):
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError, match=says):
        load_baseline(path)
