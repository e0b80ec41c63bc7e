"""MTA-STS policy fetch against real servers on loopback: Knot DNS serving zones this module
writes, and the test HTTPS server (test CA) serving one policy scenario per domain.

Each scenario is a domain whose `mta-sts.<domain>` points at 127.0.0.1 (or nowhere, or an
address that refuses); the check runs with probes on, `https_port` at the test server and the
test CA as `ca_file`, exactly what `--https-port P --ca-file CA` give the CLI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from audit.checks.domain import mta_sts
from audit.model import CheckResult, Severity, Status
from tests.conftest import pairs
from tests.infra.certs import TestCA
from tests.infra.https_server import HttpsServer, StallServer
from tests.infra.https_world import HttpsWorld, https_world
from tests.infra.netutil import refused_port
from tests.integration.conftest import _require_knot
from tests.json_output import report_of, reports_of

PATH = "/.well-known/mta-sts.txt"


CLOSED_SMTP_PORT = refused_port()  # nothing listens there


def policy(mode: str, *mx: str, max_age: int = 604800, extra: str = "") -> bytes:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return ("\n".join(lines) + "\n" + extra).encode()


def zone_text(domain: str, mx: list[str], sts_address: str | None = "127.0.0.1") -> str:
    lines = [
        f"$ORIGIN {domain}.",
        "$TTL 300",
        f"@ SOA ns1.{domain}. hostmaster.{domain}. 1 3600 600 86400 300",
        "@ NS ns1",
        "ns1 A 127.0.0.1",
        '@ TXT "v=spf1 -all"',
        f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{domain}"',
        '_mta-sts TXT "v=STSv1; id=20260101T000000"',
        f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@{domain}"',
    ]
    for preference, host in enumerate(mx, start=1):
        # loopback MX addresses: the STARTTLS probes (STS007) stay on this machine and find a
        # closed port (CLOSED_SMTP_PORT), which is not testable and judged by TLS307 alone
        lines += [f"@ MX {preference * 10} {host}.", f"{host}. A 127.0.0.{100 + preference}"]
    if sts_address:
        lines.append(f"mta-sts A {sts_address}")
    return "\n".join(lines) + "\n"


@dataclass
class Scenario:
    mx: list[str]
    expected: set[tuple[str, str]]
    route: dict | None = None  # HttpsServer.route options; None: no route (404)
    cert: str = "valid"  # valid, self-signed, mismatch, expired
    sts_address: str | None = "127.0.0.1"


def _scenarios() -> dict[str, Scenario]:
    s: dict[str, Scenario] = {}

    def add(name: str, mx: list[str], expected: set[tuple[str, str]], **kw) -> None:
        domain = f"{name}.test"
        s[domain] = Scenario(
            [f"{m}.{domain}" for m in mx],
            {(rule, target.format(d=domain)) for rule, target in expected},
            **kw,
        )

    good = ["mx1", "mx2"]
    add("sts-clean", good, set(), route={})
    add("sts-chunked", good, set(), route={"chunked": True})
    add(
        "sts-redirect",
        good,
        {("STS003", "{d}")},
        route={"status": 301, "headers": {"Location": "https://www.example.test/"}},
    )
    add("sts-notfound", good, {("STS003", "{d}")}, route=None)
    add("sts-html", good, {("STS004", "{d}")}, route={"content_type": "text/html"})
    add("sts-oversize", good, {("STS004", "{d}")}, route={"oversize": True})
    add(
        "sts-syntax",
        good,
        {("STS004", "{d}")},
        route={"raw": b"version: STSv2\nmode: enforcing\nmax_age: soon\nmx mx1\n"},
    )
    add(
        "sts-uncovered",
        good,
        {("STS005", "mx2.{d}"), ("STS006", "{d}")},
        route={"mx": ["mx1.{d}", "old.{d}"]},
    )
    add("sts-wildcard", ["mx1", "deep.mx"], {("STS005", "deep.mx.{d}")}, route={"mx": ["*.{d}"]})
    add(
        "sts-testing",
        good,
        {("STS101", "{d}"), ("STS102", "{d}"), ("STS005", "mx2.{d}")},
        route={"mode": "testing", "mx": ["mx1.{d}"], "max_age": 3600},
    )
    add("sts-none", good, {("STS101", "{d}")}, route={"mode": "none", "mx": []})
    add("sts-duplicate", good, {("STS004", "{d}")}, route={"extra": "mode: testing\n"})
    add("sts-nohost", good, {("STS003", "{d}")}, route={}, sts_address=None)
    add("sts-refused", good, {("STS003", "{d}")}, route={}, sts_address="127.0.0.2")
    add("sts-selfsigned", good, {("STS003", "{d}")}, route={}, cert="self-signed")
    add("sts-mismatch", good, {("STS003", "{d}")}, route={}, cert="mismatch")
    add("sts-expired", good, {("STS003", "{d}")}, route={}, cert="expired")
    return s


SCENARIOS = _scenarios()


def _serve(server: HttpsServer, ca: TestCA, domain: str, scenario: Scenario) -> None:
    host = f"mta-sts.{domain}"
    now = dt.datetime.now(dt.UTC)
    if scenario.cert == "self-signed":
        server.add_host(host, ca.issue(host, self_signed=True))
    elif scenario.cert == "mismatch":
        server.add_host(host, ca.issue(f"www.{domain}"))
    elif scenario.cert == "expired":
        start, end = now - dt.timedelta(days=90), now - dt.timedelta(days=2)
        server.add_host(host, ca.issue(host, not_before=start, not_after=end))
    else:
        server.add_host(host)
    if scenario.route is None:
        return
    options = dict(scenario.route)
    patterns = [p.format(d=domain) for p in options.pop("mx", scenario.mx)]
    body = policy(
        options.pop("mode", "enforce"),
        *patterns,
        max_age=options.pop("max_age", 604800),
        extra=options.pop("extra", ""),
    )
    body = options.pop("raw", body)
    if options.pop("oversize", False):
        body += b"".join(b"x_pad%d: %s\n" % (i, b"p" * 1000) for i in range(70))
    server.route(host, PATH, body=body, **options)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsWorld]:
    _require_knot()

    def populate(world: HttpsWorld) -> None:
        for domain, scenario in SCENARIOS.items():
            text = zone_text(domain, scenario.mx, scenario.sts_address)
            (world.zones / f"{domain}.zone").write_text(text)
            _serve(world.https, world.ca, domain, scenario)

    base = tmp_path_factory.mktemp("mta-sts")
    with https_world(base, "audit test CA (MTA-STS)", populate) as world:
        yield world


def run_check(world: HttpsWorld, domain: str, **options) -> CheckResult:
    ctx = world.context(domain, **{"smtp_port": CLOSED_SMTP_PORT, **options})
    return asyncio.run(mta_sts.check(ctx))


@pytest.mark.parametrize("domain", sorted(SCENARIOS))
def test_scenario(world, domain):
    result = run_check(world, domain)
    assert pairs(result) == SCENARIOS[domain].expected, [f.message for f in result.findings]
    assert result.status is Status.COMPLETED
    assert result.facts["mta_sts"]["policy_fetched"] is True


def _messages(result: CheckResult, rule_id: str) -> str:
    return " | ".join(f.message for f in result.findings if f.rule.id == rule_id)


def test_clean_policy_facts(world):
    facts = run_check(world, "sts-clean.test").facts["mta_sts"]
    assert facts["policy"]["mode"] == "enforce" and facts["policy"]["max_age"] == 604800
    assert facts["policy"]["mx"] == ["mx1.sts-clean.test", "mx2.sts-clean.test"]
    assert facts["mx_coverage"] == {
        "mx1.sts-clean.test": ["mx1.sts-clean.test"],
        "mx2.sts-clean.test": ["mx2.sts-clean.test"],
    }
    assert facts["unused_patterns"] == []
    fetch = facts["fetch"]
    assert (fetch["status"], fetch["address"], fetch["error"]) == (200, "127.0.0.1", None)
    assert fetch["certificate"]["names"] == ["mta-sts.sts-clean.test"]


def test_unreachable_reasons(world):
    assert "HTTP 301 redirect to https://www.example.test/" in _messages(
        run_check(world, "sts-redirect.test"), "STS003"
    )
    assert "HTTP 404" in _messages(run_check(world, "sts-notfound.test"), "STS003")
    assert "mta-sts.sts-nohost.test does not exist (NXDOMAIN)" in _messages(
        run_check(world, "sts-nohost.test"), "STS003"
    )
    assert "Connection refused" in _messages(run_check(world, "sts-refused.test"), "STS003")
    assert "certificate untrusted for mta-sts.sts-selfsigned.test" in _messages(
        run_check(world, "sts-selfsigned.test"), "STS003"
    )
    assert "certificate name mismatch for mta-sts.sts-mismatch.test" in _messages(
        run_check(world, "sts-mismatch.test"), "STS003"
    )
    assert "certificate expired for mta-sts.sts-expired.test" in _messages(
        run_check(world, "sts-expired.test"), "STS003"
    )


def test_invalid_reasons(world):
    assert "Content-Type is text/html, not text/plain" in _messages(
        run_check(world, "sts-html.test"), "STS004"
    )
    assert "the policy is over 64 KiB" in _messages(run_check(world, "sts-oversize.test"), "STS004")
    syntax = _messages(run_check(world, "sts-syntax.test"), "STS004")
    for problem in (
        "version 'STSv2' is not STSv1",
        "mode 'enforcing' is not enforce, testing or none",
        "max_age 'soon' is not a number of seconds",
        "line 4 'mx mx1' is not a 'key: value' field",
    ):
        assert problem in syntax
    (duplicate,) = run_check(world, "sts-duplicate.test").findings
    assert duplicate.effective_severity is Severity.LOW
    assert "mode appears more than once" in duplicate.message


def test_coverage_severity_follows_the_mode(world):
    enforce = run_check(world, "sts-uncovered.test")
    (uncovered,) = [f for f in enforce.findings if f.rule.id == "STS005"]
    assert uncovered.effective_severity is Severity.HIGH
    assert "add `mx: mx2.sts-uncovered.test`" in uncovered.fix.lower()
    (unused,) = [f for f in enforce.findings if f.rule.id == "STS006"]
    assert "old.sts-uncovered.test" in unused.message
    testing = run_check(world, "sts-testing.test")
    (uncovered,) = [f for f in testing.findings if f.rule.id == "STS005"]
    assert uncovered.effective_severity is Severity.MEDIUM
    wildcard = run_check(world, "sts-wildcard.test")
    assert wildcard.facts["mta_sts"]["mx_coverage"]["mx1.sts-wildcard.test"] == [
        "*.sts-wildcard.test"
    ]


def test_a_stalling_policy_host_is_not_testable(world):
    stall = StallServer()
    try:
        result = run_check(world, "sts-clean.test", https_port=stall.port, timeout=0.5)
    finally:
        stall.stop()
    assert pairs(result) == {("STS301", "sts-clean.test")}
    assert result.status is Status.INCONCLUSIVE
    assert result.findings[0].rule.temperror


def test_without_probes_no_fetch(world):
    result = run_check(world, "sts-redirect.test", probes=False)
    assert pairs(result) == set()
    assert result.facts["mta_sts"]["policy_fetched"] is False


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120
    )


def _outcome(report: dict, check: str) -> dict:
    return next(o for o in report["outcomes"] if o["check"] == check)


def test_cli_fetches_with_port_and_ca(world):
    common = ["--dns-server", world.knot.address, "--https-port", str(world.https.port)]
    common += ["--ca-file", str(world.ca_file), "--format", "json", "--timeout", "3"]
    common += ["--smtp-port", str(CLOSED_SMTP_PORT), "--allow-private-addresses"]  # loopback
    proc = cli("domain", "sts-uncovered.test", "sts-clean.test", *common)
    assert proc.returncode == 1, proc.stderr  # STS005 in enforce mode is high
    uncovered, clean = reports_of(proc.stdout)
    found = {(f["rule_id"], f["target"]) for f in _outcome(uncovered, "mta_sts")["findings"]}
    assert found == {("STS005", "mx2.sts-uncovered.test"), ("STS006", "sts-uncovered.test")}
    outcome = _outcome(clean, "mta_sts")
    assert outcome["findings"] == [] and outcome["status"] == "completed"
    assert outcome["facts"]["mta_sts"]["policy"]["mode"] == "enforce"


@pytest.mark.parametrize("mode", ["--no-probes", "--zone-dir"])
def test_cli_without_probes(world, mode):
    if mode == "--zone-dir":
        source = ["--zone-dir", str(world.zones)]
    else:
        source = ["--no-probes", "--dns-server", world.knot.address]
    proc = cli("domain", "sts-redirect.test", *source, "--format", "json")
    assert proc.returncode in (0, 1, 3), proc.stderr
    outcome = _outcome(report_of(proc.stdout), "mta_sts")
    assert outcome["findings"] == [] and outcome["status"] == "completed"
    assert outcome["facts"]["mta_sts"]["policy_fetched"] is False
    assert outcome["facts"]["mta_sts"]["policy_note"] == mta_sts.NOT_FETCHED
