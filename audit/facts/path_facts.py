"""The facts of one sending path: its envelope domain and what DNS says about it, whether SPF
authorizes the path's senders, which DKIM keys sign for it, and the verdict receivers reach.

Everything is looked up concurrently through the run's resolver; the verdict itself comes from
the shared prediction (audit.facts.prediction), the same code `audit message` and `audit seed`
use. A lookup that times out or SERVFAILs is kept (`temperror`) so the check can say the path is
inconclusive instead of calling a record missing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.esp.profiles import EspProfile, matches
from audit.facts.dmarc_policy import Discovery, discover_policy
from audit.facts.paths import SendingPath
from audit.facts.prediction import (
    DkimOutcome,
    DmarcPrediction,
    GmailDisplay,
    SpfOutcome,
    aligned,
    gmail_display,
    predict_dmarc,
)
from audit.net.dns import DnsAnswer, DnsStatus, Resolver
from audit.records.dkim_key import looks_like_dkim_key, parse_dkim_key
from audit.records.dmarc import DmarcRecord
from audit.spf import check_host, is_spf_record, parse_record
from audit.spf.parser import SpfSyntaxError
from audit.spf.tree import walk_tree


@dataclass
class Policy:
    """The From domain's DMARC record as receivers find it (discover_policy)."""

    record: DmarcRecord | None
    policy_domain: str | None
    discovery: Discovery


@dataclass
class SenderSpf:
    """check_host() for one of the path's sending IPs against the envelope domain."""

    ip: str
    result: str
    matched: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "result": self.result,
            "matched": self.matched,
            "reason": self.reason,
        }


@dataclass
class DkimKeyState:
    selector: str
    name: str
    state: str  # ok | missing | invalid | revoked | elsewhere (CNAME to another) | temperror
    record: str | None = None
    cname: list[str] = field(default_factory=list)
    cname_ok: bool | None = None  # the CNAME points where the profile says (None: no pattern)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "selector": self.selector,
            "name": self.name,
            "state": self.state,
            "record": self.record,
            "cname": list(self.cname),
            "cname_ok": self.cname_ok,
            "detail": self.detail,
        }


@dataclass
class PathFacts:
    path: SendingPath
    profile: EspProfile | None
    from_domain: str
    envelope: str
    envelope_source: str  # declared | detected | provider default | from domain
    temperror: DnsAnswer | None = None  # the path itself could not be read
    # failed SPF / DKIM-key lookups: their identifier is "temperror" and the shared
    # prediction decides whether that leaves DMARC undecided (RFC 9989 5.3.6)
    lookup_errors: list[DnsAnswer] = field(default_factory=list)
    exists: bool | None = None  # the envelope domain exists (None: not judged)
    spf_records: list[str] = field(default_factory=list)
    spf_result: str = "unknown"  # for the path's senders
    spf_basis: str = ""  # what the SPF result rests on, in words
    senders: list[SenderSpf] = field(default_factory=list)
    include_reached: bool | None = None  # ESP path: the profile's include is in the tree
    cname: list[str] = field(default_factory=list)  # the envelope domain's CNAME chain
    return_path_records: list[str] = field(default_factory=list)  # MX targets (MX-type paths)
    return_path_ok: bool | None = None  # the provider's record is in place (None: n/a)
    bounce_ok: bool | None = None
    bounce_route: list[str] = field(default_factory=list)
    dkim_keys: list[DkimKeyState] = field(default_factory=list)
    # ok | missing | provider-signs | temperror | not declared | unknown
    dkim_state: str = "unknown"
    spf_aligned: dict[str, bool] = field(default_factory=dict)  # rfc7489 / rfc9989
    dkim: list[DkimOutcome] = field(default_factory=list)
    dmarc: DmarcPrediction | None = None
    gmail: GmailDisplay | None = None
    evidence: list[str] = field(default_factory=list)

    @property
    def provider_default(self) -> bool:
        return self.envelope_source == "provider default"

    @property
    def custom_return_path(self) -> bool:
        return self.envelope_source in ("declared", "detected")


def envelope_of(path: SendingPath, profile: EspProfile | None, from_domain: str) -> tuple[str, str]:
    """The MAIL FROM domain mail on this path carries, and where that comes from."""
    if path.return_path:
        return path.return_path, "declared" if path.origin != "detected" else "detected"
    if profile and profile.default_envelope_domains:
        return profile.default_envelope_domains[0], "provider default"
    return from_domain, "from domain"


