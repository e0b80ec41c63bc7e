"""BIMI with probes: fetch the logo (l=) and the evidence document (a=) and judge them.

Kept apart from `bimi.py` (record and DMARC prerequisite) because it is the part that touches
the network beyond DNS. The logo must be SVG Tiny PS within 32 KiB; the VMC/CMC must be a PEM
chain whose leaf carries the logotype extension and names the domain. Gmail and Apple Mail show
no logo without a VMC/CMC, so a record without a= is reported (BIMI101).
"""

from __future__ import annotations

import asyncio
from typing import Any

from audit.checks.common import DomainContext, temperror_finding
from audit.checks.domain.not_public import not_public_finding
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import DnsAnswer
from audit.net.https import FetchError, HttpsResult, fetch
from audit.psl import organizational_domain
from audit.records.bimi import parse_bimi
from audit.records.bimi_svg import MAX_LOGO_BYTES, SvgReport, check_svg
from audit.records.bimi_vmc import MAX_VMC_BYTES, VmcReport, check_vmc
from audit.rules.bimi import (
    BIMI_FETCH_NOT_TESTABLE,
    BIMI_LOGO_INVALID_SVG,
    BIMI_LOGO_UNREACHABLE,
    BIMI_NO_VMC,
    BIMI_VMC_INVALID,
)

NOT_FETCHED = "logo and VMC not fetched: network probes are off (--no-probes or --zone-dir)"
SVG_TYPE = "image/svg+xml"


async def check_assets(
    ctx: DomainContext, name: str, answer: DnsAnswer, raw_records: list[str]
) -> CheckResult | None:
    """Findings about the logo and VMC of the one valid BIMI record; None when there is none."""
    if answer.temperror or len(raw_records) != 1:
        return None
    record = parse_bimi(raw_records[0])
    if not record.valid or record.declined:
        return None
    domain = ctx.domain
    record_domain = name.split("._bimi.", 1)[-1]
    facts: dict[str, Any] = {"logo_checked": True, "logo": None, "vmc": None}
    findings: list[Finding] = []
    logo, vmc = await asyncio.gather(
        _get(ctx, record.logo_url, MAX_LOGO_BYTES), _get(ctx, record.authority_url, MAX_VMC_BYTES)
    )
    inconclusive = False
    svg: SvgReport | None = None
    if logo is not None:
        svg, unknown = _judge_logo(logo, domain, findings)
        inconclusive |= unknown
        facts["logo"] = {"fetch": logo.to_dict(), "svg": svg.to_dict() if svg else None}
    if vmc is None:
        findings.append(
            Finding(
                BIMI_NO_VMC,
                domain,
                message=f"the BIMI record at {name} names no VMC/CMC (a=): Gmail and Apple Mail "
                "show no logo without one (Yahoo shows it for domains with enough volume)",
                evidence=[record.raw],
                fix="Obtain a Verified Mark Certificate (trademarked logo) or a Common Mark "
                "Certificate from a mark verifying authority, serve the PEM chain over HTTPS and "
                f'add it to the record: {name} TXT "v=BIMI1; l={record.logo_url}; '
                f'a=https://{record_domain}/bimi/vmc.pem"',
            )
        )
    else:
        names = [record_domain, organizational_domain(record_domain), name]
        report, unknown = _judge_vmc(vmc, names, domain, findings)
        inconclusive |= unknown
        facts["vmc"] = {"fetch": vmc.to_dict(), "certificate": report.to_dict() if report else None}
        if report is not None and svg is not None and logo is not None:
            _compare_logos(report, logo, domain, findings, facts)
    status = Status.INCONCLUSIVE if inconclusive else Status.COMPLETED
    return CheckResult(facts=facts, findings=findings, status=status)


async def _get(ctx: DomainContext, url: str | None, limit: int) -> HttpsResult | None:
    if url is None:
        return None
    return await ctx.once(
        ("https", url, limit),
        lambda: fetch(
            ctx.resolver,
            url,
            port=ctx.https_port,
            ca_file=ctx.ca_file,
            timeout=ctx.timeout,
            max_bytes=limit,
            allow_private=ctx.allow_private_addresses,
        ),
    )


def _fetch_problem(
    response: HttpsResult, what: str, domain: str, findings: list[Finding]
) -> tuple[bool, bool]:
    """Reports a failed fetch; returns (failed, inconclusive)."""
    if response.temperror is not None:
        consequence = f"whether {what} at {response.url} can be fetched is unknown"
        findings.append(temperror_finding(response.temperror, domain, consequence))
        return True, True
    if response.not_public:
        reached = response.error is not FetchError.NOT_PUBLIC
        fetch_of = f"the fetch of {what} ({response.url})"
        findings.append(not_public_finding(response.host, response.not_public, fetch_of, reached))
        if not reached:
            return True, True
    if response.error is FetchError.TIMEOUT:
        findings.append(
            Finding(
                BIMI_FETCH_NOT_TESTABLE,
                domain,
                message=f"fetching {what} at {response.url} timed out ({response.detail})",
                evidence=[response.describe()],
                fix=f"Check that {response.host} answers HTTPS on port 443 promptly.",
            )
        )
        return True, True
    return False, False


