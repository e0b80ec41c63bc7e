"""`audit dmarc-reports` and `audit tls-reports`: parsed reports in, one Report per domain out.

DMARC: rows grouped by source IP, each source's reverse DNS forward-confirmed through the run's
resolver (concurrently, bounded), attributed to a provider profile or the domain's own servers,
judged (legitimate but failing / spoofing / forwarded), and the policy readiness computed.
TLS-RPT: failures per policy, tied back to the transport findings of a fresh domain audit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from audit import __version__
from audit.dmarc_reports import judge, tls
from audit.dmarc_reports.attribution import Attribution, attribute, spf_reach
from audit.dmarc_reports.reading import ParsedReport, ReadResult
from audit.dmarc_reports.sources import aggregate
from audit.esp.profiles import EspProfile
from audit.facts.fcrdns import forward_confirm
from audit.model import CheckOutcome, Report, Status
from audit.net.dns import Backend, Resolver

MAX_PARALLEL_LOOKUPS = 32  # reverse DNS / SPF reach per source, at the same time
T = TypeVar("T")


def report_domains(reports: list[ParsedReport]) -> list[str]:
    """The policy domains the aggregate reports are about, most reported first."""
    counts: dict[str, int] = {}
    for parsed in reports:
        if parsed.kind == "aggregate":
            published = parsed.data.get("policy_published") or {}
            name = str(published.get("domain") or "").lower().rstrip(".")
            if name:
                counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda d: (-counts[d], d))


async def _per_source(
    ips: list[str], lookup: Callable[[str], Awaitable[T]]
) -> dict[str, T | None]:
    """`lookup(ip)` for every source IP, at most MAX_PARALLEL_LOOKUPS at a time; None for a
    source that is not an IP address (a reporter's typo)."""
    gate = asyncio.Semaphore(MAX_PARALLEL_LOOKUPS)

    async def one(ip: str) -> T | None:
        async with gate:
            try:
                return await lookup(ip)
            except ValueError:
                return None

    return dict(zip(ips, await asyncio.gather(*(one(ip) for ip in ips)), strict=True))


async def _ptr_names(resolver: Resolver, ips: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Forward-confirmed PTR names per IP, and the IPs whose lookup failed temporarily."""
    found = await _per_source(ips, lambda ip: forward_confirm(resolver, ip))
    names = {ip: f.confirmed if f else [] for ip, f in found.items()}
    unknown = [ip for ip, f in found.items() if f and (f.ptr.temperror or f.pending is not None)]
    return names, sorted(unknown)


async def _by_spf_reach(
    resolver: Resolver, attributions: dict[str, Attribution], profiles: Mapping[str, EspProfile]
) -> None:
    """Sources nothing else attributed: does a provider's SPF include authorize the IP?"""
    unknown = [ip for ip, a in attributions.items() if a.kind == "unknown"]
    found = await _per_source(unknown, lambda ip: spf_reach(resolver, ip, profiles))
    attributions.update({ip: a for ip, a in found.items() if a is not None})


async def analyse_dmarc(
    read: ReadResult,
    domain: str,
    backend: Backend,
    profiles: Mapping[str, EspProfile],
    *,
    tolerance: float = 0.1,
) -> Report:
    start = time.perf_counter()
    resolver = Resolver(backend)
    agg = aggregate(read.reports, domain)
    ptr, ptr_unknown = await _ptr_names(resolver, sorted(agg.sources))
    attributions: dict[str, Attribution] = {
        ip: attribute(src, domain, profiles, ptr.get(ip, [])) for ip, src in agg.sources.items()
    }
    await _by_spf_reach(resolver, attributions, profiles)
    judged = judge.judge_sources(agg, attributions, ptr, profiles)
    ready = judge.readiness(agg, judged, tolerance)
    found = judge.findings(domain, judged, ready)
    reports_facts: dict[str, Any] = {
        "aggregate_reports": agg.reports,
        "messages": agg.messages,
        "reporters": dict(agg.reporters),
        "period": {"first_day": agg.first_day, "last_day": agg.last_day},
        "per_day": {
            day: {"messages": n, "dmarc_pass": agg.days_pass[day]}
            for day, n in sorted(agg.days.items())
        },
        "policies_seen": dict(agg.policies_seen),
        "other_domains": dict(agg.other_domains),
        "refused": [{"file": f, "reason": r} for f, r in read.refused],
        "failure_reports": _failure_reports(read.reports, domain),
        "ptr_unknown": ptr_unknown,
    }
    outcomes = [
        CheckOutcome("reports", domain, Status.COMPLETED, facts={"reports": reports_facts}),
        CheckOutcome(
            "sources",
            domain,
            Status.COMPLETED,
            facts={"sources": [j.as_dict() for j in judged]},
            findings=[f for f in found if f.rule.id in ("DMARC401", "DMARC402")],
        ),
        CheckOutcome(
            "readiness",
            domain,
            Status.COMPLETED,
            facts={"readiness": ready.as_dict()},
            findings=[f for f in found if f.rule.id == "DMARC403"],
        ),
    ]
    return Report(
        kind="dmarc-reports",
        target=domain,
        outcomes=outcomes,
        queries=list(resolver.log),
        tool_version=__version__,
        duration_ms=(time.perf_counter() - start) * 1000,
    )


def _failure_reports(reports: list[ParsedReport], domain: str) -> list[dict[str, Any]]:
    """Failure (forensic, ruf=) reports are listed as they came, not judged."""
    out = []
    for parsed in reports:
        if parsed.kind not in ("failure", "forensic"):
            continue
        data = parsed.data
        reported = str(data.get("reported_domain") or "").lower()
        if reported and reported != domain and not reported.endswith("." + domain):
            continue
        source = v if isinstance(v := data.get("source"), dict) else {}
        out.append(
            {
                "file": parsed.source,
                "arrival_date": data.get("arrival_date_utc") or data.get("arrival_date"),
                "source_ip": source.get("ip_address"),
                "reported_domain": reported or None,
                "authentication_results": data.get("authentication_results"),
                "delivery_result": data.get("delivery_result"),
            }
        )
    return out


AuditDomain = Callable[[str], Awaitable[Report]]


async def analyse_tls(
    read: ReadResult, domain: str | None, audit_domain: AuditDomain | None
) -> list[Report]:
    """One report per policy domain; `audit_domain` (when given) runs the fresh domain audit."""
    start = time.perf_counter()
    stats = tls.summarize(read.reports, domain)
    domains = sorted({s.policy_domain for s in stats}) or ([domain] if domain else [])
    audits: dict[str, Report] = {}
    if audit_domain is not None:
        done = await asyncio.gather(*(audit_domain(d) for d in domains))
        audits = dict(zip(domains, done, strict=True))
    out = []
    for name in domains:
        mine = [s for s in stats if s.policy_domain == name]
        ties = {
            f"{s.policy_domain}/{s.policy_type}": tls.tie_back(s, audits.get(name)) for s in mine
        }
        facts = {
            "policies": [s.as_dict() for s in mine],
            "explained_by": ties,
            "domain_audit": "run" if name in audits else "not run (--no-audit)",
            "refused": [{"file": f, "reason": r} for f, r in read.refused],
        }
        outcomes = [
            CheckOutcome(
                "tls-reports",
                name,
                Status.COMPLETED,
                facts={"tls_reports": facts},
                findings=tls.findings(mine, ties),
            )  # fmt: skip
        ]
        if name in audits:
            outcomes.append(_audit_summary(name, audits[name]))
        out.append(
            Report(
                kind="tls-reports",
                target=name,
                outcomes=outcomes,
                queries=list(audits[name].queries) if name in audits else [],
                tool_version=__version__,
                duration_ms=(time.perf_counter() - start) * 1000,
            )
        )
    return out


def _audit_summary(domain: str, report: Report) -> CheckOutcome:
    """The transport part of the fresh domain audit, as facts (its findings stay in its report)."""
    families = ("starttls", "mta_sts", "tlsrpt", "dane", "dnssec")
    relevant = [o for o in report.outcomes if o.check in families]
    status = Status.INCONCLUSIVE if any(o.status != Status.COMPLETED and o.status != Status.SKIPPED
                                        for o in relevant) else Status.COMPLETED  # fmt: skip
    return CheckOutcome(
        "domain-audit",
        domain,
        status,
        facts={
            "transport_findings": [
                {
                    "rule_id": f.rule.id,
                    "severity": f.effective_severity.value,
                    "target": f.target,
                    "message": f.message,
                }  # fmt: skip
                for o in relevant
                for f in o.findings
            ],
            "checks": {o.check: o.status.value for o in relevant},
        },
    )
