"""The DKIM domain check on the fixture zones: each rule on its scenario, with the severity
the key size asks for; discovery, given selectors and CNAME delegation as facts."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import dkim
from audit.model import Severity, Status
from audit.net.dns import Resolver, memory_backend
from tests.conftest import pairs


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("clean.test", set()),
        ("dkim-good.test", set()),
        ("dkim-esp.test", set()),
        ("dkim-weak.test", {("DKIM101", "default._domainkey.dkim-weak.test", Severity.MEDIUM)}),
        ("dkim-tiny.test", {("DKIM101", "dkim._domainkey.dkim-tiny.test", Severity.CRITICAL)}),
        ("dkim-testing.test", {("DKIM102", "google._domainkey.dkim-testing.test", Severity.LOW)}),
        ("dkim-revoked.test", {("DKIM003", "k1._domainkey.dkim-revoked.test", Severity.LOW)}),
        ("dkim-invalid.test", {("DKIM002", "mail._domainkey.dkim-invalid.test", Severity.HIGH)}),
        ("dkim-none.test", {("DKIM001", "dkim-none.test", Severity.MEDIUM)}),
    ],
)
def test_rule_fires_on_its_scenario(run_domain_check, domain, expected):
    result = run_domain_check(dkim.check, domain)
    assert {(f.rule.id, f.target, f.effective_severity) for f in result.findings} == expected


def test_key_facts(run_domain_check):
    keys = run_domain_check(dkim.check, "dkim-good.test").facts["dkim"]["keys"]
    assert {(k["selector"], k["key_type"], k["key_bits"]) for k in keys} == {
        ("selector1", "rsa", 2048),
        ("s1", "ed25519", 256),
    }


def test_cname_delegation_is_a_fact(run_domain_check):
    (key,) = run_domain_check(dkim.check, "dkim-esp.test").facts["dkim"]["keys"]
    assert key["cname_chain"] == ["s1.domainkey.dkim-provider.test"]
    assert key["key_bits"] == 2048


def test_given_selector_found_and_reported_as_given(run_domain_check):
    facts = run_domain_check(dkim.check, "clean.test", dkim_selectors=["s2048"]).facts["dkim"]
    assert facts["selectors_tried"][0] == "s2048"
    assert {k["selector"]: k["source"] for k in facts["keys"]}["s2048"] == "given"
    assert "--dkim-selector" in facts["discovery_note"]


def test_given_selector_missing_is_high(run_domain_check):
    result = run_domain_check(dkim.check, "clean.test", dkim_selectors=["nosuch"])
    assert {(f.rule.id, f.target, f.effective_severity) for f in result.findings} == {
        ("DKIM001", "nosuch._domainkey.clean.test", Severity.HIGH)
    }


def test_no_discovery_tries_only_given(run_domain_check):
    facts = run_domain_check(
        dkim.check, "clean.test", dkim_selectors=["s2048"], discover_dkim=False
    ).facts["dkim"]
    assert facts["selectors_tried"] == ["s2048"]


def test_timeouts_are_inconclusive_not_missing():
    backend = memory_backend(
        {f"{sel}._domainkey.example.com": [("TIMEOUT", "")] for sel in dkim.COMMON_SELECTORS}
    )
    ctx = DomainContext("example.com", Resolver(backend))
    result = asyncio.run(dkim.check(ctx))
    assert result.status is Status.INCONCLUSIVE
    assert {f.rule.id for f in result.findings} == {"DNS001"}
    assert pairs(result) >= {("DNS001", "default._domainkey.example.com")}
