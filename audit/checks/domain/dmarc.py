"""The domain's DMARC policy record (RFC 7489; RFC 9989 where it differs).

Policy discovery is done both ways receivers do it today: RFC 7489 (the domain, then its
organizational domain from the Public Suffix List) and the RFC 9989 DNS tree walk. All the
names are asked at once; where the two readings reach different records, the report says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.facts.dmarc_policy import Discovery, discover_policy
from audit.facts.dmarc_readings import (
    DECIDING_TEXT,
    applied_text,
    discovery_differences,
    record_differences,
)
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import Resolver
from audit.psl import organizational_domain
from audit.records.dmarc import (
    DECIDING,
    P_ORDER_ERROR,
    RFC_NAMES,
    DmarcRecord,
    is_dmarc_record,
    with_policy,
    with_tags,
)
from audit.rules.dmarc import (
    DMARC_INHERITED,
    DMARC_MISSING,
    DMARC_MULTIPLE,
    DMARC_NO_RUA,
    DMARC_PARTIAL_PCT,
    DMARC_POLICY_NONE,
    DMARC_REPORT_UNAUTHORIZED,
    DMARC_RFC9989_DIFFERS,
    DMARC_SUBDOMAIN_NONE,
    DMARC_SYNTAX,
)


def _minimal_record(domain: str) -> str:
    return f'_dmarc.{domain} TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"'


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    found = await discover_policy(ctx.resolver, domain)
    facts: dict[str, Any] = {
        "domain": domain,
        "organizational_domain": found.org_domain,
        "queried": {n: lk.answer.status.value for n, lk in found.lookups.items()},
        "rfc7489_policy_domain": found.rfc7489_at,
        "rfc9989_policy_domain": found.rfc9989_at,
    }
    if found.temperror is not None:
        facts["dmarc"] = None
        return CheckResult(
            facts=facts,
            findings=[
                temperror_finding(
                    found.temperror, domain, "the DMARC policy could not be read, not 'missing'"
                )
            ],
            status=Status.INCONCLUSIVE,
        )
    policy_at = found.policy_at
    if policy_at is None:
        facts["dmarc"] = None
        return CheckResult(facts=facts, findings=[_missing(found, domain)])
    record = found.record
    if record is None:
        facts["dmarc"], findings = _discarded(found, policy_at, domain)
        return CheckResult(facts=facts, findings=findings)
    facts["dmarc"] = _record_facts(found, record, policy_at)
    findings = await _judge(ctx.resolver, found, record, policy_at, domain)
    return CheckResult(facts=facts, findings=findings)


def _missing(found: Discovery, domain: str) -> Finding:
    return Finding(
        DMARC_MISSING,
        domain,
        message=f"no DMARC record at _dmarc.{domain}"
        + (f" or _dmarc.{found.org_domain}" if found.org_domain != domain else ""),
        evidence=[lk.answer.describe() for lk in found.lookups.values()],
        fix=f"Publish {_minimal_record(found.org_domain)}, read the aggregate "
        "reports, then move to p=quarantine and p=reject.",
    )


def _discarded(
    found: Discovery, policy_at: str, domain: str
) -> tuple[dict[str, Any], list[Finding]]:
    """Several records at the policy domain: the facts and findings of a discarded set."""
    raw_records = found.records_at(policy_at)
    findings = [
        Finding(
            DMARC_MULTIPLE,
            domain,
            message=f"{len(raw_records)} DMARC records at _dmarc.{policy_at}: receivers "
            "apply no DMARC policy at all",
            evidence=raw_records,
            fix=f"Keep exactly one TXT record starting with v=DMARC1 at _dmarc.{policy_at}.",
        )
    ]
    # RFC 7489 6.6.3 step 5 (and RFC 9989 4.10 step 2): the set is discarded; none of
    # the records is judged and no policy is in the facts.
    facts = {
        "policy_domain": policy_at,
        "record": None,
        "records": raw_records,
        "applies": False,
        "effective_policy": None,
        "readings": {
            "rfc7489": applied_text(found, "rfc7489"),
            "rfc9989": applied_text(found, "rfc9989"),
        },
    }
    findings.extend(_rfc_differences(found, None))
    return facts, findings


def _record_facts(found: Discovery, record: DmarcRecord, policy_at: str) -> dict[str, Any]:
    """The record that applies, as both RFCs read it."""
    effective, tag = found.policy()
    return {
        "policy_domain": policy_at,
        "record": record.raw,
        "records": found.records_at(policy_at),
        "parsed": record.to_dict(),
        "inherited": found.subdomain,
        "applies": record.reading().applies,
        "effective_policy": effective,
        "policy_tag": tag or None,
        "deciding_reading": RFC_NAMES[DECIDING],
        "author_exists": found.existence.to_dict() if found.existence else None,
        "rfc9989_organizational_domain": found.rfc9989_org,
        "readings": {
            "rfc7489": applied_text(found, "rfc7489"),
            "rfc9989": applied_text(found, "rfc9989"),
        },
    }


async def _judge(
    resolver: Resolver, found: Discovery, record: DmarcRecord, policy_at: str, domain: str
) -> list[Finding]:
    """The findings on the record that applies: inherited, RFC differences, syntax, policy
    strength and reporting."""
    findings: list[Finding] = []
    decided = record.reading()
    effective, tag = found.policy()
    if found.subdomain and decided.applies:
        findings.append(
            Finding(
                DMARC_INHERITED,
                domain,
                message=f"{domain} has no record of its own; the policy at _dmarc.{policy_at} "
                f"applies ({tag}={effective})",
                evidence=[record.raw],
                fix=None,
            )
        )
    findings.extend(_rfc_differences(found, record))
    if not record.valid:
        findings.append(
            Finding(
                DMARC_SYNTAX,
                domain,
                message="; ".join(record.errors)
                + _fallback_text(record),
                evidence=[record.raw],
                fix="Publish a corrected record, e.g. "
                f"{_corrected(record, policy_at)}",
                severity=_syntax_severity(record),
            )
        )
    if decided.applies and effective is not None:
        findings.extend(_policy_strength(record, effective, tag, policy_at, domain))
    findings.extend(await _reporting(resolver, record, policy_at, domain, found.org_domain))
    return findings


def _fallback_text(record: DmarcRecord) -> str:
    """How the deciding RFC reads a record whose policy tags are broken (and whether the other
    RFC agrees), for DMARC003's message."""
    decided = record.reading()
    if not decided.fallback:
        return ""
    other = record.rfc7489 if DECIDING == "rfc9989" else record.rfc9989
    who = "RFC 7489 and RFC 9989" if other.fallback == decided.fallback else RFC_NAMES[DECIDING]
    return f" ({who}: {decided.fallback})"


