"""DNS blocklists: every MX address on the IP lists (DNSBL), the domain on the domain lists (RHSBL).

A listed MX address means mail from that host (often the same machine that sends) is refused or
junked by receivers using the list. Listings are read the way the lists publish them
(RFC 5782): NXDOMAIN is "not listed", an A record in 127.0.0.2-127.0.0.255 (or another 127/8
code) is "listed" with the reason in the TXT at the same name. Some answers only mean the list
refused to answer (Spamhaus 127.255.255.252/254/255 for public resolvers and over-use, URIBL
127.0.0.1, DBL 127.0.1.255), and an address outside 127/8 means a resolver rewrote the answer:
both are "unknown" (BL001), never "not listed".

Zones: the built-in lists below, or `ctx.blocklists`. A configured entry is a domain list when it
is written `rhsbl:ZONE` or is one of the known domain lists, an IP list otherwise
(`dnsbl:ZONE` says so explicitly).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.facts.mx import gather_mx
from audit.model import CheckResult, Finding, Status
from audit.net.dns import DnsAnswer, DnsStatus, Resolver, normalize_name
from audit.rules.bl import BL_LISTED, BL_QUERY_REFUSED

DEFAULT_IP_ZONES = (
    "zen.spamhaus.org",
    "bl.spamcop.net",
    "b.barracudacentral.org",
    "dnsbl.sorbs.net",
)
DEFAULT_DOMAIN_ZONES = ("dbl.spamhaus.org", "multi.uribl.com", "multi.surbl.org")
KNOWN_DOMAIN_ZONES = frozenset(
    {*DEFAULT_DOMAIN_ZONES, "black.uribl.com", "rhsbl.sorbs.net", "dbl.nordspam.com"}
)
REFUSED_CODES = frozenset(
    {"127.255.255.252", "127.255.255.254", "127.255.255.255", "127.0.0.1", "127.0.1.255"}
)
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# Spamhaus reserves the whole 127.255.255.0/24 for error codes (query refused, rate limited,
# typing error), so a code there is never a listing
_ERROR_CODES = ipaddress.ip_network("127.255.255.0/24")


@dataclass(frozen=True)
class Zones:
    ip: tuple[str, ...]
    domain: tuple[str, ...]
    configured: bool


def blocklist_zones(configured: list[str] | None) -> Zones:
    """The zones to ask: the configured list when given (None means the defaults)."""
    if configured is None:
        return Zones(DEFAULT_IP_ZONES, DEFAULT_DOMAIN_ZONES, False)
    ip: list[str] = []
    domain: list[str] = []
    for entry in configured:
        kind, sep, zone = entry.strip().partition(":")
        if not sep:
            kind, zone = "", kind
        zone = normalize_name(zone)
        if not zone:
            continue
        if kind.lower() == "rhsbl" or (kind.lower() != "dnsbl" and zone in KNOWN_DOMAIN_ZONES):
            domain.append(zone)
        else:
            ip.append(zone)
    return Zones(tuple(dict.fromkeys(ip)), tuple(dict.fromkeys(domain)), True)


def query_name(item: str, zone: str, kind: str) -> str:
    """`<reversed IPv4 octets or IPv6 nibbles>.<zone>` for an address, `<domain>.<zone>`."""
    if kind == "ip":
        pointer = ipaddress.ip_address(item).reverse_pointer
        return f"{pointer.rsplit('.', 2)[0]}.{zone}"
    return f"{normalize_name(item)}.{zone}"


@dataclass
class Listing:
    """One (address or domain, zone) question and what its answer means."""

    target: str
    kind: str  # "ip" | "domain"
    zone: str
    name: str
    answer: DnsAnswer
    verdict: str = "not_listed"  # listed | not_listed | refused | unknown
    codes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    txt: DnsAnswer | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "zone": self.zone,
            "query": self.name,
            "status": self.answer.status.value,
            "verdict": self.verdict,
            "codes": self.codes,
            "reasons": self.reasons,
        }


def interpret(answer: DnsAnswer) -> tuple[str, list[str]]:
    """(verdict, return codes) for the A answer of a blocklist query."""
    if answer.temperror:
        return "unknown", []
    if answer.status in (DnsStatus.NXDOMAIN, DnsStatus.NODATA) or not answer.rdata:
        return "not_listed", []
    codes = [r.address for r in answer.rdata]
    listed = [
        c
        for c in codes
        if ipaddress.ip_address(c) in _LOOPBACK
        and ipaddress.ip_address(c) not in _ERROR_CODES
        and c not in REFUSED_CODES
        and c != "127.0.0.0"
    ]
    return ("listed" if listed else "refused"), codes


async def _ask(resolver: Resolver, listing: Listing) -> Listing:
    listing.answer = await resolver.query(listing.name, "A")
    listing.verdict, listing.codes = interpret(listing.answer)
    if listing.verdict == "listed":
        listing.txt = await resolver.txt(listing.name)
        listing.reasons = listing.txt.txt
    return listing


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    zones = blocklist_zones(getattr(ctx, "blocklists", None))
    mx = await gather_mx(ctx.resolver, domain)
    findings: list[Finding] = []
    status = Status.COMPLETED
    if mx.answer.temperror:
        findings.append(
            temperror_finding(mx.answer, domain, "MX addresses unknown: not checked on blocklists")
        )
        status = Status.INCONCLUSIVE
    owners: dict[str, list[str]] = {}
    for host in mx.hosts:
        if host.temperror:
            findings.append(
                temperror_finding(
                    host.temperror, host.host, "its addresses were not checked on blocklists"
                )
            )
            status = Status.INCONCLUSIVE
        for address in host.addresses:
            owners.setdefault(address, []).append(host.host)
    for literal in mx.ip_literals:
        owners.setdefault(literal.strip("[]"), []).append(literal)
    pending = [
        Listing(a, "ip", z, query_name(a, z, "ip"), _PENDING) for a in owners for z in zones.ip
    ]
    pending += [
        Listing(domain, "domain", z, query_name(domain, z, "domain"), _PENDING)
        for z in zones.domain
    ]
    listings = await asyncio.gather(*(_ask(ctx.resolver, lk) for lk in pending))
    for listing in listings:
        finding = _finding(listing, owners.get(listing.target, []))
        if finding is not None:
            findings.append(finding)
            if finding.rule.temperror:
                status = Status.INCONCLUSIVE
    facts = {
        "blocklists": {
            "zones": {"ip": list(zones.ip), "domain": list(zones.domain)},
            "configured": zones.configured,
            "mx_addresses": owners,
            "results": [lk.to_dict() for lk in listings],
            "listed": [f"{lk.target} on {lk.zone}" for lk in listings if lk.verdict == "listed"],
        }
    }
    return CheckResult(facts=facts, findings=findings, status=status)


_PENDING = DnsAnswer("", "A", DnsStatus.NODATA)


def _finding(listing: Listing, hosts: list[str]) -> Finding | None:
    what = listing.target
    if listing.kind == "ip" and hosts:
        what = f"{listing.target} (MX {', '.join(hosts)})"
    if listing.verdict == "unknown":
        return temperror_finding(
            listing.answer, listing.target, f"whether {listing.zone} lists it is unknown"
        )
    if listing.verdict == "refused":
        return Finding(
            BL_QUERY_REFUSED,
            listing.target,
            message=f"{listing.zone} answered {', '.join(listing.codes)} for {what}: "
            + _refusal_meaning(listing.codes),
            evidence=[listing.answer.describe()],
            fix=f"Query {listing.zone} through your own recursive resolver (not a public one "
            "such as 8.8.8.8 or 1.1.1.1) or with a registered data-feed key, then run again.",
        )
    if listing.verdict != "listed":
        return None
    reason = f": {' '.join(listing.reasons)}" if listing.reasons else ""
    evidence = [listing.answer.describe()]
    if listing.txt is not None:
        evidence.append(listing.txt.describe())
    subject = "address" if listing.kind == "ip" else "domain"
    return Finding(
        BL_LISTED,
        listing.target,
        message=f"{subject} {what} is listed on {listing.zone} "
        f"(return code {', '.join(listing.codes)}){reason}",
        evidence=evidence,
        fix=f"Find and stop the cause (compromised account, open relay, bad list), then ask "
        f"{listing.zone} for delisting through its lookup page"
        + (f" ({' '.join(listing.reasons)})" if listing.reasons else "")
        + ".",
    )


def _refusal_meaning(codes: list[str]) -> str:
    if any(ipaddress.ip_address(c) not in _LOOPBACK for c in codes):
        return "an address outside 127/8 is no blocklist code; a resolver rewrote the answer"
    return "the list refused the query (public resolver or query limit), so the listing is unknown"
