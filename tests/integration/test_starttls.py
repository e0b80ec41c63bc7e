"""STARTTLS and certificate checks against real servers on loopback.

One Postfix (tests/infra/postfix_tls.py) serves every TLS scenario on its own port; odd servers
(tests/infra/odd_smtp.py) give a 421 banner and a stall after EHLO; Knot serves a zone written
here with one domain per scenario, its MX host at 127.0.0.1. Each domain is audited with
`smtp_port` set to its scenario's port and the test CA as the trust store.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import starttls
from audit.checks.smtp_tls import probe_mx_address
from audit.model import CheckResult, Status
from audit.net.dns import NetworkBackend, Resolver, ServerAddress
from tests.conftest import pairs
from tests.infra.netutil import refused_port
from tests.infra.servers import KnotServer, ServerError
from tests.json_output import report_of

POSTFIX_SCENARIOS = ("trusted", "mismatch", "expired", "expiring", "selfsigned", "legacy", "none")

ZONE = """\
$TTL 300
@               SOA  ns1.tls.test. hostmaster.tls.test. 1 3600 600 86400 300
@               NS   ns1
ns1             A    127.0.0.1
{scenarios}
; two MX hosts on one server: only the second's name is not in its certificate; the second also
; has an IPv6 address nothing listens on
mixed           MX   10 mx-trusted
mixed           MX   20 mx-alias
mx-alias        A    127.0.0.1
mx-alias        AAAA ::1
mixed           TXT  "v=spf1 -all"
_dmarc.mixed    TXT  "v=DMARC1; p=reject"
; the odd servers and a closed port
banner421       MX   10 mx-421
mx-421          A    127.0.0.1
stall           MX   10 mx-stall
mx-stall        A    127.0.0.1
ehlo451         MX   10 mx-451
mx-451          A    127.0.0.1
tls454          MX   10 mx-454
mx-454          A    127.0.0.1
plaintls        MX   10 mx-plaintls
mx-plaintls     A    127.0.0.1
refused         MX   10 mx-refused
mx-refused      A    127.0.0.1
refused         TXT  "v=spf1 -all"
_dmarc.refused  TXT  "v=DMARC1; p=reject"
"""

SCENARIO_LINES = """\
{name:<15} MX   10 mx-{name}
mx-{name:<12} A    127.0.0.1
{name:<15} TXT  "v=spf1 -all"
_dmarc.{name:<8} TXT  "v=DMARC1; p=reject"
"""

REVERSE_ZONE = """\
$TTL 300
@               SOA  ns1.tls.test. hostmaster.tls.test. 1 3600 600 86400 300
@               NS   ns1.tls.test.
1.0.0           PTR  mx-trusted.tls.test.
"""


@pytest.fixture(scope="module")
def tls_dns(tmp_path_factory: pytest.TempPathFactory, knot_server) -> KnotServer:
    """Knot serving tls.test and 127.in-addr.arpa (knot_server: only for the install check)."""
    zones = tmp_path_factory.mktemp("tls-zones")
    lines = "".join(SCENARIO_LINES.format(name=n) for n in POSTFIX_SCENARIOS)
    (zones / "tls.test.zone").write_text(ZONE.format(scenarios=lines))
    (zones / "127.in-addr.arpa.zone").write_text(REVERSE_ZONE)
    try:
        server = KnotServer.start(tmp_path_factory.mktemp("tls-knot"), zones)
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def _context(dns: KnotServer, domain: str, port: int, ca_file, **options) -> DomainContext:
    backend = NetworkBackend([ServerAddress(dns.host, dns.port)], timeout=3)
    return DomainContext(
        domain,
        Resolver(backend),
        probes=options.pop("probes", True),
        smtp_port=port,
        ca_file=str(ca_file),
        timeout=options.pop("timeout", 3.0),
        allow_private_addresses=options.pop("allow_private_addresses", True),  # loopback servers
        **options,
    )


@pytest.fixture(scope="module")
def results(tls_dns, tls_scenarios, odd_smtp) -> dict[str, CheckResult]:
    """The starttls check on every scenario domain, all at once."""
    ports = dict(tls_scenarios.ports)
    ports["mixed"] = ports["trusted"]
    ports["banner421"] = odd_smtp("421").port
    ports["stall"] = odd_smtp("stall").port
    ports["ehlo451"] = odd_smtp("ehlo451").port
    ports["tls454"] = odd_smtp("starttls454").port
    ports["plaintls"] = odd_smtp("plaintls").port
    ports["refused"] = refused_port()  # nothing listens there
    timeouts = {"stall": 1.0}

    async def run_all() -> dict[str, CheckResult]:
        names = list(ports)
        done = await asyncio.gather(
            *(
                starttls.check(
                    _context(
                        tls_dns,
                        f"{name}.tls.test",
                        ports[name],
                        tls_scenarios.ca_file,
                        timeout=timeouts.get(name, 3.0),
                    )
                )
                for name in names
            )
        )
        return dict(zip(names, done, strict=True))

    return asyncio.run(run_all())


def _address_facts(result: CheckResult, host: str) -> list[dict]:
    return next(h for h in result.facts["starttls"]["hosts"] if h["host"] == host)["addresses"]


def test_trusted_server_is_clean_and_described(results):
    result = results["trusted"]
    assert result.status is Status.COMPLETED
    assert result.findings == []
    [facts] = _address_facts(result, "mx-trusted.tls.test")
    assert facts["status"] == "ok" and facts["address"] == "127.0.0.1"
    assert facts["banner"] == ["mx.tls.test ESMTP test"]
    assert "STARTTLS" in facts["extensions"]
    assert facts["tls_version"] == "TLSv1.3"
    assert facts["cipher"]
    assert facts["accepted_versions"] == {
        "TLSv1": False,
        "TLSv1.1": False,
        "TLSv1.2": True,
        "TLSv1.3": True,
    }
    cert = facts["certificate"]
    assert cert["trusted"] is True
    assert cert["name_match"] == "mx-trusted.tls.test"
    assert cert["leaf"]["san_dns"] == ["mx-trusted.tls.test"]
    assert cert["leaf"]["issuer"] == "CN=audit test CA"
    assert (cert["leaf"]["key_type"], cert["leaf"]["key_bits"]) == ("RSA", 2048)
    assert cert["leaf"]["signature_algorithm"] == "ecdsa-with-SHA256"  # signed by the EC CA
    assert cert["days_left"] >= 360
    assert cert["trust_path"] == ["CN=mx-trusted.tls.test", "CN=audit test CA"]
    assert len(facts["chain_sha256"]) == 2  # leaf and CA, as presented


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("mismatch", {"TLS303"}),
        ("expired", {"TLS304"}),
        ("expiring", {"TLS305"}),
        ("selfsigned", {"TLS302"}),
        ("legacy", {"TLS306"}),
        ("none", {"TLS301"}),
    ],
)
def test_each_rule_fires_on_its_scenario(results, scenario, expected):
    host = f"mx-{scenario}.tls.test"
    assert pairs(results[scenario]) == {(rule, host) for rule in expected}
    assert results[scenario].status is Status.COMPLETED
    for finding in results[scenario].findings:
        assert "127.0.0.1" in finding.message


def test_finding_details(results):
    [expired] = results["expired"].findings
    assert "expired on" in expired.message
    [soon] = results["expiring"].findings
    assert "days left" in soon.message
    [selfsigned] = results["selfsigned"].findings
    assert "self-signed" in selfsigned.message
    [mismatch] = results["mismatch"].findings
    assert "other-name.example.test" in mismatch.message
    [legacy] = results["legacy"].findings
    assert "TLSv1 and TLSv1.1" in legacy.message
    [facts] = _address_facts(results["legacy"], "mx-legacy.tls.test")
    assert facts["accepted_versions"]["TLSv1"] is True
    [none] = _address_facts(results["none"], "mx-none.tls.test")
    assert none["status"] == "no_starttls" and none["starttls_offered"] is False
    assert none["certificate"] is None


def test_one_failing_host_does_not_hide_the_others(results):
    result = results["mixed"]
    found = pairs(result)
    assert ("TLS303", "mx-alias.tls.test") in found
    assert not any(target == "mx-trusted.tls.test" for _, target in found)
    alias = {a["address"]: a for a in _address_facts(result, "mx-alias.tls.test")}
    assert alias["127.0.0.1"]["status"] == "ok"
    assert alias["::1"]["status"] == "not_testable"  # Postfix listens on 127.0.0.1 only
    not_testable = [f for f in result.findings if f.rule.id == "TLS307"]
    assert [(f.target, "::1" in f.message) for f in not_testable] == [("mx-alias.tls.test", True)]
    assert result.status is Status.COMPLETED


def test_421_banner_is_not_testable_not_no_starttls(results):
    result = results["banner421"]
    assert pairs(result) == {("TLS307", "mx-421.tls.test")}
    assert "banner 421" in result.findings[0].message
    assert result.status is Status.INCONCLUSIVE  # not testable, never "no STARTTLS"
    assert result.error == "not testable: mx-421.tls.test"
    [facts] = _address_facts(result, "mx-421.tls.test")
    assert (facts["status"], facts["stage"]) == ("not_testable", "banner")


@pytest.mark.parametrize(
    ("scenario", "host", "says"),
    [
        ("ehlo451", "mx-451.tls.test", "EHLO answered 451"),
        ("tls454", "mx-454.tls.test", "temporarily refused: 454"),
    ],
)
def test_temporary_refusals_are_not_testable_not_no_starttls(results, scenario, host, says):
    result = results[scenario]
    assert pairs(result) == {("TLS307", host)}
    assert says in result.findings[0].message
    assert result.status is Status.INCONCLUSIVE


def test_broken_handshake_after_starttls_is_tls309(results):
    result = results["plaintls"]
    assert pairs(result) == {("TLS309", "mx-plaintls.tls.test")}
    assert "handshake fails" in result.findings[0].message
    assert result.status is Status.COMPLETED  # a verdict: the server's TLS is broken


def test_stall_after_ehlo_ends_as_not_testable(results):
    result = results["stall"]
    assert pairs(result) == {("TLS307", "mx-stall.tls.test")}
    [facts] = _address_facts(result, "mx-stall.tls.test")
    assert (facts["status"], facts["stage"]) == ("not_testable", "ehlo")
    assert "timed out" in facts["reason"]
    assert result.status is Status.INCONCLUSIVE


def test_unreachable_everywhere_says_port_25_may_be_blocked(results):
    result = results["refused"]
    assert pairs(result) == {("TLS307", "mx-refused.tls.test"), ("TLS307", "refused.tls.test")}
    domain_note = next(f for f in result.findings if f.target == "refused.tls.test")
    assert "may be blocked" in domain_note.message
    assert "connection refused" in domain_note.message
    assert all(f.rule.temperror is False for f in result.findings)
    assert result.status is Status.INCONCLUSIVE


def test_probes_off_skip_everything(tls_dns, tls_scenarios):
    ctx = _context(
        tls_dns,
        "trusted.tls.test",
        tls_scenarios.ports["trusted"],
        tls_scenarios.ca_file,
        probes=False,
    )
    result = asyncio.run(starttls.check(ctx))
    assert result.status is Status.SKIPPED
    assert result.findings == []
    assert result.facts["starttls"]["probed"] is False


def test_probe_is_shared_between_checks(tls_dns, tls_scenarios):
    """DANE and MTA-STS call probe_mx_address too: one probe per address and run."""
    host = tls_scenarios.hosts["trusted"]
    ctx = _context(
        tls_dns, "trusted.tls.test", tls_scenarios.ports["trusted"], tls_scenarios.ca_file
    )

    async def twice():
        return await asyncio.gather(
            probe_mx_address(ctx, host, "127.0.0.1"), probe_mx_address(ctx, host, "127.0.0.1")
        )

    first, second = asyncio.run(twice())
    assert first is second
    assert first.ok and first.status == "ok"
    assert len(first.chain_der) == 2


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_expired_certificate_fails_the_run(tls_dns, tls_scenarios):
    proc = _cli(
        "domain", "expired.tls.test", "--dns-server", tls_dns.address,
        "--smtp-port", str(tls_scenarios.ports["expired"]),
        "--ca-file", str(tls_scenarios.ca_file), "--blocklist", "bl.tls.test",
        "--timeout", "3", "--format", "json", "--allow-private-addresses",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    outcome = next(o for o in report["outcomes"] if o["check"] == "starttls")
    assert outcome["status"] == "completed"
    assert [(f["rule_id"], f["target"], f["severity"]) for f in outcome["findings"]] == [
        ("TLS304", "mx-expired.tls.test", "high")
    ]
    [host] = outcome["facts"]["starttls"]["hosts"]
    assert host["addresses"][0]["certificate"]["expired"] is True


def test_cli_blocked_port_is_inconclusive_not_failed(tls_dns):
    """Port 25 blocked from the auditing machine: TLS307 (LOW) and an inconclusive starttls
    check: exit 3 (not testable), never exit 1 or "no STARTTLS"."""
    proc = _cli(
        "domain", "refused.tls.test", "--dns-server", tls_dns.address,
        "--smtp-port", str(refused_port()), "--blocklist", "bl.tls.test",
        "--timeout", "3", "--format", "json", "--allow-private-addresses",
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    report = report_of(proc.stdout)
    assert report["summary"]["inconclusive"] is True
    outcome = next(o for o in report["outcomes"] if o["check"] == "starttls")
    assert outcome["status"] == "inconclusive"
    assert outcome["error"] == "not testable: mx-refused.tls.test"
    assert sorted((f["rule_id"], f["target"], f["severity"]) for f in outcome["findings"]) == [
        ("TLS307", "mx-refused.tls.test", "low"),
        ("TLS307", "refused.tls.test", "low"),
    ]
