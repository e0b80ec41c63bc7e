"""MTA-STS indicator records and TLS-RPT records: parsers and checks on the fixture zones."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import mta_sts, tlsrpt
from audit.model import Status
from audit.net.dns import Resolver, memory_backend
from audit.records.mta_sts import is_sts_record, parse_sts_record
from audit.records.tlsrpt import is_tlsrpt_record, parse_tlsrpt
from tests.conftest import pairs


def test_sts_record_parser():
    assert parse_sts_record("v=STSv1; id=20261125T000000;").policy_id == "20261125T000000"
    assert "id= is missing: senders cannot tell when the policy changes" in (
        parse_sts_record("v=STSv1;").errors
    )
    assert "id=2026-11-25 must be 1-32 letters or digits" in (
        parse_sts_record("v=STSv1; id=2026-11-25").errors
    )
    assert "id=" + "a" * 33 + " must be 1-32 letters or digits" in (
        parse_sts_record("v=STSv1; id=" + "a" * 33).errors
    )
    assert is_sts_record("v=STSv1; id=1") and not is_sts_record("v=spf1 -all")


def test_tlsrpt_parser():
    ok = parse_tlsrpt("v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x")
    assert ok.valid and ok.rua == ["mailto:a@example.com", "https://r.example.com/x"]
    assert "rua= (where reports go) is missing" in parse_tlsrpt("v=TLSRPTv1;").errors
    assert "rua= 'ftp://x': only mailto: and https: are allowed" in (
        parse_tlsrpt("v=TLSRPTv1; rua=ftp://x").errors
    )
    assert any("not a URI" in e for e in parse_tlsrpt("v=TLSRPTv1; rua=tls@x.test").errors)
    assert is_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@b.c")
    assert not is_tlsrpt_record("v=TLSRPTv2; rua=mailto:a@b.c")


@pytest.mark.parametrize(
    ("check", "domain", "expected"),
    [
        (mta_sts.check, "clean.test", set()),
        (mta_sts.check, "sts-invalid.test", {("STS002", "sts-invalid.test")}),
        (mta_sts.check, "sts-multiple.test", {("STS002", "sts-multiple.test")}),
        (mta_sts.check, "dmarc-none.test", {("STS001", "dmarc-none.test")}),
        (mta_sts.check, "mx-null.test", set()),  # takes no mail: nothing to protect
        (tlsrpt.check, "clean.test", set()),
        (tlsrpt.check, "rpt-invalid.test", {("RPT002", "rpt-invalid.test")}),
        (tlsrpt.check, "rpt-multiple.test", {("RPT002", "rpt-multiple.test")}),
        (tlsrpt.check, "dmarc-none.test", {("RPT001", "dmarc-none.test")}),
        (tlsrpt.check, "mx-null.test", set()),
    ],
)
def test_rules_on_scenarios(run_domain_check, check, domain, expected):
    assert pairs(run_domain_check(check, domain)) == expected


def test_policy_not_fetched_is_said(run_domain_check):
    facts = run_domain_check(mta_sts.check, "clean.test").facts["mta_sts"]
    assert facts["parsed"]["id"] == "20261125T000000"
    assert facts["policy_fetched"] is False


@pytest.mark.parametrize("check", [mta_sts.check, tlsrpt.check])
def test_timeout_is_inconclusive(check):
    backend = memory_backend(
        {"_mta-sts.example.com": [("TIMEOUT", "")], "_smtp._tls.example.com": [("TIMEOUT", "")]}
    )
    result = asyncio.run(check(DomainContext("example.com", Resolver(backend))))
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "example.com")}
