"""JSON: one document, `{"schema_version": 2, "reports": [Report.to_dict(), ...]}`, whatever
the number of targets (schema: audit/schema/report.schema.json; envelope: audit/json_document.py).

Keys keep the model's order (not sorted) so each report reads top-down: identity, summary,
outcomes, queries.
"""

from __future__ import annotations

from audit.json_document import dumps, json_document
from audit.model import Report


def render_json(reports: list[Report]) -> str:
    return dumps(json_document("reports", (r.to_dict() for r in reports)))
