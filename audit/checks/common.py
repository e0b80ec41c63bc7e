"""Small pieces every check shares: the temperror finding and the domain helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from audit.facts.paths import SendingPath
from audit.model import Finding
from audit.net.dns import DnsAnswer, Resolver
from audit.net.once import OnceCache
from audit.net.run_memo import RunMemo
from audit.rules.dns import DNS_TEMPERROR

T = TypeVar("T")


@dataclass
class DomainContext:
    """What a domain check gets: the domain, the run's one resolver, and the user's options."""

    domain: str
    resolver: Resolver
    dkim_selectors: list[str] = field(default_factory=list)
    discover_dkim: bool = True
    blocklists: list[str] | None = None  # DNSBL/RHSBL zones; None: the built-in default list
    probes: bool = False  # network probes beyond DNS (HTTPS policy fetch); off with --zone-dir
    https_port: int = 443  # --https-port, for tests
    ca_file: str | None = None  # --ca-file: trust this CA instead of the system store
    timeout: float = 5.0  # per network operation
    smtp_port: int = 25  # --smtp-port, for tests: where the STARTTLS probes connect
    trust_anchor_file: str | None = None  # --trust-anchor: DS/DNSKEY records (master format)
    sending_paths: list[SendingPath] = field(default_factory=list)  # declared (--esp, --sending-ip)
    # --allow-private-addresses: probes may connect to non-public addresses DNS names (labs, tests)
    allow_private_addresses: bool = False
    run: RunMemo | None = None  # shared by every domain of a batch run (probes made once)
    esp_profiles_dir: str | None = None  # --esp-profiles: more ESP profiles (*.toml) beside ours
    dkim_discovery: str = "full"  # "quick": stop once a key is found (esp/dkim_discovery.py)
    # "quick": return-path names asked only when other records show such a provider (esp/detect)
    return_path_discovery: str = "full"
    _memo: OnceCache[Hashable, Any] = field(default_factory=OnceCache, repr=False)

    async def once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """Runs `make()` once per key for this domain run and shares its result.

        Checks run concurrently and some need the same expensive fact (the STARTTLS probe of an
        MX address feeds the TLS, DANE and MTA-STS checks; DNSSEC validation feeds DANE): the
        first caller starts the work as a task, everyone awaits it. An exception is shared too,
        so a failed probe is not retried by every check.
        """
        result: T = await self._memo.get(key, make)  # cancelling a caller leaves the work running
        return result

    async def run_once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """Like `once`, but shared by every domain of the run when there is a run memo: for
        facts about a destination (an MX address's STARTTLS), not about this domain."""
        if self.run is None:
            return await self.once(key, make)
        return await self.run.once(key, make)

    async def probe_once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        """`run_once` for a network probe: also bounded by the run's probe slots."""
        if self.run is None:
            return await self.once(key, make)
        return await self.run.probe(key, make)


def temperror_finding(answer: DnsAnswer, target: str, consequence: str) -> Finding:
    """DNS001 for a lookup that timed out, SERVFAILed or was REFUSED: unknown is not absent."""
    fix = (
        "Retry later; if it persists, check the authoritative name servers for "
        f"{answer.name} (they must answer {answer.rdtype} queries, even with NODATA)."
    )
    outcome = answer.status.value
    if answer.refused:
        outcome = "REFUSED"
        fix = (
            f"A DNS server refused the {answer.rdtype} query for {answer.name}, which says "
            "nothing about the record. Point --dns-server at a recursive resolver (or leave it "
            "out to use the system's): an authoritative-only server refuses names outside its "
            "zones, and a resolver refuses clients it does not serve. If it fails through a "
            f"recursive resolver too, check the authoritative name servers for {answer.name}: "
            f"they must answer {answer.rdtype} queries, even with NODATA."
        )
    return Finding(
        DNS_TEMPERROR,
        target,
        message=f"{answer.name} {answer.rdtype} lookup gave {outcome}: {consequence}",
        evidence=[answer.describe()],
        fix=fix,
    )
