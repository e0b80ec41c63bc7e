"""JSON: the Report.to_dict() document (schema: audit/schema/report.schema.json).

One target gives one object, several (or none) give an array of them. Keys keep the model's
order (not sorted) so the document reads top-down: identity, summary, outcomes, queries.
"""

from __future__ import annotations

import json

from audit.model import Report


def render_json(reports: list[Report]) -> str:
    data = reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports]
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
