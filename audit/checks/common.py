"""Small pieces every check shares: the temperror finding and the domain helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.model import Finding
from audit.net.dns import DnsAnswer, Resolver
from audit.rules.dns import DNS_TEMPERROR


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


def temperror_finding(answer: DnsAnswer, target: str, consequence: str) -> Finding:
    """DNS001 for a lookup that timed out or SERVFAILed: unknown is not absent."""
    return Finding(
        DNS_TEMPERROR,
        target,
        message=f"{answer.name} {answer.rdtype} lookup gave {answer.status.value}: {consequence}",
        evidence=[answer.describe() + (f" ({answer.error})" if answer.error else "")],
        fix="Retry later; if it persists, check the authoritative name servers for "
        f"{answer.name} (they must answer {answer.rdtype} queries, even with NODATA).",
    )
