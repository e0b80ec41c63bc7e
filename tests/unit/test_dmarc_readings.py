"""Issue 11: the DMARC reading table (dmarc_reading_cases.py) through both audits. The domain
audit's DMARC check and the message audit's DMARC verdict read the same zone data and must
reach the same policy, the same RFC 7489 and RFC 9989 readings, and the same differences.
Real DNS data (in-memory zones through the resolver's backend seam), nothing stubbed."""

from __future__ import annotations

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import dmarc as domain_dmarc
from audit.checks.message import dmarc as message_dmarc
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.net.dns import Resolver, memory_backend
from tests.unit.dmarc_reading_cases import CASES, IP, Case, zone


def domain_result(case: Case):
    resolver = Resolver(memory_backend(zone(case)))
    return asyncio.run(domain_dmarc.check(DomainContext(case.from_domain, resolver)))


def message_verdict(case: Case):
    return message_verdict_with_envelope(case, zone(case), case.from_domain)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_domain_audit_reading(case: Case):
    result = domain_result(case)
    facts = result.facts["dmarc"]
    assert facts["effective_policy"] == case.expect_policy, case.section
    assert facts["applies"] == (case.expect_policy is not None), case.section
    assert facts.get("policy_tag") == (case.expect_tag if case.expect_policy else None)
    fired = {f.rule.id for f in result.findings if f.target == case.from_domain}
    assert fired == set(case.domain_rules), (case.section, [f.message for f in result.findings])
    assert ("DMARC005" in fired) == case.differs


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_message_audit_reading(case: Case):
    verdict, result = message_verdict(case)
    assert (verdict.result, verdict.policy, verdict.disposition) == (
        case.result,
        case.expect_policy,
        case.disposition,
    ), case.section
    assert bool(verdict.readings["differences"]) == case.differs, verdict.readings
    fired = {f.rule.id for f in result.findings}
    # a failing message fires DMARC301; one without an applied policy DMARC302; never both
    assert ("DMARC301" in fired, "DMARC302" in fired) == (
        case.result == "fail",
        case.result == "none",
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_both_audits_state_the_same_readings(case: Case):
    domain = domain_result(case)
    verdict, _ = message_verdict(case)
    facts = domain.facts["dmarc"]
    assert facts["readings"] == {k: verdict.readings[k] for k in ("rfc7489", "rfc9989")}
    differs = [f for f in domain.findings if f.rule.id == "DMARC005"]
    if verdict.readings["differences"]:
        (finding,) = differs
        assert finding.message.startswith("; ".join(verdict.readings["differences"]))
        assert "verdicts follow RFC 9989's reading" in finding.message
    else:
        assert differs == []


def test_psd_n_alignment_reading_is_stated_and_the_psl_decides():
    # RFC 9989 4.10.2 rule 1: "If a valid DMARC Policy Record contains the "psd" tag set to "n"
    # ..., this is the Organizational Domain": mail.read.test is its own organizational domain,
    # so SPF for bounces.read.test (organizational domain read.test by the walk) does not align
    # in relaxed mode. RFC 7489 3.2 (Public Suffix List): both are under read.test, aligned.
    # The verdict follows the Public Suffix List and states the RFC 9989 reading.
    case = Case("psd-n-alignment", "RFC 9989 4.10.2", {}, "reject", from_domain="mail.read.test")
    records: dict[str, list[tuple[str, str]]] = {
        "_dmarc.mail.read.test": [("TXT", '"v=DMARC1; p=reject; psd=n"')],
        "_dmarc.read.test": [("TXT", '"v=DMARC1; p=none"')],
        "mail.read.test": [("A", "192.0.2.82")],
        "bounces.read.test": [("TXT", f'"v=spf1 ip4:{IP} -all"')],
    }
    verdict, _ = message_verdict_with_envelope(case, records, "bounces.read.test")
    assert verdict.result == "pass" and verdict.spf_aligned
    (note,) = [n for n in verdict.readings["differences"] if n.startswith("SPF for ")]
    assert note.startswith(
        "SPF for bounces.read.test: RFC 9989 tree-walk organizational domains read.test and "
        "mail.read.test differ (relaxed alignment fails)"
    )
    assert note.endswith("the verdict follows the Public Suffix List")


def message_verdict_with_envelope(case: Case, records, envelope: str):
    raw = (
        f"Return-Path: <b@{envelope}>\r\n"
        f"Received: from out.sender.example (out.sender.example [{IP}]) by mx.receiver.example "
        "(Postfix) with ESMTPS id 1A2B3C for <rcpt@receiver.example>; "
        "Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"From: Sender <news@{case.from_domain}>\r\n"
        "To: rcpt@receiver.example\r\nSubject: readings\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{case.id}@receiver.example>\r\n\r\nHello.\r\n"
    ).encode()
    ctx = make_context(RawMessage(f"{case.id}.eml", raw), Resolver(memory_backend(records)))

    async def both():
        return await message_dmarc.dmarc_verdict(ctx), await message_dmarc.check(ctx)

    return asyncio.run(both())
