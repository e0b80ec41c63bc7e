"""The domain's MX records (RFC 5321 5.1, null MX RFC 7505) and the addresses of every host.

A sending domain needs working MX: bounces and replies go there, and many receivers reject
mail whose envelope domain cannot receive mail.
"""

from __future__ import annotations

from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.facts.mx import MxFacts, MxHost, gather_mx
from audit.model import CheckResult, Finding, Status
from audit.net.dns import Resolver
from audit.rules.mx import (
    MX_HOST_UNRESOLVABLE,
    MX_IP_LITERAL,
    MX_MISSING,
    MX_NULL,
    MX_NULL_MIXED,
    MX_TARGET_CNAME,
)


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    found = await gather_mx(ctx.resolver, domain)
    facts: dict[str, Any] = {
        "mx": {
            "status": found.answer.status.value,
            "records": found.answer.records,
            "null_mx": found.null_mx,
            "hosts": [h.to_dict() for h in found.hosts],
            "ip_literals": found.ip_literals,
        }
    }
    if found.answer.temperror:
        return CheckResult(
            facts=facts,
            findings=[temperror_finding(found.answer, domain, "the MX set could not be read")],
            status=Status.INCONCLUSIVE,
        )
    if not found.answer.rdata:
        return CheckResult(facts=facts, findings=await _missing(ctx.resolver, domain, found))
    findings = _null_mx(found, domain) + _literals(found, domain)
    status = Status.COMPLETED
    for host in found.hosts:
        if host.temperror:
            findings.append(
                temperror_finding(host.temperror, host.host, "the MX host's addresses are unknown")
            )
            status = Status.INCONCLUSIVE
            continue
        findings.extend(_host_findings(host))
    return CheckResult(facts=facts, findings=findings, status=status)


def _null_mx(found: MxFacts, domain: str) -> list[Finding]:
    """A null MX alone (the domain takes no mail) or beside other MX records."""
    if not found.null_mx:
        return []
    if not found.hosts and not found.ip_literals:
        return [
            Finding(
                MX_NULL,
                domain,
                message=f"{domain} publishes a null MX ({found.answer.records[0]}): it accepts "
                "no mail, so bounces "
                "and replies to it are lost and receivers may reject mail from it "
                "(RFC 7505 4.2)",
                evidence=found.answer.records,
                fix="If this domain sends mail, replace the null MX with the MX hosts that "
                "receive its bounces; if it never sends, also publish v=spf1 -all and "
                "a DMARC p=reject record.",
            )
        ]
    return [
        Finding(
            MX_NULL_MIXED,
            domain,
            message="a null MX (0 .) stands beside other MX records; RFC 7505 3 says "
            "a null MX must be the only one",
            evidence=found.answer.records,
            fix="Remove the null MX record, or all the others if the domain takes no mail.",
        )
    ]


def _literals(found: MxFacts, domain: str) -> list[Finding]:
    return [
        Finding(
            MX_IP_LITERAL,
            domain,
            message=f"MX names the IP address {literal}; an MX must name a host "
            "(RFC 5321 5.1), senders try to look it up as a name and fail",
            evidence=found.answer.records,
            fix=f"Give the server a name (mx.{domain} A {literal.strip('[]')}) and point "
            f"the MX at mx.{domain}.",
        )
        for literal in found.ip_literals
    ]


def _host_findings(host: MxHost) -> list[Finding]:
    """One MX host whose addresses were read: a CNAME target, or no address at all."""
    findings = []
    if host.cname_chain:
        findings.append(
            Finding(
                MX_TARGET_CNAME,
                host.host,
                message=f"MX host {host.host} is a CNAME to {host.cname_chain[-1]}; "
                "RFC 5321 5.1 forbids it and some senders will not follow it",
                evidence=[a.describe() for a in (host.a, host.aaaa) if a],
                fix=f"Point the MX at {host.cname_chain[-1]} directly.",
            )
        )
    if not host.addresses:
        findings.append(
            Finding(
                MX_HOST_UNRESOLVABLE,
                host.host,
                message=f"MX host {host.host} (preference {host.preference}) has no A or "
                f"AAAA record (A: {host.a.status.value if host.a else '?'}, "
                f"AAAA: {host.aaaa.status.value if host.aaaa else '?'})",
                evidence=[a.describe() for a in (host.a, host.aaaa) if a],
                fix=f"Publish an A (and AAAA) record for {host.host}, or remove this MX.",
            )
        )
    return findings


async def _missing(resolver: Resolver, domain: str, found: MxFacts) -> list[Finding]:
    if found.answer.status.value == "NXDOMAIN":
        return [
            Finding(
                MX_MISSING,
                domain,
                message=f"{domain} does not exist in the DNS (NXDOMAIN): nothing can be sent "
                "from it or delivered to it",
                evidence=[found.answer.describe()],
                fix=f"Check the spelling, or publish the zone for {domain}.",
            )
        ]
    a, aaaa = await resolver.addresses(domain)
    implicit = [r.address for ans in (a, aaaa) for r in ans.rdata]
    where = (
        f"mail falls back to the implicit MX at {', '.join(implicit)}"
        if implicit
        else "and it has no A/AAAA either, so it cannot receive bounces or replies"
    )
    return [
        Finding(
            MX_MISSING,
            domain,
            message=f"{domain} has no MX record; {where}",
            evidence=[found.answer.describe(), a.describe(), aaaa.describe()],
            fix=f"Publish {domain} MX 10 <your inbound mail host>, or a null MX "
            f"({domain} MX 0 .) if the domain takes no mail.",
        )
    ]
