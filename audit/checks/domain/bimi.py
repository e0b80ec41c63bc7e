"""BIMI: the `default._bimi` assertion record and its DMARC prerequisite.

Receivers show a BIMI logo only for mail under an enforcing DMARC policy (quarantine or reject,
pct=100, no sp=none at the organizational domain), so a record without that is dead weight.
BIMI is optional: no record is no finding. With network probes on, the logo (l=) and the
evidence document (a=, a VMC/CMC) are fetched and judged (`audit/checks/domain/bimi_assets.py`);
without them the facts say `logo_checked: false`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.bimi_assets import NOT_FETCHED, check_assets
from audit.checks.domain.dmarc import Discovery, discover_policy
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import DnsAnswer, Resolver
from audit.psl import organizational_domain
from audit.records.bimi import BIMI_DRAFT, BimiRecord, is_bimi_record, parse_bimi
from audit.records.dmarc import parse_dmarc, with_policy
from audit.rules.bimi import BIMI_DMARC_NOT_ENFORCING, BIMI_INVALID

SELECTOR = "default"


async def _bimi_lookup(resolver: Resolver, domain: str) -> tuple[str, DnsAnswer, list[str]]:
    """The BIMI records for `domain`, falling back to its organizational domain (as receivers
    do when the author domain has none)."""
    name = f"{SELECTOR}._bimi.{domain}"
    answer = await resolver.txt(name)
    records = [t for t in answer.txt if is_bimi_record(t)]
    org = organizational_domain(domain)
    if answer.temperror or records or org == domain:
        return name, answer, records
    org_name = f"{SELECTOR}._bimi.{org}"
    org_answer = await resolver.txt(org_name)
    org_records = [t for t in org_answer.txt if is_bimi_record(t)]
    if org_answer.temperror or org_records:
        return org_name, org_answer, org_records
    return name, answer, records


def dmarc_problems(found: Discovery) -> list[str]:
    """Why the domain's DMARC policy does not meet BIMI's prerequisite ([] when it does)."""
    policy_at = found.rfc7489_at or found.rfc9989_at
    if policy_at is None:
        return [f"no DMARC record at _dmarc.{found.domain} or _dmarc.{found.org_domain}"]
    raw = found.records_at(policy_at)
    if len(raw) > 1:
        return [f"{len(raw)} DMARC records at _dmarc.{policy_at}: no policy applies"]
    record = parse_dmarc(raw[0])
    effective, tag = found.policy()
    problems = []
    if effective not in ("quarantine", "reject"):
        problems.append(f"{tag or 'p'}={effective or 'invalid'} at _dmarc.{policy_at}")
    if record.pct < 100:
        problems.append(f"pct={record.pct} at _dmarc.{policy_at}")
    org_raw = found.records_at(found.org_domain) if found.org_domain in found.lookups else []
    if len(org_raw) == 1:
        org_record = parse_dmarc(org_raw[0])
        if org_record.subdomain_policy == "none":
            problems.append(f"sp=none at the organizational domain _dmarc.{found.org_domain}")
        if org_record.policy not in ("quarantine", "reject") and found.org_domain != policy_at:
            problems.append(f"p={org_record.policy} at _dmarc.{found.org_domain}")
    return problems


def _dmarc_fix(found: Discovery) -> str:
    policy_at = found.rfc7489_at or found.rfc9989_at or found.org_domain
    raw = found.records_at(policy_at) if policy_at in found.lookups else []
    if len(raw) == 1:
        record = parse_dmarc(raw[0])
        effective = record.effective_policy(policy_at != found.domain)
        target = effective if effective in ("quarantine", "reject") else "quarantine"
        text = with_policy(record, target)
        text = "; ".join(p for p in text.split("; ") if p.replace(" ", "").lower() != "sp=none")
        return (
            f'Publish _dmarc.{policy_at} TXT "{text}" (no pct, no sp=none), once your own mail '
            "passes DMARC."
        )
    return (
        f'Publish exactly one _dmarc.{found.org_domain} TXT "v=DMARC1; p=quarantine; '
        f'rua=mailto:dmarc-reports@{found.org_domain}", then move to p=reject.'
    )


async def check(ctx: DomainContext) -> CheckResult:
    """The record and its DMARC prerequisite; with probes, the logo and the VMC as well."""
    if not ctx.probes:
        result = await _record_check(ctx)
        if result.facts["bimi"]["logo_url"] or result.facts["bimi"]["authority_url"]:
            result.facts["bimi"]["logo_note"] = NOT_FETCHED
        return result

    async def assets() -> CheckResult | None:
        name, answer, records = await _bimi_lookup(ctx.resolver, ctx.domain)  # shared, cached
        return await check_assets(ctx, name, answer, records)

    result, assets_result = await asyncio.gather(_record_check(ctx), assets())
    if assets_result is not None:
        result.facts["bimi"].update(assets_result.facts)
        result.findings.extend(assets_result.findings)
        if assets_result.status is Status.INCONCLUSIVE:
            result.status = Status.INCONCLUSIVE
    return result


async def _record_check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    (name, answer, raw_records), found = await asyncio.gather(
        _bimi_lookup(ctx.resolver, domain), discover_policy(ctx.resolver, domain)
    )
    bimi: dict[str, Any] = {
        "name": name,
        "status": answer.status.value,
        "record": None,
        "records": raw_records,
        "parsed": None,
        "declined": False,
        "logo_url": None,
        "authority_url": None,
        "dmarc_ready": None,
        "dmarc_problems": [],
        "logo_checked": False,
    }
    facts: dict[str, Any] = {"bimi": bimi}
    if answer.temperror:
        consequence = "the BIMI record could not be read, not 'absent'"
        return CheckResult(
            facts=facts,
            findings=[temperror_finding(answer, domain, consequence)],
            status=Status.INCONCLUSIVE,
        )
    if not raw_records:
        return CheckResult(facts=facts)
    findings: list[Finding] = []
    parsed = [parse_bimi(r) for r in raw_records]
    if len(parsed) > 1:
        findings.append(
            Finding(
                BIMI_INVALID,
                domain,
                message=f"{len(parsed)} BIMI records at {name}: receivers show no logo",
                evidence=raw_records,
                fix=f"Keep exactly one TXT record starting with v=BIMI1 at {name}.",
            )
        )
    else:
        record = parsed[0]
        _fill(bimi, record)
        findings.extend(_record_findings(record, name, domain))
    if all(r.declined for r in parsed):
        return CheckResult(facts=facts, findings=findings)
    if found.temperror is not None:
        findings.append(
            temperror_finding(
                found.temperror, domain, "whether DMARC meets BIMI's prerequisite is unknown"
            )
        )
        return CheckResult(facts=facts, findings=findings, status=Status.INCONCLUSIVE)
    problems = dmarc_problems(found)
    bimi["dmarc_ready"] = not problems
    bimi["dmarc_problems"] = problems
    if problems:
        findings.append(
            Finding(
                BIMI_DMARC_NOT_ENFORCING,
                domain,
                message="BIMI record published but receivers show no logo: DMARC must be at "
                "quarantine or reject for all mail (" + "; ".join(problems) + ")",
                evidence=[*raw_records, *(lk.answer.describe() for lk in found.lookups.values())],
                fix=_dmarc_fix(found),
            )
        )
    return CheckResult(facts=facts, findings=findings)


def _fill(bimi: dict[str, Any], record: BimiRecord) -> None:
    bimi["record"] = record.raw
    bimi["parsed"] = record.to_dict()
    bimi["declined"] = record.declined
    bimi["logo_url"] = record.logo_url
    bimi["authority_url"] = record.authority_url


def _record_findings(record: BimiRecord, name: str, domain: str) -> list[Finding]:
    example = f'{name} TXT "v=BIMI1; l=https://{domain}/bimi/logo.svg"'
    findings = []
    if record.errors:
        findings.append(
            Finding(
                BIMI_INVALID,
                domain,
                message="; ".join(record.errors),
                evidence=[record.raw],
                fix=f"Publish a corrected record, e.g. {example} (or "
                f'{name} TXT "v=BIMI1; l=; a=;" to decline BIMI).',
            )
        )
    # warnings that still deserve a (low) finding, each kind with its own fix
    low = [
        (".svg", "Serve the logo as an SVG Tiny PS file at an https:// URL ending in .svg."),
        (
            BIMI_DRAFT,
            "Write lps=true or lps=false, and avp=personal or avp=brand (or leave the tag "
            f"out) at {name}.",
        ),
    ]
    for marker, fix in low:
        said = [w for w in record.warnings if marker in w]
        if said:
            findings.append(
                Finding(
                    BIMI_INVALID,
                    domain,
                    message="; ".join(said),
                    evidence=[record.raw],
                    fix=fix,
                    severity=Severity.LOW,
                )
            )
    return findings
