"""The prediction table (prediction_cases.py) through the two products that use the shared
prediction: `audit message` on a really signed .eml, and `audit domain`'s sending-path check on
the same situation declared as a path. Both over in-memory zones injected as the resolver's
backend; nothing is stubbed."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from audit.checks.common import DomainContext
from audit.checks.domain import sending_paths
from audit.checks.message import dmarc, via
from audit.fact_json import to_json
from audit.facts.paths import SendingPath
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.model import CheckOutcome, Report
from audit.net.dns import Resolver, memory_backend
from tests.unit.prediction_cases import CASES, IP, ORG, OTHER, Case
from tests.unit.test_report_schema import VALIDATOR  # the committed schema

KEYS = Path(__file__).resolve().parents[2] / "fixtures" / "keys"
SIGNING_KEY = (KEYS / "clean.test.s2048.pem").read_bytes()
OTHER_KEY = (KEYS / "msg-dkim.test.s2048.pem").read_bytes()
SELECTOR = "sel"


def dkim_txt(pem: bytes) -> str:
    public = serialization.load_pem_private_key(pem, None).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    return " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))


SPF_DOWN = f"spf-down.{OTHER}"  # its TXT lookup times out


def spf_txt(result: str) -> str | None:
    return {
        "pass": f'"v=spf1 ip4:{IP} -all"',
        "fail": '"v=spf1 -all"',
        "softfail": '"v=spf1 ~all"',
        "temperror": f'"v=spf1 include:{SPF_DOWN} -all"',
        "none": None,
    }[result]


def zones(case: Case, *, keys: dict[str, bytes | None]) -> dict[str, list[tuple[str, str]]]:
    """The From domain, its policy, the envelope domain's SPF, and DKIM keys by d= (None: the
    key lookup times out)."""
    records: dict[str, list[tuple[str, str]]] = {
        ORG: [("MX", f"10 mx.{ORG}.")],
        f"mx.{ORG}": [("A", "192.0.2.1")],
        case.from_domain: [("MX", f"10 mx.{ORG}.")],
        f"bounces.{case.from_domain}": [("MX", f"10 mx.{ORG}.")],
        OTHER: [("MX", f"10 mx.{OTHER}.")],
        f"mx.{OTHER}": [("A", "192.0.2.2")],
        f"bounces.{OTHER}": [("MX", f"10 mx.{OTHER}.")],
        SPF_DOWN: [("TIMEOUT", "")],
    }
    if case.dmarc:
        records[f"_dmarc.{ORG}"] = [("TXT", f'"{case.dmarc}"')]
    if case.extra_dmarc:
        records[f"_dmarc.{ORG}"].append(("TXT", f'"{case.extra_dmarc}"'))
    spf = spf_txt(case.spf)
    if spf:
        records.setdefault(case.envelope_domain, []).append(("TXT", spf))
    for domain, pem in keys.items():
        key = ("TXT", dkim_txt(pem)) if pem else ("TIMEOUT", "")
        records[f"{SELECTOR}._domainkey.{domain}"] = [key]
    return records


def message(case: Case) -> bytes:
    raw = (
        f"Return-Path: <b@{case.envelope_domain}>\r\n"
        f"Received: from out.sender.example (out.sender.example [{IP}]) by mx.receiver.example "
        "(Postfix) with ESMTPS id 1A2B3C for <rcpt@receiver.example>; "
        "Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"From: Sender <news@{case.from_domain}>\r\n"
        "To: rcpt@receiver.example\r\n"
        "Subject: prediction table\r\n"
        "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{case.id}@{case.from_domain}>\r\n"
        "\r\nHello.\r\n"
    ).encode()
    for _, who in case.dkim:  # the last signature ends up topmost: order does not matter here
        raw = dkim.sign(raw, SELECTOR.encode(), case.d(who).encode(), SIGNING_KEY) + raw
    return raw


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_message_audit_reaches_the_table_verdict(case: Case):
    # a failing signature: the d= publishes a key the signer does not hold
    keys = {
        case.d(who): None if r == "temperror" else SIGNING_KEY if r == "pass" else OTHER_KEY
        for r, who in case.dkim
    }
    resolver = Resolver(memory_backend(zones(case, keys=keys)))
    ctx = make_context(RawMessage(f"{case.id}.eml", message(case)), resolver)

    async def both():
        return await dmarc.dmarc_verdict(ctx), await via.predict(ctx)

    verdict, shown = asyncio.run(both())
    assert (verdict.result, verdict.disposition) == (case.result, case.disposition)
    assert case.reason is None or case.reason in verdict.reason
    assert (shown["mailed_by"], shown["signed_by"], shown["via"]) == (
        case.mailed_by,
        case.signed_by,
        case.via,
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.domain_path], ids=lambda c: c.id)
def test_domain_sending_path_reaches_the_table_verdict(case: Case, tmp_path):
    """The same situation declared as a path: the IP, the envelope domain, the selector
    (whose key is published only when the case's own signature passes), and for a provider
    signature a profile whose provider signs with its own domain."""
    own = [r for r, who in case.dkim if who == "from"]
    keys: dict[str, bytes | None] = {case.from_domain: SIGNING_KEY} if own == ["pass"] else {}
    if own == ["temperror"]:
        keys = {case.from_domain: None}
    esp = None
    if any(who == "other" for _, who in case.dkim):
        esp = "pred-esp"
        (tmp_path / "pred-esp.toml").write_text(
            f'name = "Prediction ESP"\nsigns_own_domain = "{OTHER}"\n'
            'sources = ["https://docs.example.net/esp"]\n'
        )
    path = SendingPath(
        "table",
        "declared",
        esp=esp,
        ips=(IP,),
        return_path=None if case.envelope == "from" else case.envelope_domain,
        dkim_selectors=(SELECTOR,) if own else (),
    )
    ctx = DomainContext(
        case.from_domain,
        Resolver(memory_backend(zones(case, keys=keys))),
        sending_paths=[path],
        esp_profiles_dir=str(tmp_path) if esp else None,
    )
    result = asyncio.run(sending_paths.check(ctx))
    rows = {row["name"]: row for row in to_json(result.facts["sending_paths"])["paths"]}
    row = rows["table"]
    assert (row["dmarc"], row["disposition"]) == (case.result, case.disposition)
    assert case.reason is None or case.reason in row["dmarc_reason"]
    # the failed lookup is still reported, whatever the verdict
    dns001 = {f.rule.id for f in result.findings} & {"DNS001"}
    temperror = case.spf == "temperror" or any(r == "temperror" for r, _ in case.dkim)
    assert dns001 == ({"DNS001"} if temperror else set())
    outcome = CheckOutcome("sending_paths", case.from_domain, result.status, result.facts,
                           result.findings)  # fmt: skip
    VALIDATOR.validate(Report("domain", case.from_domain, [outcome]).to_dict())
    gmail = row["gmail"]
    assert (gmail["mailed_by"], gmail["signed_by"], gmail["via"]) == (
        case.mailed_by,
        case.signed_by,
        case.via,
    )
