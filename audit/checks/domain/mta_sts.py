"""MTA-STS (RFC 8461): the `_mta-sts` policy indicator record and, with probes, the policy file.

With network probes on, the policy is fetched the way a sender fetches it
(https://mta-sts.<domain>/.well-known/mta-sts.txt, resolved through our resolver, a valid
certificate for that name, status 200 only, no redirects, text/plain, at most 64 KiB), parsed,
and its mx patterns compared with the domain's real MX hosts. Without probes (`--no-probes`,
`--zone-dir`) the facts say the policy was not fetched, so nobody reads "no finding" as "policy
checked". Under a policy in enforce or testing mode, every covered MX address must offer
STARTTLS with a certificate that is trusted, unexpired and valid for the MX name (RFC 8461 4.2):
the STARTTLS probe (shared with the starttls check) tells.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.not_public import not_public_finding
from audit.facts.mx import MxFacts, gather_mx
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.https import FetchError, HttpsResult, fetch
from audit.records.mta_sts import is_sts_record, parse_sts_record
from audit.records.mta_sts_policy import StsPolicy, coverage, parse_policy
from audit.rules.sts import (
    STS_MAX_AGE_SHORT,
    STS_MISSING,
    STS_MX_NOT_COVERED,
    STS_MX_TLS_INVALID,
    STS_PATTERN_UNUSED,
    STS_POLICY_INVALID,
    STS_POLICY_NOT_TESTABLE,
    STS_POLICY_UNREACHABLE,
    STS_RECORD_INVALID,
    STS_TESTING_MODE,
)

POLICY_PATH = "/.well-known/mta-sts.txt"
POLICY_MAX_BYTES = 64 * 1024  # RFC 8461 3.3: senders may limit the policy to 64 KiB
NOT_FETCHED = "not fetched: network probes are off (--no-probes or --zone-dir)"


def policy_url(domain: str) -> str:
    return f"https://mta-sts.{domain}{POLICY_PATH}"


async def fetch_policy(ctx: DomainContext) -> HttpsResult:
    """The policy fetch, once per domain run (the STARTTLS checks can read the same result)."""
    return await ctx.once(
        ("mta-sts-policy", ctx.domain),
        lambda: fetch(
            ctx.resolver,
            policy_url(ctx.domain),
            port=ctx.https_port,
            ca_file=ctx.ca_file,
            timeout=ctx.timeout,
            max_bytes=POLICY_MAX_BYTES,
            allow_private=ctx.allow_private_addresses,
        ),
    )


@dataclass
class PolicyVerdict:
    """What a sender makes of a fetch: why it cannot use it, and the policy if it parsed."""

    unreachable: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    policy: StsPolicy | None = None


def judge_fetch(response: HttpsResult) -> PolicyVerdict:
    """Pure: the sender's reading of one fetch (RFC 8461 3.3)."""
    verdict = PolicyVerdict()
    if response.error is not None:
        verdict.unreachable.append(_error_reason(response))
        return verdict
    if response.status != 200:
        if response.redirect:
            where = response.location or "no Location"
            verdict.unreachable.append(
                f"HTTP {response.status} redirect to {where}: senders do not follow redirects"
            )
        else:
            verdict.unreachable.append(f"HTTP {response.status} {response.reason}".rstrip())
        return verdict
    media_type = response.media_type
    if media_type != "text/plain":
        verdict.invalid.append(
            f"Content-Type is {response.header('content-type') or 'missing'}, not text/plain"
        )
    if response.truncated:
        verdict.invalid.append(f"the policy is over {POLICY_MAX_BYTES // 1024} KiB")
        return verdict
    verdict.policy = parse_policy(response.body.decode("utf-8", errors="replace"))
    verdict.invalid.extend(verdict.policy.errors)
    return verdict


