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
from audit.checks.domain.dmarc_readings import (
    DECIDING_TEXT,
    applied_text,
    discovery_differences,
    record_differences,
)
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import DnsAnswer, DnsStatus, Resolver
from audit.psl import is_public_suffix, organizational_domain, tree_walk_names
from audit.records.dmarc import (
    DECIDING,
    P_ORDER_ERROR,
    RFC_NAMES,
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
class Existence:
    """Whether the author domain exists, asked only when np= could apply to it.

    RFC 9989 3.2.13: "if the response code received for a query for a domain name is NXDOMAIN,
    then the domain name and any possible subdomains do not exist" (the RFC 8020 meaning).
    RFC 9091 2.7 (the np= tag's first home, an extension of RFC 7489): "a non-existent domain
    is a domain for which there is an NXDOMAIN or NODATA response for A, AAAA, and MX records",
    a broader test: a name with only a TXT record does not exist for it.
    """

    answers: dict[str, DnsAnswer]  # A, AAAA, MX of the author domain

    @property
    def temperror(self) -> DnsAnswer | None:
        return next((a for a in self.answers.values() if a.temperror), None)

    @property
    def rfc9989(self) -> bool:
        """Exists unless a query for it answered NXDOMAIN."""
        return not any(a.status is DnsStatus.NXDOMAIN for a in self.answers.values())

    @property
    def rfc9091(self) -> bool:
        """Exists unless A, AAAA and MX all answered NXDOMAIN or NODATA."""
        gone = (DnsStatus.NXDOMAIN, DnsStatus.NODATA)
        return not all(a.status in gone for a in self.answers.values())

    def exists(self, rfc: str) -> bool:
        return self.rfc9989 if rfc == "rfc9989" else self.rfc9091

    def to_dict(self) -> dict[str, Any]:
        return {
            "queries": {t: a.status.value for t, a in self.answers.items()},
            "exists_rfc9989": self.rfc9989,
            "exists_rfc9091": self.rfc9091,
        }


@dataclass
class Discovery:
    """The record that applies to the domain, where it was found, and how.

    Which record: RFC 7489's walk (the domain, then its PSL organizational domain) decides
    when it reaches a name holding DMARC records, else the RFC 9989 tree walk's. Several
    records at that name are discarded: DMARC is not applied (RFC 7489 6.6.3 step 5; RFC 9989
    4.10 step 2 discards them too and walks on, which `rfc9989_at` shows).
    """

    domain: str
    org_domain: str
    lookups: dict[str, Lookup]
    rfc7489_at: str | None = None  # the policy domain the RFC 7489 walk reached
    rfc9989_at: str | None = None
    rfc9989_org: str | None = None  # RFC 9989 4.10.2 organizational domain of `domain`
    temperror: DnsAnswer | None = None
    existence: Existence | None = None  # asked only when np= could apply

    def records_at(self, name: str | None) -> list[str]:
        return self.lookups[name].records if name else []

    @property
    def policy_at(self) -> str | None:
        return self.rfc7489_at or self.rfc9989_at

    @property
    def discarded(self) -> bool:
        """Several DMARC records at the policy name: no DMARC policy applies."""
        return len(self.records_at(self.policy_at)) > 1

    @property
    def record(self) -> DmarcRecord | None:
        raw = self.records_at(self.policy_at)
        return parse_dmarc(raw[0]) if len(raw) == 1 else None

    @property
    def subdomain(self) -> bool:
        return self.policy_at is not None and self.policy_at != self.domain

    def exists(self, rfc: str = DECIDING) -> bool | None:
        return self.existence.exists(rfc) if self.existence else None

    def policy(self, rfc: str = DECIDING) -> tuple[str | None, str]:
        """(policy, tag) that `rfc`'s receivers apply to mail from the domain; (None, "")
        when DMARC does not apply (no record, several, or no valid p= and no valid rua=)."""
        record = self.record
        if record is None:
            return None, ""
        return record.reading(rfc).policy_for(self.subdomain, self.exists(rfc))


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
    found.rfc9989_org = _tree_walk_org(walk, lookups)
    found.temperror = t7489 or t9989
    if found.temperror is None and _np_matters(found):
        kinds = ("A", "AAAA", "MX")
        answers = await asyncio.gather(*(resolver.query(domain, k) for k in kinds))
        found.existence = Existence(dict(zip(kinds, answers, strict=True)))
        found.temperror = found.existence.temperror
    return found


async def tree_walk_organizational_domain(resolver: Resolver, domain: str) -> str | None:
    """RFC 9989 4.10.2: `domain`'s organizational domain by the DNS tree walk alone (for an
    identifier's relaxed alignment); None when a lookup on the walk failed."""
    walk = tree_walk_names(domain)
    lookups = {lk.name: lk for lk in await asyncio.gather(*(_lookup(resolver, n) for n in walk))}
    if any(lk.answer.temperror for lk in lookups.values()):
        return None
    return _tree_walk_org(walk, lookups)


def _np_matters(found: Discovery) -> bool:
    """np= changes the policy only for a subdomain of the policy domain whose record has an
    np= that differs from what sp= (or p=) would give it, in either reading."""
    record = found.record
    if record is None or not found.subdomain:
        return False
    return any(
        r.applies and r.np and r.np != r.policy_for(True, True)[0]
        for r in (record.rfc7489, record.rfc9989)
    )


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


def _tree_walk_org(walk: list[str], lookups: dict[str, Lookup]) -> str:
    """RFC 9989 4.10.2: of the names on the walk holding one DMARC record, longest first, the
    one with psd=n; else the name one label below one with psd=y (not where the walk started);
    else the one with the fewest labels; with none, the domain itself. A name whose lookup
    failed counts as holding none (the verdict then waits on `temperror` anyway)."""
    with_record = [(i, n) for i, n in enumerate(walk) if len(lookups[n].records) == 1]
    for index, name in with_record:
        psd = parse_dmarc(lookups[name].records[0]).psd
        if psd == "n":
            return name
        if psd == "y" and index > 0:
            return walk[index - 1]
    return with_record[-1][1] if with_record else walk[0]


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
    record = found.record
    if record is None:
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
        # RFC 7489 6.6.3 step 5 (and RFC 9989 4.10 step 2): the set is discarded; none of
        # the records is judged and no policy is in the facts.
        facts["dmarc"] = {
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
        return CheckResult(facts=facts, findings=findings)
    decided = record.reading()
    effective, tag = found.policy()
    for_subdomain = found.subdomain
    facts["dmarc"] = {
        "policy_domain": policy_at,
        "record": record.raw,
        "records": raw_records,
        "parsed": record.to_dict(),
        "inherited": for_subdomain,
        "applies": decided.applies,
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
    if for_subdomain and decided.applies:
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
    findings.extend(await _reporting(ctx.resolver, record, policy_at, domain, found.org_domain))
    return CheckResult(facts=facts, findings=findings)


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
