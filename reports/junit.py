"""JUnit XML: one test suite per report, one test case per check, for CI dashboards.

A check fails when it has a finding at or above --fail-on (the same rule as the exit code);
a crashed check is an error; a skipped one is skipped; an inconclusive one is an error too
(CI should not read "could not tell" as green), with its reason. Findings below the threshold
are listed in system-out so nothing is hidden.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from audit.model import CheckOutcome, Finding, Report, Severity, Status
from reports.verdict import as_severity
from reports.visible import visible

# XML 1.0 cannot carry most C0 controls, lone surrogates (undecodable header bytes) or
# U+FFFE/U+FFFF at all, even escaped: they are spelled out as text first.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(value))


def _line(f: Finding) -> str:
    ignored = f" (ignored: {f.ignored.reason})" if f.ignored else ""
    return (
        f"{f.rule.id} {f.rule.name} [{f.effective_severity.value}] {f.target}: {f.message}"
        f"{ignored}"
    )


def _case(outcome: CheckOutcome, report: Report, fail_on: Severity) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=_text(f"{report.kind}.{report.target}"),
        name=_text(outcome.check),
        time=f"{outcome.duration_ms / 1000:.3f}",
    )
    failing = [
        f
        for f in outcome.findings
        if not f.rule.temperror and f.effective_severity >= fail_on and f.ignored is None
    ]
    if failing:
        failure = ET.SubElement(
            case,
            "failure",
            message=_text(f"{len(failing)} finding(s) at or above {fail_on.value}"),
            type=_text(failing[0].rule.id),
        )
        failure.text = _text(
            "\n\n".join(
                _line(f)
                + "".join(f"\n  | {e}" for e in f.evidence)
                + (f"\n  fix: {f.fix}" if f.fix else "")
                for f in failing
            )
        )
    elif outcome.status is Status.ERROR:
        error = ET.SubElement(case, "error", message=_text(outcome.error or "check crashed"))
        error.text = _text(outcome.error or "")
    elif outcome.status is Status.INCONCLUSIVE:
        reasons = [outcome.error or ""] + [_line(f) for f in outcome.findings if f.rule.temperror]
        error = ET.SubElement(
            case, "error", message=_text("inconclusive: " + (outcome.error or "temperror")),
            type="inconclusive",
        )  # fmt: skip
        error.text = _text("\n".join(r for r in reasons if r))
    elif outcome.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=_text(outcome.error or "skipped"))
    others = [f for f in outcome.findings if f not in failing]
    if others:
        out = ET.SubElement(case, "system-out")
        out.text = _text("\n".join(_line(f) for f in others))
    return case


def render_junit(reports: list[Report], *, fail_on: Severity | str = Severity.HIGH) -> str:
    threshold = as_severity(fail_on)
    root = ET.Element("testsuites", name="audit")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        cases = [_case(o, report, threshold) for o in report.outcomes]
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        attributes = {
            "name": _text(f"{report.kind} {report.target}"),
            "timestamp": report.generated_at,
            "time": f"{report.duration_ms / 1000:.3f}",
            **{k: str(v) for k, v in counts.items()},
        }
        suite = ET.SubElement(root, "testsuite", attributes)
        suite.extend(cases)
        for key, value in counts.items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
