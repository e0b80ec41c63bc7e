"""The DKIM domain check on the fixture zones: each rule on its scenario, with the severity
the key size asks for; discovery, given selectors and CNAME delegation as facts."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import dkim
from audit.fact_json import to_json
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
    keys = run_domain_check(dkim.check, "dkim-good.test").facts["dkim"].keys
    assert {(k.selector, k.key.key_type, k.key.key_bits) for k in keys} == {
        ("selector1", "rsa", 2048),
        ("s1", "ed25519", 256),
    }
    # in the JSON the parsed tags sit beside the record, as they always did
    assert {"selector", "record", "key_type", "key_bits", "errors"} <= set(to_json(keys[0]))
    assert "key" not in to_json(keys[0])


def test_cname_delegation_is_a_fact(run_domain_check):
    (key,) = run_domain_check(dkim.check, "dkim-esp.test").facts["dkim"].keys
    assert key.cname_chain == ("s1.domainkey.dkim-provider.test",)
    assert key.key.key_bits == 2048


def test_given_selector_found_and_reported_as_given(run_domain_check):
    facts = run_domain_check(dkim.check, "clean.test", dkim_selectors=["s2048"]).facts["dkim"]
    assert facts.selectors_tried[0] == "s2048"
    assert {k.selector: k.source for k in facts.keys}["s2048"] == "given"
    assert "--dkim-selector" in facts.discovery_note


def test_given_selector_missing_is_high(run_domain_check):
    result = run_domain_check(dkim.check, "clean.test", dkim_selectors=["nosuch"])
    assert {(f.rule.id, f.target, f.effective_severity) for f in result.findings} == {
        ("DKIM001", "nosuch._domainkey.clean.test", Severity.HIGH)
    }


def test_no_discovery_tries_only_given(run_domain_check):
    facts = run_domain_check(
        dkim.check, "clean.test", dkim_selectors=["s2048"], discover_dkim=False
    ).facts["dkim"]
    assert facts.selectors_tried == ("s2048",)


def test_timeouts_are_inconclusive_not_missing():
    names = [f"{sel}._domainkey.example.com" for sel in dkim.COMMON_SELECTORS]
    backend = memory_backend(
        {name: [("TIMEOUT", "")] for name in [*names, "_domainkey.example.com"]}
    )  # the server times out for the whole subtree (its NXDOMAIN would end the guessing)
    ctx = DomainContext("example.com", Resolver(backend))
    result = asyncio.run(dkim.check(ctx))
    assert result.status is Status.INCONCLUSIVE
    assert {f.rule.id for f in result.findings} == {"DNS001"}
    assert pairs(result) >= {("DNS001", "default._domainkey.example.com")}


class CountingBackend:
    """The fixture zones, counting the questions that reach them."""

    def __init__(self, inner):
        self.inner, self.asked = inner, []

    async def lookup(self, name, rdtype):
        self.asked.append((name, rdtype))
        return await self.inner.lookup(name, rdtype)


def _dkim_queries(zone_data, domain, **options):
    from audit.net.dns import StaticBackend

    backend = CountingBackend(StaticBackend(zone_data))
    ctx = DomainContext(domain, Resolver(backend), **options)
    result = asyncio.run(dkim.check(ctx))
    return result, [name for name, _ in backend.asked]


def test_nxdomain_at_domainkey_ends_discovery_rfc8020(zone_data):
    result, asked = _dkim_queries(zone_data, "dmarc-none.test", dkim_selectors=["custom"])
    facts = result.facts["dkim"]
    assert facts.selector_subtree == "NXDOMAIN"
    assert asked == ["_domainkey.dmarc-none.test", "custom._domainkey.dmarc-none.test"]
    assert facts.selectors_tried == ("custom",)  # the given one is still asked and judged
    assert ("DKIM001", "custom._domainkey.dmarc-none.test") in pairs(result)


def test_empty_non_terminal_domainkey_keeps_guessing(zone_data):
    result, asked = _dkim_queries(zone_data, "dkim-good.test")
    facts = result.facts["dkim"]
    assert facts.selector_subtree == "NODATA"  # keys exist below: not a proof of absence
    assert len(asked) == 1 + len(dkim.COMMON_SELECTORS)
    assert [k.selector for k in facts.keys]  # the key below was found
