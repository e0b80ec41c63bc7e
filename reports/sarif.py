"""SARIF 2.1.0: findings as code-scanning results (GitHub code scanning, Azure DevOps, IDEs).

One run per report, so each audited target keeps its own invocation (exit code) and its
automation id (`domain/example.com`). A finding's location is logical (the DNS name, MX host,
IP or message part it is about). GitHub code scanning also needs a repository-relative physical
location: a message report points at the message file as given, others at a stable pseudo-path
(`dns/example.com`), so alerts keep their identity between runs. Levels: critical/high -> error,
medium -> warning, low/info -> note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from audit.model import Finding, Report, Severity
from audit.rules import all_rules, rule_doc
from reports.verdict import as_severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub's security-severity scale (0-10) for its critical/high/medium/low badges
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    rule = all_rules()[rule_id]
    doc = rule_doc(rule_id) or rule.summary
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": [rule.family.lower(), "deliverability"],
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "severity": rule.severity.value,
        },
    }


def _artifact_uri(report: Report) -> str:
    """A relative URI: the message file for `audit message`, else `<kind-dir>/<target>`."""
    if report.kind == "message" and report.target not in ("", "-", "stdin"):
        file = Path(report.target.split("#", 1)[0])  # mbox.mbox#3 -> mbox.mbox
        try:  # relative to where the audit ran (the repository in CI), else the file name
            path = file.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            path = file.name
    else:
        path = f"{'dns' if report.kind == 'domain' else report.kind}/{report.target}"
    return quote(path, safe="/._-@")


def _result(finding: Finding, report: Report, rule_index: int) -> dict[str, Any]:
    severity = finding.effective_severity
    message = finding.message + (f"\n\nFix: {finding.fix}" if finding.fix else "")
    return {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": LEVELS[severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _artifact_uri(report)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {
                        "name": finding.target,
                        "fullyQualifiedName": f"{report.kind}/{report.target}/{finding.target}",
                        "kind": "resource",
                    }
                ]
            }
        ],
        "partialFingerprints": {
            "auditFinding/v1": f"{finding.rule.id}:{report.target}:{finding.target}",
            # the stable fingerprint baselines use (audit/fingerprint.py): evidence-aware
            "auditFingerprint/v1": finding.fingerprint(report.target),
        },
        "properties": {
            "severity": severity.value,
            "target": finding.target,
            "evidence": list(finding.evidence),
            "fix": finding.fix,
        },
        **_suppressions(finding),
    }


def _suppressions(finding: Finding) -> dict[str, Any]:
    """An ignored finding stays a result, suppressed "external" (by audit.toml or the baseline,
    not by the code) with its reason: code scanning then shows it as dismissed, not open."""
    if finding.ignored is None:
        return {}
    justification = finding.ignored.reason
    if finding.ignored.until:
        justification += f" (until {finding.ignored.until})"
    suppression = {"kind": "external", "state": "accepted", "justification": justification}
    out: dict[str, Any] = {"suppressions": [suppression]}
    if finding.ignored.kind == "baseline":
        out["baselineState"] = "unchanged"
    return out


def _run(report: Report, fail_on: Severity) -> dict[str, Any]:
    used = sorted({f.rule.id for f in report.findings()} & set(all_rules()))
    index = {rule_id: i for i, rule_id in enumerate(used)}
    results = [_result(f, report, index.get(f.rule.id, -1)) for f in report.findings()]
    for result in results:
        if result["ruleIndex"] < 0:
            del result["ruleIndex"]
    notifications = [
        {
            "level": "warning" if o.status.value == "inconclusive" else "error",
            "message": {"text": f"{o.check}: {o.status.value}: {o.error}"},
        }
        for o in report.outcomes
        if o.error and o.status.value in ("inconclusive", "error")
    ]
    driver: dict[str, Any] = {"name": "audit", "rules": [_rule_descriptor(r) for r in used]}
    if report.tool_version:
        driver["version"] = report.tool_version
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"{report.kind}/{report.target}/"},
        "invocations": [
            {
                "executionSuccessful": not any(o.status.value == "error" for o in report.outcomes),
                "exitCode": report.exit_code(fail_on),
                "toolExecutionNotifications": notifications,
            }
        ],
        "results": results,
        "properties": {"kind": report.kind, "target": report.target},
    }


def render_sarif(reports: list[Report], *, fail_on: Severity | str = Severity.HIGH) -> str:
    threshold = as_severity(fail_on)
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [_run(r, threshold) for r in reports],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
