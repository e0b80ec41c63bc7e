"""SPF as the receiver evaluated it: the connecting IP against MAIL FROM (RFC 7208 2.4), or
against the HELO identity when MAIL FROM is the null reverse-path (2.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audit.checks.message.verdicts import SpfVerdict
from audit.message.addresses import domain_of
from audit.model import CheckResult, Finding, Severity, Status
from audit.rules.spf_message import SPF_ERROR, SPF_NOT_PASS
from audit.spf import render_trace, spf_query

if TYPE_CHECKING:
    from audit.checks.message.context import MessageContext

_NOT_PASS_SEVERITY = {
    "fail": Severity.HIGH,
    "softfail": Severity.MEDIUM,
    "neutral": Severity.MEDIUM,
    "none": Severity.MEDIUM,
}


async def spf_verdict(ctx: MessageContext) -> SpfVerdict:
    return await ctx.shared("spf", lambda: _evaluate(ctx))


async def _evaluate(ctx: MessageContext) -> SpfVerdict:
    env = ctx.envelope
    ip, helo, sender = env.ip.value, env.helo.value, env.mail_from.value
    identity = "mailfrom" if sender else "helo"
    domain = domain_of(sender) if sender else helo
    if not ip:
        return SpfVerdict(
            "none",
            identity,
            domain,
            None,
            sender,
            helo,
            reason="no connecting IP found in the Received chain (give it with --ip)",
        )
    if sender is None and not helo:
        return SpfVerdict(
            "none",
            identity,
            None,
            ip,
            sender,
            helo,
            reason="no MAIL FROM (Return-Path) and no HELO known (give --mail-from or --helo)",
        )
    result = await spf_query(ctx.resolver, ip, sender or "", helo or "")
    return SpfVerdict(
        result.result,
        identity,
        domain,
        ip,
        sender,
        helo,
        explanation=getattr(result, "explanation", None),
        trace=render_trace(result).splitlines(),
        reason=f"{identity} identity {domain}",
    )


async def check(ctx: MessageContext) -> CheckResult:
    verdict = await ctx.spf_verdict()
    facts = {
        "spf": verdict.to_dict(),
        "sources": {
            "ip": ctx.envelope.ip.source,
            "helo": ctx.envelope.helo.source,
            "mail_from": ctx.envelope.mail_from.source,
        },
    }
    target = verdict.domain or ctx.name
    evidence = [
        f"IP {verdict.ip} from {ctx.envelope.ip.source}",
        f"MAIL FROM <{verdict.sender or ''}> from {ctx.envelope.mail_from.source}",
        *verdict.trace[:40],
    ]
    if verdict.ip is None or verdict.domain is None:
        return CheckResult(facts=facts, status=Status.SKIPPED, error=verdict.reason)
    if verdict.result == "pass":
        return CheckResult(facts=facts)
    if verdict.result in ("temperror", "permerror"):
        temp = verdict.result == "temperror"
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    SPF_ERROR,
                    target,
                    message=f"SPF {verdict.result} for {verdict.ip} and {target}"
                    + (": a DNS lookup failed, receivers defer or treat it as unknown" if temp
                       else ": the SPF record is broken, receivers treat it as a failure"),
                    evidence=evidence,
                    fix=f"Run `audit domain {target}` and fix the SPF findings it reports.",
                    severity=Severity.MEDIUM if temp else None,
                )
            ],
            status=Status.INCONCLUSIVE if temp else Status.COMPLETED,
        )
    return CheckResult(
        facts=facts,
        findings=[
            Finding(
                SPF_NOT_PASS,
                target,
                message=f"SPF {verdict.result} for {verdict.ip} sending as {target} "
                f"({verdict.identity} identity)",
                evidence=evidence,
                fix=f"Authorize {verdict.ip} in the SPF record of {target} (e.g. ip4:/ip6: or "
                "the include: your sending service documents), or send through a host it "
                "already authorizes.",
                severity=_NOT_PASS_SEVERITY.get(verdict.result),
            )
        ],
    )
