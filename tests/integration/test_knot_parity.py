"""The same scenarios through a real DNS server (Knot on loopback) and through --zone-dir must
give the same findings; a server that never answers gives DNS001 and exit 3, within its timeout."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from audit.domain_audit import audit_domain
from audit.model import Status
from audit.net.dns import NetworkBackend, Resolver, ServerAddress, StaticBackend
from tests.conftest import ZONES
from tests.json_output import report_of

# Scenario zones are the *.test zones; test. and arpa. are their parents.
SCENARIOS = sorted(p.name[: -len(".zone")] for p in ZONES.glob("*.test.zone"))


def signature(report) -> tuple:
    return (
        sorted((o.check, o.status.value) for o in report.outcomes),
        sorted((f.rule.id, f.target, f.effective_severity.value) for f in report.findings()),
    )


@pytest.fixture(scope="module")
def both_ways(knot_server, zone_data):
    network = NetworkBackend([ServerAddress(knot_server.host, knot_server.port)], timeout=3)
    offline = StaticBackend(zone_data)

    async def run_all():
        results = {}
        for domain in SCENARIOS:
            results[domain] = (
                await audit_domain(domain, network, timeout=3),
                await audit_domain(domain, offline, timeout=3),
            )
        return results

    return asyncio.run(run_all())


@pytest.mark.parametrize("domain", SCENARIOS)
def test_knot_and_zone_dir_agree(both_ways, domain):
    over_network, from_files = both_ways[domain]
    assert signature(over_network) == signature(from_files)
    # a skipped check says why in `error` (probes off, DNSSEC not checkable); nothing else may
    failed = [o for o in over_network.outcomes if o.error and o.status is not Status.SKIPPED]
    assert not failed, [o.error for o in failed]


def test_scenarios_fire_over_the_network(both_ways):
    fired = {(f.rule.id, f.target) for network, _ in both_ways.values() for f in network.findings()}
    for expected in [
        ("SPF201", "spf-too-many.test"),
        ("DMARC101", "dmarc-none.test"),
        ("MX004", "alias.mx-cname.test"),
        ("PTR002", "192.0.2.60"),
        ("DMARC201", "dmarc-external-rua.test"),
    ]:
        assert expected in fired
    clean, _ = both_ways["clean.test"]
    assert clean.findings() == [] or all(
        f.rule.id.startswith("DKIM0") is False for f in clean.findings()
    )


def test_resolver_statuses_against_knot(knot_server):
    resolver = Resolver(
        NetworkBackend([ServerAddress(knot_server.host, knot_server.port)], timeout=3)
    )

    async def ask():
        return await asyncio.gather(
            resolver.query("clean.test", "MX"),
            resolver.query("clean.test", "SRV"),
            resolver.query("nope.clean.test", "A"),
            resolver.query("alias.mx-cname.test", "A"),
        )

    mx, nodata, nx, cname = asyncio.run(ask())
    assert mx.status.value == "NOERROR" and len(mx.rdata) == 2
    assert nodata.status.value == "NODATA"
    assert nx.status.value == "NXDOMAIN"
    assert cname.status.value == "NOERROR" and cname.cname_chain == ("mx1.clean.test",)
    assert [r.address for r in cname.rdata] == ["192.0.2.10"]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=timeout
    )


def test_cli_against_knot(knot_server):
    # DNS parity only: probes (HTTPS, SMTP) would judge hosts this zone set does not run
    proc = cli(
        "domain", "clean.test", "--dns-server", knot_server.address, "--format", "json",
        "--no-probes",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    assert report["summary"]["inconclusive"] is False
    assert any(q["name"] == "_dmarc.clean.test" for q in report["queries"])


def test_dropped_queries_are_inconclusive_not_missing(drop_proxy):
    start = time.monotonic()
    proc = cli(
        "domain", "clean.test", "--dns-server", drop_proxy.address, "--timeout", "1",
        "--format", "json",
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert proc.returncode == 3, proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    ids = {f["rule_id"] for o in report["outcomes"] for f in o["findings"]}
    assert ids == {"DNS001"}, ids  # never SPF001 / DMARC001 / MX001 for a timeout
    assert report["summary"]["inconclusive"] is True
    assert all(o["status"] in ("inconclusive", "completed") for o in report["outcomes"])
    assert {q["status"] for q in report["queries"]} == {"TIMEOUT"}
    assert elapsed < 30  # bounded by --timeout per operation, not hanging


def test_blocklist_zone_served_by_knot(knot_server):
    """Issue 4: a blocklist zone served by the test DNS server lists an MX address."""
    proc = cli(
        "domain", "dnsbl-listed.test", "--dns-server", knot_server.address, "--no-probes",
        "--blocklist", "dnsbl-zone.test", "--blocklist", "rhsbl:dnsbl-rhsbl.test",
        "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    outcome = next(o for o in report_of(proc.stdout)["outcomes"] if o["check"] == "dnsbl")
    found = {(f["rule_id"], f["target"]) for f in outcome["findings"]}
    assert ("BL301", "198.51.100.60") in found
