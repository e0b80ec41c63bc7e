"""Terminal text (rich): header, verdict and counts, per-check status, findings worst first with
their evidence and fix.

Readable without colour: severity names head each group and every line says what it is. All
data passes through `visible()` and is printed as `Text` (never markup), so a record holding
escape sequences or `[bold]` prints as itself.
"""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.text import Text

from audit.model import CheckOutcome, Finding, Report, Severity, Status
from reports.analysis_terminal import print_analysis
from reports.verdict import as_severity, by_severity, ordered_counts, verdict
from reports.visible import visible

MAX_EVIDENCE_LINES = 8
INDENT = "    "

SEVERITY_STYLE = {
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
NOTE_LABEL = {Status.ERROR: "error", Status.SKIPPED: "reason"}  # what outcome.error means
VERDICT_STYLE = {
    "PASS": "bold green",
    "FAIL": "bold red",
    "INCONCLUSIVE": "bold yellow",
    "ERROR": "bold white on red",
}


def render_terminal(
    reports: list[Report],
    *,
    color: bool = False,
    width: int = 100,
    fail_on: Severity | str = Severity.HIGH,
) -> str:
    out = StringIO()
    console = Console(
        file=out,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
        markup=False,
    )
    threshold = as_severity(fail_on)
    for index, report in enumerate(reports):
        if index:
            console.print()
        _report(console, report, threshold)
    return out.getvalue()


CHECK_COLUMN = 12  # "sending_paths" and longer names widen it for their report


def _report(console: Console, report: Report, fail_on: Severity) -> None:
    word = verdict(report, fail_on)
    counts = ", ".join(f"{n} {sev.value}" for sev, n in ordered_counts(report) if n)
    ignored = sum(1 for f in report.findings() if f.ignored)
    if ignored:
        counts += f" ({ignored} ignored)"
    header = Text.assemble((f"{report.kind} ", "bold"), (visible(report.target), "bold"))
    _wrapped(console, header, indent="", rest="  ")
    summary = Text.assemble(
        (word, VERDICT_STYLE[word]),
        f"  {counts or 'no findings'}  (fail-on {fail_on.value}; "
        f"{report.duration_ms:.0f} ms, {len(report.queries)} DNS queries)",
    )
    _wrapped(console, summary, indent="", rest="  ")
    width = max([CHECK_COLUMN, *(len(o.check) for o in report.outcomes)])
    for outcome in report.outcomes:
        _check_line(console, outcome, width)
    _seed_table(console, report)
    _paths_table(console, report)
    print_analysis(console, report)
    for severity, findings in by_severity(report):
        console.print()
        console.print(Text(f"{severity.value.upper()} ({len(findings)})", SEVERITY_STYLE[severity]))
        for finding in findings:
            _finding(console, finding, severity, report.target)
    if report.findings():
        console.print()
        console.print(Text("Explain a rule: audit rule <RULE_ID>", "dim"))


def _seed_table(console: Console, report: Report) -> None:
    """Seed runs: one line per seed (placement, delay, the receiver's verdict)."""
    from reports.html import confirmed_predictions, seed_rows

    rows = seed_rows(report)
    if not rows:
        return
    confirmed = confirmed_predictions(report)
    contradicted = [f for f in report.findings() if f.rule.id == "SEED406"]
    console.print()
    console.print(Text("seed                            placement  folder        delay   "
                       "receiver", "bold"))  # fmt: skip
    for row in rows:
        style = {"ok": "green", "bad": "red"}.get(row.css, "yellow")
        line = Text.assemble(
            f"  {visible(row.address):<30} ",
            (f"{row.placement:<10}", style),
            f" {visible(row.folder):<13} {row.delay:<7} ",
            f"spf={row.spf} dkim={row.dkim} dmarc={row.dmarc}",
        )
        _wrapped(console, line, indent="", rest=" " * 4)
    console.print(
        Text(
            f"predictions: {len(confirmed)} confirmed by the receivers, "
            f"{len(contradicted)} contradicted (SEED406)",
            "dim" if not contradicted else "yellow",
        )
    )
    for line_text in confirmed:
        _wrapped(console, Text(f"  confirmed: {visible(line_text)}", "dim"), indent="", rest="    ")


def _paths_table(console: Console, report: Report) -> None:
    """Sending paths: one block per path (envelope, SPF, DKIM, DMARC, Gmail, bounces, fixes)."""
    from reports.paths import path_rows

    rows = path_rows(report)
    if not rows:
        return
    console.print()
    console.print(Text("Sending paths", "bold"))
    for row in rows:
        style = {"ok": "green", "bad": "red"}.get(row.css, "yellow")
        head = Text.assemble(
            f"  {visible(row.name)} [{row.origin}]  ", (f"DMARC {row.dmarc}", style)
        )
        if row.dmarc == "fail":
            head.append(f" (disposition {row.disposition})")
        _wrapped(console, head, indent="", rest="    ")
        lines = [
            f"envelope {row.envelope}: SPF {row.spf}, aligned {row.spf_aligned}; "
            f"bounces {row.bounces}",
            f"DKIM {row.dkim}, aligned {row.dkim_aligned}",
            f"Gmail: mailed-by {row.mailed_by}, signed-by {row.signed_by}, via {row.via}",
        ]
        for line in lines:
            _wrapped(console, Text(visible(line)), first="", rest="  ")
        for fix in row.fixes:
            _wrapped(console, Text.assemble(("fix: ", "bold green"), visible(fix)), rest="     ")


def _check_line(console: Console, outcome: CheckOutcome, width: int = CHECK_COLUMN) -> None:
    """`  name  status  n finding(s)`: the name column as wide as the longest check name; a
    long note wraps under itself, not under the name."""
    status = outcome.status.value
    columns = f"  {outcome.check:<{width}} {status:<12} "
    line = Text.assemble(
        f"  {outcome.check:<{width}} ",
        (status, STATUS_STYLE[outcome.status]),
        " " * (12 - len(status)),
    )
    note = Text()
    if outcome.findings:
        note.append(f"{len(outcome.findings)} finding(s)")
    if outcome.error:
        label = NOTE_LABEL.get(outcome.status, "note")
        note.append(f"{label}: " if not outcome.findings else f"  {label}: ")
        note.append(visible(outcome.error), STATUS_STYLE[outcome.status])
    if not note.plain:
        line.rstrip()
        console.print(line, soft_wrap=True)
        return
    rows = note.wrap(console, max(console.width - len(columns), 20))
    for number, row in enumerate(rows):
        row.rstrip()
        head = line if number == 0 else Text(" " * len(columns))
        console.print(Text.assemble(head, " ", row) if number == 0 else Text.assemble(head, row),
                      soft_wrap=True)  # fmt: skip


def _finding(console: Console, f: Finding, severity: Severity, scope: str = "") -> None:
    style = "dim" if f.ignored else SEVERITY_STYLE[severity]
    head = Text.assemble(
        ("  " + f.rule.id, style), f" {f.rule.name}  ", (visible(f.target), "bold")
    )
    if f.ignored:
        head.append(f"  [ignored: {f.ignored.kind}]", "dim")
    _wrapped(console, head, indent="", rest="    ")
    _wrapped(console, Text(visible(f.message)))
    lines = [part for line in f.evidence for part in visible(line).split("\n")]
    for line in lines[:MAX_EVIDENCE_LINES]:
        _wrapped(console, Text(line, "dim"), first="| ", rest="|   ")
    if len(lines) > MAX_EVIDENCE_LINES:
        more = len(lines) - MAX_EVIDENCE_LINES
        _wrapped(console, Text(f"| ... {more} more line(s) in --format json/html", "dim"))
    if f.fix:
        _wrapped(console, Text.assemble(("fix: ", "bold green"), visible(f.fix)), rest="     ")
    if f.ignored:
        until = f" until {f.ignored.until}" if f.ignored.until else ""
        reason = Text.assemble(("ignored: ", "bold"), f"{visible(f.ignored.reason)}{until}")
        _wrapped(console, reason, rest="         ")
    if scope:
        _wrapped(console, Text(f"fingerprint {f.fingerprint(scope)}", "dim"))


def _wrapped(
    console: Console,
    text: Text,
    *,
    first: str = "",
    rest: str | None = None,
    indent: str = INDENT,
) -> None:
    """Printed at `indent`, wrapped to the width with a hanging indent, no trailing padding."""
    rest = first if rest is None else rest
    room = max(console.width - len(indent) - max(len(first), len(rest)), 20)
    for number, line in enumerate(text.wrap(console, room)):
        line.rstrip()
        prefix = first if number == 0 else rest
        console.print(Text.assemble(indent + prefix, line), soft_wrap=True, style=text.style)
