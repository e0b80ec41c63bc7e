"""DNS blocklists: zone lists, query names, return codes, and the check on the fixture zones
with the blocklists pointed at the test lists dnsbl-zone.test (IPs) and dnsbl-rhsbl.test."""

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import dnsbl
from audit.model import Status
from audit.net.dns import DnsAnswer, DnsStatus, Resolver, memory_backend
from tests.conftest import pairs

TEST_LISTS = ["dnsbl-zone.test", "rhsbl:dnsbl-rhsbl.test"]


def test_zone_lists():
    default = dnsbl.blocklist_zones(None)
    assert default.ip == dnsbl.DEFAULT_IP_ZONES and not default.configured
    assert "dbl.spamhaus.org" in default.domain
    zones = dnsbl.blocklist_zones(["zen.spamhaus.org.", "DBL.spamhaus.org", "rhsbl:x.test",
                                   "dnsbl:multi.uribl.com", ""])  # fmt: skip
    assert zones.ip == ("zen.spamhaus.org", "multi.uribl.com")
    assert zones.domain == ("dbl.spamhaus.org", "x.test")
    assert dnsbl.blocklist_zones([]).ip == () and dnsbl.blocklist_zones([]).domain == ()


def test_query_names():
    assert dnsbl.query_name("192.0.2.99", "zen.test", "ip") == "99.2.0.192.zen.test"
    assert (
        dnsbl.query_name("2001:db8::1", "z.test", "ip")
        == "1." + "0." * 23 + "8.b.d.0.1.0.0.2.z.test"
    )
    assert dnsbl.query_name("Example.COM.", "dbl.test", "domain") == "example.com.dbl.test"


def _answer(status, *codes):
    backend = memory_backend({"q.test": [("A", c) for c in codes]} if codes else {})
    if codes:
        return asyncio.run(backend.lookup("q.test", "A"))
    return DnsAnswer("q.test", "A", status)


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        (_answer(DnsStatus.NXDOMAIN), "not_listed"),
        (_answer(DnsStatus.NODATA), "not_listed"),
        (_answer(DnsStatus.TIMEOUT), "unknown"),
        (_answer(DnsStatus.SERVFAIL), "unknown"),
        (_answer(None, "127.0.0.2"), "listed"),
        (_answer(None, "127.0.0.255"), "listed"),
        (_answer(None, "127.0.1.2"), "listed"),  # Spamhaus DBL spam domain
        (_answer(None, "127.255.255.254"), "refused"),
        (_answer(None, "127.255.255.252"), "refused"),
        (_answer(None, "127.255.255.255"), "refused"),
        (_answer(None, "127.255.255.253"), "refused"),  # any Spamhaus error code
        (_answer(None, "127.255.255.250"), "refused"),
        (_answer(None, "127.0.0.1"), "refused"),
        (_answer(None, "192.0.2.1"), "refused"),  # NXDOMAIN rewritten by a resolver
        (_answer(None, "127.255.255.254", "127.0.0.3"), "listed"),
    ],
)
def test_return_codes(answer, verdict):
    assert dnsbl.interpret(answer)[0] == verdict


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("dnsbl-listed.test", {("BL301", "198.51.100.60"), ("BL301", "2001:db8::60")}),
        ("dnsbl-refused.test", {("BL001", "198.51.100.61")}),
        ("dnsbl-domain.test", {("BL301", "dnsbl-domain.test")}),
        ("dnsbl-clean.test", set()),  # near miss: .62 sits beside the listed addresses
        ("clean.test", set()),
        ("mx-null.test", set()),  # no MX hosts: only the domain is asked
    ],
)
def test_rules_on_scenarios(run_domain_check, domain, expected):
    result = run_domain_check(dnsbl.check, domain, blocklists=TEST_LISTS)
    assert pairs(result) == expected
    refused = any(f.rule.id == "BL001" for f in result.findings)
    assert result.status is (Status.INCONCLUSIVE if refused else Status.COMPLETED)


def test_listing_message_and_facts(run_domain_check):
    result = run_domain_check(dnsbl.check, "dnsbl-listed.test", blocklists=TEST_LISTS)
    v4 = next(f for f in result.findings if f.target == "198.51.100.60")
    assert "dnsbl-zone.test" in v4.message and "127.0.0.2" in v4.message
    assert "mx1.dnsbl-listed.test" in v4.message and "spam trap hits" in v4.message
    assert any(e.startswith("60.100.51.198.dnsbl-zone.test TXT -> ") for e in v4.evidence)
    facts = result.facts["blocklists"]
    assert facts["zones"] == {"ip": ["dnsbl-zone.test"], "domain": ["dnsbl-rhsbl.test"]}
    assert facts["configured"] is True
    assert facts["mx_addresses"] == {
        "198.51.100.60": ["mx1.dnsbl-listed.test"],
        "2001:db8::60": ["mx1.dnsbl-listed.test"],
    }
    verdicts = {(r["target"], r["zone"]): r["verdict"] for r in facts["results"]}
    assert verdicts == {
        ("198.51.100.60", "dnsbl-zone.test"): "listed",
        ("2001:db8::60", "dnsbl-zone.test"): "listed",
        ("dnsbl-listed.test", "dnsbl-rhsbl.test"): "not_listed",
    }


def test_default_lists_are_asked(run_domain_check):
    result = run_domain_check(dnsbl.check, "dnsbl-clean.test")  # offline: NXDOMAIN everywhere
    facts = result.facts["blocklists"]
    assert not facts["configured"] and pairs(result) == set()
    assert {r["query"] for r in facts["results"]} >= {
        "62.100.51.198.zen.spamhaus.org",
        "dnsbl-clean.test.dbl.spamhaus.org",
    }


def _run(records, blocklists=("bl.test", "rhsbl:rhs.test")):
    ctx = DomainContext(
        "example.com", Resolver(memory_backend(records)), blocklists=list(blocklists)
    )
    return asyncio.run(dnsbl.check(ctx))


def test_timeouts_are_inconclusive():
    base = {"example.com": [("MX", "10 mx.example.com.")], "mx.example.com": [("A", "192.0.2.5")]}
    result = _run({**base, "5.2.0.192.bl.test": [("TIMEOUT", "")]})
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "192.0.2.5")}
    result = _run({**base, "example.com.rhs.test": [("SERVFAIL", "")]})
    assert pairs(result) == {("DNS001", "example.com")}
    result = _run({"example.com": [("TIMEOUT", "MX")]})
    assert result.status is Status.INCONCLUSIVE
    assert pairs(result) == {("DNS001", "example.com")}


def test_answer_outside_loopback_is_inconclusive():
    result = _run(
        {
            "example.com": [("MX", "10 mx.example.com.")],
            "mx.example.com": [("A", "192.0.2.5")],
            "5.2.0.192.bl.test": [("A", "203.0.113.80")],
        }
    )
    assert pairs(result) == {("BL001", "192.0.2.5")}
    assert "outside 127/8" in result.findings[0].message
    assert result.status is Status.INCONCLUSIVE
