"""Forward-confirmed reverse DNS (FCrDNS) of an address: its PTR names and whether one resolves
back to it. The PTR check judges MX addresses by it, the message audit the connecting IP, the
DMARC report analysis each reporting source."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from audit.net.dns import DnsAnswer, Resolver


@dataclass
class Fcrdns:
    """An address's PTR answer, each PTR name's forward answers, and the names that confirm."""

    address: str
    ptr: DnsAnswer
    forwards: dict[str, list[DnsAnswer]]

    @property
    def confirmed(self) -> list[str]:
        return [
            name
            for name, answers in self.forwards.items()
            if any(self.address == r.address for ans in answers for r in ans.rdata)
        ]

    @property
    def pending(self) -> DnsAnswer | None:
        """A forward lookup that failed temporarily (so 'not confirmed' is not known)."""
        return next((a for ans in self.forwards.values() for a in ans if a.temperror), None)


async def forward_confirm(resolver: Resolver, address: str) -> Fcrdns:
    """PTR for the address, then A/AAAA for every PTR name, concurrently."""
    ptr = await resolver.ptr(address)
    names = [r.target.to_text().rstrip(".").lower() for r in ptr.rdata]
    forwards = await asyncio.gather(*(resolver.addresses(n) for n in names))
    return Fcrdns(address, ptr, {n: list(f) for n, f in zip(names, forwards, strict=True)})
