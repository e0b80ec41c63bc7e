"""DANE for SMTP (RFC 7672): TLSA records at `_25._tcp.<MX host>` and the certificate each MX
address presents.

A TLSA set only counts when its lookup validates as DNSSEC-secure: otherwise senders ignore it
(DANE302), or, when the lookup is bogus, defer mail to the host (DNSSEC002). Usages 0 and 1 are
unusable on port 25 (DANE303). Records of usage 2 and 3 are matched against the chain the
STARTTLS probe saw (shared with the TLS check, one probe per address); when none matches, DANE
senders will not deliver to that host (DANE301). The TLSA name is the MX host name itself (the
CNAME-expanded name RFC 7672 2.2.2 tries first is not looked at).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.dnssec import bogus_finding, validate
from audit.facts.mx import MxHost, gather_mx
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dnssec import Security, Validation
from audit.records.tlsa import USAGES, TlsaMatch, match_tlsa, tlsa_record
from audit.rules.dane import DANE_PKIX_USAGE, DANE_TLSA_MISMATCH, DANE_WITHOUT_DNSSEC


@dataclass
class Probed:
    """One MX address: what the probe saw, and each TLSA record against its chain."""

    address: str
    ok: bool
    reason: str | None = None
    leaf: bytes | None = None
    matches: list[TlsaMatch] = field(default_factory=list)

    @property
    def mismatch(self) -> bool:
        usable = [m for m in self.matches if m.usable]
        return self.ok and bool(usable) and not any(m.matched for m in usable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "probed": self.ok,
            "reason": self.reason,
            "matches": [m.to_dict() for m in self.matches],
        }


@dataclass
class HostDane:
    """The facts about one MX host: its TLSA lookup, validated, and its probed addresses."""

    host: MxHost
    tlsa: Validation
    address: Validation  # the host's A lookup: a broken zone is reported once, not per lookup
    probed: list[Probed] = field(default_factory=list)
    note: str | None = None

    @property
    def name(self) -> str:
        return f"_25._tcp.{self.host.host}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host.host,
            "tlsa_name": self.name,
            "tlsa": self.tlsa.to_dict(),
            "addresses": [p.to_dict() for p in self.probed],
            "note": self.note,
        }


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    mx = await gather_mx(ctx.resolver, domain)
    if mx.answer.temperror:
        return CheckResult(
            facts={"dane": {"hosts": []}},
            findings=[temperror_finding(mx.answer, domain, "the MX hosts are unknown")],
            status=Status.INCONCLUSIVE,
        )
    hosts: list[MxHost] = []
    for host in mx.hosts:
        if all(host.host != h.host for h in hosts):
            hosts.append(host)
    gathered = await asyncio.gather(*(_gather(ctx, h) for h in hosts))
    findings: list[Finding] = []
    for item in gathered:
        findings.extend(await _judge(ctx, item))
    status = Status.INCONCLUSIVE if any(f.rule.temperror for f in findings) else Status.COMPLETED
    facts = {"dane": {"probes": ctx.probes, "hosts": [g.to_dict() for g in gathered]}}
    return CheckResult(facts=facts, findings=findings, status=status)


async def _gather(ctx: DomainContext, host: MxHost) -> HostDane:
    tlsa, address = await asyncio.gather(
        validate(ctx, f"_25._tcp.{host.host}", "TLSA"), validate(ctx, host.host, "A")
    )
    item = HostDane(host, tlsa, address)
    usable_now = tlsa.rdata and tlsa.security in (Security.SECURE, Security.UNCHECKED)
    if not usable_now:
        return item
    if not ctx.probes:
        item.note = "certificates not probed (--no-probes or --zone-dir): TLSA not matched"
        return item
    try:
        from audit.checks.smtp_tls import probe_mx_address
    except ImportError:  # pragma: no cover - the STARTTLS check ships beside this one
        item.note = "the STARTTLS probe is not available: TLSA not matched"
        return item

    async def one(address: str) -> Probed:
        try:
            probe = await probe_mx_address(ctx, host.host, address)
        except Exception as exc:  # noqa: BLE001 - a probe bug must not hide the DNS facts
            return Probed(address, False, reason=f"probe failed: {type(exc).__name__}: {exc}")
        if not probe.ok or not probe.chain_der:
            return Probed(address, False, reason=probe.reason or "no certificate presented")
        chain = list(probe.chain_der)
        return Probed(address, True, leaf=chain[0], matches=match_tlsa(tlsa.rdata, chain))

    item.probed = list(await asyncio.gather(*(one(a) for a in host.addresses)))
    return item


async def _judge(ctx: DomainContext, item: HostDane) -> list[Finding]:
    host, tlsa = item.host.host, item.tlsa
    if tlsa.security is Security.INDETERMINATE and tlsa.failed is not None:
        consequence = f"whether {host} uses DANE is unknown"
        return [temperror_finding(tlsa.failed.as_answer(), host, consequence)]
    if tlsa.security is Security.BOGUS:
        same_break = item.address.security is Security.BOGUS and (
            (item.address.at, item.address.reason) == (tlsa.at, tlsa.reason)
        )
        if same_break:
            return []  # the DNSSEC check names this broken zone already
        finding = await bogus_finding(ctx, host, tlsa, host=True)
        finding.message = (
            f"the TLSA lookup {item.name} does not validate ({tlsa.reason}): DANE senders defer "
            f"mail to {host}, validating resolvers answer SERVFAIL"
        )
        return [finding]
    if not tlsa.rdata:
        return []
    records = tlsa.records
    if tlsa.security is Security.INSECURE:
        return [
            Finding(
                DANE_WITHOUT_DNSSEC,
                host,
                message=f"{item.name} has {len(records)} TLSA record(s), but the lookup is not "
                f"DNSSEC-secure ({tlsa.reason}): senders ignore them, {host} gets no DANE "
                "protection",
                evidence=[*(f"{item.name} TLSA {r}" for r in records), *tlsa.steps],
                fix=f"Sign the zone {tlsa.at or host} and publish its DS in the parent zone; "
                "until then the TLSA records do nothing.",
            )
        ]
    if tlsa.security is not Security.SECURE:
        # RFC 7672: TLSA counts only when it validates. Without a DNSSEC verdict (no anchor
        # covers the zone, a resolver that strips signatures) matches are facts, not findings.
        item.note = (
            f"DNSSEC not checked ({tlsa.reason or tlsa.security.value}): the TLSA records were "
            "matched for information only"
        )
        return []
    findings: list[Finding] = []
    pkix = [rd for rd in tlsa.rdata if int(rd.usage) in (0, 1)]
    if pkix:
        listed = [f"{item.name} TLSA {rd.to_text()}" for rd in pkix]
        findings.append(
            Finding(
                DANE_PKIX_USAGE,
                host,
                message=f"{item.name} has TLSA usage "
                + ", ".join(sorted({USAGES[int(rd.usage)] for rd in pkix}))
                + ": SMTP senders treat usages 0 and 1 as unusable (RFC 7672 3.1.3)",
                evidence=listed,
                fix="Publish usage 3 (DANE-EE, `3 1 1` over the server's public key) or 2 "
                "(DANE-TA, over the issuing CA) instead of usages 0/1.",
            )
        )
    findings.extend(_mismatch(item))
    return findings


def _mismatch(item: HostDane) -> list[Finding]:
    """DANE301 for the addresses whose certificate no usable TLSA record matches: one finding for
    the host when all its probed addresses fail, else one per address."""
    host = item.host.host
    probed = [p for p in item.probed if p.ok]
    bad = [p for p in probed if p.mismatch]
    if not bad:
        return []
    groups = (
        [(host, bad)] if len(bad) == len(probed) else [(f"{host} {p.address}", [p]) for p in bad]
    )
    findings = []
    for target, failing in groups:
        addresses = ", ".join(p.address for p in failing)
        leaf = failing[0].leaf or b""
        wanted = tlsa_record(leaf) if leaf else None
        evidence = [f"{item.name} TLSA {r}" for r in item.tlsa.records]
        evidence += [f"{p.address}: {m.record}: {m.note}" for p in failing for m in p.matches]
        if wanted:
            evidence.append(f"the leaf certificate {addresses} presented is {wanted} as TLSA")
        findings.append(
            Finding(
                DANE_TLSA_MISMATCH,
                target,
                message=f"no usable TLSA record at {item.name} matches the certificate {host} "
                f"presents ({addresses}): DANE-enforcing senders will not deliver to it",
                evidence=evidence,
                fix=(
                    f"Publish `{item.name}. IN TLSA {wanted}` for the certificate in use "
                    "(keep the old record beside it until every server has the new "
                    "certificate), or put back the certificate the records describe."
                    if wanted
                    else None
                ),
                severity=Severity.CRITICAL,
            )
        )
    return findings
