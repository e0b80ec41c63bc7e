"""The report-analysis sections (`audit dmarc-reports`, `audit tls-reports`): tables and charts
read from the reports' typed facts (rebuilt when the report came back from JSON), shared by
the HTML and terminal renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from audit.fact_json import facts_list_of, facts_of, from_json
from audit.fact_types.dmarc_reports import (
    ReadinessFacts,
    RefusedFile,
    ReportsSummary,
    SourceRow,
    TlsPolicyStats,
    TlsReportsFacts,
)
from audit.model import Report
from reports.charts import BarChart, ColumnChart, columns_by_day, stacked_bars

MAX_SOURCE_ROWS = 200
MAX_CHART_SOURCES = 15
T = TypeVar("T")


@dataclass
class AnalysisView:
    kind: str  # dmarc-reports | tls-reports
    sources: list[SourceRow] = field(default_factory=list)
    readiness: ReadinessFacts = field(default_factory=lambda: from_json(ReadinessFacts, {}))
    summary: ReportsSummary = field(default_factory=lambda: from_json(ReportsSummary, {}))
    policies: list[TlsPolicyStats] = field(default_factory=list)
    refused: list[RefusedFile] = field(default_factory=list)
    charts: list[tuple[str, BarChart | ColumnChart]] = field(default_factory=list)
    more_sources: int = 0


def _facts(report: Report, check: str, key: str, cls: type[T]) -> T | None:
    for outcome in report.outcomes:
        if outcome.check == check:
            return facts_of(outcome.facts, key, cls)
    return None


def _sources(report: Report) -> list[SourceRow]:
    for outcome in report.outcomes:
        if outcome.check == "sources":
            return facts_list_of(outcome.facts, "sources", SourceRow)
    return []


def analysis_view(report: Report) -> AnalysisView | None:
    if report.kind == "dmarc-reports":
        return _dmarc_view(report)
    if report.kind == "tls-reports":
        return _tls_view(report)
    return None


def _dmarc_view(report: Report) -> AnalysisView:
    summary = _facts(report, "reports", "reports", ReportsSummary)
    sources = _sources(report)
    view = AnalysisView("dmarc-reports", sources=sources[:MAX_SOURCE_ROWS])
    if summary is not None:
        view.summary, view.refused = summary, list(summary.refused)
    view.readiness = _facts(report, "readiness", "readiness", ReadinessFacts) or view.readiness
    view.more_sources = max(len(sources) - MAX_SOURCE_ROWS, 0)
    days = [
        (day, v.dmarc_pass, v.messages - v.dmarc_pass) for day, v in view.summary.per_day.items()
    ]
    over_time = columns_by_day(days, title="Messages per day")
    if over_time is not None:
        view.charts.append(("Volume over time", over_time))
    rows = [(_source_label(s), s.dmarc_pass, s.dmarc_fail) for s in sources[:MAX_CHART_SOURCES]]
    view.charts.append(("DMARC pass/fail by source", stacked_bars(rows, title="By source")))
    r = view.readiness
    legit, failing = r.legitimate_messages, r.legitimate_failing
    ready_rows = [
        ("legitimate mail", legit - failing, failing),
        ("forwarded (failing)", 0, r.forwarded_failing),
        ("spoofing (failing)", 0, r.spoofing_messages),
    ]
    view.charts.append(
        (
            "Policy readiness",
            stacked_bars(
                ready_rows, title="What p=reject would hit", labels=("pass", "would fail")
            ),
        )
    )
    return view


def _source_label(source: SourceRow) -> str:
    who = source.provider_name or ("own server" if source.attribution == "own" else source.as_name)
    return f"{source.ip} ({who})" if who else source.ip


def _tls_view(report: Report) -> AnalysisView:
    facts = _facts(report, "tls-reports", "tls_reports", TlsReportsFacts)
    policies = list(facts.policies) if facts else []
    refused = list(facts.refused) if facts else []
    view = AnalysisView("tls-reports", policies=policies, refused=refused)
    rows = [
        (f"{p.policy_type} {p.policy_domain}", p.successful_sessions, p.failed_sessions)
        for p in policies
    ]
    view.charts.append(
        ("Sessions by policy", stacked_bars(rows, title="TLS sessions", labels=("ok", "failed")))
    )
    return view
