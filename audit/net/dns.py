"""The one road to DNS: an async resolver that keeps "unknown" apart from "absent".

Every DNS question the tool asks goes through `Resolver.query`. It

* tells NOERROR, NODATA, NXDOMAIN, SERVFAIL and TIMEOUT apart (a temperror is never "no record"),
* caches per run and merges identical in-flight queries (one network question per name/type),
* records every question it really asked (name, type, status, answers, milliseconds), so a
  report can show the evidence behind each fact.

Where the answers come from is a `Backend` (`dns_answers`): the network (`dns_network`: the
system resolver or given servers), a directory of zone files (`dns_zonefile`: fully offline),
or in-memory data for unit tests. The names of those modules are re-exported here, so callers
import everything DNS from `audit.net.dns`.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import dns.reversename

from audit.model import QueryRecord
from audit.net.dns_answers import (
    MAX_CNAME_CHAIN,
    REFUSED,
    Backend,
    DnsAnswer,
    DnssecAnswer,
    DnssecBackend,
    DnssecLookup,
    DnsStatus,
    HostAddresses,
    dnssec_lookup,
    normalize_name,
    refused,
)
from audit.net.dns_network import DEFAULT_TIMEOUT, NetworkBackend, ServerAddress, Transport
from audit.net.dns_zonefile import (
    Failure,
    StaticBackend,
    StaticData,
    ZoneDirError,
    load_zone_dir,
    memory_backend,
)
from audit.net.once import Memo

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_CNAME_CHAIN",
    "REFUSED",
    "Backend",
    "DnsAnswer",
    "DnsStatus",
    "DnssecAnswer",
    "DnssecBackend",
    "DnssecLookup",
    "Failure",
    "HostAddresses",
    "NetworkBackend",
    "Resolver",
    "ServerAddress",
    "StaticBackend",
    "StaticData",
    "Transport",
    "ZoneDirError",
    "build_backend",
    "build_resolver",
    "dnssec_lookup",
    "is_ip_literal",
    "load_zone_dir",
    "memory_backend",
    "normalize_name",
    "refused",
]


def is_ip_literal(host: str) -> bool:
    """An IP address (optionally in brackets, as in `[192.0.2.1]`), not a name to look up."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


T = TypeVar("T")


class Resolver:
    """Cache + in-flight merging + query log in front of a Backend. One per audit."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self._cache: Memo[tuple[str, str], DnsAnswer] = Memo()  # in flight merged, then kept
        self.log: list[QueryRecord] = []
        self._dnssec_cache: Memo[tuple[str, str], DnssecAnswer] = Memo()
        self._derived: Memo[Hashable, Any] = Memo()

    async def query(self, name: str, rdtype: str) -> DnsAnswer:
        key = (normalize_name(name), rdtype.upper())
        answer = self._cache.values.get(key)  # most questions of an audit are repeats
        if answer is not None:
            return answer
        return await self._cache.get(key, lambda: self._ask(*key))

    async def _ask(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            answer = await self.backend.lookup(name, rdtype)
        except Exception as exc:  # noqa: BLE001 - a backend bug must read as unknown, not absent
            answer = DnsAnswer(name, rdtype, DnsStatus.SERVFAIL, error=f"{type(exc).__name__}")
        self._record(answer)
        return answer

    async def query_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        """The question with the DO bit: the rrset, its RRSIGs and any NSEC/NSEC3 proof, for
        `audit/net/dnssec.py` to validate. Cached, merged and logged like `query`; a backend
        without DNSSEC support answers `supported=False` (and nothing is logged)."""
        key = (normalize_name(name), rdtype.upper())
        return await self._dnssec_cache.get(key, lambda: self._ask_dnssec(*key))

    async def _ask_dnssec(self, name: str, rdtype: str) -> DnssecAnswer:
        lookup = dnssec_lookup(self.backend)
        if lookup is None:
            return DnssecAnswer(
                name,
                rdtype,
                DnsStatus.SERVFAIL,
                error="this DNS backend cannot answer DNSSEC queries",
                supported=False,
            )
        try:
            answer = await lookup(name, rdtype)
        except Exception as exc:  # noqa: BLE001 - a backend bug must read as unknown, not absent
            answer = DnssecAnswer(name, rdtype, DnsStatus.SERVFAIL, error=f"{type(exc).__name__}")
        self._record(answer)
        return answer

    def _record(self, answer: DnsAnswer | DnssecAnswer) -> None:
        """Every answer becomes evidence in the report's DNS query list."""
        self.log.append(
            QueryRecord(
                answer.name,
                answer.rdtype,
                answer.status.value,
                answer.record_texts,  # the answer's own tuple: shared, not copied per audit
                answer.elapsed_ms,
                answer.error,
            )
        )

    async def derived(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """A fact computed from this resolver's answers only (the MX set with its hosts'
        addresses...), computed once per audit however many checks ask."""
        value: T = await self._derived.get(key, make)
        return value

    async def txt(self, name: str) -> DnsAnswer:
        return await self.query(name, "TXT")

    async def addresses(self, name: str) -> tuple[DnsAnswer, DnsAnswer]:
        """A and AAAA for a host, asked at the same time."""
        key = normalize_name(name)
        a = self._cache.values.get((key, "A"))
        aaaa = self._cache.values.get((key, "AAAA"))
        if a is not None and aaaa is not None:  # asked already (most calls): no tasks to gather
            return a, aaaa
        return await asyncio.gather(self.query(name, "A"), self.query(name, "AAAA"))

    async def host_addresses(self, host: str) -> HostAddresses:
        """Where to connect for `host` (IPv4 first): what every probe and sender asks."""
        a, aaaa = await self.addresses(host)
        found = [r.address for ans in (a, aaaa) for r in ans.rdata if hasattr(r, "address")]
        return HostAddresses(host, found, (a, aaaa))

    async def ptr(self, address: str) -> DnsAnswer:
        return await self.query(dns.reversename.from_address(address).to_text(), "PTR")


def build_backend(
    dns_servers: Iterable[str] = (),
    zone_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Backend:
    """Where a command's answers come from: zone files when given, else the network.

    Raises ValueError (or ZoneDirError) with a one-line message for bad input.
    """
    if zone_dir is not None:
        return StaticBackend(load_zone_dir(zone_dir))
    servers = [ServerAddress.parse(s) for s in dns_servers]
    return NetworkBackend(servers, timeout=timeout)


def build_resolver(
    dns_servers: Iterable[str] = (),
    zone_dir: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Resolver:
    """A fresh resolver (its own cache and log) over `build_backend(...)`."""
    return Resolver(build_backend(dns_servers, zone_dir, timeout))
