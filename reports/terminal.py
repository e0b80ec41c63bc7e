"""Terminal text (rich): summary line, per-check status, findings worst first with their fix."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.text import Text

from audit.model import Report, Severity, Status
from reports.verdict import by_severity, verdict

STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
STATUS_STYLE = {
    Status.COMPLETED: "green",
    Status.INCONCLUSIVE: "yellow",
    Status.ERROR: "bold red",
    Status.SKIPPED: "dim",
}


def render_terminal(reports: list[Report], *, color: bool = False, width: int = 100) -> str:
    out = StringIO()
    console = Console(
        file=out,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
    )
    for index, report in enumerate(reports):
        if index:
            console.print()
        _report(console, report)
    return out.getvalue()


def _report(console: Console, report: Report) -> None:
    counts = report.counts()
    summary = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n) or "no findings"
    word = verdict(report)
    style = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}[word]
    console.print(Text.assemble((f"{report.kind} ", "bold"), (report.target, "bold")))
    console.print(Text.assemble((word, style), f"  {summary}  ({report.duration_ms:.0f} ms, "
                                f"{len(report.queries)} DNS queries)"))  # fmt: skip
    for outcome in report.outcomes:
        line = Text.assemble(
            f"  {outcome.check:<12} ",
            (outcome.status.value, STATUS_STYLE[outcome.status]),
            f"  {len(outcome.findings)} finding(s)" if outcome.findings else "",
        )
        if outcome.error:
            line.append(f"  ({outcome.error})")
        console.print(line)
    for severity, findings in by_severity(report):
        console.print()
        console.print(Text(f"{severity.value.upper()} ({len(findings)})", STYLE[severity]))
        for f in findings:
            console.print(
                Text.assemble(
                    ("  " + f.rule.id, STYLE[severity]),
                    f" {f.rule.name}  ",
                    (f.target, "bold"),
                )
            )
            _indented(console, Text(f.message))
            for line in f.evidence[:8]:
                _indented(console, Text("| " + line, "dim"))
            if len(f.evidence) > 8:
                _indented(console, Text(f"| ... {len(f.evidence) - 8} more", "dim"))
            if f.fix:
                _indented(console, Text.assemble(("fix: ", "bold green"), f.fix))
    console.print()
    if report.findings():
        console.print(Text("Explain a rule: audit rule <RULE_ID>", "dim"))


def _indented(console: Console, text: Text) -> None:
    """Four spaces in, wrapped lines too, and no trailing padding."""
    for line in text.wrap(console, console.width - 4):
        line.rstrip()
        console.print(Text.assemble("    ", line), soft_wrap=True)
