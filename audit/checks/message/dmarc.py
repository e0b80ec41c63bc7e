"""DMARC for one message: the From domain's policy, identifier alignment, the disposition.

Alignment (RFC 7489 3.1): relaxed compares organizational domains, strict the exact domains.
SPF's identifier is the MAIL FROM domain (the HELO domain when MAIL FROM is empty).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audit.checks.message.verdicts import DkimVerdict, DmarcVerdict, SpfVerdict
from audit.facts.dmarc_policy import discover_policy
from audit.facts.dmarc_readings import (
    DECIDING_TEXT,
    alignment_differences,
    applied_text,
    discovery_differences,
    record_differences,
)
from audit.facts.prediction import (
    DISPOSITION_TEXT,
    DkimOutcome,
    SpfOutcome,
    predict_dmarc,
)
from audit.message.addresses import from_domains
from audit.model import CheckResult, Finding, Severity, Status
from audit.psl import organizational_domain
from audit.rules.alignment import ALN_DKIM_NOT_ALIGNED, ALN_SPF_NOT_ALIGNED
from audit.rules.dmarc import DMARC_FAIL, DMARC_NO_POLICY
from audit.rules.dns import DNS_TEMPERROR

if TYPE_CHECKING:
    from audit.checks.message.context import MessageContext


async def dmarc_verdict(ctx: MessageContext) -> DmarcVerdict:
    return await ctx.shared("dmarc", lambda: _evaluate(ctx))


async def _evaluate(ctx: MessageContext) -> DmarcVerdict:
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
    policy_at = found.policy_at
    dkim = await ctx.dkim_verdicts()
    spf = await ctx.spf_verdict()
    record = found.record
    predicted = predict_dmarc(
        from_domain,
        record,
        policy_at if record else None,
        SpfOutcome(spf.result, spf.domain),
        [DkimOutcome(v.result, v.domain) for v in dkim],
        exists=found.exists(),
        discarded=found.discarded_set(),
    )
    verdict = DmarcVerdict(
        predicted.result,
        from_domain,
        policy_at,
        record.raw if record else None,
        predicted.policy,
        predicted.disposition,
        dkim_aligned=predicted.dkim_aligned,
        spf_aligned=predicted.spf_aligned,
        adkim=predicted.adkim,
        aspf=predicted.aspf,
        reason=predicted.reason,
    )
    notes = [*discovery_differences(found), *(record_differences(found, record) if record else [])]
    if record is not None:
        passing = [("DKIM d=", v.domain or "", record.adkim) for v in dkim if v.passed]
        if spf.passed:
            passing.append(("SPF for ", spf.domain or "", record.aspf))
        notes += await alignment_differences(ctx.resolver, found, passing)
    # record_differences already states t=y; pct= is the prediction's own (DMARC102's) note
    extra = [n for n in predicted.notes if n.startswith("pct=")]
    verdict.rfc9989_note = "; ".join([*notes, *extra]) or None
    verdict.readings = {
        "rfc7489": applied_text(found, "rfc7489"),
        "rfc9989": applied_text(found, "rfc9989"),
        "deciding": DECIDING_TEXT,
        "differences": notes,
        "author_exists": found.existence.to_dict() if found.existence else None,
    }
    return verdict


async def check(ctx: MessageContext) -> CheckResult:
    verdict = await ctx.dmarc_verdict()
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
                    message=(
                        f"DMARC policy lookup failed ({verdict.reason}): result unknown"
                        if verdict.record is None
                        else f"DMARC result unknown: {verdict.reason}"
                    ),
                    evidence=[verdict.reason],
                    fix="Retry later; check the From domain's name servers.",
                )
            ],
            status=Status.INCONCLUSIVE,
        )
    findings: list[Finding] = []
    if verdict.result == "none" and verdict.from_domain:
        published = verdict.policy_domain is not None
        findings.append(
            Finding(
                DMARC_NO_POLICY,
                target,
                message=(
                    f"{target}'s DMARC policy is not applied ({verdict.reason})"
                    if published
                    else f"{target} publishes no DMARC policy"
                )
                + ": receivers cannot tell your mail from spoofing, and Gmail/Yahoo require one "
                "from bulk senders"
                + (f" ({verdict.rfc9989_note})" if verdict.rfc9989_note else ""),
                evidence=[verdict.reason, *([verdict.record] if verdict.record else [])],
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
                f"asks receivers to {DISPOSITION_TEXT[verdict.disposition]}"
                + (f" ({verdict.rfc9989_note})" if verdict.rfc9989_note else ""),
                evidence=[r for r in [verdict.record] if r],
                fix=f"Sign with d={target} (or a parent domain, relaxed alignment), or send "
                f"with a MAIL FROM (Return-Path) under {organizational_domain(target)} that SPF "
                "authorizes.",
                severity=severity or Severity.MEDIUM,
            )
        )
    if verdict.from_domain:
        findings.extend(_alignment(await ctx.dkim_verdicts(), await ctx.spf_verdict(), verdict))
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
