"""The MX set of a domain and the addresses of every host: the fact the MX, PTR, STARTTLS,
MTA-STS, TLS-RPT, DNSSEC, DANE and blocklist checks (and the message audit) all start from."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.net.dns import DnsAnswer, Resolver, is_ip_literal, normalize_name


@dataclass
class MxHost:
    preference: int
    host: str
    a: DnsAnswer | None = None
    aaaa: DnsAnswer | None = None

    @property
    def addresses(self) -> list[str]:
        return [r.address for ans in (self.a, self.aaaa) if ans for r in ans.rdata]

    @property
    def cname_chain(self) -> tuple[str, ...]:
        for ans in (self.a, self.aaaa):
            if ans and ans.cname_chain:
                return ans.cname_chain
        return ()

    @property
    def temperror(self) -> DnsAnswer | None:
        return next((a for a in (self.a, self.aaaa) if a and a.temperror), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "preference": self.preference,
            "host": self.host,
            "addresses": self.addresses,
            "cname_chain": list(self.cname_chain),
            "a": self.a.status.value if self.a else None,
            "aaaa": self.aaaa.status.value if self.aaaa else None,
        }


@dataclass
class MxFacts:
    domain: str
    answer: DnsAnswer
    hosts: list[MxHost] = field(default_factory=list)
    null_mx: bool = False
    ip_literals: list[str] = field(default_factory=list)


async def gather_mx(resolver: Resolver, domain: str) -> MxFacts:
    """The MX set and every host's A/AAAA answers, hosts resolved concurrently: once per
    audit (the resolver's), however many checks start from it (read-only to them)."""
    return await resolver.derived(("mx", normalize_name(domain)), lambda: _gather(resolver, domain))


async def _gather(resolver: Resolver, domain: str) -> MxFacts:
    answer = await resolver.query(domain, "MX")
    facts = MxFacts(domain, answer)
    if answer.temperror or not answer.rdata:
        return facts
    records = sorted(answer.rdata, key=lambda r: (r.preference, r.exchange.to_text()))
    for rd in records:
        host = rd.exchange.to_text().rstrip(".").lower()
        if host == "":  # "0 ." (RFC 7505); a root target at any preference names no host
            facts.null_mx = True
        elif is_ip_literal(host):
            facts.ip_literals.append(host)
        else:
            facts.hosts.append(MxHost(rd.preference, host))
    resolved = await asyncio.gather(*(resolver.addresses(h.host) for h in facts.hosts))
    for host, (a, aaaa) in zip(facts.hosts, resolved, strict=True):
        host.a, host.aaaa = a, aaaa
    return facts
