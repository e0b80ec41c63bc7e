"""What Gmail displays: "mailed-by" (the SPF-passing domain), "signed-by" (the passing DKIM
d=), and whether it adds "via DOMAIN" after the sender's name.

Gmail shows "via" when the message authenticates only as someone else: a passing DKIM
signature whose d= does not align with the From domain and no aligned one, or no passing DKIM
and an SPF domain that differs from the From domain.
"""

from __future__ import annotations

from typing import Any

from audit.checks.message.context import MessageContext
from audit.checks.message.dmarc import aligned
from audit.message.addresses import from_domains
from audit.model import CheckResult, Finding
from audit.rules.via import VIA_SHOWN


async def predict(ctx: MessageContext) -> dict[str, Any]:
    from audit.checks.message.dkim import dkim_verdicts
    from audit.checks.message.spf import spf_verdict

    domains = from_domains(ctx.message)
    from_domain = domains[0] if len(domains) == 1 else None
    dkim = [v for v in await dkim_verdicts(ctx) if v.passed and v.domain]
    spf = await spf_verdict(ctx)
    aligned_dkim = [v for v in dkim if from_domain and aligned(v.domain, from_domain, "r")]
    signed_by = (aligned_dkim or dkim)[0].domain if dkim else None
    mailed_by = spf.domain if spf.passed else None
    via, reason = None, ""
    if from_domain is None:
        reason = "no single From domain"
    elif aligned_dkim:
        reason = f"DKIM passes with d={signed_by}, aligned with {from_domain}"
    elif dkim:
        via = signed_by
        reason = f"the only passing DKIM signature is d={signed_by}, not {from_domain}"
    elif mailed_by and not aligned(mailed_by, from_domain, "r"):
        via = mailed_by
        reason = f"no passing DKIM signature, and SPF passes for {mailed_by}, not {from_domain}"
    elif mailed_by:
        reason = f"no passing DKIM, but SPF passes for {mailed_by}, aligned with {from_domain}"
    else:
        reason = "nothing authenticates the message: Gmail shows the unauthenticated (?) icon"
    return {
        "from_domain": from_domain,
        "mailed_by": mailed_by,
        "signed_by": signed_by,
        "shows_via": via is not None,
        "via": via,
        "unauthenticated": not dkim and not mailed_by,
        "reason": reason,
    }


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
