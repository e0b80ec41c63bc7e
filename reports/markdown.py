"""Markdown: a report to paste into a pull request, an issue or a CI job summary.

Everything taken from DNS, probes or messages is attacker-controlled: in running text and table
cells it is escaped (Markdown punctuation, HTML-significant characters, pipes, line breaks);
evidence goes into fenced blocks whose fence is longer than any backtick run inside.
"""

from __future__ import annotations

import re

from audit.model import Report, Severity
from reports.html import seed_rows
from reports.paths import HEADERS, path_rows
from reports.verdict import as_severity, by_severity, ordered_counts, verdict
from reports.visible import visible

_SPECIAL = re.compile(r"([\\`*_\[\]|<>&~])")


def escape(text: str) -> str:
    """Inline text that renders literally: no links (GFM autolinks included), emphasis, HTML
    or table breaks. Text is never at the start of a line here, so # + - . need no escape."""
    flat = " ".join(visible(str(text)).split())
    flat = _SPECIAL.sub(r"\\\1", flat)
    return flat.replace("://", ":\\/\\/").replace("www.", "www\\.")


def _fence(lines: list[str]) -> str:
    body = "\n".join(visible(str(line)) for line in lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def _report(report: Report, fail_on: Severity) -> list[str]:
    word = verdict(report, fail_on)
    counts = ", ".join(f"{n} {sev.value}" for sev, n in ordered_counts(report) if n)
    out = [
        f"## {escape(report.kind)} audit: {escape(report.target)}",
        "",
        f"**{word}**: {counts or 'no findings'} (fail-on {fail_on.value}; "
        f"{report.duration_ms:.0f} ms, {len(report.queries)} DNS queries)",
        "",
        "| check | status | findings | note |",
        "| --- | --- | ---: | --- |",
    ]
    for o in report.outcomes:
        out.append(
            f"| {escape(o.check)} | {o.status.value} | {len(o.findings)} | "
            f"{escape(o.error or '')} |"
        )
    rows = seed_rows(report)
    if rows:
        out += [
            "",
            "### Seeds",
            "",
            "| seed | provider | placement | folder | delay | spf | dkim | dmarc |",
            "| --- | --- | --- | --- | ---: | --- | --- | --- |",
        ]
        for r in rows:
            cells = [r.address, r.provider, r.placement, r.folder, r.delay, r.spf, r.dkim, r.dmarc]
            out.append("| " + " | ".join(escape(c) for c in cells) + " |")
    out += _paths(report)
    for severity, findings in by_severity(report):
        out += ["", f"### {severity.value.capitalize()} ({len(findings)})"]
        for f in findings:
            out += [
                "",
                f"- **{f.rule.id}** {escape(f.rule.name)} · `{_code(f.target)}`: "
                f"{escape(f.message)}",
            ]
            if f.evidence:
                out += ["", _indent(_fence(f.evidence))]
            if f.fix:
                out += ["", f"  Fix: {escape(f.fix)}"]
            if f.ignored:
                out += ["", f"  Ignored ({f.ignored.kind}): {escape(f.ignored.reason)}"]
    return out


def _paths(report: Report) -> list[str]:
    rows = path_rows(report)
    if not rows:
        return []
    out = ["", "### Sending paths", "", "| " + " | ".join(HEADERS) + " |"]
    out.append("| " + " | ".join("---" for _ in HEADERS) + " |")
    for r in rows:
        out.append("| " + " | ".join(escape(c) for c in r.cells()) + " |")
    for r in rows:
        out += [f"- {escape(r.name)} fix: {escape(f)}" for f in r.fixes]
    return out


def _code(text: str) -> str:
    """A target inside inline code: backticks cannot close it early."""
    return visible(text).replace("`", "'")


def _indent(block: str) -> str:
    return "\n".join("  " + line for line in block.splitlines())


def render_markdown(reports: list[Report], *, fail_on: Severity | str = Severity.HIGH) -> str:
    threshold = as_severity(fail_on)
    lines = ["# audit report", ""]
    if len(reports) > 1:
        lines += ["| target | kind | verdict |", "| --- | --- | --- |"]
        lines += [f"| {escape(r.target)} | {r.kind} | {verdict(r, threshold)} |" for r in reports]
        lines.append("")
    for report in reports:
        lines += _report(report, threshold) + [""]
    lines.append("Explain a rule: `audit rule <RULE_ID>`")
    return "\n".join(lines) + "\n"
