"""Message SPF, DMARC alignment, Gmail's "via" and the bulk table, with DKIM verdicts stubbed.

Stand-in DKIM verdicts go in through the context (make_context(..., verdicts=...)) so these
tests pin down the logic that reads DKIM verdicts; SPF and DMARC stay real and read the stand-ins
through the same providers. DKIM verification itself is tested in test_message_dkim.py.
"""

from __future__ import annotations

import asyncio

import pytest

from audit.checks.message import bulk, dmarc, spf, via
from audit.checks.message.verdicts import DkimVerdict
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, make_context
from audit.net.dns import Resolver, StaticBackend
from tests.conftest import pairs
from tests.verdict_standins import StandInVerdicts


def message(from_addr: str, return_path: str, ip: str, extra: str = "") -> bytes:
    return (
        f"Return-Path: <{return_path}>\r\n"
        f"Received: from out.sender.example (out.sender.example [{ip}]) by mx.receiver.example "
        "(Postfix) with ESMTPS id 1A2B3C for <rcpt@receiver.example>; "
        "Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"From: Sender <{from_addr}>\r\n"
        "To: rcpt@receiver.example\r\n"
        "Subject: hello\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <abc@sender.example>\r\n"
        f"{extra}\r\nHello.\r\n"
    ).encode()


@pytest.fixture
def stand_in() -> StandInVerdicts:
    return StandInVerdicts()


@pytest.fixture
def dkim_stub(stand_in):
    """Set the DKIM verdicts the message checks will see: dkim_stub([("clean.test", "pass")])."""

    def set_verdicts(specs):
        stand_in.set(
            "dkim",
            [
                DkimVerdict(i, result, "stub", domain=d, selector="s", signed_headers=["from"])
                for i, (d, result) in enumerate(specs)
            ],
        )

    set_verdicts([])
    return set_verdicts


@pytest.fixture
def ctx_for(zone_data, stand_in):
    def build(raw: bytes, **envelope):
        resolver = Resolver(StaticBackend(zone_data))
        return make_context(
            RawMessage("m.eml", raw),
            resolver,
            envelope=EnvelopeOptions(**envelope),
            verdicts=stand_in.providers(),
        )

    return build


def run(coro):
    return asyncio.run(coro)


def test_spf_pass_from_received_and_return_path(ctx_for, dkim_stub):
    ctx = ctx_for(message("a@clean.test", "bounce@clean.test", "192.0.2.10"))
    verdict = run(spf.spf_verdict(ctx))
    assert (verdict.result, verdict.identity, verdict.domain, verdict.ip) == (
        "pass",
        "mailfrom",
        "clean.test",
        "192.0.2.10",
    )
    assert ctx.envelope.ip.source.startswith("Received[0]: from out.sender.example")


def test_spf_fail_fires_spf301_with_result(ctx_for, dkim_stub):
    ctx = ctx_for(message("a@clean.test", "bounce@clean.test", "203.0.113.9"))
    result = run(spf.check(ctx))
    assert pairs(result) == {("SPF301", "clean.test")}
    assert "SPF fail for 203.0.113.9" in result.findings[0].message


def test_null_sender_uses_helo_identity(ctx_for, dkim_stub):
    ctx = ctx_for(message("a@clean.test", "", "192.0.2.10"), helo="clean.test", mail_from="")
    verdict = run(spf.spf_verdict(ctx))
    assert (verdict.identity, verdict.domain, verdict.result) == ("helo", "clean.test", "pass")


def test_cli_ip_overrides_received(ctx_for, dkim_stub):
    ctx = ctx_for(message("a@clean.test", "b@clean.test", "203.0.113.9"), ip="192.0.2.11")
    assert ctx.envelope.ip.value == "192.0.2.11" and ctx.envelope.ip.source == "--ip"
    assert run(spf.spf_verdict(ctx)).result == "pass"


