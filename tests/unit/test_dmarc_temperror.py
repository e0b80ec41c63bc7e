"""Issue 11, class 4: an SPF or DKIM lookup that fails during DMARC evaluation.

RFC 9989 5.3.6: "If one or more DNS queries required to perform DMARC validation on the message
do not complete due to temporary or permanent DNS errors, the message cannot be considered to
pass or fail the DMARC mechanism check. In such cases, the Domain Owner Assessment Policy cannot
be applied to the message." And 5.3.5: "If one or more of the Authenticated Identifiers align
with the Author Domain, the message is considered to pass."

So: when an aligned pass could still come from the lookup that failed, DMARC is temperror and
the audit says so (DNS001, inconclusive), never DMARC301 "reject"; when the failed lookup could
not have produced an aligned pass (its domain does not align), the fail stands; when another
aligned identifier passed, DMARC passes. A really signed message over in-memory zones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dkim
import pytest

from audit.checks.message import dmarc
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.net.dns import Resolver, memory_backend
from tests.unit.test_prediction_consumers import SIGNING_KEY, dkim_txt

FROM = "tmp.test"
OTHER = "esp-tmp.test"
IP = "192.0.2.90"


@dataclass(frozen=True)
class Case:
    id: str
    envelope: str  # the MAIL FROM domain
    spf: str  # "pass" | "fail" | "timeout": what its SPF lookup gives
    signer: str | None  # d= of the one signature
    key: str  # "ok" | "timeout": the signer's key lookup
    result: str
    rules: frozenset[str]


CASES = [
    Case("spf-timeout-aligned", f"bounces.{FROM}", "timeout", None, "ok", "temperror",
         frozenset({"DNS001"})),
    Case("dkim-timeout-aligned", f"bounces.{OTHER}", "fail", FROM, "timeout", "temperror",
         frozenset({"DNS001"})),
    # near miss: the signature that could not be checked is d=esp-tmp.test, which would not
    # align with tmp.test even if it passed: the fail stands (and says reject)
    Case("dkim-timeout-unaligned", f"bounces.{OTHER}", "fail", OTHER, "timeout", "fail",
         frozenset({"DMARC301"})),
    # near miss: SPF for another organization timed out, nothing aligned could pass
    Case("spf-timeout-unaligned", f"bounces.{OTHER}", "timeout", None, "ok", "fail",
         frozenset({"DMARC301"})),
    # another aligned identifier passed: DMARC passes whatever the failed lookup would say
    Case("spf-timeout-dkim-aligned-pass", f"bounces.{FROM}", "timeout", FROM, "ok", "pass",
         frozenset()),
]  # fmt: skip


def zones(case: Case) -> dict[str, list[tuple[str, str]]]:
    records: dict[str, list[tuple[str, str]]] = {
        f"_dmarc.{FROM}": [("TXT", f'"v=DMARC1; p=reject; rua=mailto:d@{FROM}"')],
        FROM: [("MX", f"10 mx.{FROM}.")],
        f"mx.{FROM}": [("A", "192.0.2.1")],
        OTHER: [("MX", f"10 mx.{FROM}.")],
    }
    records[case.envelope] = {
        "pass": [("TXT", f'"v=spf1 ip4:{IP} -all"')],
        "fail": [("TXT", '"v=spf1 -all"')],
        "timeout": [("TIMEOUT", "")],
    }[case.spf]
    if case.signer:
        name = f"sel._domainkey.{case.signer}"
        records[name] = [("TIMEOUT", "")] if case.key == "timeout" else [
            ("TXT", dkim_txt(SIGNING_KEY))
        ]
    return records


def message(case: Case) -> bytes:
    raw = (
        f"Return-Path: <b@{case.envelope}>\r\n"
        f"Received: from out.sender.example (out.sender.example [{IP}]) by mx.receiver.example "
        "(Postfix) with ESMTPS id 1A2B3C for <rcpt@receiver.example>; "
        "Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"From: Sender <news@{FROM}>\r\nTo: rcpt@receiver.example\r\nSubject: temperror\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{case.id}@{FROM}>\r\n\r\nHello.\r\n"
    ).encode()
    if case.signer:
        raw = dkim.sign(raw, b"sel", case.signer.encode(), SIGNING_KEY) + raw
    return raw


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_failed_lookup_during_dmarc(case: Case):
    resolver = Resolver(memory_backend(zones(case)))
    ctx = make_context(RawMessage(f"{case.id}.eml", message(case)), resolver)

    async def both():
        return await dmarc.dmarc_verdict(ctx), await dmarc.check(ctx)

    verdict, result = asyncio.run(both())
    assert verdict.result == case.result, verdict.reason
    assert {(f.rule.id, f.target) for f in result.findings} >= {(r, FROM) for r in case.rules}
    ids = {f.rule.id for f in result.findings}
    if case.result == "temperror":
        assert "DMARC301" not in ids and result.status.value == "inconclusive"
        (finding,) = result.findings
        assert finding.rule.id == "DNS001" and "could still pass aligned" in finding.message
        assert verdict.disposition == "none"
    elif case.result == "fail":
        assert "reject it (p=reject)" in next(
            f.message for f in result.findings if f.rule.id == "DMARC301"
        )
    else:
        assert "DMARC301" not in ids and "DNS001" not in ids
