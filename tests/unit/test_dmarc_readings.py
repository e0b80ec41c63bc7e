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


def message_verdict(case: Case, records=None):
    raw = (
        f"Return-Path: <b@{case.from_domain}>\r\n"
        f"Received: from out.sender.example (out.sender.example [{IP}]) by mx.receiver.example "
        "(Postfix) with ESMTPS id 1A2B3C for <rcpt@receiver.example>; "
        "Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"From: Sender <news@{case.from_domain}>\r\n"
        "To: rcpt@receiver.example\r\nSubject: readings\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{case.id}@receiver.example>\r\n\r\nHello.\r\n"
    ).encode()
    resolver = Resolver(memory_backend(records if records is not None else zone(case)))
    ctx = make_context(RawMessage(f"{case.id}.eml", raw), resolver)

    async def both():
        return await message_dmarc.dmarc_verdict(ctx), await message_dmarc.check(ctx)

    return asyncio.run(both())


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
