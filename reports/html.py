"""HTML: one self-contained file (inline CSS, no scripts, no external resources).

Everything shown comes from DNS or messages, which attackers control: Jinja2 autoescaping is on
for every value, nothing from the data is marked safe, every string is passed through
`visible()` (control and bidi characters spelled out), and a Content-Security-Policy forbids
scripts and remote loads should anything slip through anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from audit.fact_json import facts_json, facts_map_of, facts_of, to_json
from audit.fact_types.seed import PlacementRow, SeedFacts
from audit.fact_types.spf import SpfFacts, SpfNode
from audit.model import CheckOutcome, Finding, QueryRecord, Report, Severity
from reports.analysis_view import AnalysisView, analysis_view
from reports.paths import HEADERS as PATH_HEADERS
from reports.paths import PathRow, path_rows
from reports.verdict import SEVERITY_ORDER, as_severity, by_severity, ordered_counts, verdict
from reports.visible import visible

TEMPLATES = Path(__file__).parent / "templates"
SPF_LOOKUP_LIMIT = 10
SPF_NEAR_LIMIT = 8
SPF_VOID_LIMIT = 2
QUERY_STATUS_CLASS = {
    "NOERROR": "ok",
    "NODATA": "absent",
    "NXDOMAIN": "absent",
    "SERVFAIL": "failed",
    "TIMEOUT": "failed",
}


@dataclass
class SpfView:
    root: SpfNode
    total: int
    voids: int
    limit: int = SPF_LOOKUP_LIMIT
    void_limit: int = SPF_VOID_LIMIT

    @property
    def level(self) -> str:
        """CSS class: over the RFC 7208 limit, near it (SPF204's band) or comfortably under."""
        if self.total > self.limit:
            return "over"
        return "near" if self.total >= SPF_NEAR_LIMIT else "ok"

    @property
    def meter(self) -> int:
        return min(100, round(100 * self.total / self.limit))


@dataclass
class QueryView:
    query: QueryRecord
    css: str


@dataclass
class ReportView:
    anchor: str
    report: Report
    verdict: str
    counts: list[tuple[Severity, int]]
    groups: list[tuple[Severity, list[Finding]]]
    outcomes: list[CheckOutcome]
    spf: SpfView | None
    queries: list[QueryView]
    failed_queries: int
    facts: list[tuple[str, str]]
    seeds: list[SeedRow] = field(default_factory=list)
    placement: list[tuple[str, PlacementRow]] = field(default_factory=list)
    contradictions: list[Finding] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    compared: int = 0
    paths: list[PathRow] = field(default_factory=list)
    path_headers: list[str] = field(default_factory=lambda: list(PATH_HEADERS))
    fix: Any = None  # audit.fix.plan.FixPlan, for the "Fix it" section
    fix_snippet: str = ""
    analysis: AnalysisView | None = None  # dmarc-reports / tls-reports sections

    @property
    def total_findings(self) -> int:
        return sum(n for _, n in self.counts)


@dataclass
class SeedRow:
    """One line of the seed table: where the copy went and what the receiver said."""

    address: str
    provider: str
    send: str
    placement: str
    folder: str
    delay: str
    spf: str
    dkim: str
    dmarc: str
    css: str


def seed_rows(report: Report) -> list[SeedRow]:
    rows: list[SeedRow] = []
    if report.kind != "seed":
        return rows
    for outcome in report.outcomes:
        facts = facts_of(outcome.facts, "seed", SeedFacts)
        if facts is None:
            continue
        receiver = facts.receiver
        placement = facts.placement or facts.send.status or "unknown"
        rows.append(
            SeedRow(
                address=facts.address or outcome.target,
                provider=facts.provider,
                send=facts.send.status,
                placement=placement,
                folder=facts.folder or "–",
                delay="–" if facts.delay_s is None else f"{facts.delay_s:.1f} s",
                spf=receiver.spf or "–",
                dkim=receiver.dkim or "–",
                dmarc=receiver.dmarc or "–",
                css={"inbox": "ok", "spam": "bad", "missing": "bad"}.get(placement, "other"),
            )
        )
    return rows


def _comparisons(report: Report) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for outcome in report.outcomes if report.kind == "seed" else []:
        path = outcome.facts.get("path") if outcome.check == "predictions" else None
        checks = path.get("checks") if isinstance(path, dict) else None
        for entry in checks if isinstance(checks, list) else []:
            if isinstance(entry, dict):  # the sending path's prediction (seed run --path)
                found.append((str(entry.get("seed") or ""), entry))
        seed = facts_of(outcome.facts, "seed", SeedFacts)
        if seed is not None:
            found += [(seed.address or outcome.target, to_json(c)) for c in seed.comparison]
    return found


def confirmed_predictions(report: Report) -> list[str]:
    """'seed: DKIM d=x: pass (receiver and prediction agree)' for every agreeing comparison."""
    return [
        f"{seed}: {str(e.get('method', '')).upper()} {e.get('subject', '')}: "
        f"{e.get('receiver')} (receiver and prediction agree)"
        for seed, e in _comparisons(report)
        if e.get("agree") is True
    ]


def _compared(report: Report) -> int:
    return sum(1 for _seed, e in _comparisons(report) if e.get("agree") is not None)


def _placement(report: Report) -> list[tuple[str, PlacementRow]]:
    for outcome in report.outcomes if report.kind == "seed" else []:
        if outcome.check == "placement":
            return list(facts_map_of(outcome.facts, "placement", PlacementRow).items())
    return []


def _finalize(value: Any) -> Any:
    """Applied to every `{{ }}` before escaping; rendered macro output is already escaped."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty_json"] = pretty_json
    return env


def spf_view(report: Report) -> SpfView | None:
    """The SPF include tree from the spf check's facts, if that check produced one."""
    for outcome in report.outcomes:
        spf = facts_of(outcome.facts, "spf", SpfFacts) if outcome.check == "spf" else None
        if spf is not None:
            return SpfView(spf.tree, spf.tree.total_lookups, spf.tree.void_total)
    return None


def report_view(report: Report, index: int, fail_on: Severity) -> ReportView:
    queries = [QueryView(q, QUERY_STATUS_CLASS.get(q.status, "other")) for q in report.queries]
    return ReportView(
        anchor=f"report-{index}",
        report=report,
        verdict=verdict(report, fail_on),
        counts=ordered_counts(report),
        groups=by_severity(report),
        outcomes=report.outcomes,
        spf=spf_view(report),
        queries=queries,
        failed_queries=sum(1 for q in queries if q.css == "failed"),
        facts=[(o.check, pretty_json(facts_json(o.facts))) for o in report.outcomes if o.facts],
        seeds=seed_rows(report),
        placement=_placement(report),
        contradictions=[f for f in report.findings() if f.rule.id == "SEED406"],
        confirmed=confirmed_predictions(report),
        compared=_compared(report),
        paths=path_rows(report),
        analysis=analysis_view(report),
        fix=report.fix_plan,
        fix_snippet=_fix_snippet(report),
    )


def _fix_snippet(report: Report) -> str:
    if report.fix_plan is None or not report.fix_plan.changes:
        return ""
    from reports.fix import zone_snippet

    return zone_snippet(report.fix_plan)


def render_html(reports: list[Report], *, fail_on: Severity | str = Severity.HIGH) -> str:
    threshold = as_severity(fail_on)
    views = [report_view(r, i, threshold) for i, r in enumerate(reports, start=1)]
    template = environment().get_template("report.html.j2")
    return template.render(
        title="audit: " + ", ".join(r.target for r in reports),
        views=views,
        fail_on=threshold.value,
        severities=[s.value for s in SEVERITY_ORDER],
        generated_at=reports[0].generated_at if reports else "",
        tool_version=reports[0].tool_version if reports else "",
    )
