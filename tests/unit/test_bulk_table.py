"""The bulk-sender requirements as a table: every row names known senders and registered rule
ids, and a row is judged met / missed / unknown from what the sibling checks saw."""

from __future__ import annotations

from audit.checks.message.bulk import REQUIREMENTS, TIERS, Requirement, Seen
from audit.checks.message.verdicts import DkimVerdict, DmarcVerdict, SpfVerdict
from audit.model import CheckOutcome, Finding, Status
from audit.rules import all_rules
from audit.rules.spf_message import SPF_NOT_PASS


def _seen(spf_result: str, *, ip: str | None = "192.0.2.1", spf_finding: bool = False) -> Seen:
    spf = SpfVerdict(spf_result, "mailfrom", "a.test", ip, "b@a.test", None)
    dmarc = DmarcVerdict("none", "a.test", None, None, None, "none")
    findings = [Finding(SPF_NOT_PASS, "a.test", "x")] if spf_finding else []
    outcomes = [CheckOutcome("spf", "m.eml", Status.COMPLETED, findings=findings)]
    dkim = [DkimVerdict(0, "fail", "body hash did not verify")]
    return Seen(spf, dkim, dmarc, outcomes, ("met", "ok"), ("unknown", "no Received"))


def test_every_row_names_known_senders_and_registered_rules():
    rules = all_rules()
    assert len({r.key for r in REQUIREMENTS}) == len(REQUIREMENTS)
    for requirement in REQUIREMENTS:
        assert requirement.tiers and set(requirement.tiers) <= set(TIERS), requirement.key
        assert set(requirement.rules) <= set(rules), requirement.key


def test_one_row_is_judged_from_what_was_seen():
    spf_row = next(r for r in REQUIREMENTS if r.key == "spf-pass")
    missed = spf_row.judge(_seen("fail", spf_finding=True))
    assert (missed.status, missed.rules) == ("missed", ["SPF301"])
    assert missed.detail == "SPF fail for a.test"
    met = spf_row.judge(_seen("pass"))
    assert (met.status, met.rules) == ("met", [])  # a met row points at no finding
    unknown = spf_row.judge(_seen("temperror"))
    assert unknown.status == "unknown"  # a DNS failure is not a miss
    no_ip = spf_row.judge(_seen("none", ip=None))
    assert no_ip.status == "unknown"


def test_a_new_requirement_is_one_row():
    row = Requirement(
        "tls-and-fcrdns", "TLS and FCrDNS", ("gmail",), (),
        met=lambda s: s.tls[0] == s.fcrdns[0] == "met",
        detail=lambda s: f"{s.tls[1]}; {s.fcrdns[1]}",
        known=lambda s: "unknown" not in (s.tls[0], s.fcrdns[0]),
    )  # fmt: skip
    judged = row.judge(_seen("pass"))
    assert judged.to_dict() == {
        "key": "tls-and-fcrdns",
        "requirement": "TLS and FCrDNS",
        "applies_to": ["Gmail (all senders)"],
        "status": "unknown",
        "detail": "no Received; ok",
        "findings": [],
    }
