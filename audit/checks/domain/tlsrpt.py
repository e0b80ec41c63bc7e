"""SMTP TLS Reporting (RFC 8460): where senders report TLS failures delivering to the domain."""

from __future__ import annotations

from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.facts.mx import gather_mx
from audit.model import CheckResult, Finding, Status
from audit.records.tlsrpt import is_tlsrpt_record, parse_tlsrpt
from audit.rules.rpt import RPT_INVALID, RPT_MISSING


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    name = f"_smtp._tls.{domain}"
    answer = await ctx.resolver.txt(name)
    if answer.temperror:
        return CheckResult(
            facts={"tlsrpt": None},
            findings=[temperror_finding(answer, domain, "the TLS-RPT record could not be read")],
            status=Status.INCONCLUSIVE,
        )
    records = [t for t in answer.txt if is_tlsrpt_record(t)]
    facts: dict[str, dict[str, Any]] = {
        "tlsrpt": {"name": name, "records": records, "status": answer.status.value}
    }
    if not records:
        mx = await gather_mx(ctx.resolver, domain)
        if mx.null_mx or not mx.hosts:
            return CheckResult(facts=facts)  # receives no mail: nothing to report on
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    RPT_MISSING,
                    domain,
                    message=f"no TLS-RPT record at {name}: senders cannot tell you when TLS to "
                    "your MX hosts fails (expired certificate, MTA-STS or DANE mismatch)",
                    evidence=[answer.describe()],
                    fix=f'Publish {name} TXT "v=TLSRPTv1; rua=mailto:tls-reports@{domain}"',
                )
            ],
        )
    if len(records) > 1:
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    RPT_INVALID,
                    domain,
                    message=f"{len(records)} TLS-RPT records at {name}: senders ignore them all "
                    "(RFC 8460 3)",
                    evidence=records,
                    fix=f"Keep exactly one v=TLSRPTv1 record at {name}.",
                )
            ],
        )
    record = parse_tlsrpt(records[0])
    facts["tlsrpt"]["parsed"] = record.to_dict()
    if record.valid:
        return CheckResult(facts=facts)
    return CheckResult(
        facts=facts,
        findings=[
            Finding(
                RPT_INVALID,
                domain,
                message=f"the TLS-RPT record at {name} is invalid: " + "; ".join(record.errors),
                evidence=[record.raw],
                fix=f'Publish {name} TXT "v=TLSRPTv1; rua=mailto:tls-reports@{domain}"',
            )
        ],
    )
