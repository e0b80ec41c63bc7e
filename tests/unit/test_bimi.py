"""BIMI: the record parser, and the check on the fixture zones (syntax, DMARC prerequisite)."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import bimi
from audit.model import Severity, Status
from audit.net.dns import Resolver, memory_backend
from audit.records.bimi import is_bimi_record, parse_bimi
from tests.conftest import pairs


def test_parser_reads_a_good_record():
    record = parse_bimi("v=BIMI1; l=https://x.test/logo.svg; a=https://x.test/vmc.pem")
    assert record.valid and not record.warnings and not record.declined
    assert (record.logo_url, record.authority_url) == (
        "https://x.test/logo.svg",
        "https://x.test/vmc.pem",
    )


def test_parser_decline_and_errors():
    assert parse_bimi("v=BIMI1; l=; a=;").declined
    assert parse_bimi("v=BIMI1; l=").declined
    assert "the record must start with v=BIMI1" in parse_bimi("l=; v=BIMI1").errors
    assert "v=BIMI2 is not BIMI1" in parse_bimi("v=BIMI2; l=").errors
    http = parse_bimi("v=BIMI1; l=http://x.test/logo.svg")
    assert any(e.startswith("l=http://x.test/logo.svg is not an https:// URI") for e in http.errors)
    assert not http.declined
    assert (
        "a=ftp://x.test/vmc.pem is not an https:// URI"
        in parse_bimi("v=BIMI1; l=; a=ftp://x.test/vmc.pem").errors[0]
    )
    assert "l= is missing (write l= empty to decline BIMI)" in parse_bimi("v=BIMI1").errors
    assert "tag l= appears more than once" in parse_bimi("v=BIMI1; l=; l=").errors
    png = parse_bimi("v=BIMI1; l=https://x.test/logo.png")
    assert png.valid and png.warnings == [
        "l=https://x.test/logo.png does not end in .svg: the logo must be an SVG Tiny PS file"
    ]
    assert is_bimi_record("l=; v=BIMI1") and not is_bimi_record("v=spf1 -all")


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("clean.test", set()),  # no BIMI record: optional, silent
        ("bimi-ok.test", set()),
        ("bimi-declined.test", set()),  # declined under p=none: nothing to show, no prerequisite
        ("bimi-invalid.test", {("BIMI001", "bimi-invalid.test")}),
        ("bimi-png.test", {("BIMI001", "bimi-png.test")}),
        ("bimi-dmarc-none.test", {("BIMI002", "bimi-dmarc-none.test")}),
        ("bimi-pct.test", {("BIMI002", "bimi-pct.test")}),
        ("bimi-sp-none.test", {("BIMI002", "bimi-sp-none.test")}),
    ],
)
def test_rules_on_scenarios(run_domain_check, domain, expected):
    assert pairs(run_domain_check(bimi.check, domain)) == expected


def test_facts(run_domain_check):
    facts = run_domain_check(bimi.check, "bimi-ok.test").facts["bimi"]
    assert facts["record"].startswith("v=BIMI1; l=https://bimi-ok.test/bimi/logo.svg")
    assert facts["logo_url"] == "https://bimi-ok.test/bimi/logo.svg"
    assert facts["authority_url"] == "https://bimi-ok.test/bimi/vmc.pem"
    assert facts["dmarc_ready"] is True and facts["declined"] is False
    assert facts["logo_checked"] is False
    absent = run_domain_check(bimi.check, "clean.test").facts["bimi"]
    assert absent["record"] is None and absent["status"] == "NXDOMAIN"
    assert run_domain_check(bimi.check, "bimi-declined.test").facts["bimi"]["declined"] is True


def test_messages_name_the_problem(run_domain_check):
    (pct,) = run_domain_check(bimi.check, "bimi-pct.test").findings
    assert "pct=50 at _dmarc.bimi-pct.test" in pct.message
    assert "pct=" not in pct.fix.split('"')[1]
    (sp,) = run_domain_check(bimi.check, "bimi-sp-none.test").findings
    assert "sp=none at the organizational domain" in sp.message
    (png,) = run_domain_check(bimi.check, "bimi-png.test").findings
    assert png.effective_severity is Severity.LOW
    (bad,) = run_domain_check(bimi.check, "bimi-invalid.test").findings
    assert bad.effective_severity is Severity.MEDIUM


def _run(records):
    result = asyncio.run(
        bimi.check(DomainContext("example.com", Resolver(memory_backend(records))))
    )
    return result


def test_several_records_and_missing_dmarc():
    result = _run(
        {"default._bimi.example.com": [("TXT", '"v=BIMI1; l="'), ("TXT", '"v=BIMI1; l=;a=;"')]}
    )
    assert pairs(result) == {("BIMI001", "example.com")}  # both declines: no DMARC question
    result = _run({"default._bimi.example.com": [("TXT", '"v=BIMI1; l=https://e.com/l.svg"')]})
    assert pairs(result) == {("BIMI002", "example.com")}
    assert result.facts["bimi"]["dmarc_ready"] is False


def test_timeouts_are_inconclusive():
    result = _run({"default._bimi.example.com": [("TIMEOUT", "")]})
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "example.com")}
    result = _run(
        {
            "default._bimi.example.com": [("TXT", '"v=BIMI1; l=https://e.com/l.svg"')],
            "_dmarc.example.com": [("TIMEOUT", "")],
        }
    )
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "example.com")}


def test_malformed_uris_are_record_errors_not_crashes() -> None:
    from audit.records.bimi import parse_bimi

    broken = parse_bimi("v=BIMI1; l=https://[::1/logo.svg; a=https://x.test:99999/vmc.pem")
    assert broken.logo_url is None
    assert any("l=https://[::1/logo.svg is not a valid URI" in e for e in broken.errors)
    assert any("a=https://x.test:99999/vmc.pem is not a valid URI" in e for e in broken.errors)