def _error_reason(response: HttpsResult) -> str:
    if response.error is FetchError.TLS and response.tls_problems:
        names = ", ".join(p.replace("-", " ") for p in response.tls_problems)
        return f"TLS failed: certificate {names} for {response.host} ({response.detail})"
    return f"{response.error.value if response.error else 'error'}: {response.detail}"


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
    facts: dict[str, Any] = {
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
    findings = _record_findings(facts["mta_sts"], records, name, domain)
    if not ctx.probes:
        facts["mta_sts"]["policy_note"] = NOT_FETCHED
        return CheckResult(facts=facts, findings=findings)
    response, mx = await asyncio.gather(fetch_policy(ctx), gather_mx(ctx.resolver, domain))
    status = _policy_findings(facts["mta_sts"], findings, response, mx, domain)
    verdict = judge_fetch(response)
    policy = verdict.policy
    usable = not verdict.unreachable and not verdict.invalid and response.temperror is None
    if usable and policy is not None and policy.valid and policy.mode in ("enforce", "testing"):
        findings.extend(await mx_tls_findings(ctx, policy, mx))
    return CheckResult(facts=facts, findings=findings, status=status)


async def mx_tls_findings(ctx: DomainContext, policy: StsPolicy, mx: MxFacts) -> list[Finding]:
    """RFC 8461 4.2: a sender applying the policy needs STARTTLS and a certificate that is
    PKIX-valid for the MX name. Not-testable addresses say nothing (the starttls check
    reports them)."""
    from audit.checks.smtp_tls import certificate_of, probe_mx_address
    from audit.net.smtp import NO_STARTTLS, TLS_FAILED

    hosts = list(dict.fromkeys(h.host for h in mx.hosts))
    matched, _unused = coverage(policy.mx, hosts)
    pairs = [
        (h.host, a) for h in mx.hosts if matched.get(h.host) for a in dict.fromkeys(h.addresses)
    ]
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return []
    probes = await asyncio.gather(*(probe_mx_address(ctx, h, a) for h, a in pairs))
    certificates = await asyncio.gather(*(certificate_of(ctx, p) for p in probes))
    severity = Severity.HIGH if policy.mode == "enforce" else Severity.MEDIUM
    consequence = (
        "senders that enforce the policy will not deliver to it"
        if policy.mode == "enforce"
        else "in enforce mode senders would not deliver to it; TLS-RPT reports it now"
    )
    findings = []
    for probe, cert in zip(probes, certificates, strict=True):
        problems = []
        if probe.status == NO_STARTTLS:
            problems.append("it offers no STARTTLS")
        elif probe.status == TLS_FAILED:
            problems.append(f"its TLS handshake fails ({probe.reason})")
        elif cert is not None:  # the same verdict the starttls check reads
            if cert.trust.trusted is False:
                problems.append(f"its certificate is not trusted ({cert.trust.reason})")
            if cert.leaf is not None and not cert.name_ok:
                problems.append(f"its certificate is not valid for {probe.host}")
            if cert.expired:
                problems.append("its certificate has expired")
        if problems:
            findings.append(
                Finding(
                    STS_MX_TLS_INVALID,
                    probe.host,
                    message=f"MX {probe.host} ({probe.address}) is covered by the MTA-STS policy "
                    f"(mode: {policy.mode}) but " + " and ".join(problems) + f": {consequence}",
                    evidence=[f"mx: {p}" for p in matched.get(probe.host, [])],
                    fix=f"Give {probe.host} a certificate from a public CA whose names include "
                    f"{probe.host}, offered with STARTTLS; until then keep mode: testing.",
                    severity=severity,
                )
            )
    return findings


def _record_findings(
    facts: dict[str, Any], records: list[str], name: str, domain: str
) -> list[Finding]:
    problems = []
    if len(records) > 1:
        problems.append(f"{len(records)} records: senders treat the domain as having no policy")
    record = parse_sts_record(records[0])
    facts["parsed"] = record.to_dict()
    problems.extend(record.errors)
    if not problems:
        return []
    return [
        Finding(
            STS_RECORD_INVALID,
            domain,
            message=f"the MTA-STS record at {name} is invalid: " + "; ".join(problems),
            evidence=records,
            fix=f'Publish exactly one record: {name} TXT "v=STSv1; id=20261125T000000"',
        )
    ]


def _policy_findings(
    facts: dict[str, Any],
    findings: list[Finding],
    response: HttpsResult,
    mx: MxFacts,
    domain: str,
) -> Status:
    """Judges the fetch and the policy into `findings`; returns the check's status."""
    url = policy_url(domain)
    facts["policy_fetched"] = True
    facts["fetch"] = response.to_dict()
    evidence = [response.describe()]
    if response.temperror is not None:
        findings.append(
            temperror_finding(response.temperror, domain, f"whether {url} is reachable is unknown")
        )
        return Status.INCONCLUSIVE
    if response.not_public:
        reached = response.error is not FetchError.NOT_PUBLIC
        what = f"the MTA-STS policy fetch ({url})"
        findings.append(not_public_finding(response.host, response.not_public, what, reached))
        if not reached:
            return Status.INCONCLUSIVE
    if response.error is FetchError.TIMEOUT:
        findings.append(
            Finding(
                STS_POLICY_NOT_TESTABLE,
                domain,
                message=f"fetching {url} timed out ({response.detail}): the policy could not be "
                "judged; senders that time out too apply no policy",
                evidence=evidence,
                fix=f"Check that mta-sts.{domain} answers HTTPS on port 443 promptly.",
            )
        )
        return Status.INCONCLUSIVE
    verdict = judge_fetch(response)
    policy = verdict.policy
    facts["policy"] = policy.to_dict() if policy else None
    if policy is not None:
        facts["policy_text"] = policy.raw[:2000]
    if verdict.unreachable:
        findings.append(
            Finding(
                STS_POLICY_UNREACHABLE,
                domain,
                message=f"the MTA-STS policy at {url} cannot be used: "
                + "; ".join(verdict.unreachable)
                + ". Senders without a cached policy apply none",
                evidence=evidence,
                fix=_unreachable_fix(response, domain),
            )
        )
        return Status.COMPLETED
    if verdict.invalid:
        findings.append(
            Finding(
                STS_POLICY_INVALID,
                domain,
                message=f"the MTA-STS policy at {url} is invalid: "
                + "; ".join(verdict.invalid)
                + ". Senders discard it",
                evidence=[*evidence, *_policy_excerpt(response)],
                fix=_policy_fix(policy, mx, domain),
            )
        )
    if policy is None or not policy.valid:
        return Status.COMPLETED
    _warning_findings(findings, policy, response, mx, domain)
    return _coverage_findings(facts, findings, policy, mx, domain)


def _warning_findings(
    findings: list[Finding], policy: StsPolicy, response: HttpsResult, mx: MxFacts, domain: str
) -> None:
    excerpt = _policy_excerpt(response)
    other = [w for w in policy.warnings if not w.startswith("max_age")]
    if other:
        findings.append(
            Finding(
                STS_POLICY_INVALID,
                domain,
                message="the MTA-STS policy parses, with problems: " + "; ".join(other),
                evidence=excerpt,
                fix=_policy_fix(policy, mx, domain),
                severity=Severity.LOW,
            )
        )
    if policy.max_age is not None and any(w.startswith("max_age") for w in policy.warnings):
        findings.append(
            Finding(
                STS_MAX_AGE_SHORT,
                domain,
                message=f"max_age is {policy.max_age} seconds: under a day, senders' cached "
                "policy expires between visits and a blocked fetch leaves them with none",
                evidence=excerpt,
                fix="Set max_age: 604800 (a week) or more once the policy is stable, and change "
                f"the id= of _mta-sts.{domain}.",
            )
        )
    if policy.mode in ("testing", "none"):
        consequence = (
            "senders report failures (TLS-RPT) but still deliver over an unverified or "
            "clear-text connection"
            if policy.mode == "testing"
            else "the domain withdraws MTA-STS: senders drop the policy"
        )
        findings.append(
            Finding(
                STS_TESTING_MODE,
                domain,
                message=f"mode: {policy.mode}: {consequence}",
                evidence=excerpt,
                fix="Once TLS-RPT reports show no failures, set mode: enforce in the policy and "
                f"change the id= of _mta-sts.{domain}.",
            )
        )


def _coverage_findings(
    facts: dict[str, Any], findings: list[Finding], policy: StsPolicy, mx: MxFacts, domain: str
) -> Status:
    if policy.mode == "none":
        return Status.COMPLETED
    if mx.answer.temperror:
        findings.append(
            temperror_finding(mx.answer, domain, "whether the policy covers every MX is unknown")
        )
        return Status.INCONCLUSIVE
    hosts = [h.host for h in mx.hosts]
    if mx.null_mx or not hosts:
        return Status.COMPLETED
    matched, unused = coverage(policy.mx, hosts)
    facts["mx_coverage"] = matched
    facts["unused_patterns"] = unused
    severity = Severity.HIGH if policy.mode == "enforce" else Severity.MEDIUM
    for host, patterns in matched.items():
        if patterns:
            continue
        consequence = (
            "senders that enforce the policy will not deliver to it"
            if policy.mode == "enforce"
            else "in enforce mode senders would not deliver to it; TLS-RPT reports it now"
        )
        findings.append(
            Finding(
                STS_MX_NOT_COVERED,
                host,
                message=f"MX host {host} matches no mx pattern of the MTA-STS policy "
                f"({', '.join(policy.mx)}): {consequence}",
                evidence=[mx.answer.describe(), *(f"mx: {p}" for p in policy.mx)],
                fix=f"Add `mx: {host}` to the policy, then change the id= of _mta-sts.{domain}.",
                severity=severity,
            )
        )
    for pattern in unused:
        findings.append(
            Finding(
                STS_PATTERN_UNUSED,
                domain,
                message=f"mx pattern {pattern} matches none of the MX hosts ({', '.join(hosts)})",
                evidence=[mx.answer.describe(), f"mx: {pattern}"],
                fix=f"Remove `mx: {pattern}` if that host no longer receives mail for {domain}.",
            )
        )
    return Status.COMPLETED


def _policy_excerpt(response: HttpsResult) -> list[str]:
    text = response.body[:600].decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()][:12]


