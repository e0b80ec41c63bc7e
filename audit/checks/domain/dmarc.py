"""The domain's DMARC policy record (RFC 7489; RFC 9989 where it differs).

Policy discovery is done both ways receivers do it today: RFC 7489 (the domain, then its
organizational domain from the Public Suffix List) and the RFC 9989 DNS tree walk. All the
names are asked at once; where the two readings reach different records, the report says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import DnsAnswer, Resolver
from audit.psl import is_public_suffix, organizational_domain, tree_walk_names
from audit.records.dmarc import (
    DmarcRecord,
    is_dmarc_record,
    parse_dmarc,
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


@dataclass
class Lookup:
    """What `_dmarc.<name>` holds: DMARC records, or why there are none."""

    name: str
    answer: DnsAnswer
    records: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.records)


@dataclass
class Discovery:
    """The record that applies to the domain, where it was found, and how."""

    domain: str
    org_domain: str
    lookups: dict[str, Lookup]
    rfc7489_at: str | None = None  # the policy domain the RFC 7489 walk reached
    rfc9989_at: str | None = None
    temperror: DnsAnswer | None = None

    def records_at(self, name: str | None) -> list[str]:
        return self.lookups[name].records if name else []


async def _lookup(resolver: Resolver, name: str) -> Lookup:
    answer = await resolver.txt(f"_dmarc.{name}")
    return Lookup(name, answer, [t for t in answer.txt if is_dmarc_record(t)])


async def discover_policy(resolver: Resolver, domain: str) -> Discovery:
    """Ask every name either walk could need at once; then read the walks in order."""
    org = organizational_domain(domain)
    walk = tree_walk_names(domain)
    names = list(dict.fromkeys([domain, org, *walk]))
    lookups = {lk.name: lk for lk in await asyncio.gather(*(_lookup(resolver, n) for n in names))}
    found = Discovery(domain, org, lookups)
    found.rfc7489_at, t7489 = _first_found([domain, org] if org != domain else [domain], lookups)
    found.rfc9989_at, t9989 = _tree_walk(walk, lookups)
    found.temperror = t7489 or t9989
    return found


def _first_found(
    order: list[str], lookups: dict[str, Lookup]
) -> tuple[str | None, DnsAnswer | None]:
    """The first name in `order` holding a record; a temperror before it stops the walk."""
    for name in order:
        lookup = lookups[name]
        if lookup.answer.temperror:
            return None, lookup.answer
        if lookup.found:
            return name, None
    return None, None


def _tree_walk(
    walk: list[str], lookups: dict[str, Lookup]
) -> tuple[str | None, DnsAnswer | None]:
    """RFC 9989 policy discovery: the author domain's own record, else the Organizational
    Domain's, found by the DNS tree walk: a record with psd=n marks it, psd=y marks the domain
    one label below, otherwise it is the name with the fewest labels that has a record.

    A name with several records counts as having none. A failed lookup at a public suffix (a
    PSD policy that cannot be read) does not block the verdict; anywhere else it does.
    """
    author = lookups[walk[0]]
    if author.answer.temperror:
        return None, author.answer
    if len(author.records) == 1:
        return walk[0], None
    found: list[str] = []
    for index, name in enumerate(walk[1:], start=1):
        lookup = lookups[name]
        if lookup.answer.temperror:
            if is_public_suffix(name):
                continue
            return None, lookup.answer
        if len(lookup.records) != 1:
            continue
        psd = parse_dmarc(lookup.records[0]).psd
        if psd == "n":
            return name, None
        if psd == "y":
            below = walk[index - 1]
            return (below if len(lookups[below].records) == 1 else name), None
        found.append(name)
    return (found[-1] if found else None), None


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
    policy_at = found.rfc7489_at or found.rfc9989_at
    if policy_at is None:
        facts["dmarc"] = None
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    DMARC_MISSING,
                    domain,
                    message=f"no DMARC record at _dmarc.{domain}"
                    + (f" or _dmarc.{found.org_domain}" if found.org_domain != domain else ""),
                    evidence=[lk.answer.describe() for lk in found.lookups.values()],
                    fix=f"Publish {_minimal_record(found.org_domain)}, read the aggregate "
                    "reports, then move to p=quarantine and p=reject.",
                )
            ],
        )
    findings: list[Finding] = []
    raw_records = found.records_at(policy_at)
    if len(raw_records) > 1:
        findings.append(
            Finding(
                DMARC_MULTIPLE,
                domain,
                message=f"{len(raw_records)} DMARC records at _dmarc.{policy_at}: receivers "
                "apply no DMARC policy at all",
                evidence=raw_records,
                fix=f"Keep exactly one TXT record starting with v=DMARC1 at _dmarc.{policy_at}.",
            )
        )
        # RFC 7489 6.6.3: several records means no DMARC record; none of them is judged.
        facts["dmarc"] = {"policy_domain": policy_at, "record": None, "records": raw_records}
        return CheckResult(facts=facts, findings=findings)
    record = parse_dmarc(raw_records[0])
    for_subdomain = policy_at != domain
    facts["dmarc"] = {
        "policy_domain": policy_at,
        "record": record.raw,
        "records": raw_records,
        "parsed": record.to_dict(),
        "inherited": for_subdomain,
        "effective_policy": record.effective_policy(for_subdomain),
    }
    if for_subdomain:
        findings.append(
            Finding(
                DMARC_INHERITED,
                domain,
                message=f"{domain} has no record of its own; the policy at _dmarc.{policy_at} "
                f"applies ({'sp' if record.subdomain_policy else 'p'}="
                f"{record.effective_policy(True)})",
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
                message="; ".join(record.errors),
                evidence=[record.raw],
                fix="Publish a corrected record, e.g. "
                f"{_minimal_record(policy_at).split(' TXT ', 1)[1]}",
            )
        )
    if record.policy is not None:
        findings.extend(_policy_strength(record, policy_at, domain, for_subdomain))
    findings.extend(await _reporting(ctx.resolver, record, policy_at, domain, found.org_domain))
    return CheckResult(facts=facts, findings=findings)


def _policy_strength(
    record: DmarcRecord, policy_at: str, domain: str, for_subdomain: bool
) -> list[Finding]:
    findings = []
    effective = record.effective_policy(for_subdomain)
    record_name = f"_dmarc.{policy_at}"
    if effective == "none":
        findings.append(
            Finding(
                DMARC_POLICY_NONE,
                domain,
                message=f"p=none at {record_name}: receivers deliver mail that fails DMARC as usual"
                if not for_subdomain or not record.subdomain_policy
                else f"sp=none at {record_name}: subdomain mail that fails DMARC is delivered",
                evidence=[record.raw],
                fix="Once aggregate reports show your own mail passing, publish "
                f'{record_name} TXT "{_next_step(record, for_subdomain)}", then reject.',
            )
        )
    elif record.subdomain_policy == "none" and not for_subdomain:
        findings.append(
            Finding(
                DMARC_SUBDOMAIN_NONE,
                domain,
                message=f"p={record.policy} but sp=none: spoofed mail from any subdomain of "
                f"{policy_at} is delivered",
                evidence=[record.raw],
                fix=f"Remove sp=none (subdomains then inherit p={record.policy}) or set "
                "sp=quarantine.",
            )
        )
    if effective in ("quarantine", "reject") and record.pct < 100:
        findings.append(
            Finding(
                DMARC_PARTIAL_PCT,
                domain,
                message=f"pct={record.pct}: RFC 7489 receivers apply p={effective} to only "
                f"{record.pct}% of failing mail (RFC 9989 receivers ignore pct and apply it "
                "to all)",
                evidence=[record.raw],
                fix=f'Publish {record_name} TXT "{with_policy(record, effective)}" (pct removed).',
            )
        )
    return findings


def _next_step(record: DmarcRecord, for_subdomain: bool) -> str:
    """The record one step stronger for the mail this finding is about."""
    if for_subdomain and record.subdomain_policy == "none":
        return with_tags(record, sp="quarantine")
    return with_policy(record, "quarantine")


def _rfc_differences(found: Discovery, record: DmarcRecord) -> list[Finding]:
    notes = []
    if found.rfc7489_at != found.rfc9989_at:
        notes.append(
            f"RFC 7489 receivers use the record at "
            f"{'_dmarc.' + found.rfc7489_at if found.rfc7489_at else 'no record (none found)'}; "
            f"RFC 9989 receivers use "
            f"{'_dmarc.' + found.rfc9989_at if found.rfc9989_at else 'none'}"
        )
    if "p" not in record.tags and "rua" not in record.tags:
        notes.append("p= is missing: RFC 7489 receivers discard the record, RFC 9989 reads p=none")
    if record.testing:
        notes.append("t=y: RFC 9989 receivers apply one step less than p= asks; RFC 7489 ignores t")
    if record.nonexistent_policy:
        notes.append(f"np={record.nonexistent_policy} is honoured only by RFC 9989 receivers")
    if not notes:
        return []
    return [
        Finding(
            DMARC_RFC9989_DIFFERS,
            found.domain,
            message="; ".join(notes),
            evidence=[record.raw],
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
