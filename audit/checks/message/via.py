"""What Gmail displays for this message: "mailed-by", "signed-by" and "via DOMAIN", from the
shared prediction (audit.facts.prediction.gmail_display) over what this message verified."""

from __future__ import annotations

from typing import Any

from audit.checks.message.context import MessageContext
from audit.facts.prediction import DkimOutcome, SpfOutcome, gmail_display
from audit.message.addresses import from_domains
from audit.model import CheckResult, Finding
from audit.rules.via import VIA_SHOWN


async def predict(ctx: MessageContext) -> dict[str, Any]:
    domains = from_domains(ctx.message)
    spf = await ctx.spf_verdict()
    shown = gmail_display(
        domains[0] if len(domains) == 1 else None,
        SpfOutcome(spf.result, spf.domain),
        [DkimOutcome(v.result, v.domain) for v in await ctx.dkim_verdicts()],
    )
    return shown.to_dict()


async def check(ctx: MessageContext) -> CheckResult:
    shown = await predict(ctx)
    findings = []
    if shown["shows_via"]:
        from_domain = shown["from_domain"]
        findings.append(
            Finding(
                VIA_SHOWN,
                from_domain,
                message=f'Gmail will show "{from_domain} via {shown["via"]}": {shown["reason"]}',
                evidence=[
                    f"mailed-by: {shown['mailed_by'] or '(none)'}",
                    f"signed-by: {shown['signed_by'] or '(none)'}",
                ],
                fix=f"Sign with d={from_domain} (your sending service's custom DKIM domain "
                f"setting) and set a custom Return-Path under {from_domain}.",
            )
        )
    return CheckResult(facts={"gmail": shown}, findings=findings)
