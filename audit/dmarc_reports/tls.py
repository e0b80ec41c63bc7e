"""TLS-RPT (RFC 8460) reports: per policy, how many sessions failed and why, tied back to the
transport findings a fresh domain audit makes (the report says senders failed; the audit says
what on the MX hosts or the MTA-STS policy causes it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from audit.dmarc_reports.reading import ParsedReport
from audit.dmarc_reports.sources import count_of
from audit.fact_types.dmarc_reports import TlsPolicyStats
from audit.model import Finding, Report, Severity
from audit.rules.dmarc_reports import RPT_TLS_FAILURES_REPORTED

# RFC 8460 4.3 result types -> the audit rules that diagnose the same fault on our side
RESULT_TYPE_RULES: dict[str, tuple[str, ...]] = {
    "starttls-not-supported": ("TLS301", "TLS309"),
    "certificate-host-mismatch": ("TLS303", "STS007"),
    "certificate-expired": ("TLS304", "STS007"),
    "certificate-not-trusted": ("TLS302", "STS007"),
    "validation-failure": ("TLS302", "TLS303", "TLS304", "TLS309", "STS007", "DANE301"),
    "tlsa-invalid": ("DANE301",),
    "dnssec-invalid": ("DNSSEC002", "DANE302"),
    "dane-required": ("DANE301", "DANE302"),
    "sts-policy-fetch-error": ("STS003",),
    "sts-policy-invalid": ("STS002", "STS004"),
    "sts-webpki-invalid": ("STS003", "STS004"),
}


@dataclass
class PolicyStats:
    """One policy (policy-type + policy-domain) summed over every report."""

    policy_type: str
    policy_domain: str
    successful: int = 0
    failed: int = 0
    result_types: Counter[str] = field(default_factory=Counter)
    mx_hosts: Counter[str] = field(default_factory=Counter)  # failing receiving MX hosts
    reporters: Counter[str] = field(default_factory=Counter)

    @property
    def failure_percent(self) -> float:
        total = self.successful + self.failed
        return 100.0 * self.failed / total if total else 0.0

    def as_facts(self) -> TlsPolicyStats:
        return TlsPolicyStats(
            policy_type=self.policy_type,
            policy_domain=self.policy_domain,
            successful_sessions=self.successful,
            failed_sessions=self.failed,
            failure_percent=round(self.failure_percent, 3),
            result_types=dict(self.result_types),
            failing_mx_hosts=dict(self.mx_hosts),
            reporters=dict(self.reporters),
        )

def summarize(reports: list[ParsedReport], domain: str | None = None) -> list[PolicyStats]:
    stats: dict[tuple[str, str], PolicyStats] = {}
    for parsed in reports:
        if parsed.kind != "smtp_tls":
            continue
        reporter = str(parsed.data.get("organization_name") or "unknown reporter")
        for policy in parsed.data.get("policies") or []:
            if not isinstance(policy, dict):
                continue
            pdomain = str(policy.get("policy_domain") or "?").lower().rstrip(".")
            if domain and pdomain != domain:
                continue
            key = (str(policy.get("policy_type") or "?"), pdomain)
            item = stats.setdefault(key, PolicyStats(*key))
            item.successful += count_of(policy.get("successful_session_count"))
            failed = count_of(policy.get("failed_session_count"))
            item.failed += failed
            item.reporters[reporter] += failed
            for detail in policy.get("failure_details") or []:
                if not isinstance(detail, dict):
                    continue
                count = count_of(detail.get("failed_session_count"))
                item.result_types[str(detail.get("result_type") or "unknown")] += count
                host = detail.get("receiving_mx_hostname")
                if host:
                    item.mx_hosts[str(host).lower().rstrip(".")] += count
    return sorted(stats.values(), key=lambda s: (-s.failed, s.policy_domain, s.policy_type))


def tie_back(stats: PolicyStats, domain_report: Report | None) -> dict[str, list[str]]:
    """result type -> the findings of the domain audit that explain it ("RULE: message")."""
    if domain_report is None:
        return {}
    found = domain_report.findings()
    out: dict[str, list[str]] = {}
    for result_type in stats.result_types:
        rules = RESULT_TYPE_RULES.get(result_type, ())
        out[result_type] = [f"{f.rule.id}: {f.message}" for f in found if f.rule.id in rules]
    return out


def findings(stats: list[PolicyStats], ties: dict[str, dict[str, list[str]]]) -> list[Finding]:
    out = []
    for item in stats:
        if not item.failed:
            continue
        share = item.failure_percent
        severity = (
            Severity.HIGH if share >= 5 else Severity.MEDIUM if share >= 0.5 else Severity.LOW
        )
        types = ", ".join(f"{t} ({n})" for t, n in item.result_types.most_common())
        explained = ties.get(item.policy_domain + "/" + item.policy_type, {})
        evidence = [f"{t}: {n} session(s)" for t, n in item.result_types.most_common()]
        evidence += [f"failing MX {h}: {n}" for h, n in item.mx_hosts.most_common(10)]
        for result_type, lines in explained.items():
            evidence += [f"{result_type} -> {line}" for line in lines[:5]]
        fix = _fix(item, explained)
        out.append(
            Finding(
                RPT_TLS_FAILURES_REPORTED,
                item.policy_domain,
                message=f"{item.failed} of {item.failed + item.successful} TLS session(s) "
                f"({share:.2f}%) failed under the {item.policy_type} policy: "
                + (types or "no failure details"),
                evidence=evidence,
                fix=fix,
                severity=severity,
            )
        )
    return out


def _fix(item: PolicyStats, explained: dict[str, list[str]]) -> str:
    rules = sorted({line.split(":", 1)[0] for lines in explained.values() for line in lines})
    if rules:
        return (
            "The domain audit finds the cause: "
            + ", ".join(rules)
            + " (see those findings' fixes; `audit rule <ID>` explains each)."
        )
    hosts = ", ".join(list(item.mx_hosts)[:3]) or "your MX hosts"
    return (
        f"Check STARTTLS and the certificate on {hosts} (`audit domain {item.policy_domain}`): "
        "the audit found no current cause, so the failures may have been transient or fixed."
    )