async def gather_path(
    resolver: Resolver,
    from_domain: str,
    path: SendingPath,
    profile: EspProfile | None,
    policy: Policy,
) -> PathFacts:
    envelope, source = envelope_of(path, profile, from_domain)
    facts = PathFacts(path, profile, from_domain, envelope, source)
    selectors = list(path.dkim_selectors) or (list(profile.literal_selectors()) if profile else [])
    txt, mx, addresses, keys, helo_ips, env_policy = await asyncio.gather(
        resolver.txt(envelope),
        resolver.query(envelope, "MX"),
        resolver.host_addresses(envelope),
        asyncio.gather(*(_dkim_key(resolver, s, from_domain, profile) for s in selectors)),
        _helo_addresses(resolver, path),
        _envelope_policy(resolver, envelope, from_domain, policy),
    )
    failed = [a for a in (txt, mx, *addresses.answers) if a.temperror]
    failed += [a for a in helo_ips[1] if a.temperror]
    if failed:
        facts.temperror = failed[0]
        return facts
    facts.cname = list(txt.cname_chain)
    facts.exists = txt.status is not DnsStatus.NXDOMAIN
    facts.spf_records = [t for t in txt.txt if is_spf_record(t)]
    facts.evidence.append(txt.describe())
    _bounce_route(facts, mx, addresses.addresses)
    _return_path_record(facts, mx)
    facts.dkim_keys = list(keys)
    ips = list(path.ips) or helo_ips[0]
    await _spf(resolver, facts, ips)
    facts.lookup_errors += [
        DnsAnswer(k.name, "TXT", DnsStatus.TIMEOUT, error=k.detail)
        for k in facts.dkim_keys
        if k.state == "temperror"
    ]
    _dkim(facts)
    _alignment(facts, policy, env_policy)
    spf = SpfOutcome(facts.spf_result, envelope)
    facts.dmarc = predict_dmarc(
        from_domain,
        policy.record,
        policy.policy_domain,
        spf,
        facts.dkim,
        exists=policy.discovery.exists(),
        discarded=policy.discovery.discarded_set(),
    )
    facts.gmail = gmail_display(from_domain, spf, facts.dkim)
    return facts


async def _helo_addresses(resolver: Resolver, path: SendingPath) -> tuple[list[str], tuple]:
    """An own MTA connects from the address its HELO name resolves to, when no IP is given."""
    if path.ips or not path.helo or path.esp:
        return [], ()
    found = await resolver.host_addresses(path.helo)
    return list(found.addresses), found.answers


async def _envelope_policy(
    resolver: Resolver, envelope: str, from_domain: str, policy: Policy
) -> Discovery:
    """The envelope domain's DMARC tree walk, for the RFC 9989 organizational domain."""
    if envelope == from_domain:
        return policy.discovery
    return await discover_policy(resolver, envelope)


def _bounce_route(facts: PathFacts, mx: DnsAnswer, addresses: list[str]) -> None:
    hosts = [r.exchange.to_text().rstrip(".") for r in mx.rdata if hasattr(r, "exchange")]
    null_mx = hosts == [""] or (len(hosts) == 1 and hosts[0] in ("", "."))
    facts.evidence.append(mx.describe())
    if hosts and not null_mx:
        facts.bounce_ok, facts.bounce_route = True, [f"MX {h}" for h in hosts]
    elif null_mx:
        facts.bounce_ok, facts.bounce_route = False, ["null MX (RFC 7505): accepts no mail"]
    elif addresses:
        facts.bounce_ok, facts.bounce_route = True, [f"A/AAAA {a} (no MX)" for a in addresses]
    else:
        facts.bounce_ok = False


def _return_path_record(facts: PathFacts, mx: DnsAnswer) -> None:
    """The record the provider asks for at a custom return path, and whether it is in place."""
    spec = facts.profile.return_path if facts.profile else None
    if spec is None or not facts.custom_return_path:
        return
    if spec.record_type == "CNAME":
        target = facts.cname[0] if facts.cname else None
        facts.return_path_records = [target] if target else []
        facts.return_path_ok = bool(target and matches(spec.target_patterns, target))
    elif spec.record_type == "MX":
        hosts = [r.exchange.to_text().rstrip(".") for r in mx.rdata if hasattr(r, "exchange")]
        facts.return_path_records = hosts
        facts.return_path_ok = bool(hosts) and all(matches(spec.target_patterns, h) for h in hosts)