def _syntax_severity(record: DmarcRecord) -> Severity | None:
    """Errors only one RFC sees, while the deciding reading applies the policy as written,
    change nothing at the receivers that decide the verdict: medium, not high."""
    one_rfc = set(record.rfc7489_errors) | set(record.rfc9989_errors)
    decided = record.reading()
    if set(record.errors) <= one_rfc and decided.applies and not decided.fallback:
        return Severity.MEDIUM
    return None


def _corrected(record: DmarcRecord, policy_at: str) -> str:
    """The record with p= right after v= when its p= is valid, else a minimal record."""
    if record.policy and all(e == P_ORDER_ERROR for e in record.errors):
        return f'"{with_tags(record, p=record.policy)}"'
    return _minimal_record(policy_at).split(" TXT ", 1)[1]


def _policy_strength(
    record: DmarcRecord, effective: str, tag: str, policy_at: str, domain: str
) -> list[Finding]:
    findings = []
    for_subdomain = tag != "p" or policy_at != domain
    decided = record.reading()
    record_name = f"_dmarc.{policy_at}"
    if effective == "none":
        findings.append(
            Finding(
                DMARC_POLICY_NONE,
                domain,
                message=f"{tag}=none at {record_name}: "
                + (
                    "receivers deliver mail that fails DMARC as usual"
                    if tag == "p"
                    else "subdomain mail that fails DMARC is delivered"
                )
                + (f" ({decided.fallback})" if decided.fallback else ""),
                evidence=[record.raw],
                fix="Once aggregate reports show your own mail passing, publish "
                f'{record_name} TXT "{_next_step(record, tag)}", then reject.',
            )
        )
    elif decided.sp == "none" and not for_subdomain:
        findings.append(
            Finding(
                DMARC_SUBDOMAIN_NONE,
                domain,
                message=f"p={decided.p} but sp=none: spoofed mail from any subdomain of "
                f"{policy_at} is delivered",
                evidence=[record.raw],
                fix=f"Remove sp=none (subdomains then inherit p={decided.p}) or set "
                "sp=quarantine.",
            )
        )
    if effective in ("quarantine", "reject") and record.pct < 100:
        findings.append(
            Finding(
                DMARC_PARTIAL_PCT,
                domain,
                message=f"pct={record.pct}: RFC 7489 receivers apply {tag}={effective} to only "
                f"{record.pct}% of failing mail (RFC 9989 receivers ignore pct and apply it "
                "to all)",
                evidence=[record.raw],
                fix=f'Publish {record_name} TXT "{with_policy(record, effective)}" (pct removed).',
            )
        )
    return findings


