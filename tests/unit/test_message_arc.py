"""The message ARC check: cv and each set's sealer, ARC301 on a broken chain, DNS001 when a
key lookup fails. Sealed messages come from the ARC test vectors (example.org, selector dummy)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import yaml

from audit.checks.message import arc
from audit.checks.message.dkim import key_lookups
from audit.message.load import RawMessage
from audit.message_audit import make_context
from audit.model import Status
from audit.net.dns import Resolver, memory_backend
from tests.conformance.test_arc_suite import SUITE, txt_rdata
from tests.conftest import pairs

NOW = datetime(2017, 6, 1, tzinfo=UTC)
DUMMY = "dummy._domainkey.example.org"


def vector(name: str) -> tuple[bytes, dict]:
    for doc in yaml.safe_load_all(SUITE.read_text(encoding="utf-8")):
        if doc and name in doc["tests"]:
            records = {n: [("TXT", txt_rdata(str(v)))] for n, v in doc["txt-records"].items()}
            return doc["tests"][name]["message"].encode(), records
    raise KeyError(name)


def run(raw: bytes, records: dict):
    ctx = make_context(RawMessage("m.eml", raw), Resolver(memory_backend(records)), now=NOW)

    async def both():
        return await arc.arc_verdict(ctx), await arc.check(ctx), await key_lookups(ctx)

    return asyncio.run(both())


def test_passing_chain_of_three_sets():
    verdict, result, _ = run(*vector("cv_pass_i3_1"))
    assert verdict.cv == "pass"
    assert [(i["i"], i["d"], i["s"], i["cv"], i["as_ok"]) for i in verdict.instances] == [
        (1, "example.org", "dummy", "none", True),
        (2, "example.org", "dummy", "pass", True),
        (3, "example.org", "dummy", "pass", True),
    ]
    assert verdict.instances[-1]["ams_ok"] is True
    assert pairs(result) == set()
    assert result.facts["arc"]["cv"] == "pass"


def test_body_changed_after_the_last_seal_fails_the_chain():
    raw, records = vector("cv_pass_i1_1")
    verdict, result, _ = run(
        raw.replace(b"This is a test message.", b"This is a FAKE message."), records
    )
    assert verdict.cv == "fail"
    assert verdict.reason == "Most recent ARC-Message-Signature did not validate"
    assert verdict.instances[0]["ams_ok"] is False
    assert pairs(result) == {("ARC301", "m.eml")}


def test_seal_recorded_fail_is_a_failed_chain():
    verdict, result, _ = run(*vector("cv_fail_i2_as2_fail"))
    assert verdict.cv == "fail"
    assert "cv=fail recorded by a sealer" in verdict.reason
    assert pairs(result) == {("ARC301", "m.eml")}


def test_no_arc_headers_is_cv_none_without_findings():
    raw = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n"
    verdict, result, lookups = run(raw, {})
    assert (verdict.cv, verdict.instances, verdict.temperror) == ("none", [], False)
    assert pairs(result) == set()
    assert lookups.answers == {}


def test_missing_sealer_key_fails_the_chain():
    verdict, result, _ = run(vector("cv_pass_i1_1")[0], {})
    assert verdict.cv == "fail"
    assert verdict.temperror is False
    assert pairs(result) == {("ARC301", "m.eml")}


def test_key_timeout_is_temperror_not_a_broken_chain():
    raw, _ = vector("cv_pass_i2_1")
    verdict, result, _ = run(raw, {DUMMY: [("TIMEOUT", "")]})
    assert (verdict.cv, verdict.temperror) == ("fail", True)
    assert "TIMEOUT" in verdict.reason
    assert pairs(result) == {("DNS001", "m.eml")}
    assert result.status is Status.INCONCLUSIVE


def test_arc_and_dkim_keys_share_one_prefetch():
    raw, records = vector("cv_pass_i1_1")
    signed = b"DKIM-Signature: v=1; d=d1.example.org; s=sel; h=from; bh=AA==; b=AA==\r\n" + raw
    _, _, lookups = run(signed, records)
    assert sorted(lookups.answers) == [DUMMY, "sel._domainkey.d1.example.org"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n",
        b" continuation first\r\nARC-Seal: i=1; cv=none\r\n\r\nbody",
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=dummy; b=!!!\r\n\r\n",
        b"ARC-Seal: i=99999999999999999999; cv=pass\r\n\r\n",
    ],
)
def test_garbage_never_raises(raw):
    verdict, result, _ = run(raw, {})
    assert verdict.cv in ("none", "fail")
    assert {rid for rid, _ in pairs(result)} <= {"ARC301"}


def test_only_a_header_section_naming_arc_goes_to_dkimpy():
    from audit.checks.message.arc import may_carry_arc

    assert may_carry_arc(b"From: a@b.test\r\nARC-Seal: i=1; cv=none\r\n\r\nbody")
    assert may_carry_arc(b"From: a@b.test\nArc-Message-Signature: i=1\n\nbody")
    assert may_carry_arc(b"From: a@b.test\r\nArc-Seal: i=1")  # no body at all
    assert not may_carry_arc(b"From: a@b.test\r\n\r\nARC-Seal: i=1 is in the body")
    assert not may_carry_arc(b"From: a@b.test\n\nARC-Seal: i=1\r\n\r\nstill the body")
