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
MAX_TREE_DEPTH = 40  # a malformed facts tree cannot recurse the renderer to death
QUERY_STATUS_CLASS = {
    "NOERROR": "ok",
    "NODATA": "absent",
    "NXDOMAIN": "absent",
    "SERVFAIL": "failed",
    "TIMEOUT": "failed",
}


@dataclass
class SpfNode:
    """One record of the include/redirect tree, as read from facts["spf"]["tree"]."""

    domain: str
    via: str | None
    record: str | None
    lookups: int
    total_lookups: int
    void_lookups: int
    error: str | None
    children: list[SpfNode] = field(default_factory=list)

    @property
    def branch_cost(self) -> int:
        """What this branch adds to the parent's count: the include/redirect itself plus all
        lookups below it (RFC 7208 section 4.6.4 counts both)."""
        return self.total_lookups + (1 if self.via else 0)


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
    placement: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
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
        facts = outcome.facts.get("seed") if isinstance(outcome.facts, dict) else None
        if not isinstance(facts, dict):
            continue
        receiver = v if isinstance(v := facts.get("receiver"), dict) else {}
        send = v if isinstance(v := facts.get("send"), dict) else {}
        placement = str(facts.get("placement") or send.get("status") or "unknown")
        delay = facts.get("delay_s")
        rows.append(
            SeedRow(
                address=str(facts.get("address") or outcome.target),
                provider=str(facts.get("provider") or ""),
                send=str(send.get("status") or ""),
                placement=placement,
                folder=str(facts.get("folder") or "–"),
                delay=f"{delay:.1f} s" if isinstance(delay, int | float) else "–",
                spf=str(receiver.get("spf") or "–"),
                dkim=str(receiver.get("dkim") or "–"),
                dmarc=str(receiver.get("dmarc") or "–"),
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
        facts = outcome.facts.get("seed") if isinstance(outcome.facts, dict) else None
        if not isinstance(facts, dict):
            continue
        entries = facts.get("comparison")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                found.append((str(facts.get("address") or outcome.target), entry))
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


def _placement(report: Report) -> list[tuple[str, dict[str, Any]]]:
    for outcome in report.outcomes if report.kind == "seed" else []:
        table = outcome.facts.get("placement") if outcome.check == "placement" else None
        if isinstance(table, dict):
            return [(str(k), v) for k, v in table.items() if isinstance(v, dict)]
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


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _spf_node(raw: Any, depth: int = 0) -> SpfNode | None:
    if not isinstance(raw, dict) or depth > MAX_TREE_DEPTH:
        return None
    children = raw.get("children")
    kids = [_spf_node(c, depth + 1) for c in children] if isinstance(children, list) else []
    return SpfNode(
        domain=str(raw.get("domain") or ""),
        via=_text(raw.get("via")),
        record=_text(raw.get("record")),
        lookups=_count(raw.get("lookups")),
        total_lookups=_count(raw.get("total_lookups")),
        void_lookups=_count(raw.get("void_lookups")),
        error=_text(raw.get("error")),
        children=[k for k in kids if k is not None],
    )


def _void_total(node: SpfNode) -> int:
    return node.void_lookups + sum(_void_total(c) for c in node.children)


def spf_view(report: Report) -> SpfView | None:
    """The SPF include tree from the spf check's facts, if that check produced one."""
    for outcome in report.outcomes:
        spf = outcome.facts.get("spf") if outcome.check == "spf" else None
        root = _spf_node(spf.get("tree")) if isinstance(spf, dict) else None
        if root is not None:
            return SpfView(root, root.total_lookups, _void_total(root))
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
        facts=[(o.check, pretty_json(o.facts)) for o in report.outcomes if o.facts],
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