def _reason(response: HttpsResult) -> str | None:
    """Why receivers cannot use this fetch, or None when it is a 200."""
    if response.error is FetchError.TLS and response.tls_problems:
        problems = ", ".join(p.replace("-", " ") for p in response.tls_problems)
        return f"the certificate of {response.host} is {problems}"
    if response.error is not None:
        return f"{response.error.value} error: {response.detail}"
    if response.redirect:
        return f"HTTP {response.status} redirect to {response.location or 'nowhere'}"
    if response.status != 200:
        return f"HTTP {response.status} {response.reason}".rstrip()
    return None


def _judge_logo(
    logo: HttpsResult, domain: str, findings: list[Finding]
) -> tuple[SvgReport | None, bool]:
    failed, unknown = _fetch_problem(logo, "the BIMI logo", domain, findings)
    if failed:
        return None, unknown
    reason = _reason(logo)
    if reason is not None:
        findings.append(
            Finding(
                BIMI_LOGO_UNREACHABLE,
                domain,
                message=f"the BIMI logo at {logo.url} cannot be fetched: {reason}; receivers "
                "show no logo",
                evidence=[logo.describe()],
                fix=f"Serve the SVG at {logo.url} over HTTPS with a publicly trusted certificate "
                f"for {logo.host}, status 200, no redirect.",
            )
        )
        return None, False
    svg = check_svg(logo.body, truncated=logo.truncated)
    if logo.media_type != SVG_TYPE:
        svg.warnings.append(f"Content-Type is {logo.header('content-type')}, not {SVG_TYPE}")
    evidence = [logo.describe(), *svg.errors, *svg.warnings]
    fix = (
        'Export the logo as SVG Tiny PS (version="1.2" baseProfile="tiny-ps", a <title>, '
        "a square viewBox, no scripts or external references, under 32 KiB), e.g. with the "
        "BIMI Group's conversion tools, and serve it as image/svg+xml."
    )
    if svg.errors:
        findings.append(
            Finding(
                BIMI_LOGO_INVALID_SVG,
                domain,
                message=f"the BIMI logo at {logo.url} is not valid SVG Tiny PS: "
                + "; ".join(svg.errors),
                evidence=evidence,
                fix=fix,
            )
        )
    elif svg.warnings:
        findings.append(
            Finding(
                BIMI_LOGO_INVALID_SVG,
                domain,
                message=f"the BIMI logo at {logo.url} may display badly: "
                + "; ".join(svg.warnings),
                evidence=evidence,
                fix=fix,
                severity=Severity.LOW,
            )
        )
    return svg, False


def _judge_vmc(
    vmc: HttpsResult, names: list[str], domain: str, findings: list[Finding]
) -> tuple[VmcReport | None, bool]:
    failed, unknown = _fetch_problem(vmc, "the BIMI VMC", domain, findings)
    if failed:
        return None, unknown
    reason = _reason(vmc)
    fix = (
        f"Serve the VMC/CMC issued for {names[0]} as a PEM chain (the mark certificate first, "
        f"then its issuers) at {vmc.url} over HTTPS, status 200; renew it before it expires."
    )
    if reason is not None:
        findings.append(
            Finding(
                BIMI_VMC_INVALID,
                domain,
                message=f"the BIMI evidence document at {vmc.url} cannot be fetched: {reason}; "
                "receivers that need a VMC show no logo",
                evidence=[vmc.describe()],
                fix=fix,
            )
        )
        return None, False
    report = check_vmc(vmc.body, names, truncated=vmc.truncated)
    if report.errors:
        findings.append(
            Finding(
                BIMI_VMC_INVALID,
                domain,
                message=f"the VMC at {vmc.url} is not usable: " + "; ".join(report.errors),
                evidence=[vmc.describe(), f"subject: {report.subject}", f"SAN: {report.names}"],
                fix=fix,
            )
        )
    return report, False


def _compare_logos(
    report: VmcReport,
    logo: HttpsResult,
    domain: str,
    findings: list[Finding],
    facts: dict[str, Any],
) -> None:
    """The VMC embeds the logo it certifies; receivers show that one, so l= should match."""
    if (
        report.embedded_logo is None
        or logo.error is not None
        or logo.status != 200
        or logo.truncated
    ):
        facts["vmc"]["embedded_logo_matches"] = None
        return
    same = report.embedded_logo.strip() == logo.body.strip()
    facts["vmc"]["embedded_logo_matches"] = same
    if not same:
        findings.append(
            Finding(
                BIMI_VMC_INVALID,
                domain,
                message=f"the logo embedded in the VMC differs from the one at {logo.url}: "
                "receivers show the VMC's logo, and some refuse both",
                evidence=[
                    f"VMC logo: {len(report.embedded_logo)} bytes",
                    f"l= logo: {len(logo.body)} bytes",
                ],
                fix=f"Serve at {logo.url} exactly the SVG the VMC was issued for.",
                severity=Severity.LOW,
            )
        )