def _policy_fix(policy: StsPolicy | None, mx: MxFacts, domain: str) -> str:
    hosts = [h.host for h in mx.hosts] or (policy.mx if policy else []) or [f"mx1.{domain}"]
    mode = policy.mode if policy and policy.mode else "testing"
    max_age = policy.max_age if policy and policy.max_age else 86400
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {h}" for h in hosts)]
    lines.append(f"max_age: {max(max_age, 86400)}")
    return (
        f"Serve {policy_url(domain)} as Content-Type: text/plain, under 64 KiB, with exactly: "
        + " | ".join(lines)
        + f" (one field per line); then change the id= of _mta-sts.{domain}."
    )


def _unreachable_fix(response: HttpsResult, domain: str) -> str:
    host = f"mta-sts.{domain}"
    if response.error is FetchError.DNS:
        return f"Publish an A/AAAA record (or a CNAME) for {host} pointing at your web server."
    if response.error is FetchError.CONNECT:
        return f"Make {host} accept HTTPS connections on port 443."
    if response.error is FetchError.TLS:
        return (
            f"Install a certificate for {host} from a public CA (its SAN must list {host}), "
            "valid today, with the intermediate certificates."
        )
    if response.redirect:
        return f"Serve the policy directly at {policy_url(domain)} with status 200: no redirect."
    return f"Serve the policy at {policy_url(domain)} with status 200."
