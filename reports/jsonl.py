"""JSON Lines: one Report.to_dict() object per line, compact, in the order the reports ended.

The shape of each line is exactly the JSON format's per-target object (same schema), so a
consumer reads `audit ... --format json` and `--format jsonl` alike. Lines are written and
flushed one at a time by batch runs; an interrupted run leaves only whole lines.
"""

from __future__ import annotations

from audit.json_document import jsonl_line
from audit.model import Report

__all__ = ["jsonl_line", "render_jsonl"]


def render_jsonl(reports: list[Report]) -> str:
    return "".join(jsonl_line(r) for r in reports)
