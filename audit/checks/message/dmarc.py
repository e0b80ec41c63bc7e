"""DMARC for one message: the From domain's policy, identifier alignment, the disposition.

Alignment (RFC 7489 3.1): relaxed compares organizational domains, strict the exact domains.
SPF's identifier is the MAIL FROM domain (the HELO domain when MAIL FROM is empty).
"""

from __future__ import annotations

from typing import Any

from audit.checks.domain.dmarc import discover_policy
from audit.checks.message.context import MessageContext
from audit.checks.message.verdicts import DkimVerdict, DmarcVerdict, SpfVerdict
from audit.message.addresses import from_domains
from audit.model import CheckResult, Finding, Severity, Status
from audit.psl import organizational_domain
from audit.records.dmarc import parse_dmarc
from audit.rules.alignment import ALN_DKIM_NOT_ALIGNED, ALN_SPF_NOT_ALIGNED
from audit.rules.dmarc import DMARC_FAIL, DMARC_NO_POLICY
from audit.rules.dns import DNS_TEMPERROR

_DISPOSITION_TEXT = {
    "none": "deliver it as usual (p=none)",
    "quarantine": "treat it as suspicious: spam folder (p=quarantine)",
    "reject": "reject it (p=reject)",
}
_ONE_STEP_DOWN = {"reject": "quarantine", "quarantine": "none", "none": "none"}


def aligned(identifier: str | None, from_domain: str, mode: str) -> bool:
    if not identifier:
        return False
    identifier = identifier.lower().rstrip(".")
    if mode == "s":
        return identifier == from_domain
    return organizational_domain(identifier) == organizational_domain(from_domain)


async def dmarc_verdict(ctx: MessageContext) -> DmarcVerdict:
    return await ctx.shared("dmarc", lambda: _evaluate(ctx))


async def _evaluate(ctx: MessageContext) -> DmarcVerdict:
    from audit.checks.message.dkim import dkim_verdicts
    from audit.checks.message.spf import spf_verdict

    domains = from_domains(ctx.message)
    if len(domains) != 1:
        reason = "no From domain to evaluate" if not domains else f"several From domains: {domains}"
        return DmarcVerdict("permerror", None, None, None, None, "none", reason=reason)
    from_domain = domains[0]
    found = await discover_policy(ctx.resolver, from_domain)
    if found.temperror is not None:
        return DmarcVerdict(
            "temperror",
            from_domain,
            None,
            None,
            None,
            "none",
            reason=found.temperror.describe(),
        )
    policy_at = found.rfc7489_at or found.rfc9989_at
    dkim = await dkim_verdicts(ctx)
    spf = await spf_verdict(ctx)
    if policy_at is None:
        return DmarcVerdict(
            "none",
            from_domain,
            None,
            None,
            None,
            "none",
            dkim_aligned=[
                v.domain for v in dkim if v.passed and aligned(v.domain, from_domain, "r")
            ],
            spf_aligned=spf.passed and aligned(spf.domain, from_domain, "r"),
            reason=f"no DMARC record for {from_domain}",
        )
    raw = found.records_at(policy_at)
    record = parse_dmarc(raw[0])
    policy = _policy_for(record, from_domain, policy_at)
    dkim_ok = [
        v.domain or "" for v in dkim if v.passed and aligned(v.domain, from_domain, record.adkim)
    ]
    spf_ok = spf.passed and aligned(spf.domain, from_domain, record.aspf)
    verdict = DmarcVerdict(
        "pass" if dkim_ok or spf_ok else "fail",
        from_domain,
        policy_at,
        record.raw,
        policy,
        "none",
        dkim_aligned=dkim_ok,
        spf_aligned=spf_ok,
        adkim=record.adkim,
        aspf=record.aspf,
    )
    if len(raw) > 1:
        verdict.result, verdict.reason = (
            "permerror",
            f"{len(raw)} DMARC records at _dmarc.{policy_at}",
        )
        return verdict
    if verdict.result == "fail":
        disposition = policy or "none"
        notes = []
        if record.testing:
            notes.append(f"t=y: RFC 9989 receivers apply {_ONE_STEP_DOWN[disposition]}")
        if record.pct < 100 and disposition != "none":
            notes.append(f"pct={record.pct}: RFC 7489 receivers apply it to {record.pct}% of mail")
        verdict.disposition = disposition
        verdict.rfc9989_note = "; ".join(notes) or None
        verdict.reason = _fail_reason(dkim, spf, from_domain, record.adkim, record.aspf)
    else:
        via = ["DKIM d=" + d for d in dkim_ok] + (["SPF " + (spf.domain or "")] if spf_ok else [])
        verdict.reason = "aligned pass through " + ", ".join(via)
    return verdict


def _policy_for(record, from_domain: str, policy_at: str) -> str | None:
    if from_domain == policy_at:
        return record.policy
    return record.subdomain_policy or record.policy


