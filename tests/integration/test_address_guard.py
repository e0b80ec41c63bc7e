"""The SSRF guard through the CLI: MX hosts, the MTA-STS policy host and a BIMI logo host that
DNS (a real Knot) points at loopback, private, link-local, CGNAT and IPv4-mapped addresses are
never contacted; NET301 names each address; `--allow-private-addresses` lets the same scenarios
connect. A listener on 127.0.0.1 and ::1, the port the probes are sent to, counts the accepts.

Only loopback is ever actually connected to (tests stay on loopback): the non-loopback
addresses are shown refused before any connection, by the probe's `not_public` status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.infra.netutil import IPV4_LOOPBACK, IPV6_LOOPBACK, ipv6_loopback
from tests.infra.servers import KnotServer
from tests.integration.conftest import start_knot
from tests.json_output import report_of, reports_of

ZONE = "guard.test"
IPV6 = ipv6_loopback()
# scenario -> (record type, address of its MX host mx.<scenario>.guard.test, kind in NET301)
MX_CASES = {
    "mx-loopback": ("A", "127.0.0.1", "loopback"),
    "mx-private": ("A", "10.0.0.5", "private (RFC 1918)"),
    "mx-metadata": (
        "A",
        "169.254.169.254",
        "link-local (RFC 3927; cloud metadata services live here)",
    ),
    "mx-cgnat": ("A", "100.64.0.1", "carrier-grade NAT (shared address space, RFC 6598)"),
    "mx-v6loopback": ("AAAA", "::1", "loopback"),
    "mx-v6linklocal": ("AAAA", "fe80::1", "link-local"),
    "mx-mapped": ("AAAA", "::ffff:127.0.0.1", "loopback, as 127.0.0.1 inside ::ffff:7f00:1"),
}
LOOPBACK_MX = ["mx-loopback", "mx-mapped", *(["mx-v6loopback"] if IPV6 else [])]


def _zone() -> str:
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 300",
        "@ SOA ns1 hostmaster 1 3600 600 86400 300",
        "@ NS ns1",
        "ns1 A 127.0.0.1",
    ]
    for name, (rdtype, address, _kind) in MX_CASES.items():
        lines += [f"{name} MX 10 mx.{name}", f"mx.{name} {rdtype} {address}"]
    # mx-private is otherwise fit to send: nothing but the guard decides its exit code
    lines += [
        'mx-private TXT "v=spf1 -all"',
        '_dmarc.mx-private TXT "v=DMARC1; p=reject; rua=mailto:d@mx-private.guard.test"',
    ]
    # an MTA-STS policy host on loopback, a BIMI logo host in RFC 1918 space and on loopback
    lines += [
        'sts-loopback TXT "v=spf1 -all"',
        '_mta-sts.sts-loopback TXT "v=STSv1; id=1"',
        "mta-sts.sts-loopback A 127.0.0.1",
    ]
    for name, address in (("bimi-private", "192.168.1.1"), ("bimi-loopback", "127.0.0.1")):
        lines += [
            f'_dmarc.{name} TXT "v=DMARC1; p=reject"',
            f'default._bimi.{name} TXT "v=BIMI1; l=https://logo.{name}.{ZONE}/logo.svg"',
            f"logo.{name} A {address}",
        ]
    return "\n".join(lines) + "\n"


class CountingListener:
    """Accepts TCP on 127.0.0.1 (and ::1) at one port, counts, says 421 and hangs up."""

    def __init__(self) -> None:
        self.port = 0  # set on entry: the port the kernel gave the IPv4 socket
        self.peers: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []

    def __enter__(self) -> CountingListener:
        self._thread.start()
        hosts = [IPV4_LOOPBACK, *([IPV6_LOOPBACK] if IPV6 else [])]

        async def listen() -> None:
            for _ in range(20):  # ::1 on the port 127.0.0.1 got: taken there by another, retry
                first = await asyncio.start_server(self._accept, hosts[0], 0)
                self.port = first.sockets[0].getsockname()[1]
                try:
                    rest = [
                        await asyncio.start_server(self._accept, host, self.port)
                        for host in hosts[1:]
                    ]
                except OSError:
                    first.close()
                    continue
                self._servers = [first, *rest]
                return
            raise RuntimeError("no port free on both loopbacks")

        asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peername")[0])
        writer.write(b"421 not here\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    zones = tmp_path_factory.mktemp("guard-zones")
    (zones / f"{ZONE}.zone").write_text(_zone())
    server = start_knot(tmp_path_factory.mktemp("guard-knot"), zones)
    try:
        yield server
    finally:
        server.stop()


def audit(knot: KnotServer, port: int, domains: list[str], *extra: str) -> tuple[int, list]:
    command = [sys.executable, "-m", "audit", "domain", *domains, "--dns-server", str(knot)]
    command += ["--smtp-port", str(port), "--https-port", str(port), "--timeout", "2"]
    command += ["--no-dkim-discovery", "--format", "json", *extra]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, reports_of(proc.stdout)


def _outcome(report: dict, check: str) -> dict:
    return next(o for o in report["outcomes"] if o["check"] == check)


def _net301(report: dict) -> list[dict]:
    return [f for o in report["outcomes"] for f in o["findings"] if f["rule_id"] == "NET301"]


@pytest.fixture(scope="module")
def refused(knot) -> tuple[int, dict[str, dict], list[str]]:
    """Every scenario audited without the flag: (exit code, reports by domain, accepts)."""
    domains = [f"{n}.{ZONE}" for n in [*MX_CASES, "sts-loopback", "bimi-private"]]
    with CountingListener() as listener:
        code, reports = audit(knot, listener.port, domains)
    return code, {r["target"]: r for r in reports}, listener.peers


def test_nothing_named_by_dns_is_contacted(refused):
    _, _, accepts = refused
    assert accepts == []


@pytest.mark.parametrize("scenario", sorted(MX_CASES))
def test_mx_on_a_non_public_address_is_net301_not_probed(refused, scenario):
    code, reports, _ = refused
    rdtype, address, kind = MX_CASES[scenario]
    host = f"mx.{scenario}.{ZONE}"
    report = reports[f"{scenario}.{ZONE}"]
    starttls = _outcome(report, "starttls")
    assert starttls["status"] == "inconclusive"
    assert starttls["error"] == f"not testable: {host}"
    [finding] = starttls["findings"]  # no TLS307 "port 25 blocked": nothing was tried
    assert (finding["rule_id"], finding["target"], finding["severity"]) == (
        "NET301",
        host,
        "medium",
    )
    assert finding["message"].startswith(f"refused to connect to {address}: not a public address")
    assert finding["evidence"] == [f"{host} -> {address}: {kind}"]
    [probed] = starttls["facts"]["starttls"]["hosts"][0]["addresses"]
    assert (probed["address"], probed["status"], probed["stage"]) == (
        address,
        "not_public",
        "connect",
    )
    assert probed["banner"] == [] and probed["elapsed_ms"] < 1000  # refused, not attempted
    assert _net301(report) == [finding]  # DANE and MTA-STS do not repeat it


def test_mta_sts_policy_host_on_loopback_is_not_fetched(refused):
    _, reports, _ = refused
    report = reports[f"sts-loopback.{ZONE}"]
    outcome = _outcome(report, "mta_sts")
    assert outcome["status"] == "inconclusive"
    [finding] = outcome["findings"]
    assert (finding["rule_id"], finding["target"]) == ("NET301", f"mta-sts.sts-loopback.{ZONE}")
    assert finding["message"].startswith("refused to connect to 127.0.0.1: not a public address")
    fetch = outcome["facts"]["mta_sts"]["fetch"]
    assert (fetch["error"], fetch["address"]) == ("not-public", None)
    assert fetch["not_public"] == [{"address": "127.0.0.1", "reason": "loopback"}]


def test_bimi_logo_host_in_private_space_is_not_fetched(refused):
    code, reports, _ = refused
    report = reports[f"bimi-private.{ZONE}"]
    outcome = _outcome(report, "bimi")
    assert outcome["status"] == "inconclusive"
    net = [f for f in outcome["findings"] if f["rule_id"] == "NET301"]
    assert [(f["target"], f["evidence"]) for f in net] == [
        (
            f"logo.bimi-private.{ZONE}",
            [f"logo.bimi-private.{ZONE} -> 192.168.1.1: private (RFC 1918)"],
        )
    ]
    assert "refused to connect to 192.168.1.1" in net[0]["message"]
    # not reported as a logo that cannot be fetched: it was never asked for
    assert not any(f["rule_id"] == "BIMI003" for f in outcome["findings"])
    assert outcome["facts"]["bimi"]["logo"]["fetch"]["error"] == "not-public"


def test_a_private_mx_makes_the_run_inconclusive_not_failed(knot):
    """NET301 is MEDIUM and its check inconclusive: with nothing else at or above --fail-on
    (high), the run exits 3, not 0 (nothing was tested) and not 1 (split-horizon DNS is
    legitimate); --fail-on medium fails it."""
    with CountingListener() as listener:
        code, [report] = audit(knot, listener.port, [f"mx-private.{ZONE}"])
        strict, _ = audit(knot, listener.port, [f"mx-private.{ZONE}"], "--fail-on", "medium")
    assert listener.peers == []
    severities = {f["severity"] for o in report["outcomes"] for f in o["findings"]}
    assert not severities & {"high", "critical"}, severities
    assert [f["target"] for f in _net301(report)] == [f"mx.mx-private.{ZONE}"]
    assert (code, strict) == (3, 1)


def test_allow_private_addresses_connects(knot):
    domains = [f"{n}.{ZONE}" for n in [*LOOPBACK_MX, "sts-loopback", "bimi-loopback"]]
    with CountingListener() as listener:
        _, reports = audit(knot, listener.port, domains, "--allow-private-addresses")
    assert len(listener.peers) >= len(domains)  # every scenario reached the listener
    if IPV6:
        assert IPV6_LOOPBACK in listener.peers
    by_domain = {r["target"]: r for r in reports}
    for report in by_domain.values():
        assert _net301(report) == []
    for scenario in LOOPBACK_MX:
        starttls = _outcome(by_domain[f"{scenario}.{ZONE}"], "starttls")
        [probed] = starttls["facts"]["starttls"]["hosts"][0]["addresses"]
        assert probed["status"] == "not_testable" and probed["reason"].startswith("banner 421")
    fetch = _outcome(by_domain[f"sts-loopback.{ZONE}"], "mta_sts")["facts"]["mta_sts"]["fetch"]
    assert (fetch["error"], fetch["address"]) == ("tls", "127.0.0.1")
    logo = _outcome(by_domain[f"bimi-loopback.{ZONE}"], "bimi")["facts"]["bimi"]["logo"]["fetch"]
    assert (logo["error"], logo["address"]) == ("tls", "127.0.0.1")


def test_tls_reports_fresh_audit_is_guarded_too(knot, tmp_path):
    """`audit tls-reports` runs a fresh domain audit with probes: the same guard, the same flag."""
    policy = f"mx-loopback.{ZONE}"
    report = {
        "organization-name": "Example Reporter",
        "date-range": {
            "start-datetime": "2026-12-01T00:00:00Z",
            "end-datetime": "2026-12-01T23:59:59Z",
        },
        "contact-info": "tlsrpt@reporter.test",
        "report-id": "guard-1",
        "policies": [
            {
                "policy": {"policy-type": "no-policy-found", "policy-domain": policy},
                "summary": {
                    "total-successful-session-count": 10,
                    "total-failure-session-count": 0,
                },
            }
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))

    def transport(*extra: str) -> list[tuple[str, str]]:
        command = [sys.executable, "-m", "audit", "tls-reports", str(path), "--dns-server"]
        command += [str(knot), "--timeout", "2", "--format", "json", *extra]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert "Traceback" not in proc.stderr, proc.stderr
        facts = _outcome(report_of(proc.stdout), "domain-audit")["facts"]
        return [(f["rule_id"], f["target"]) for f in facts["transport_findings"]]

    assert ("NET301", f"mx.{policy}") in transport()
    allowed = transport("--allow-private-addresses")  # probes 127.0.0.1 port 25: not refused
    assert not any(rule == "NET301" for rule, _ in allowed), allowed


@pytest.mark.parametrize("how", ["none", "config", "flag"])
def test_audit_check_takes_the_guard_from_config_or_flag(knot, tmp_path, how):
    """`audit check`: the config key allow_private_addresses and the flag both turn the guard off
    (probes then go to 127.0.0.1 port 25, where nothing listens: not NET301, not testable)."""
    config = tmp_path / "audit.toml"
    key = "allow_private_addresses = true\n" if how == "config" else ""
    config.write_text(f'domains = ["mx-loopback.{ZONE}"]\ntimeout = 2\n{key}')
    command = [sys.executable, "-m", "audit", "check", "--config", str(config), "--dns-server",
               str(knot), "--format", "json", "--no-history"]  # fmt: skip
    command += ["--allow-private-addresses"] if how == "flag" else []
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    reports = reports_of(proc.stdout)
    (domain,) = [r for r in reports if r["kind"] == "domain"]
    refused = [f["target"] for f in _net301(domain)]
    assert refused == ([f"mx.mx-loopback.{ZONE}"] if how == "none" else [])


@pytest.mark.parametrize("allow", [False, True])
def test_audit_init_takes_the_flag(knot, allow):
    """`audit init` audits the domains with probes to pre-fill the config: the guard applies
    and --allow-private-addresses turns it off (its NET301 ignore example then is absent;
    the probe goes to 127.0.0.1 port 25, where nothing listens)."""
    command = [sys.executable, "-m", "audit", "init", f"mx-loopback.{ZONE}", "-o", "-",
               "--dns-server", str(knot), "--timeout", "2"]  # fmt: skip
    command += ["--allow-private-addresses"] if allow else []
    proc = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    refused = f'# rule = "NET301"\n# target = "mx.mx-loopback.{ZONE}"' in proc.stdout
    assert refused is not allow
    assert '# rule = "DMARC001"' in proc.stdout  # the rest of the audit ran either way
