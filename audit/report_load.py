"""A stored report read back: the inverse of Report.to_dict (history, seed state, the receive
inbox, worker processes). Beside, not in, audit.model: it looks rules up by id in audit.rules,
which itself builds on audit.model."""

from __future__ import annotations

from typing import Any

from audit.model import (
    CheckOutcome,
    Finding,
    QueryRecord,
    Report,
    Rule,
    Severity,
    Status,
    Suppression,
)
from audit.rules import get_rule


def report_from_dict(data: dict[str, Any]) -> Report:
    """The inverse of Report.to_dict, for re-rendering a stored run (audit seed report ID).

    Rules are looked up by id; an id this version no longer knows keeps its stored name and
    severity as an ad-hoc Rule, so an old report still renders. Facts stay the dicts that were
    stored, so writing the report again gives the same JSON (capped lists and their `_skipped`
    counts included); renderers rebuild the typed facts they read with
    audit.fact_json.facts_of, which tolerates what an old or edited file holds.
    """
    def finding(item: dict[str, Any]) -> Finding:
        severity = Severity(item["severity"])
        rule = get_rule(item["rule_id"]) or Rule(
            item["rule_id"], item.get("rule_name", ""), severity, item.get("message", "")
        )
        ignored = item.get("ignored")
        return Finding(
            rule,
            item["target"],
            item["message"],
            evidence=list(item.get("evidence") or []),
            fix=item.get("fix"),
            severity=severity if severity != rule.severity else None,
            ignored=Suppression(ignored["kind"], ignored["reason"], ignored.get("until"))
            if ignored
            else None,
            stored_fingerprint=item.get("fingerprint"),
        )

    outcomes = [
        CheckOutcome(
            o["check"],
            o["target"],
            Status(o["status"]),
            facts=o.get("facts") or {},
            findings=[finding(f) for f in o.get("findings") or []],
            error=o.get("error"),
            duration_ms=o.get("duration_ms") or 0.0,
        )
        for o in data.get("outcomes") or []
    ]
    queries = [
        QueryRecord(
            q["name"],
            q["type"],
            q["status"],
            tuple(q.get("answers") or ()),
            q.get("elapsed_ms") or 0.0,
            q.get("error"),
        )
        for q in data.get("queries") or []
    ]
    report = Report(
        kind=data["kind"],
        target=data["target"],
        outcomes=outcomes,
        queries=queries,
        tool_version=data.get("tool_version") or "",
        duration_ms=data.get("duration_ms") or 0.0,
    )
    if data.get("generated_at"):
        report.generated_at = data["generated_at"]
    return report
