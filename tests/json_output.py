"""Reading what `--format json` writes in tests: the one envelope (audit/json_document.py),
checked on every read, so a test that reads a report also proves the output's shape."""

from __future__ import annotations

import json
from typing import Any

from audit.model import SCHEMA_VERSION


def document_of(text: str | bytes, name: str = "reports") -> list[dict[str, Any]]:
    """The `name` list of a JSON output, after checking the envelope around it."""
    doc = json.loads(text)
    assert isinstance(doc, dict), f"JSON output is not an object: {type(doc).__name__}"
    assert doc.get("schema_version") == SCHEMA_VERSION, doc.get("schema_version")
    assert isinstance(doc.get(name), list), sorted(doc)
    return doc[name]


def reports_of(text: str | bytes) -> list[dict[str, Any]]:
    """Every report of a JSON output, in order."""
    return document_of(text, "reports")


def report_of(text: str | bytes) -> dict[str, Any]:
    """The one report of a one-target JSON output (several is a failure here)."""
    reports = reports_of(text)
    assert len(reports) == 1, [r.get("target") for r in reports]
    return reports[0]
