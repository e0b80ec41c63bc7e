"""The typed facts of each check family: what the checks put in the report and renderers read.

One frozen dataclass per fact a renderer or a user reads, its fields named and ordered as its
JSON (audit/fact_json.py serialises them). FACT_SCHEMA maps the $defs of
audit/schema/report.schema.json to the dataclasses they describe (nested dataclasses are compared
with the nested schema); tests/unit/test_fact_shapes.py keeps the two from drifting.
"""

from __future__ import annotations

from audit.fact_types.dkim import DkimFacts
from audit.fact_types.dmarc_reports import (
    ReadinessFacts,
    ReportsSummary,
    SourceRow,
    TlsReportsFacts,
)
from audit.fact_types.esp import EspDetection
from audit.fact_types.seed import PlacementRow, SeedFacts
from audit.fact_types.sending_paths import PathRow, SendingPathsFacts
from audit.fact_types.spf import SpfFacts, SpfNode, SpfTerm

# schema $defs name -> the dataclass it describes
FACT_SCHEMA: dict[str, type] = {
    "spf_facts": SpfFacts,
    "spf_node": SpfNode,
    "spf_term": SpfTerm,
    "sending_paths": SendingPathsFacts,
    "sending_path": PathRow,
    "reports_summary": ReportsSummary,
    "source_row": SourceRow,
    "readiness": ReadinessFacts,
    "tls_reports": TlsReportsFacts,
    "esp_detection": EspDetection,
    "dkim_facts": DkimFacts,
    "seed_facts": SeedFacts,
    "placement_row": PlacementRow,
}

__all__ = [
    "DkimFacts",
    "EspDetection",
    "FACT_SCHEMA",
    "PathRow",
    "PlacementRow",
    "ReadinessFacts",
    "ReportsSummary",
    "SeedFacts",
    "SendingPathsFacts",
    "SpfFacts",
    "SpfNode",
    "SpfTerm",
    "SourceRow",
    "TlsReportsFacts",
]
