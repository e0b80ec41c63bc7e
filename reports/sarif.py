"""SARIF 2.1.0: findings as code-scanning results (GitHub code scanning, Azure DevOps, IDEs).

One run per invocation, whatever the number of targets (GitHub code scanning rejects a file
with more than 20 runs). Each result carries its audited target as a logical location (kind
"module", `domain/example.com`), then the name, host, IP or message part the finding is about
(kind "resource", its child); both are listed once in `run.logicalLocations`. Rules used by any
target are listed once in `tool.driver.rules`, with the rule doc (audit/rules/<ID>.md) as
`help` and its file as `helpUri`. GitHub code scanning also needs a repository-relative
physical location: a message report points at the message file as given, others at a stable
pseudo-path (`dns/example.com`), so alerts keep their identity between runs. Levels:
critical/high -> error, medium -> warning, low/info -> note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from audit.model import Finding, Report, Severity, combined_exit_code
from audit.rules import DOC_DIR, all_rules, rule_doc
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
    descriptor: dict[str, Any] = {
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
    doc_file = DOC_DIR / f"{rule.id}.md"
    if doc_file.is_file():  # the doc shipped with this installation (`audit rule ID` prints it)
        descriptor["helpUri"] = doc_file.resolve().as_uri()
    return descriptor


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


class _Locations:
    """`run.logicalLocations`: each audited target once (kind "module"), and under it each
    name a finding is about (kind "resource", `parentIndex` the target)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.index: dict[tuple[str, str], int] = {}

    def _add(self, fqn: str, name: str, kind: str, parent: int | None) -> int:
        key = (fqn, kind)
        if key not in self.index:
            self.index[key] = len(self.items)
            item: dict[str, Any] = {"name": name, "fullyQualifiedName": fqn, "kind": kind}
            if parent is not None:
                item["parentIndex"] = parent
            self.items.append(item)
        return self.index[key]

    def target(self, report: Report) -> dict[str, Any]:
        return self._ref(self._add(f"{report.kind}/{report.target}", report.target, "module", None))

    def of(self, finding: Finding, report: Report) -> list[dict[str, Any]]:
        """The result's logical locations: its target first, then its subject if another."""
        target = self.target(report)
        if finding.target == report.target:
            return [target]
        fqn = f"{target['fullyQualifiedName']}/{finding.target}"
        return [target, self._ref(self._add(fqn, finding.target, "resource", target["index"]))]

    def _ref(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        return {"index": index, **{k: item[k] for k in ("name", "fullyQualifiedName", "kind")}}


def _result(
    finding: Finding, report: Report, rule_index: int, where: list[dict[str, Any]]
) -> dict[str, Any]:
    severity = finding.effective_severity
    message = finding.message + (f"\n\nFix: {finding.fix}" if finding.fix else "")
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "level": LEVELS[severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _artifact_uri(report)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": where,
            }
        ],
        "partialFingerprints": {
            "auditFinding/v1": f"{finding.rule.id}:{report.target}:{finding.target}",
            # the stable fingerprint baselines use (audit/fingerprint.py): evidence-aware
            "auditFingerprint/v1": finding.fingerprint(report.target),
        },
        "properties": {
            "kind": report.kind,
            "target": report.target,
            "subject": finding.target,
            "severity": severity.value,
            "evidence": list(finding.evidence),
            "fix": finding.fix,
        },
        **_suppressions(finding),
    }
    if rule_index >= 0:
        result["ruleIndex"] = rule_index
    return result


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


def _notifications(report: Report, locations: _Locations) -> list[dict[str, Any]]:
    """An inconclusive or crashed check, named with its target."""
    return [
        {
            "level": "warning" if o.status.value == "inconclusive" else "error",
            "message": {"text": f"{report.target}: {o.check}: {o.status.value}: {o.error}"},
            "locations": [{"logicalLocations": [locations.target(report)]}],
        }
        for o in report.outcomes
        if o.error and o.status.value in ("inconclusive", "error")
    ]


def _run(reports: list[Report], fail_on: Severity) -> dict[str, Any]:
    known = all_rules()
    used = sorted({f.rule.id for r in reports for f in r.findings()} & set(known))
    index = {rule_id: i for i, rule_id in enumerate(used)}
    locations = _Locations()
    results, notifications = [], []
    for report in reports:
        locations.target(report)  # a clean target is listed too: it was audited
        for finding in report.findings():
            where = locations.of(finding, report)
            results.append(_result(finding, report, index.get(finding.rule.id, -1), where))
        notifications += _notifications(report, locations)
    driver: dict[str, Any] = {"name": "audit", "rules": [_rule_descriptor(r) for r in used]}
    version = next((r.tool_version for r in reports if r.tool_version), "")
    if version:
        driver["version"] = version
    kinds = sorted({r.kind for r in reports})
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"audit/{'+'.join(kinds)}/" if kinds else "audit/"},
        "invocations": [
            {
                "executionSuccessful": not any(r.crashed for r in reports),
                "exitCode": combined_exit_code(reports, fail_on),
                "toolExecutionNotifications": notifications,
                "properties": {
                    "targets": [
                        {"kind": r.kind, "target": r.target, "exitCode": r.exit_code(fail_on)}
                        for r in reports
                    ]
                },
            }
        ],
        "logicalLocations": locations.items,
        "results": results,
    }


def render_sarif(reports: list[Report], *, fail_on: Severity | str = Severity.HIGH) -> str:
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [_run(reports, as_severity(fail_on))],
    }
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
