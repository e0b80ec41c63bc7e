"""STARTTLS and the certificate on every address of every MX host (RFC 3207, RFC 6125).

Each (MX host, address) is probed once per run (`audit.checks.smtp_tls`, shared with the DANE,
MTA-STS and submission checks), all of them concurrently. A failing host never hides the others:
every address gets its own facts and findings, targeted at its MX host name.

An address that cannot be probed (refused, timed out, 421) is TLS307, a LOW finding and not a
temperror: outbound port 25 is blocked on most laptops and CI runners, and that alone must not
make every run from there inconclusive. A non-public address (loopback, private, link-local...)
is never contacted unless --allow-private-addresses: NET301 names it, and a host with no other
address is not testable (the check is inconclusive).
"""

from __future__ import annotations

import asyncio
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.not_public import not_public_finding
from audit.checks.smtp_tls import certificate_of, judge_probe, probe_mx_address
from audit.facts.mx import MxHost, gather_mx
from audit.model import CheckResult, Finding, Status
from audit.net.address_guard import not_public_reason
from audit.net.smtp import (
    NOT_PUBLIC,
    NOT_TESTABLE,
    SmtpProbe,
)
from audit.records.certificate import (
    CertificateAnalysis,
)
from audit.rules.tls import (
    TLS_SMTP_NOT_TESTABLE,
)


async def check(ctx: DomainContext) -> CheckResult:
    if not ctx.probes:
        reason = "network probes are off (--no-probes or --zone-dir): STARTTLS not probed"
        return CheckResult(
            facts={"starttls": {"probed": False, "reason": reason}},
            status=Status.SKIPPED,
            error=reason,
        )
    mx = await gather_mx(ctx.resolver, ctx.domain)
    facts: dict[str, Any] = {"probed": True, "port": ctx.smtp_port, "hosts": []}
    if mx.answer.temperror:
        return CheckResult(
            facts={"starttls": facts},
            findings=[
                temperror_finding(mx.answer, ctx.domain, "the MX hosts to probe are unknown")
            ],
            status=Status.INCONCLUSIVE,
        )
    hosts: list[MxHost] = []  # each host once, at its best preference
    for host in mx.hosts:
        if all(host.host != h.host for h in hosts):
            hosts.append(host)
    pairs = list(dict.fromkeys((h.host, a) for h in hosts for a in h.addresses))
    probes = await asyncio.gather(*(probe_mx_address(ctx, h, a) for h, a in pairs))
    analyses = await asyncio.gather(*(certificate_of(ctx, p) for p in probes))
    by_host: dict[str, list[tuple[SmtpProbe, CertificateAnalysis | None]]] = {}
    for probe, analysis in zip(probes, analyses, strict=True):
        by_host.setdefault(probe.host, []).append((probe, analysis))
    findings: list[Finding] = []
    for host in hosts:
        seen = by_host.get(host.host, [])
        facts["hosts"].append(_host_facts(host, seen))
        for probe, analysis in seen:
            findings.extend(judge_probe(probe, analysis))
        refused = [p for p, _a in seen if p.status == NOT_PUBLIC]
        if refused:
            pairs = [(p.address, not_public_reason(p.address) or "?") for p in refused]
            tested = len(refused) < len(seen)
            findings.append(not_public_finding(host.host, pairs, "the STARTTLS probe", tested))
    attempted = [p for p in probes if p.status != NOT_PUBLIC]
    if attempted and all(p.status == NOT_TESTABLE and p.stage == "connect" for p in attempted):
        findings.append(_port_blocked(ctx, attempted))
    unknown = [(h, t) for h in hosts if (t := h.temperror) is not None and not h.addresses]
    for host, failed in unknown:
        findings.append(
            temperror_finding(
                failed, host.host, f"the addresses of MX {host.host} to probe are unknown"
            )
        )
    untested = [
        h.host
        for h in hosts
        if h.addresses
        and all(p.status in (NOT_TESTABLE, NOT_PUBLIC) for p, _a in by_host.get(h.host, []))
    ] + [h.host for h, _ in unknown]
    if untested:
        # A refused, 421 or stalled host is "not testable" (inconclusive), never "no STARTTLS":
        # no verdict was reached about its TLS. A host with one testable address (e.g. IPv4
        # tested, IPv6 unreachable from here) was judged: TLS307 notes the other address.
        return CheckResult(
            facts={"starttls": facts},
            findings=findings,
            status=Status.INCONCLUSIVE,
            error="not testable: " + ", ".join(untested),
        )
    return CheckResult(facts={"starttls": facts}, findings=findings)


def _host_facts(
    host: MxHost, seen: list[tuple[SmtpProbe, CertificateAnalysis | None]]
) -> dict[str, Any]:
    return {
        "host": host.host,
        "preference": host.preference,
        "addresses": [
            {**probe.to_dict(), "certificate": analysis.to_dict() if analysis else None}
            for probe, analysis in seen
        ],
    }


def _port_blocked(ctx: DomainContext, probes: list[SmtpProbe]) -> Finding:
    reasons = sorted({p.reason or "?" for p in probes})
    return Finding(
        TLS_SMTP_NOT_TESTABLE,
        ctx.domain,
        message=f"no MX address of {ctx.domain} could be reached on port {ctx.smtp_port} "
        f"({'; '.join(reasons)}): outbound port {ctx.smtp_port} may be blocked from this "
        "machine, so STARTTLS was not tested anywhere",
        evidence=[f"{p.host} {p.address}: {p.reason}" for p in probes],
        fix="Run the audit from a host that can open outbound connections to port 25 (a mail "
        "server or VPS); many ISPs, clouds and CI runners block it.",
    )
