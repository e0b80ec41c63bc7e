"""MTA-STS (RFC 8461): the `_mta-sts` policy indicator record.

The policy file itself (https://mta-sts.<domain>/.well-known/mta-sts.txt) is not fetched yet;
the facts say so, so nobody reads "no finding" as "policy checked".
"""

from __future__ import annotations

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.mx import gather_mx
from audit.model import CheckResult, Finding, Status
from audit.records.mta_sts import is_sts_record, parse_sts_record
from audit.rules.sts import STS_MISSING, STS_RECORD_INVALID


async def check(ctx: DomainContext) -> CheckResult:
    domain = ctx.domain
    name = f"_mta-sts.{domain}"
    answer = await ctx.resolver.txt(name)
    if answer.temperror:
        return CheckResult(
            facts={"mta_sts": None},
            findings=[temperror_finding(answer, domain, "the MTA-STS record could not be read")],
            status=Status.INCONCLUSIVE,
        )
    records = [t for t in answer.txt if is_sts_record(t)]
    facts = {
        "mta_sts": {
            "name": name,
            "records": records,
            "status": answer.status.value,
            "policy_fetched": False,
        }
    }
    if not records:
        mx = await gather_mx(ctx.resolver, domain)
        if mx.null_mx or not mx.hosts:
            return CheckResult(facts=facts)  # receives no mail: nothing to protect
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    STS_MISSING,
                    domain,
                    message=f"no MTA-STS record at {name}: senders deliver to your MX hosts over "
                    "opportunistic TLS, which an attacker on the path can strip",
                    evidence=[answer.describe()],
                    fix=f"Serve a policy at https://mta-sts.{domain}/.well-known/mta-sts.txt "
                    f"(version: STSv1, mode: testing, mx: lines for your MX hosts, max_age: "
                    f'86400), then publish {name} TXT "v=STSv1; id=<a new id each change>".',
                )
            ],
        )
    problems = []
    if len(records) > 1:
        problems.append(f"{len(records)} records: senders treat the domain as having no policy")
    record = parse_sts_record(records[0])
    facts["mta_sts"]["parsed"] = record.to_dict()
    problems.extend(record.errors)
    if not problems:
        return CheckResult(facts=facts)
    return CheckResult(
        facts=facts,
        findings=[
            Finding(
                STS_RECORD_INVALID,
                domain,
                message=f"the MTA-STS record at {name} is invalid: " + "; ".join(problems),
                evidence=records,
                fix=f'Publish exactly one record: {name} TXT "v=STSv1; id=20261125T000000"',
            )
        ],
    )
