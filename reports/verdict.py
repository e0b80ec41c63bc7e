"""The one-word verdict and the worst-first ordering every renderer shows.

The verdict follows the same rule as the exit code (`Report.exit_code`), so the text a reader
sees and the status a CI job gates on never disagree.
"""

from __future__ import annotations

from audit.model import Finding, Report, Severity

SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
VERDICTS = {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE", 4: "ERROR"}  # ERROR: a check crashed


def as_severity(value: Severity | str) -> Severity:
    return value if isinstance(value, Severity) else Severity.parse(value)


def verdict(report: Report, fail_on: Severity = Severity.HIGH) -> str:
    """PASS, FAIL (a finding at or above `fail_on`), ERROR (a check crashed: a bug in the tool)
    or INCONCLUSIVE (a check could not decide)."""
    return VERDICTS[report.exit_code(fail_on)]


def ordered_counts(report: Report) -> list[tuple[Severity, int]]:
    """(severity, number of findings) for every severity, worst first."""
    counts = report.counts()
    return [(s, counts[s.value]) for s in SEVERITY_ORDER]


def by_severity(report: Report) -> list[tuple[Severity, list[Finding]]]:
    """Findings grouped worst first; empty groups left out."""
    groups = []
    for severity in SEVERITY_ORDER:
        found = [f for f in report.findings() if f.effective_severity is severity]
        if found:
            groups.append((severity, found))
    return groups
