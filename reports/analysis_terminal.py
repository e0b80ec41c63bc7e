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
        period = v if isinstance(v := s.get("period"), dict) else {}
        console.print(
            Text(
                f"{s.get('aggregate_reports', 0)} aggregate report(s), {s.get('messages', 0)} "
                f"message(s), {period.get('first_day') or '?'} to {period.get('last_day') or '?'}",
                "bold",
            )
        )
        console.print(Text(f"  {'source':<34} {'provider':<16} {'category':<18} "
                           f"{'msgs':>6} {'pass':>6} {'fail':>6}", "bold"))  # fmt: skip
        for src in view.sources[:MAX_TERMINAL_SOURCES]:
            attribution = str(src.get("attribution"))
            style = CATEGORY_STYLE.get(str(src.get("category")), "")
            who = src.get("provider_name") or {"own": "own server"}.get(attribution, "-")
            ptr = (src.get("ptr") or [""])[0]
            label = f"{src.get('ip')} {ptr}".strip()
            console.print(
                Text.assemble(
                    f"  {visible(label)[:34]:<34} {visible(str(who))[:16]:<16} ",
                    (f"{src.get('category', ''):<18}", style),
                    f" {src.get('messages', 0):>6} {src.get('dmarc_pass', 0):>6} "
                    f"{src.get('dmarc_fail', 0):>6}",
                )
            )
        hidden = len(view.sources) - MAX_TERMINAL_SOURCES + view.more_sources
        if hidden > 0:
            console.print(Text(f"  ... {hidden} more source(s) in --format json/html", "dim"))
        r = view.readiness
        console.print()
        console.print(Text("policy readiness", "bold"))
        for row in r.get("policies") or []:
            console.print(
                f"  p={row.get('policy'):<11} would hit {row.get('legitimate_hit')} legitimate "
                f"message(s) ({row.get('legitimate_hit_percent')}%, {row.get('effect')}); "
                f"stops {row.get('spoofing_stopped')} spoofed"
            )
        console.print(Text(f"  next step: {visible(str(r.get('next_step', '')))}", "bold"))
    else:
        console.print(Text(f"  {'policy':<7} {'domain':<30} {'ok':>6} {'failed':>6}  failure types",
                           "bold"))  # fmt: skip
        for p in view.policies:
            types = ", ".join(f"{t} ({n})" for t, n in (p.get("result_types") or {}).items())
            console.print(
                f"  {visible(str(p.get('policy_type'))):<7} "
                f"{visible(str(p.get('policy_domain')))[:30]:<30} "
                f"{p.get('successful_sessions', 0):>6} {p.get('failed_sessions', 0):>6}  "
                + visible(types)
            )
    for refused in view.refused:
        console.print(
            Text(f"refused {visible(str(refused.get('file')))}: "
                 f"{visible(str(refused.get('reason')))}", "yellow")  # fmt: skip
        )
