"""Reverse DNS of every MX address, forward-confirmed (FCrDNS).

Receivers score mail from addresses without a PTR, or whose PTR name does not resolve back to
the address, as likely spam; the MX hosts are often the outbound relays too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.facts.fcrdns import forward_confirm
from audit.facts.mx import gather_mx
from audit.model import CheckResult, Finding, Status
from audit.rules.mx import PTR_MISSING, PTR_NOT_FCRDNS


async def check(ctx: DomainContext) -> CheckResult:
    mx = await gather_mx(ctx.resolver, ctx.domain)
    hosts_by_address: dict[str, list[str]] = {}
    for host in mx.hosts:
        for address in host.addresses:
            hosts_by_address.setdefault(address, []).append(host.host)
    if mx.answer.temperror:
        return CheckResult(
            facts={"ptr": []},
            findings=[temperror_finding(mx.answer, ctx.domain, "MX addresses unknown")],
            status=Status.INCONCLUSIVE,
        )
    addresses = sorted(hosts_by_address)
    results = await asyncio.gather(*(forward_confirm(ctx.resolver, a) for a in addresses))
    facts: list[dict[str, Any]] = []
    findings: list[Finding] = []
    status = Status.COMPLETED
    for address, fcrdns in zip(addresses, results, strict=True):
        hosts = hosts_by_address[address]
        ptr, forwards, confirmed = fcrdns.ptr, fcrdns.forwards, fcrdns.confirmed
        facts.append(
            {
                "address": address,
                "mx_hosts": hosts,
                "ptr_status": ptr.status.value,
                "ptr_names": list(forwards),
                "forward_confirmed": confirmed,
            }
        )
        target = address
        if ptr.temperror:
            findings.append(temperror_finding(ptr, target, "reverse DNS unknown"))
            status = Status.INCONCLUSIVE
            continue
        if not ptr.rdata:
            findings.append(
                Finding(
                    PTR_MISSING,
                    target,
                    message=f"{address} (MX {', '.join(hosts)}) has no PTR record "
                    f"({ptr.status.value} for {ptr.name})",
                    evidence=[ptr.describe()],
                    fix=f"Ask the owner of {address} (your hosting provider) to set its PTR "
                    f"to {hosts[0]}, which resolves back to {address}.",
                )
            )
            continue
        if confirmed:
            continue
        if fcrdns.pending:
            findings.append(temperror_finding(fcrdns.pending, target, "FCrDNS not confirmed"))
            status = Status.INCONCLUSIVE
            continue
        findings.append(
            Finding(
                PTR_NOT_FCRDNS,
                target,
                message=f"{address} (MX {', '.join(hosts)}) has PTR {', '.join(forwards)}, "
                f"which does not resolve back to {address}",
                evidence=[ptr.describe()]
                + [a.describe() for answers in forwards.values() for a in answers],
                fix=f"Make {next(iter(forwards))} resolve to {address} (A/AAAA), or set the PTR "
                f"of {address} to a name that does, e.g. {hosts[0]}.",
            )
        )
    return CheckResult(facts={"ptr": facts}, findings=findings, status=status)