async def _dkim_key(
    resolver: Resolver, selector: str, domain: str, profile: EspProfile | None
) -> DkimKeyState:
    name = f"{selector}._domainkey.{domain}"
    answer = await resolver.txt(name)
    state = DkimKeyState(selector, name, "missing", cname=list(answer.cname_chain))
    if answer.temperror:
        state.state, state.detail = "temperror", answer.describe()
        return state
    if profile and profile.dkim_cname_patterns and answer.cname_chain:
        state.cname_ok = bool(matches(profile.dkim_cname_patterns, answer.cname_chain[0]))
    records = [t for t in answer.txt if looks_like_dkim_key(t)]
    if len(records) != 1:
        state.detail = answer.describe() if not records else f"{len(records)} key records"
        state.state = "missing" if not records else "invalid"
        return state
    key = parse_dkim_key(records[0])
    state.record = records[0]
    if not key.valid:
        state.state, state.detail = "invalid", "; ".join(key.errors)
    elif key.revoked:
        state.state, state.detail = "revoked", "empty p=: the key is revoked"
    elif state.cname_ok is False:
        state.state = "elsewhere"
        owner = f"{profile.name}'s " + " or ".join(profile.dkim_cname_patterns) if profile else ""
        state.detail = f"the CNAME points to {answer.cname_chain[0]}, not {owner}"
    else:
        state.state = "ok"
        state.detail = f"{key.key_type} {key.key_bits or ''}".strip()
    return state


async def _spf(resolver: Resolver, facts: PathFacts, ips: list[str]) -> None:
    """SPF for the path's senders at the envelope domain: the declared (or HELO) IPs through
    check_host(); for an ESP without IPs, whether the profile's include is reached."""
    envelope = facts.envelope
    if ips:
        results = await asyncio.gather(
            *(
                check_host(resolver, ip, envelope, f"bounces@{envelope}", facts.path.helo)
                for ip in ips
            )
        )
        facts.senders = [SenderSpf(r.ip, r.result, r.matched, r.reason) for r in results]
        temp = next((r for r in results if r.result == "temperror"), None)
        if temp is not None:
            facts.lookup_errors.append(
                DnsAnswer(envelope, "TXT", DnsStatus.TIMEOUT, error=temp.reason)
            )
        worst = temp or next((r for r in results if r.result != "pass"), None)
        facts.spf_result = "pass" if worst is None else worst.result
        facts.spf_basis = "; ".join(
            f"{r.ip}: {r.result}" + (f" ({r.matched})" if r.matched else "") for r in results
        )
        return
    profile = facts.profile
    if profile is None:
        facts.spf_result = "unknown"
        facts.spf_basis = "no sending IP or provider given: which senders to check is unknown"
        return
    if not facts.spf_records:
        facts.spf_result = "none"
        facts.spf_basis = f"no SPF record at {envelope}"
        return
    if facts.provider_default:  # the provider's own envelope domain authorizes its servers
        facts.spf_result = "pass"
        facts.spf_basis = f"{envelope} is {profile.name}'s own envelope domain"
        return
    tree = await walk_tree(resolver, envelope)
    failed = tree.failed_lookups()
    # what the envelope's record includes/redirects to, or the provider name it is CNAMEd to
    domains = [n.domain for n in tree.nodes if n is not tree.root] + facts.cname
    reached = next((d for d in domains if _under_any(d, profile.spf_includes)), None)
    if reached is None and failed:
        facts.lookup_errors.append(failed[0][1])
        facts.spf_result = "temperror"
        facts.spf_basis = f"a lookup in {envelope}'s SPF tree failed: {failed[0][1].describe()}"
        return
    facts.include_reached = reached is not None
    if reached:
        facts.spf_result = "pass"
        facts.spf_basis = f"{profile.name}'s {reached} is reached from {envelope}'s SPF"
        return
    facts.spf_result = _all_result(facts.spf_records[0])
    facts.spf_basis = (
        f"{envelope}'s SPF does not reach {', '.join(profile.spf_includes)}: "
        f"{profile.name}'s servers get the record's default ({facts.spf_result})"
    )


def _under_any(name: str, bases: tuple[str, ...]) -> bool:
    name = name.lower().rstrip(".")
    return any(matches([b], name) or name.endswith("." + b.lstrip("*.")) for b in bases)


