"""The one JSON shape every command writes, and the reader that also takes the old shapes.

Every `--format json` output is an object: `{"schema_version": 2, "<name>": [...]}`. Commands
that produce reports (domain, message, spf, seed, check, receive, dmarc-reports, tls-reports)
name the list `reports`, whatever the number of targets; listings name theirs after what they
list (`rules`, `profiles`, `runs`). Schema version 1 wrote a bare report object for one target
and an array for several: `report_dicts` still reads both, so files written before stay usable
(`audit diff old.json new.json`). JSON Lines stay one bare report object per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from audit.model import SCHEMA_VERSION, Report


def json_document(name: str, items: Iterable[Any], **extra: Any) -> dict[str, Any]:
    """`{"schema_version": N, name: [items], **extra}`: the envelope of every JSON output."""
    return {"schema_version": SCHEMA_VERSION, name: list(items), **extra}


def dumps(document: Any) -> str:
    """Indented, UTF-8 kept as is (names and headers read as written), newline-terminated."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


def jsonl_line(report: Report) -> str:
    """One report as one JSON Lines line (compact; no newline inside: JSON escapes them),
    newline-terminated: what `--format jsonl` writes and what worker processes send. A digest
    (Report.rendered: a worker's report) is its line as the worker rendered it."""
    if report.rendered is not None:
        return report.rendered
    return jsonl_text(report.to_dict())


def jsonl_text(data: dict[str, Any]) -> str:
    """A report's dict (Report.to_dict) as its JSON Lines line: for a caller that needs both."""
    return json.dumps(data, ensure_ascii=False, default=str) + "\n"


def report_dicts(data: Any) -> list[dict[str, Any]]:
    """The report objects of a parsed JSON report document: the envelope (schema 2), or the
    schema 1 shapes (one report object, or an array of them). ValueError when it is none."""
    if isinstance(data, dict) and "reports" in data and "kind" not in data:
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError("no schema_version in the report document")
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"written by a newer audit (schema_version {version}; this one reads up to "
                f"{SCHEMA_VERSION})"
            )
        items = data["reports"]
    elif isinstance(data, dict):
        items = [data]  # schema 1: one target, a bare report object
    elif isinstance(data, list):
        items = data  # schema 1: several targets, an array
    else:
        raise ValueError("not an object or an array")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("`reports` is not a list of report objects")
    return items
