"""The report-analysis sections (`audit dmarc-reports`, `audit tls-reports`): tables and charts
read from the reports' facts, shared by the HTML and terminal renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.model import Report
from reports.charts import BarChart, ColumnChart, columns_by_day, stacked_bars

MAX_SOURCE_ROWS = 200
MAX_CHART_SOURCES = 15


@dataclass
class AnalysisView:
    kind: str  # dmarc-reports | tls-reports
    sources: list[dict[str, Any]] = field(default_factory=list)
    readiness: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    charts: list[tuple[str, BarChart | ColumnChart]] = field(default_factory=list)
    more_sources: int = 0


def _facts(report: Report, check: str, key: str) -> Any:
    for outcome in report.outcomes:
        if outcome.check == check and isinstance(outcome.facts, dict):
            return outcome.facts.get(key)
    return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _num(value: Any) -> int:
    return value if isinstance(value, int) else 0


def analysis_view(report: Report) -> AnalysisView | None:
    if report.kind == "dmarc-reports":
        return _dmarc_view(report)
    if report.kind == "tls-reports":
        return _tls_view(report)
    return None


def _dmarc_view(report: Report) -> AnalysisView:
    summary = _facts(report, "reports", "reports")
    summary = summary if isinstance(summary, dict) else {}
    sources = _dicts(_facts(report, "sources", "sources"))
    readiness = _facts(report, "readiness", "readiness")
    view = AnalysisView(
        "dmarc-reports",
        sources=sources[:MAX_SOURCE_ROWS],
        readiness=readiness if isinstance(readiness, dict) else {},
        summary=summary,
        refused=_dicts(summary.get("refused")),
        more_sources=max(len(sources) - MAX_SOURCE_ROWS, 0),
    )
    per_day = v if isinstance(v := summary.get("per_day"), dict) else {}
    days = [
        (str(day), _num(v.get("dmarc_pass")), _num(v.get("messages")) - _num(v.get("dmarc_pass")))
        for day, v in per_day.items()
        if isinstance(v, dict)
    ]
    over_time = columns_by_day(days, title="Messages per day")
    if over_time is not None:
        view.charts.append(("Volume over time", over_time))
    rows = [
        (_source_label(s), _num(s.get("dmarc_pass")), _num(s.get("dmarc_fail")))
        for s in sources[:MAX_CHART_SOURCES]
    ]
    view.charts.append(("DMARC pass/fail by source", stacked_bars(rows, title="By source")))
    r = view.readiness
    legit, failing = _num(r.get("legitimate_messages")), _num(r.get("legitimate_failing"))
    ready_rows = [
        ("legitimate mail", legit - failing, failing),
        ("forwarded (failing)", 0, _num(r.get("forwarded_failing"))),
        ("spoofing (failing)", 0, _num(r.get("spoofing_messages"))),
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


def _source_label(source: dict[str, Any]) -> str:
    who = source.get("provider_name") or (
        "own server" if source.get("attribution") == "own" else source.get("as_name")
    )
    return f"{source.get('ip')} ({who})" if who else str(source.get("ip"))


def _tls_view(report: Report) -> AnalysisView:
    facts = _facts(report, "tls-reports", "tls_reports")
    facts = facts if isinstance(facts, dict) else {}
    policies = _dicts(facts.get("policies"))
    view = AnalysisView("tls-reports", policies=policies, refused=_dicts(facts.get("refused")))
    rows = [
        (
            f"{p.get('policy_type')} {p.get('policy_domain')}",
            _num(p.get("successful_sessions")),
            _num(p.get("failed_sessions")),
        )
        for p in policies
    ]
    view.charts.append(
        ("Sessions by policy", stacked_bars(rows, title="TLS sessions", labels=("ok", "failed")))
    )
    return view
