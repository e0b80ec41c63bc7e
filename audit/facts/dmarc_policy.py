"""DMARC policy discovery, shared by the domain audit's DMARC check, the sending-path
evaluation and the message verdict: which record applies to a domain (RFC 7489's walk and RFC
9989's DNS tree walk, asked at once), and RFC 9989's organizational domain. One copy, so the
checks that read the same DNS can never name different records or organizational domains.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.net.dns import DnsAnswer, DnsStatus, Resolver
from audit.psl import is_public_suffix, organizational_domain, tree_walk_names
from audit.records.dmarc import DECIDING, DmarcRecord, is_dmarc_record, parse_dmarc


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

    def discarded_set(self) -> tuple[str, int] | None:
        """(policy name, number of records) when the set there is discarded, else None."""
        if not self.discarded or self.policy_at is None:
            return None
        return self.policy_at, len(self.records_at(self.policy_at))

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
    found.rfc9989_org = tree_walk_org(walk, lookups)
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
    return tree_walk_org(walk, lookups)


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


def tree_walk_org(walk: list[str], lookups: dict[str, Lookup]) -> str:
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
