"""Terminal tables for `audit dmarc-reports` and `audit tls-reports` (the numbers of HTML/JSON)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from audit.model import Report
from reports.analysis_view import analysis_view
from reports.visible import visible

MAX_TERMINAL_SOURCES = 25
CATEGORY_STYLE = {
    "authenticated": "green",
    "legitimate-failing": "red",
    "spoofing": "yellow",
    "forwarded": "dim",
}


def print_analysis(console: Console, report: Report) -> None:
    view = analysis_view(report)
    if view is None:
        return
    console.print()
    if view.kind == "dmarc-reports":
        s = view.summary
        console.print(
            Text(
                f"{s.aggregate_reports} aggregate report(s), {s.messages} message(s), "
                f"{s.period.first_day or '?'} to {s.period.last_day or '?'}",
                "bold",
            )
        )
        console.print(Text(f"  {'source':<34} {'provider':<16} {'category':<18} "
                           f"{'msgs':>6} {'pass':>6} {'fail':>6}", "bold"))  # fmt: skip
        for src in view.sources[:MAX_TERMINAL_SOURCES]:
            who = src.provider_name or {"own": "own server"}.get(src.attribution, "-")
            label = f"{src.ip} {src.ptr[0] if src.ptr else ''}".strip()
            console.print(
                Text.assemble(
                    f"  {visible(label)[:34]:<34} {visible(who)[:16]:<16} ",
                    (f"{visible(src.category):<18}", CATEGORY_STYLE.get(src.category, "")),
                    f" {src.messages:>6} {src.dmarc_pass:>6} {src.dmarc_fail:>6}",
                )
            )
        hidden = len(view.sources) - MAX_TERMINAL_SOURCES + view.more_sources
        if hidden > 0:
            console.print(Text(f"  ... {hidden} more source(s) in --format json/html", "dim"))
        r = view.readiness
        console.print()
        console.print(Text("policy readiness", "bold"))
        for row in r.policies:
            console.print(
                f"  p={row.policy:<11} would hit {row.legitimate_hit} legitimate "
                f"message(s) ({row.legitimate_hit_percent}%, {row.effect}); "
                f"stops {row.spoofing_stopped} spoofed"
            )
        console.print(Text(f"  next step: {visible(r.next_step)}", "bold"))
    else:
        console.print(Text(f"  {'policy':<7} {'domain':<30} {'ok':>6} {'failed':>6}  failure types",
                           "bold"))  # fmt: skip
        for p in view.policies:
            types = ", ".join(f"{t} ({n})" for t, n in p.result_types.items())
            console.print(
                f"  {visible(p.policy_type):<7} "
                f"{visible(p.policy_domain)[:30]:<30} "
                f"{p.successful_sessions:>6} {p.failed_sessions:>6}  "
                + visible(types)
            )
    for refused in view.refused:
        console.print(
            Text(f"refused {visible(refused.file)}: {visible(refused.reason)}", "yellow")
        )
