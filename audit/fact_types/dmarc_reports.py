"""The facts of `audit dmarc-reports` and `audit tls-reports`: what the aggregate reports say,
who sent the mail, what a stricter policy would hit, and TLS-RPT sessions per policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RefusedFile:
    """A report file that was not read, and why."""

    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    first_day: str | None  # YYYY-MM-DD
    last_day: str | None


@dataclass(frozen=True, slots=True)
class DayCount:
    messages: int
    dmarc_pass: int


@dataclass(frozen=True, slots=True)
class ReportsSummary:
    """`facts.reports` of the reports check: totals over every aggregate report read."""

    aggregate_reports: int
    messages: int
    reporters: dict[str, int]
    period: ReportPeriod
    per_day: dict[str, DayCount]
    policies_seen: dict[str, int]
    other_domains: dict[str, int]
    refused: tuple[RefusedFile, ...]
    failure_reports: tuple[dict[str, Any], ...]  # forensic reports as they came, not judged
    ptr_unknown: tuple[str, ...]  # addresses whose PTR lookup failed


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One sending address seen in the reports (`facts.sources[]`), attributed and judged."""

    ip: str
    ptr: tuple[str, ...]
    provider: str | None
    provider_name: str | None
    attribution: str  # provider | own | unknown
    attribution_evidence: str
    category: str  # authenticated | legitimate-failing | forwarded | spoofing
    messages: int
    dmarc_pass: int
    dmarc_fail: int
    spf_aligned_pass: int
    dkim_aligned_pass: int
    dispositions: dict[str, int]
    reporters: dict[str, int]
    header_from: dict[str, int]
    envelope_from: dict[str, int]
    dkim_results: dict[str, int]
    spf_results: dict[str, int]
    overrides: dict[str, int]
    as_name: str | None
    country: str | None
    reason: str
    fix: str | None


@dataclass(frozen=True, slots=True)
class PolicyStep:
    """What one policy (none, quarantine, reject) would do to the mail in the reports."""

    policy: str
    legitimate_hit: int
    legitimate_hit_percent: float
    effect: str
    spoofing_stopped: int


@dataclass(frozen=True, slots=True)
class ReadinessFacts:
    """`facts.readiness`: whether tightening the policy is safe for the legitimate mail."""

    current_policy: str | None
    legitimate_messages: int
    legitimate_failing: int
    legitimate_failing_percent: float
    forwarded_failing: int
    spoofing_messages: int
    tolerance_percent: float
    safe_to_tighten: bool
    policies: tuple[PolicyStep, ...]
    next_step: str


@dataclass(frozen=True, slots=True)
class TlsPolicyStats:
    """TLS-RPT sessions for one policy (sts or tlsa) of one domain."""

    policy_type: str
    policy_domain: str
    successful_sessions: int
    failed_sessions: int
    failure_percent: float
    result_types: dict[str, int]
    failing_mx_hosts: dict[str, int]
    reporters: dict[str, int]


@dataclass(frozen=True, slots=True)
class TlsReportsFacts:
    """`facts.tls_reports`: the policies' sessions and what the fresh domain audit says of each
    failure type (`explained_by`: "domain/type" -> result type -> findings)."""

    policies: tuple[TlsPolicyStats, ...]
    explained_by: dict[str, dict[str, tuple[str, ...]]]
    domain_audit: str  # run | not run (--no-audit)
    refused: tuple[RefusedFile, ...]