def _fail_reason(
    dkim: list[DkimVerdict], spf: SpfVerdict, from_domain: str, adkim: str, aspf: str
) -> str:
    parts = []
    passing = [v for v in dkim if v.passed]
    if not dkim:
        parts.append("no DKIM signature")
    elif not passing:
        parts.append("no DKIM signature passes")
    else:
        parts.append(
            "DKIM passes only for d="
            + ", ".join(v.domain or "?" for v in passing)
            + f", not aligned with {from_domain} (adkim={adkim})"
        )
    if spf.passed:
        parts.append(f"SPF passes for {spf.domain}, not aligned with {from_domain} (aspf={aspf})")
    else:
        parts.append(f"SPF {spf.result}")
    return "; ".join(parts)


async def check(ctx: MessageContext) -> CheckResult:
    from audit.checks.message.dkim import dkim_verdicts
    from audit.checks.message.spf import spf_verdict

    verdict = await dmarc_verdict(ctx)
    facts: dict[str, Any] = {"dmarc": verdict.to_dict()}
    if verdict.from_domain is None:
        # No single From domain: MSG002 says so; there is no domain to judge DMARC for.
        return CheckResult(facts=facts, status=Status.SKIPPED, error=verdict.reason)
    target = verdict.from_domain
    if verdict.result == "temperror":
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    DNS_TEMPERROR,
                    target,
                    message=f"DMARC policy lookup failed ({verdict.reason}): result unknown",
                    evidence=[verdict.reason],
                    fix="Retry later; check the From domain's name servers.",
                )
            ],
            status=Status.INCONCLUSIVE,
        )
    findings: list[Finding] = []
    if verdict.result == "none" and verdict.from_domain:
        findings.append(
            Finding(
                DMARC_NO_POLICY,
                target,
                message=f"{target} publishes no DMARC policy: receivers cannot tell your mail "
                "from spoofing, and Gmail/Yahoo require one from bulk senders",
                evidence=[verdict.reason],
                fix=f'Publish _dmarc.{organizational_domain(target)} TXT "v=DMARC1; p=none; '
                f'rua=mailto:dmarc-reports@{organizational_domain(target)}"',
            )
        )
    elif verdict.result in ("fail", "permerror"):
        severity = Severity.HIGH if verdict.disposition in ("quarantine", "reject") else None
        findings.append(
            Finding(
                DMARC_FAIL,
                target,
                message=f"DMARC {verdict.result} for From {target}: {verdict.reason}; the policy "
                f"asks receivers to {_DISPOSITION_TEXT[verdict.disposition]}"
                + (f" ({verdict.rfc9989_note})" if verdict.rfc9989_note else ""),
                evidence=[r for r in [verdict.record] if r],
                fix=f"Sign with d={target} (or a parent domain, relaxed alignment), or send "
                f"with a MAIL FROM (Return-Path) under {organizational_domain(target)} that SPF "
                "authorizes.",
                severity=severity or Severity.MEDIUM,
            )
        )
    if verdict.from_domain:
        findings.extend(_alignment(await dkim_verdicts(ctx), await spf_verdict(ctx), verdict))
    return CheckResult(facts=facts, findings=findings)


def _alignment(dkim: list[DkimVerdict], spf: SpfVerdict, verdict: DmarcVerdict) -> list[Finding]:
    findings = []
    from_domain = verdict.from_domain or ""
    passing = [v for v in dkim if v.passed]
    dmarc_passes = verdict.result == "pass"
    quieter = Severity.LOW if dmarc_passes else None
    if passing and not verdict.dkim_aligned:
        ds = ", ".join(sorted({v.domain or "?" for v in passing}))
        findings.append(
            Finding(
                ALN_DKIM_NOT_ALIGNED,
                from_domain,
                message=f"DKIM passes for d={ds}, which does not align with From {from_domain} "
                f"(adkim={verdict.adkim})"
                + ("; DMARC passes through SPF alone" if dmarc_passes else ""),
                evidence=[v.header[:300] for v in passing],
                fix=f"Have your sending service sign with d={from_domain} (publish its key at "
                f"<selector>._domainkey.{from_domain}, usually a CNAME it gives you).",
                severity=quieter,
            )
        )
    if spf.passed and not verdict.spf_aligned:
        findings.append(
            Finding(
                ALN_SPF_NOT_ALIGNED,
                from_domain,
                message=f"SPF passes for {spf.domain}, which does not align with From "
                f"{from_domain} (aspf={verdict.aspf})"
                + ("; DMARC passes through DKIM alone" if dmarc_passes else ""),
                evidence=[f"MAIL FROM: {spf.sender}", f"SPF {spf.result} for {spf.domain}"],
                fix=f"Set a custom Return-Path (bounce domain) such as bounces.{from_domain} "
                "with your sending service, and include it in SPF.",
                severity=quieter,
            )
        )
    return findings
