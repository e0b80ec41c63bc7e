"""DNSSEC on the mail path: the domain's MX set and the addresses of every MX host, validated
from the trust anchor (the root's, or `--trust-anchor`).

Unsigned is common and only informational (DNSSEC001), but it rules out DANE. Bogus is the
worst state a zone can be in (DNSSEC002): validating resolvers (Google, Cloudflare, most ISPs)
answer SERVFAIL, so senders behind them cannot find the MX hosts and mail bounces. A timeout
is unknown, never "unsigned" (DNS001).
"""

from __future__ import annotations

import asyncio
from typing import Any

import dns.dnssec
import dns.name

from audit.checks.common import DomainContext, temperror_finding
from audit.facts.mx import gather_mx
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dnssec import Security, Validation, Validator, load_trust_anchors
from audit.rules.dnssec import DNSSEC_BOGUS, DNSSEC_UNSIGNED


async def validator(ctx: DomainContext) -> Validator:
    """The run's one validator (its caches shared by the DNSSEC and DANE checks)."""

    async def make() -> Validator:
        # the anchors (a file read and parsed) once per run; the validator once per domain, as
        # its questions go through this domain's resolver (its report's evidence)
        anchors = await ctx.run_once(
            ("dnssec", "anchors", ctx.trust_anchor_file),
            lambda: asyncio.to_thread(load_trust_anchors, ctx.trust_anchor_file),
        )
        return Validator(ctx.resolver, anchors)

    return await ctx.once(("dnssec", "validator"), make)


async def validate(ctx: DomainContext, name: str, rdtype: str) -> Validation:
    """`name`/`rdtype` validated once per run, whichever check asks first."""
    return await (await validator(ctx)).validate(name, rdtype)


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    checker = await validator(ctx)
    mx, main = await asyncio.gather(gather_mx(ctx.resolver, domain), validate(ctx, domain, "MX"))
    hosts = list(dict.fromkeys(h.host for h in mx.hosts))
    pairs = await asyncio.gather(
        *(asyncio.gather(validate(ctx, h, "A"), validate(ctx, h, "AAAA")) for h in hosts)
    )
    facts: dict[str, Any] = {
        "checked": True,
        "trust_anchor": checker.anchors.source,
        "domain": main.to_dict(),
        "mx_hosts": [
            {"host": h, "a": a.to_dict(), "aaaa": aaaa.to_dict()}
            for h, (a, aaaa) in zip(hosts, pairs, strict=True)
        ],
    }
    if main.security is Security.UNCHECKED:
        facts["checked"], facts["reason"] = False, main.reason  # as the STARTTLS check does
        return CheckResult(facts={"dnssec": facts}, status=Status.SKIPPED, error=main.reason)
    judged = [(domain, main)] + [(h, v) for h, pair in zip(hosts, pairs, strict=True) for v in pair]
    findings = await judge(ctx, judged)
    status = Status.COMPLETED
    if any(f.rule.temperror for f in findings):
        status = Status.INCONCLUSIVE
    return CheckResult(facts={"dnssec": facts}, findings=findings, status=status)


async def judge(ctx: DomainContext, judged: list[tuple[str, Validation]]) -> list[Finding]:
    """Findings for (target, validation) pairs, the domain's first: one per failed lookup, one
    per place the chain breaks (a zone shared by the domain and its MX hosts is named once)."""
    domain = ctx.domain
    findings: list[Finding] = []
    seen: set[tuple[str | None, ...]] = set()
    domain_secure = judged[0][1].secure if judged else False
    for target, v in judged:
        key: tuple[str | None, ...]
        if v.security is Security.INDETERMINATE and v.failed is not None:
            key = ("failed", v.failed.name, v.failed.rdtype)
            if key not in seen:
                seen.add(key)
                consequence = f"DNSSEC validation of {v.name} {v.rdtype} is inconclusive"
                findings.append(temperror_finding(v.failed.as_answer(), target, consequence))
        elif v.security is Security.BOGUS:
            key = ("bogus", v.at, v.reason)
            if key not in seen:
                seen.add(key)
                findings.append(await bogus_finding(ctx, target, v, host=target != domain))
        elif v.security is Security.INSECURE and (target == domain or domain_secure):
            key = ("insecure", v.at)
            if key not in seen:
                seen.add(key)
                findings.append(unsigned_finding(target, v, host=target != domain))
    return findings


