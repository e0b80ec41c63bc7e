"""STS007: under an MTA-STS policy, every covered MX must offer STARTTLS with a certificate
senders accept (RFC 8461 4.2). Real Postfix TLS scenarios, a real HTTPS policy server, Knot."""

from __future__ import annotations

import asyncio

import pytest

from audit.checks.common import DomainContext
from audit.checks.domain import mta_sts
from audit.model import Severity
from audit.net.dns import NetworkBackend, Resolver, ServerAddress
from tests.conftest import pairs
from tests.infra.certs import TestCA
from tests.infra.https_server import HttpsServer
from tests.infra.servers import KnotServer, ServerError

ZONE_HEAD = """\
$TTL 300
@               SOA  ns1.tls.test. hostmaster.tls.test. 1 3600 600 86400 300
@               NS   ns1
ns1             A    127.0.0.1
"""
DOMAIN_LINES = """\
{d:<12} MX   10 mx-{s}
mx-{s:<10} A    127.0.0.1
_mta-sts.{d:<4} TXT  "v=STSv1; id=1"
mta-sts.{d:<5} A    127.0.0.1
"""
# domain -> (Postfix scenario, policy mode)
CASES = {
    "enf-ok": ("trusted", "enforce"),
    "enf-name": ("mismatch", "enforce"),
    "enf-exp": ("expired", "enforce"),
    "enf-self": ("selfsigned", "enforce"),
    "enf-none": ("none", "enforce"),
    "test-name": ("mismatch", "testing"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory, knot_server, tls_scenarios):
    zones = tmp_path_factory.mktemp("sts-tls-zones")
    body = "".join(DOMAIN_LINES.format(d=d, s=s) for d, (s, _m) in CASES.items())
    (zones / "tls.test.zone").write_text(ZONE_HEAD + body)
    work = tmp_path_factory.mktemp("sts-tls-https")
    ca = TestCA("sts policy CA")
    https = HttpsServer.start(ca, work)
    for domain, (scenario, mode) in CASES.items():
        text = f"version: STSv1\nmode: {mode}\nmx: mx-{scenario}.tls.test\nmax_age: 604800\n"
        https.route(
            f"mta-sts.{domain}.tls.test",
            "/.well-known/mta-sts.txt",
            body=text.encode(),
            content_type="text/plain",
        )
    bundle = work / "bundle.pem"
    bundle.write_bytes(tls_scenarios.ca_file.read_bytes() + ca.cert_pem)
    try:
        knot = KnotServer.start(tmp_path_factory.mktemp("sts-tls-knot"), zones)
    except ServerError as exc:
        https.stop()
        pytest.fail(str(exc), pytrace=False)
    yield knot, https, bundle, tls_scenarios
    knot.stop()
    https.stop()


def run(world, domain: str):
    knot, https, bundle, scenarios = world
    scenario = CASES[domain][0]
    ctx = DomainContext(
        f"{domain}.tls.test",
        Resolver(NetworkBackend([ServerAddress(knot.host, knot.port)], timeout=3)),
        probes=True,
        https_port=https.port,
        smtp_port=scenarios.ports[scenario],
        ca_file=str(bundle),
        timeout=3.0,
        allow_private_addresses=True,  # loopback servers
    )
    return asyncio.run(mta_sts.check(ctx))


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("enf-name", "not valid for mx-mismatch.tls.test"),
        ("enf-exp", "expired"),
        ("enf-self", "not trusted"),
        ("enf-none", "no STARTTLS"),
    ],
)
def test_enforce_mode_mx_with_bad_tls_is_sts007(world, domain, reason) -> None:
    result = run(world, domain)
    scenario = CASES[domain][0]
    assert pairs(result) == {("STS007", f"mx-{scenario}.tls.test")}
    finding = result.findings[0]
    assert reason in finding.message
    assert finding.effective_severity is Severity.HIGH


def test_trusted_mx_is_clean(world) -> None:
    assert pairs(run(world, "enf-ok")) == set()


def test_testing_mode_is_medium_and_says_tls_rpt(world) -> None:
    result = run(world, "test-name")
    assert pairs(result) == {
        ("STS007", "mx-mismatch.tls.test"),
        ("STS101", "test-name.tls.test"),
    }
    sts007 = next(f for f in result.findings if f.rule.id == "STS007")
    assert sts007.effective_severity is Severity.MEDIUM and "TLS-RPT" in sts007.message
