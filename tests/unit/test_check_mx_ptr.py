"""MX and reverse-DNS checks against the fixture zones and injected DNS failures."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import mx, ptr
from audit.model import Status
from audit.net.dns import Resolver, memory_backend
from tests.conftest import pairs


def test_clean_mx_facts(run_domain_check):
    result = run_domain_check(mx.check, "clean.test")
    assert result.findings == []
    hosts = result.facts["mx"]["hosts"]
    assert [(h["preference"], h["host"], h["addresses"]) for h in hosts] == [
        (10, "mx1.clean.test", ["192.0.2.10"]),
        (20, "mx2.clean.test", ["192.0.2.11", "2001:db8::11"]),
    ]


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("mx-missing.test", {("MX001", "mx-missing.test")}),
        ("mx-null.test", {("MX002", "mx-null.test")}),
        ("mx-null-mixed.test", {("MX006", "mx-null-mixed.test")}),
        ("mx-unresolvable.test", {("MX003", "gone.mx-unresolvable.test")}),
        ("mx-cname.test", {("MX004", "alias.mx-cname.test")}),
        ("mx-ip-literal.test", {("MX005", "mx-ip-literal.test")}),
    ],
)
def test_mx_rule_fires_on_its_scenario(run_domain_check, domain, expected):
    assert pairs(run_domain_check(mx.check, domain)) == expected


def test_missing_mx_names_the_implicit_address(run_domain_check):
    (finding,) = run_domain_check(mx.check, "mx-missing.test").findings
    assert "implicit MX at 192.0.2.20" in finding.message


def test_cname_target_still_resolves(run_domain_check):
    result = run_domain_check(mx.check, "mx-cname.test")
    (host,) = result.facts["mx"]["hosts"]
    assert host["addresses"] == ["192.0.2.10"]
    assert host["cname_chain"] == ["mx1.clean.test"]


def test_nonexistent_domain(run_domain_check):
    (finding,) = run_domain_check(mx.check, "nope.clean.test").findings
    assert finding.rule.id == "MX001"
    assert "NXDOMAIN" in finding.message


def test_clean_ptr_is_forward_confirmed(run_domain_check):
    result = run_domain_check(ptr.check, "clean.test")
    assert result.findings == []
    confirmed = {f["address"]: f["forward_confirmed"] for f in result.facts["ptr"]}
    assert confirmed == {
        "192.0.2.10": ["mx1.clean.test"],
        "192.0.2.11": ["mx2.clean.test"],
        "2001:db8::11": ["mx2.clean.test"],
    }


def test_ptr_missing(run_domain_check):
    result = run_domain_check(ptr.check, "ptr-missing.test")
    assert pairs(result) == {("PTR001", "192.0.2.50")}


def test_ptr_not_forward_confirmed(run_domain_check):
    result = run_domain_check(ptr.check, "ptr-mismatch.test")
    assert pairs(result) == {("PTR002", "192.0.2.60")}
    assert "other.ptr-mismatch.test" in result.findings[0].message


def _run(check, records, domain="example.com"):
    ctx = DomainContext(domain, Resolver(memory_backend(records)))
    return asyncio.run(check(ctx))


def test_mx_timeout_is_inconclusive():
    result = _run(mx.check, {"example.com": [("TIMEOUT", "MX")]})
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "example.com")}


def test_one_host_timing_out_does_not_hide_the_others():
    result = _run(
        mx.check,
        {
            "example.com": [("MX", "10 a.example.com."), ("MX", "20 b.example.com.")],
            "a.example.com": [("TIMEOUT", "")],
        },
    )
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "a.example.com"), ("MX003", "b.example.com")}


def test_ptr_timeout_is_inconclusive_not_missing():
    result = _run(
        ptr.check,
        {
            "example.com": [("MX", "10 mx.example.com.")],
            "mx.example.com": [("A", "192.0.2.1")],
            "1.2.0.192.in-addr.arpa": [("SERVFAIL", "")],
        },
    )
    assert result.status is Status.INCONCLUSIVE
    assert {f.rule.id for f in result.findings} == {"DNS001"}