def _all_result(record: str) -> str:
    """What an IP the record does not list gets: its `all` term's result, else neutral."""
    try:
        parsed = parse_record(record)
    except SpfSyntaxError:
        return "permerror"
    if parsed.redirect:
        return "neutral"  # decided by the redirect target: not judged here
    return parsed.all.result if parsed.all else "neutral"


def _dkim(facts: PathFacts) -> None:
    ok = [k for k in facts.dkim_keys if k.state == "ok"]
    profile = facts.profile
    own = (
        [DkimOutcome("pass", profile.signs_own_domain)]
        if profile and profile.signs_own_domain
        else []
    )
    if ok:
        facts.dkim_state = "ok"
        facts.dkim = [DkimOutcome("pass", facts.from_domain)]
    elif profile and not facts.dkim_keys:
        # the provider's selectors are per account (SES tokens): nothing could be tried
        facts.dkim_state = "unknown"
        facts.dkim = own
    elif any(k.state == "temperror" for k in facts.dkim_keys):
        # a key that could not be read may still verify: the signature's result is temperror
        facts.dkim_state = "temperror"
        facts.dkim = [DkimOutcome("temperror", facts.from_domain), *own]
    elif own:
        facts.dkim_state = "provider-signs"
        facts.dkim = own
    elif facts.dkim_keys:
        facts.dkim_state = "missing"
        broken = any(k.state in ("invalid", "revoked") for k in facts.dkim_keys)
        facts.dkim = [DkimOutcome("permerror" if broken else "fail", facts.from_domain)]
    else:
        facts.dkim_state = "not declared"


def _alignment(facts: PathFacts, policy: Policy, env_policy: Discovery) -> None:
    """SPF alignment both ways: RFC 7489 by the Public Suffix List, RFC 9989 by the DNS tree
    walk's organizational domain (the one discover_policy computes for every check)."""
    aspf = policy.record.aspf if policy.record else "r"
    facts.spf_aligned = {
        "rfc7489": aligned(facts.envelope, facts.from_domain, aspf),
        "rfc9989": aspf == "s"
        and facts.envelope == facts.from_domain
        or aspf != "s"
        and env_policy.rfc9989_org == policy.discovery.rfc9989_org,
    }


def _inconclusive(facts: PathFacts) -> str | None:
    """Why the path's verdict is unknown: the path's own lookup, or an identifier's that
    leaves DMARC at temperror."""
    if facts.temperror is not None:
        return facts.temperror.describe()
    if facts.lookup_errors and facts.dmarc and facts.dmarc.result == "temperror":
        return facts.lookup_errors[0].describe()
    return None


def path_summary(facts: PathFacts, fixes: list[str]) -> dict[str, Any]:
    """The report row: what the Sending paths section shows for this path."""
    return {
        "name": facts.path.name,
        "origin": facts.path.origin,
        "esp": facts.path.esp,
        "provider": facts.profile.name if facts.profile else None,
        "envelope_domain": facts.envelope,
        "envelope_source": facts.envelope_source,
        "ips": list(facts.path.ips) or [s.ip for s in facts.senders],
        "helo": facts.path.helo,
        "inconclusive": _inconclusive(facts),
        "spf": {
            "result": facts.spf_result,
            "basis": facts.spf_basis,
            "records": facts.spf_records,
            "senders": [s.as_dict() for s in facts.senders],
            "include_reached": facts.include_reached,
        },
        "return_path_record": {"records": facts.return_path_records, "ok": facts.return_path_ok},
        "dkim": {
            "state": facts.dkim_state,
            "d": [d.domain for d in facts.dkim if d.passed],
            "selectors": [k.as_dict() for k in facts.dkim_keys],
        },
        "alignment": {
            "spf": facts.spf_aligned,
            "dkim": bool(facts.dmarc and facts.dmarc.dkim_aligned),
        },
        "dmarc": facts.dmarc.result if facts.dmarc else None,
        "disposition": facts.dmarc.disposition if facts.dmarc else None,
        "dmarc_reason": facts.dmarc.reason if facts.dmarc else None,
        "gmail": facts.gmail.to_dict() if facts.gmail else None,
        "bounces_ok": facts.bounce_ok,
        "bounce_route": facts.bounce_route,
        "evidence": list(facts.path.evidence),
        "fixes": fixes,
    }