def test_dmarc_passes_through_aligned_dkim_only(ctx_for, dkim_stub):
    # ESP setup: SPF passes for the ESP's bounce domain, DKIM signed by the From domain.
    dkim_stub([("clean.test", "pass"), ("esp-bounce.test", "pass")])
    ctx = ctx_for(message("news@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    verdict = run(dmarc.dmarc_verdict(ctx))
    assert verdict.result == "pass"
    assert verdict.dkim_aligned == ["clean.test"] and verdict.spf_aligned is False
    result = run(dmarc.check(ctx))
    assert pairs(result) == {("ALN302", "clean.test")}
    assert result.findings[0].effective_severity.value == "low"  # DMARC passes anyway


def test_dmarc_fail_with_reject_disposition(ctx_for, dkim_stub):
    dkim_stub([("esp-bounce.test", "pass")])
    ctx = ctx_for(message("news@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    verdict = run(dmarc.dmarc_verdict(ctx))
    assert (verdict.result, verdict.policy, verdict.disposition) == ("fail", "reject", "reject")
    result = run(dmarc.check(ctx))
    assert pairs(result) == {
        ("DMARC301", "clean.test"),
        ("ALN301", "clean.test"),
        ("ALN302", "clean.test"),
    }
    dmarc301 = next(f for f in result.findings if f.rule.id == "DMARC301")
    assert "reject it (p=reject)" in dmarc301.message
    assert dmarc301.effective_severity.value == "high"


def test_dmarc_passes_through_aligned_spf(ctx_for, dkim_stub):
    dkim_stub([])
    ctx = ctx_for(message("a@clean.test", "bounce@clean.test", "192.0.2.10"))
    verdict = run(dmarc.dmarc_verdict(ctx))
    assert verdict.result == "pass" and verdict.spf_aligned


def test_relaxed_alignment_accepts_subdomain_signature(ctx_for, dkim_stub):
    dkim_stub([("mail.clean.test", "pass")])
    ctx = ctx_for(message("a@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    assert run(dmarc.dmarc_verdict(ctx)).result == "pass"


def test_strict_alignment_rejects_subdomain_signature(ctx_for, dkim_stub):
    dkim_stub([("mail.dmarc-strict.test", "pass")])
    ctx = ctx_for(message("a@dmarc-strict.test", "b@esp-bounce.test", "198.51.100.7"))
    verdict = run(dmarc.dmarc_verdict(ctx))
    assert (verdict.result, verdict.adkim) == ("fail", "s")


def test_no_policy_fires_dmarc302(ctx_for, dkim_stub):
    dkim_stub([("dmarc-missing.test", "pass")])
    ctx = ctx_for(message("a@dmarc-missing.test", "b@dmarc-missing.test", "192.0.2.10"))
    assert ("DMARC302", "dmarc-missing.test") in pairs(run(dmarc.check(ctx)))


def test_gmail_via_for_esp_signature(ctx_for, dkim_stub):
    dkim_stub([("esp-bounce.test", "pass")])
    ctx = ctx_for(message("news@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    shown = run(via.predict(ctx))
    assert shown["shows_via"] and shown["via"] == "esp-bounce.test"
    assert (shown["mailed_by"], shown["signed_by"]) == ("esp-bounce.test", "esp-bounce.test")
    assert pairs(run(via.check(ctx))) == {("VIA301", "clean.test")}


def test_gmail_no_via_when_from_domain_signs(ctx_for, dkim_stub):
    dkim_stub([("esp-bounce.test", "pass"), ("clean.test", "pass")])
    ctx = ctx_for(message("news@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    shown = run(via.predict(ctx))
    assert not shown["shows_via"] and shown["signed_by"] == "clean.test"


def test_gmail_via_for_spf_only_foreign_domain(ctx_for, dkim_stub):
    dkim_stub([])
    ctx = ctx_for(message("news@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    shown = run(via.predict(ctx))
    assert shown["via"] == "esp-bounce.test" and shown["signed_by"] is None


def test_bulk_table_rows_point_at_findings(ctx_for, dkim_stub):
    from audit.model import CheckOutcome, Finding, Status
    from audit.rules.dmarc import DMARC_FAIL

    dkim_stub([("esp-bounce.test", "pass")])
    ctx = ctx_for(message("news@clean.test", "b@esp-bounce.test", "198.51.100.7"))
    outcomes = [
        CheckOutcome(
            "dmarc", "m.eml", Status.COMPLETED, findings=[Finding(DMARC_FAIL, "clean.test", "x")]
        ),
        CheckOutcome("headers", "m.eml", Status.COMPLETED),
        CheckOutcome("unsubscribe", "m.eml", Status.COMPLETED),
    ]
    result = run(bulk.evaluate(ctx, outcomes))
    rows = {r["key"]: r for r in result.facts["bulk"]}
    assert rows["spf-pass"]["status"] == "met"
    assert rows["dkim-pass"]["status"] == "met"
    assert rows["dmarc-aligned"]["status"] == "missed"
    assert rows["dmarc-aligned"]["findings"] == ["DMARC301"]
    assert rows["fcrdns"]["status"] == "met"  # 198.51.100.7 -> out1.esp-bounce.test -> back
    assert rows["tls"]["status"] == "met"  # "with ESMTPS" on the edge hop
    assert ("BULK301", "Gmail (5,000+ a day)") in pairs(result)
    assert ("BULK301", "Gmail (all senders)") not in pairs(result)
