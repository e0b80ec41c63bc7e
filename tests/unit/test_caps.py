"""Issue 10 item 7: what hostile input multiplies is capped once (audit/checks/caps.py, applied
by the runner to every check): a message with 10,000 DKIM signatures or Received headers, a
domain with 300 MX hosts, give a report of bounded size with one "N more skipped" finding."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from audit.checks.caps import MAX_FINDINGS_PER_RULE, cap_facts, cap_findings
from audit.domain_audit import audit_domain
from audit.message.dkim_dns import MAX_KEY_LOOKUPS
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, audit_message
from audit.model import Finding, Severity
from audit.net.dns import memory_backend
from audit.rules.dkim_message import DKIM_SIGNATURE_INVALID
from audit.rules.msg import MSG_DUPLICATE_HEADER
from reports import render
from tests.json_output import report_of

NOW = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
TAIL = (
    "From: News <news@flood.example>\r\nTo: r@receiver.example\r\nSubject: x\r\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m@flood.example>\r\n\r\nhi\r\n"
)


def _finding(index: int, severity: Severity | None = None) -> Finding:
    return Finding(DKIM_SIGNATURE_INVALID, f"sig{index}", f"bad {index}", severity=severity)


def test_past_the_cap_one_finding_counts_the_rest():
    other = Finding(MSG_DUPLICATE_HEADER, "m", "dup")
    findings = [_finding(i, Severity.MEDIUM) for i in range(100)] + [other]
    findings[70] = _finding(70, Severity.CRITICAL)
    capped = cap_findings(findings)
    dkim = [f for f in capped if f.rule.id == "DKIM302"]
    assert len(dkim) == MAX_FINDINGS_PER_RULE + 1
    assert [f.target for f in dkim[:20]] == [f"sig{i}" for i in range(20)]
    summary = dkim[-1]
    assert summary.message.startswith("80 more DKIM302 findings skipped")
    assert "sig20, sig21, sig22, ..." in summary.message
    assert summary.effective_severity is Severity.CRITICAL  # the worst skipped one counts
    assert capped[-1] is other  # other rules untouched


def test_at_the_cap_and_one_over_nothing_is_summarized():
    assert cap_findings([_finding(i) for i in range(20)]) == [_finding(i) for i in range(20)]
    assert len(cap_findings([_finding(i) for i in range(21)])) == 21  # one summary saves nothing
    assert len(cap_findings([_finding(i) for i in range(22)])) == 21


def test_evidence_and_fact_lists_are_cut_with_a_count():
    finding = Finding(
        MSG_DUPLICATE_HEADER, "m", "dup", evidence=[f"Subject: {i}" for i in range(500)]
    )
    (capped,) = cap_findings([finding])
    assert capped.evidence[-1] == "... 480 more lines skipped" and len(capped.evidence) == 21
    facts = {"hops": [{"i": i, "x": list(range(150))} for i in range(1000)], "n": 3}
    out = cap_facts(facts)
    assert len(out["hops"]) == 100 and out["hops_skipped"] == 900 and out["n"] == 3
    assert len(out["hops"][0]["x"]) == 100 and out["hops"][0]["x_skipped"] == 50


def _report_json(report) -> dict:
    return report_of(render("json", [report]))


def _rule(report: dict, rule_id: str) -> list[dict]:
    return [f for o in report["outcomes"] for f in o["findings"] if f["rule_id"] == rule_id]


def test_10000_dkim_signatures_give_a_small_report():
    signature = (
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=flood.example; s=s{i}; "
        "h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=" + "A" * 400
    )
    raw = "".join(signature.format(i=i) + "\r\n" for i in range(10_000)) + TAIL
    assert len(raw) > 4_000_000
    report = asyncio.run(
        audit_message(RawMessage("flood.eml", raw.encode()), memory_backend({}), now=NOW)
    )
    data = _report_json(report)
    dkim302 = _rule(data, "DKIM302")
    assert len(dkim302) == 21  # the 20 verified signatures, then one for all the rest
    assert [f["target"] for f in dkim302[:2]] == [
        "DKIM-Signature[0] d=flood.example s=s0",
        "DKIM-Signature[1] d=flood.example s=s1",
    ]
    assert dkim302[-1]["target"] == "DKIM-Signature[20...]"
    assert "9980 more DKIM-Signature headers" in dkim302[-1]["message"]
    assert len(json.dumps(data)) < 150_000  # was 21.9 MB
    key_queries = [q for q in data["queries"] if "._domainkey." in q["name"]]
    assert len(key_queries) == MAX_KEY_LOOKUPS  # 10,000 selectors, 128 questions asked


def test_10000_received_and_results_headers_give_a_small_report():
    hops = "".join(
        f"Received: from h{i}.example.net (h{i}.example.net [192.0.2.{i % 250 + 1}]) by "
        f"mx{i}.receiver.example with ESMTP id {i}; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Authentication-Results: mx{i}.receiver.example; spf=pass smtp.mailfrom=flood.example"
        f"\r\nSubject: s{i}\r\nList-Unsubscribe: <https://u.flood.example/{i}>\r\n"
        for i in range(10_000)
    )
    raw = (hops + TAIL).encode()
    report = asyncio.run(
        audit_message(
            RawMessage("hops.eml", raw),
            memory_backend({}),
            envelope=EnvelopeOptions(ip="192.0.2.1"),
            now=NOW,
        )
    )
    data = _report_json(report)
    outcomes = {o["check"]: o for o in data["outcomes"]}
    headers = outcomes["headers"]["facts"]["headers"]
    assert len(headers["hops"]) == 100 and headers["hops_skipped"] == 9_900
    receiver = outcomes["receiver"]["facts"]["receiver"]
    assert len(receiver["authentication_results"]) == 100
    assert receiver["authentication_results_skipped"] == 9_900
    (duplicate,) = [f for f in _rule(data, "MSG005") if f["target"] == "hops.eml"]
    assert (
        len(duplicate["evidence"]) == 21 and "9981 more lines skipped" in duplicate["evidence"][-1]
    )
    assert len(json.dumps(data)) < 400_000  # was 21 MB


def test_300_mx_hosts_give_one_finding_for_the_rest():
    records = {
        "flood.example": [("MX", f"{i} mx{i}.gone.example.") for i in range(300)]
        + [("TXT", '"v=spf1 -all"')],
        "_dmarc.flood.example": [("TXT", '"v=DMARC1; p=reject"')],
    }
    report = asyncio.run(audit_domain("flood.example", memory_backend(records)))
    data = _report_json(report)
    mx003 = _rule(data, "MX003")
    assert len(mx003) == 21
    assert [f["target"] for f in mx003[:3]] == [
        "mx0.gone.example",
        "mx1.gone.example",
        "mx2.gone.example",
    ]
    assert mx003[-1]["message"].startswith("280 more MX003 findings skipped")
    mx = next(o for o in data["outcomes"] if o["check"] == "mx")["facts"]["mx"]
    assert len(mx["hosts"]) == 100 and mx["hosts_skipped"] == 200
