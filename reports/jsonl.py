"""JSON Lines: one Report.to_dict() object per line, compact, in the order the reports ended.

The shape of each line is exactly the JSON format's per-target object (same schema), so a
consumer reads `audit ... --format json` and `--format jsonl` alike. Lines are written and
flushed one at a time by batch runs; an interrupted run leaves only whole lines.
"""

from __future__ import annotations

import json

from audit.model import Report


def jsonl_line(report: Report) -> str:
    """One report as one line (no newline inside: JSON escapes them), newline-terminated."""
    return json.dumps(report.to_dict(), ensure_ascii=False, default=str) + "\n"


def render_jsonl(reports: list[Report]) -> str:
    return "".join(jsonl_line(r) for r in reports)
