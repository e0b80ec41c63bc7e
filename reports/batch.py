"""The summary of a batch run (`audit domain --from-file`): totals, the rules that fired most,
and every domain that failed or stayed inconclusive, in terminal text, Markdown or HTML.

Built incrementally (`BatchSummary.add` per report, then the report is dropped), so a run of
10,000 domains keeps a few counters and one short row per failing domain, not the reports.
Everything from DNS passes through `visible()` / HTML escaping.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from io import StringIO

from rich.console import Console
from rich.table import Table

from audit.model import Report, Severity
from reports.verdict import VERDICTS
from reports.visible import visible

MAX_RULES_SHOWN = 15
MAX_RULES_PER_ROW = 8


@dataclass(frozen=True)
class FailingRow:
    target: str
    verdict: str
    rules: tuple[str, ...]  # rule ids at or above --fail-on (FAIL), or the temperror ones
    note: str


@dataclass
class BatchSummary:
    """Counters and failing rows of a batch run; `bad_lines` are input lines not audited."""

    fail_on: Severity = Severity.HIGH
    verdicts: Counter = field(default_factory=Counter)
    rules: Counter = field(default_factory=Counter)
    failing: list[FailingRow] = field(default_factory=list)
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)
    skipped: int = 0  # already done (--resume)
    interrupted: bool = False

    def add(self, report: Report) -> int:
        """Count one report; returns its exit code (0 pass, 1 fail, 3 inconclusive)."""
        code = report.exit_code(self.fail_on)
        self.verdicts[VERDICTS[code]] += 1
        ids = sorted({f.rule.id for f in report.findings()})
        self.rules.update(ids)
        if code:
            if code == 1:
                shown = sorted(
                    {f.rule.id for f in report.verdict_findings()
                     if f.effective_severity >= self.fail_on}
                )  # fmt: skip
                note = ""
            else:
                shown = sorted({f.rule.id for f in report.findings() if f.rule.temperror})
                broken = [o for o in report.outcomes if o.error]
                note = f"{broken[0].check}: {broken[0].error}" if broken else ""
            self.failing.append(FailingRow(report.target, VERDICTS[code], tuple(shown), note))
        return code

    @property
    def audited(self) -> int:
        return sum(self.verdicts.values())


def _headline(summary: BatchSummary) -> str:
    parts = [f"{summary.audited} domains audited"]
    parts += [f"{summary.verdicts[v]} {v}" for v in ("PASS", "FAIL", "INCONCLUSIVE")]
    if summary.verdicts["ERROR"]:
        parts.append(f"{summary.verdicts['ERROR']} ERROR (a check crashed)")
    if summary.skipped:
        parts.append(f"{summary.skipped} skipped (already in the --resume file)")
    if summary.bad_lines:
        parts.append(f"{len(summary.bad_lines)} bad input lines")
    if summary.interrupted:
        parts.append("INTERRUPTED before the end")
    return ", ".join(parts)


def _rules_cell(row: FailingRow) -> str:
    more = len(row.rules) - MAX_RULES_PER_ROW
    text = " ".join(row.rules[:MAX_RULES_PER_ROW]) + (f" (+{more})" if more > 0 else "")
    return text or row.note


def render_batch_terminal(summary: BatchSummary, *, color: bool = False, width: int = 100) -> str:
    out = StringIO()
    console = Console(
        file=out, width=width, color_system="standard" if color else None,
        force_terminal=color, highlight=False, emoji=False, markup=False,
    )  # fmt: skip
    console.print(_headline(summary))
    if summary.rules:
        table = Table(title="Rules that fired most", title_justify="left")
        table.add_column("rule")
        table.add_column("domains", justify="right")
        for rule_id, count in summary.rules.most_common(MAX_RULES_SHOWN):
            table.add_row(rule_id, str(count))
        console.print(table)
    if summary.failing:
        table = Table(title="Failing and inconclusive domains", title_justify="left")  # and ERROR
        table.add_column("domain", overflow="fold")
        table.add_column("verdict")
        table.add_column("rules", overflow="fold")
        for row in summary.failing:
            table.add_row(visible(row.target), row.verdict, visible(_rules_cell(row)))
        console.print(table)
    for line, text, reason in summary.bad_lines:
        console.print(f"line {line}: {visible(text)}: {visible(reason)}")
    return out.getvalue()


def render_batch_markdown(summary: BatchSummary) -> str:
    def cell(text: str) -> str:
        return visible(text).replace("|", "\\|")

    lines = ["# Batch audit", "", _headline(summary), ""]
    if summary.rules:
        lines += ["| rule | domains |", "|---|---:|"]
        lines += [f"| {r} | {n} |" for r, n in summary.rules.most_common(MAX_RULES_SHOWN)]
        lines.append("")
    if summary.failing:
        lines += ["| domain | verdict | rules |", "|---|---|---|"]
        lines += [
            f"| {cell(r.target)} | {r.verdict} | {cell(_rules_cell(r))} |" for r in summary.failing
        ]
        lines.append("")
    for line, text, reason in summary.bad_lines:
        lines.append(f"- line {line}: `{cell(text)}`: {cell(reason)}")
    return "\n".join(lines) + "\n"


def render_batch_html(summary: BatchSummary) -> str:
    esc = html.escape
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        "<title>Batch audit</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.2em .6em;text-align:left}</style></head><body>",
        f'<h1>Batch audit</h1><p id="headline">{esc(_headline(summary))}</p>',
    ]
    if summary.rules:
        parts.append('<table id="rules"><tr><th>rule</th><th>domains</th></tr>')
        for rule_id, count in summary.rules.most_common(MAX_RULES_SHOWN):
            parts.append(f"<tr><td>{esc(rule_id)}</td><td>{count}</td></tr>")
        parts.append("</table>")
    if summary.failing:
        parts.append('<table id="failing"><tr><th>domain</th><th>verdict</th><th>rules</th></tr>')
        for row in summary.failing:
            parts.append(
                f"<tr><td>{esc(row.target)}</td><td>{esc(row.verdict)}</td>"
                f"<td>{esc(_rules_cell(row))}</td></tr>"
            )
        parts.append("</table>")
    if summary.bad_lines:
        parts.append('<ul id="bad-lines">')
        for line, text, reason in summary.bad_lines:
            parts.append(f"<li>line {line}: <code>{esc(text)}</code>: {esc(reason)}</li>")
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render_batch(fmt: str, summary: BatchSummary, *, color: bool = False, width: int = 100) -> str:
    if fmt == "html":
        return render_batch_html(summary)
    if fmt == "markdown":
        return render_batch_markdown(summary)
    return render_batch_terminal(summary, color=color, width=width)
