"""Which provider (ESP profile) or infrastructure a reported source belongs to, and on what
evidence: a DKIM d= or envelope domain that is the provider's own, a forward-confirmed reverse
DNS name under one of the provider's domains, or (last) the provider's SPF include authorizing
the source's IP (check_host against the include domain: the provider says the IP is its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from audit.dmarc_reports.sources import Source
from audit.esp.profiles import EspProfile
from audit.net.dns import Resolver
from audit.psl import organizational_domain
from audit.spf.evaluator import check_host


@dataclass(frozen=True)
class Attribution:
    """`kind` provider | own | unknown; `evidence` says which reported value or PTR name."""

    kind: str
    provider_id: str | None
    provider_name: str | None
    evidence: str


UNKNOWN = Attribution("unknown", None, None, "no provider domain in DKIM d=, envelope or PTR")


def provider_domains(profile: EspProfile) -> set[str]:
    """Organizational domains that are the provider's own (not a customer's)."""
    names = [*profile.spf_includes, *profile.default_envelope_domains]
    if profile.signs_own_domain:
        names.append(profile.signs_own_domain)
    names += [p for p in profile.mx_patterns]
    if profile.return_path:
        names += list(profile.return_path.target_patterns)
    names += list(profile.dkim_cname_patterns)
    orgs = set()
    for name in names:
        concrete = ".".join(
            label for label in name.split(".") if not any(c in label for c in "*?[")
        )
        if "." in concrete:
            orgs.add(organizational_domain(concrete))
    return orgs


def attribute(
    source: Source,
    domain: str,
    profiles: Mapping[str, EspProfile],
    ptr_names: list[str],
) -> Attribution:
    """The first match, strongest evidence first: provider d=, provider envelope, PTR names."""
    own_org = organizational_domain(domain)
    by_org = {org: p for p in profiles.values() for org in provider_domains(p)}
    for d in sorted(source.dkim_domains_passing):
        profile = by_org.get(organizational_domain(d))
        if profile and organizational_domain(d) != own_org:
            return Attribution("provider", profile.id, profile.name, f"DKIM passes with d={d}")
    for envelope in sorted(source.spf_domains_passing | set(source.envelope_from)):
        profile = by_org.get(organizational_domain(envelope))
        if profile and organizational_domain(envelope) != own_org:
            return Attribution("provider", profile.id, profile.name, f"envelope domain {envelope}")
    for name in ptr_names:
        org = organizational_domain(name)
        profile = by_org.get(org)
        if profile and org != own_org:
            return Attribution("provider", profile.id, profile.name, f"reverse DNS {name}")
        if org == own_org:
            return Attribution("own", None, None, f"reverse DNS {name} (forward-confirmed)")
    return UNKNOWN


def include_domains(profiles: Mapping[str, EspProfile]) -> list[tuple[str, str]]:
    """(profile id, include domain) for every concrete (pattern-free) SPF include."""
    return [
        (p.id, include)
        for p in profiles.values()
        for include in p.spf_includes
        if not any(c in include for c in "*?[")
    ]


async def spf_reach(
    resolver: Resolver, ip: str, profiles: Mapping[str, EspProfile]
) -> Attribution | None:
    """The first provider whose SPF include passes for `ip` (RFC 7208 check_host on the include
    domain itself). A temperror or permerror decides nothing: the next include is tried."""
    candidates = include_domains(profiles)
    results = await asyncio.gather(
        *(check_host(resolver, ip, include, f"postmaster@{include}") for _, include in candidates)
    )
    for (pid, include), result in zip(candidates, results, strict=True):
        if result.result == "pass":
            profile = profiles[pid]
            return Attribution("provider", pid, profile.name, f"SPF of {include} authorizes {ip}")
    return None