def _next_step(record: DmarcRecord, tag: str) -> str:
    """The record one step stronger for the mail this finding is about."""
    if tag in ("sp", "np"):
        return with_tags(record, **{tag: "quarantine"})
    return with_policy(record, "quarantine")


def _rfc_differences(found: Discovery, record: DmarcRecord | None) -> list[Finding]:
    notes = [*discovery_differences(found), *(record_differences(found, record) if record else [])]
    if not notes:
        return []
    return [
        Finding(
            DMARC_RFC9989_DIFFERS,
            found.domain,
            message="; ".join(notes) + f". audit's verdicts follow {DECIDING_TEXT}",
            evidence=[record.raw] if record else found.records_at(found.policy_at),
            fix=None,
        )
    ]


async def _reporting(
    resolver: Resolver, record: DmarcRecord, policy_at: str, domain: str, org: str
) -> list[Finding]:
    findings = []
    if not record.rua:
        findings.append(
            Finding(
                DMARC_NO_RUA,
                domain,
                message="no rua= address: you get no aggregate reports, so you cannot see who "
                "sends as your domain or whether your own mail passes",
                evidence=[record.raw],
                fix=f"Add rua=mailto:dmarc-reports@{org} to the record.",
            )
        )
    external = {
        uri.domain
        for uri in [*record.rua, *record.ruf]
        if uri.domain and organizational_domain(uri.domain) != org
    }
    checks = sorted(external)
    answers = await asyncio.gather(
        *(resolver.txt(f"{policy_at}._report._dmarc.{dest}") for dest in checks)
    )
    for dest, answer in zip(checks, answers, strict=True):
        name = f"{policy_at}._report._dmarc.{dest}"
        if answer.temperror:
            findings.append(
                temperror_finding(answer, domain, "report authorization could not be verified")
            )
        elif not any(is_dmarc_record(t) for t in answer.txt):
            uris = [u.raw for u in [*record.rua, *record.ruf] if u.domain == dest]
            findings.append(
                Finding(
                    DMARC_REPORT_UNAUTHORIZED,
                    domain,
                    message=f"reports for {policy_at} go to {dest}, which has not authorized "
                    f"them ({name} TXT: {answer.status.value}); receivers will not send them",
                    evidence=[record.raw, answer.describe()],
                    fix=f'Ask the owner of {dest} to publish {name} TXT "v=DMARC1", or send '
                    f"reports to an address at {org} ({', '.join(uris)}).",
                    severity=Severity.MEDIUM,
                )
            )
    return findings
