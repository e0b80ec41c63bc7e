"""From grouped sources to verdicts: which senders are legitimate but failing, which look like
spoofing, and how much legitimate mail a stricter policy would hit today (policy readiness).

A source is legitimate when it is attributed to a provider profile or to the domain's own
infrastructure (forward-confirmed reverse DNS), or when some of its mail passed DMARC aligned
(only the domain's SPF or its DKIM key can make that happen). Forwarded mail (a receiver's
`forwarded`/`mailing_list` override) is counted apart: it fails for reasons the sender cannot fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from audit.dmarc_reports.attribution import Attribution
from audit.dmarc_reports.sources import Aggregate, Source
from audit.esp.profiles import EspProfile
from audit.fact_types.dmarc_reports import PolicyStep, ReadinessFacts, SourceRow
from audit.facts.prediction import aligned
from audit.model import Finding, Severity
from audit.rules.dmarc_reports import (
    DMARC_LEGIT_SOURCE_FAILING,
    DMARC_REJECT_NOT_SAFE,
    DMARC_SPOOFING_OBSERVED,
)

FORWARDING_OVERRIDES = {"forwarded", "mailing_list", "trusted_forwarder", "local_policy"}
RELAXED = "r"  # a domain of the same organization is "yours" (RFC 7489 3.1 relaxed)
NEXT_STEP = {"none": "quarantine", "quarantine": "reject", "reject": "reject"}


@dataclass
class JudgedSource:
    source: Source
    attribution: Attribution
    ptr_names: list[str]
    category: str  # authenticated | legitimate-failing | forwarded | spoofing
    reason: str = ""
    fix: str | None = None

    def as_facts(self) -> SourceRow:
        s = self.source
        return SourceRow(
            ip=s.ip,
            ptr=tuple(self.ptr_names),
            provider=self.attribution.provider_id,
            provider_name=self.attribution.provider_name,
            attribution=self.attribution.kind,
            attribution_evidence=self.attribution.evidence,
            category=self.category,
            messages=s.messages,
            dmarc_pass=s.dmarc_pass,
            dmarc_fail=s.dmarc_fail,
            spf_aligned_pass=s.spf_aligned_pass,
            dkim_aligned_pass=s.dkim_aligned_pass,
            dispositions=dict(s.dispositions),
            reporters=dict(s.reporters),
            header_from=dict(s.header_from),
            envelope_from=dict(s.envelope_from),
            dkim_results=dict(s.dkim_results),
            spf_results=dict(s.spf_results),
            overrides=dict(s.overrides),
            as_name=s.as_name,
            country=s.country,
            reason=self.reason,
            fix=self.fix,
        )


@dataclass
class Readiness:
    """What each policy would do to the legitimate mail in the reports."""

    current_policy: str | None
    legitimate: int
    legitimate_failing: int
    forwarded_failing: int
    spoofing: int
    tolerance_percent: float
    rows: list[PolicyStep] = field(default_factory=list)
    next_step: str = ""

    @property
    def failing_share(self) -> float:
        return 100.0 * self.legitimate_failing / self.legitimate if self.legitimate else 0.0

    @property
    def safe(self) -> bool:
        return self.legitimate > 0 and self.failing_share <= self.tolerance_percent

    def as_facts(self) -> ReadinessFacts:
        return ReadinessFacts(
            current_policy=self.current_policy,
            legitimate_messages=self.legitimate,
            legitimate_failing=self.legitimate_failing,
            legitimate_failing_percent=round(self.failing_share, 3),
            forwarded_failing=self.forwarded_failing,
            spoofing_messages=self.spoofing,
            tolerance_percent=self.tolerance_percent,
            safe_to_tighten=self.safe,
            policies=tuple(self.rows),
            next_step=self.next_step,
        )

def categorize(source: Source, attribution: Attribution) -> str:
    if source.dmarc_fail == 0:
        return "authenticated"
    failing_forwarded = sum(n for k, n in source.overrides.items() if k in FORWARDING_OVERRIDES)
    if failing_forwarded >= source.dmarc_fail:
        return "forwarded"
    if attribution.kind in ("provider", "own") or source.dmarc_pass > 0:
        return "legitimate-failing"
    return "spoofing"


def explain_failure(source: Source, domain: str) -> str:
    """Why the failing mail failed, from what the reporters wrote."""
    parts = []
    dkim = [k for k in source.dkim_results if not k.endswith(" pass")]
    dkim_other = [d for d in source.dkim_domains_passing if not aligned(d, domain, RELAXED)]
    if dkim_other:
        parts.append("DKIM passes only for d=" + ", ".join(sorted(dkim_other)) + " (not aligned)")
    elif dkim:
        parts.append("DKIM " + ", ".join(sorted(dkim)))
    elif not source.dkim_results:
        parts.append("no DKIM signature reported")
    spf_other = [d for d in source.spf_domains_passing if not aligned(d, domain, RELAXED)]
    if spf_other:
        parts.append("SPF passes only for " + ", ".join(sorted(spf_other)) + " (not aligned)")
    elif source.spf_results:
        parts.append("SPF " + ", ".join(sorted(source.spf_results)))
    return "; ".join(parts) or "no aligned SPF or DKIM pass"


def fix_for(
    source: Source, attribution: Attribution, domain: str, profiles: Mapping[str, EspProfile]
) -> str:
    """The setup step that makes this source pass, provider-specific where we know the provider."""
    profile = profiles.get(attribution.provider_id or "")
    if profile is not None:
        steps = []
        if not any(aligned(d, domain, RELAXED) for d in source.dkim_domains_passing):
            selectors = ", ".join(profile.dkim_selectors) or "the provider's selectors"
            steps.append(
                f"set up {profile.name}'s DKIM for {domain} (publish the CNAME/TXT records it "
                f"gives for selector(s) {selectors})"
            )
        spf_aligns = any(aligned(d, domain, RELAXED) for d in source.spf_domains_passing)
        if not spf_aligns and profile.return_path:
            rp = profile.return_path
            steps.append(
                f"set up its custom return path ({rp.record_type} at "
                f"{rp.name_patterns[0] if rp.name_patterns else 'a subdomain'}.{domain} -> "
                f"{rp.target_patterns[0] if rp.target_patterns else 'the provider'})"
            )
        return f"{profile.name}: " + ("; ".join(steps) or "check the provider's domain settings")
    if attribution.kind == "own":
        return (
            f"Your server {source.ip}: authorize it in the SPF record of the envelope domain "
            f"(ip4:/ip6:{source.ip}) and sign its mail with d={domain}."
        )
    return (
        f"If {source.ip} sends for you, authorize it in SPF (ip4:/ip6:{source.ip}) or have it "
        f"sign with d={domain}; otherwise it is spoofing and an enforcing policy stops it."
    )


def judge_sources(
    aggregate: Aggregate,
    attributions: Mapping[str, Attribution],
    ptr_names: Mapping[str, list[str]],
    profiles: Mapping[str, EspProfile],
) -> list[JudgedSource]:
    judged = []
    for source in sorted(aggregate.sources.values(), key=lambda s: (-s.messages, s.ip)):
        attribution = attributions[source.ip]
        category = categorize(source, attribution)
        item = JudgedSource(source, attribution, list(ptr_names.get(source.ip, [])), category)
        if category in ("legitimate-failing", "spoofing", "forwarded"):
            item.reason = explain_failure(source, aggregate.domain)
        if category == "legitimate-failing":
            item.fix = fix_for(source, attribution, aggregate.domain, profiles)
        judged.append(item)
    return judged


def current_policy(aggregate: Aggregate) -> str | None:
    """The p= most reports saw published (reports from several days may differ)."""
    for text, _count in aggregate.policies_seen.most_common():
        for part in text.split():
            if part.startswith("p="):
                return part[2:].lower()
    return None


def readiness(aggregate: Aggregate, judged: list[JudgedSource], tolerance: float) -> Readiness:
    legit = [j for j in judged if j.category in ("authenticated", "legitimate-failing")]
    failing = sum(j.source.dmarc_fail for j in legit)
    result = Readiness(
        current_policy(aggregate),
        sum(j.source.messages for j in legit),
        failing,
        sum(j.source.dmarc_fail for j in judged if j.category == "forwarded"),
        sum(j.source.dmarc_fail for j in judged if j.category == "spoofing"),
        tolerance,
    )
    for policy, effect in (("quarantine", "to spam"), ("reject", "rejected")):
        result.rows.append(
            PolicyStep(
                policy=policy,
                legitimate_hit=failing,
                legitimate_hit_percent=round(result.failing_share, 3),
                effect=effect,
                spoofing_stopped=result.spoofing,
            )
        )
    current = result.current_policy or "none"
    if not result.legitimate:
        result.next_step = "no legitimate mail in the reports yet: keep p=none and collect reports"
    elif result.safe and current != "reject":
        result.next_step = (
            f"p={NEXT_STEP.get(current, 'quarantine')}: {result.failing_share:.2f}% of legitimate "
            f"mail fails (tolerance {tolerance:g}%)"
        )
    elif current == "reject":
        result.next_step = "already at p=reject"
    else:
        result.next_step = (
            f"stay at p={current}: fix the failing legitimate sources first "
            f"({result.failing_share:.2f}% of legitimate mail fails DMARC)"
        )
    return result


def findings(domain: str, judged: list[JudgedSource], ready: Readiness) -> list[Finding]:
    out: list[Finding] = []
    enforcing = ready.current_policy in ("quarantine", "reject")
    for item in judged:
        s = item.source
        who = item.attribution.provider_name or (
            "your own server" if item.attribution.kind == "own" else s.ip
        )
        if item.category == "legitimate-failing":
            out.append(
                Finding(
                    DMARC_LEGIT_SOURCE_FAILING,
                    domain,
                    message=f"{who} ({s.ip}) fails DMARC on {s.dmarc_fail} of {s.messages} "
                    f"message(s): {item.reason}",
                    evidence=_evidence(item),
                    fix=item.fix,
                    severity=None if enforcing else Severity.MEDIUM,
                )
            )
    spoofing = [j for j in judged if j.category == "spoofing"]
    if spoofing:
        total = sum(j.source.dmarc_fail for j in spoofing)
        out.append(
            Finding(
                DMARC_SPOOFING_OBSERVED,
                domain,
                message=f"{total} message(s) from {len(spoofing)} source(s) that are not yours "
                f"used From {domain}"
                + ("; the policy blocks them" if enforcing else "; p=none delivers them"),
                evidence=[
                    f"{j.source.ip}: {j.source.dmarc_fail} failing ({j.reason})"
                    for j in spoofing[:20]
                ]
                + ([f"... and {len(spoofing) - 20} more sources"] if len(spoofing) > 20 else []),
                fix=None
                if enforcing
                else f"Move _dmarc.{domain} towards p=reject once your own senders pass "
                "(see the readiness table).",
                severity=Severity.LOW if enforcing else None,
            )
        )
    if ready.current_policy != "reject" and ready.legitimate and not ready.safe:
        out.append(
            Finding(
                DMARC_REJECT_NOT_SAFE,
                domain,
                message=f"p=reject would reject {ready.legitimate_failing} of "
                f"{ready.legitimate} legitimate message(s) ({ready.failing_share:.2f}%, "
                f"tolerance {ready.tolerance_percent:g}%)",
                evidence=[
                    f"{j.attribution.provider_name or j.source.ip}: {j.source.dmarc_fail} failing"
                    for j in judged
                    if j.category == "legitimate-failing"
                ][:20],
                fix="Fix the sources listed under DMARC401 first; " + ready.next_step,
            )
        )
    return out


def _evidence(item: JudgedSource) -> list[str]:
    s = item.source
    lines = [f"attributed: {item.attribution.evidence}"]
    lines += [f"DKIM {k}: {n}" for k, n in s.dkim_results.most_common(5)]
    lines += [f"SPF {k}: {n}" for k, n in s.spf_results.most_common(5)]
    lines.append("reported by " + ", ".join(f"{r} ({n})" for r, n in s.reporters.most_common(5)))
    return lines