def unsigned_finding(target: str, v: Validation, *, host: bool) -> Finding:
    where = v.at or target
    what = f"the MX host {target}" if host else target
    verified = "" if v.denial_verified else " (the parent's 'no DS' answer was not proven)"
    return Finding(
        DNSSEC_UNSIGNED,
        target,
        message=f"{what} is not DNSSEC-signed: {v.reason}{verified}. Answers about it cannot be "
        "authenticated, and DANE (TLSA records for the MX hosts) needs a signed zone",
        evidence=[*v.steps, f"{v.name} {v.rdtype}: insecure"],
        fix=f"Sign the zone {where} (most DNS hosts offer DNSSEC as a switch), then publish its "
        f"DS record in the parent zone{_parent(where)} (at the registrar for a registered "
        "domain).",
    )


async def bogus_finding(ctx: DomainContext, target: str, v: Validation, *, host: bool) -> Finding:
    what = f"the address of the MX host {target}" if host else f"the MX set of {target}"
    impact = (
        "validating resolvers answer SERVFAIL for it: senders behind them cannot reach this host"
        if host
        else "validating resolvers answer SERVFAIL for the domain: mail to it bounces"
    )
    return Finding(
        DNSSEC_BOGUS,
        target,
        message=f"DNSSEC validation of {what} fails at {v.at or v.name}: {v.reason}; {impact}",
        evidence=[*v.steps, f"{v.name} {v.rdtype}: bogus: {v.reason}"],
        fix=await _bogus_fix(ctx, v),
        severity=Severity.HIGH if host else None,
    )


async def _bogus_fix(ctx: DomainContext, v: Validation) -> str:
    where = v.at or v.name
    reason = v.reason
    if "expired" in reason or "not valid before" in reason:
        return (
            f"Re-sign the zone {where}: its signatures are out of date, so its signer stopped "
            "refreshing them (check the signing service or the DNS host's DNSSEC status; with "
            "Knot `knotc zone-sign`, with BIND `rndc sign`) and check the signer's clock."
        )
    if "matches its DS" in reason or "serves no DNSKEY" in reason:
        ds = await _current_ds(ctx, where)
        publish = f" Replace it with: {ds}" if ds else ""
        return (
            f"The DS record for {where} in{_parent(where, plain=True)} names no key {where} "
            f"uses: publish the DS of its current key-signing key at the registrar, or remove "
            f"the DS to make the zone unsigned instead of broken.{publish}"
        )
    return (
        f"Fix the signing of {where} (re-sign the zone; make sure every rrset has a valid RRSIG "
        f"by a key in its DNSKEY set), or remove its DS record from the parent zone to make it "
        "unsigned (insecure) rather than bogus until it is fixed."
    )


async def _current_ds(ctx: DomainContext, zone: str) -> str | None:
    """The DS record(s) for the zone's current key-signing keys (SEP flag), SHA-256."""
    answer = await ctx.resolver.query_dnssec(zone, "DNSKEY")  # cached: the validator asked
    keys = answer.rrset
    if keys is None:
        return None
    owner = dns.name.from_text(zone)
    records = [
        f"{zone}. IN DS {dns.dnssec.make_ds(owner, key, 'SHA256').to_text()}"
        for key in keys
        if key.flags & 0x0001  # SEP: a key-signing key
    ]
    return "; ".join(records) or None


def _parent(zone: str, *, plain: bool = False) -> str:
    parent = zone.partition(".")[2] or "."
    return f" {parent}" if plain else f" ({parent})"
