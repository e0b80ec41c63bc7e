"""The one-word verdict every renderer shows, from the same rule as the exit code."""

from __future__ import annotations

from audit.model import Finding, Report, Severity

SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def verdict(report: Report, fail_on: Severity = Severity.HIGH) -> str:
    return {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE"}[report.exit_code(fail_on)]


def by_severity(report: Report) -> list[tuple[Severity, list[Finding]]]:
    """Findings grouped worst first; empty groups left out."""
    groups = []
    for severity in SEVERITY_ORDER:
        found = [f for f in report.findings() if f.effective_severity is severity]
        if found:
            groups.append((severity, found))
    return groups
