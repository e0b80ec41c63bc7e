"""JSON output: exactly Report.to_dict() (one object, or an array for several), in the model's
key order, indent 2, non-ASCII kept as is."""

from __future__ import annotations

import asyncio
import json

import pytest

from audit.domain_audit import audit_domain
from audit.model import CheckOutcome, Finding, Report, Status
from audit.net.dns import StaticBackend
from audit.rules.spf import SPF_PERMISSIVE_ALL
from reports import FORMATS, render


@pytest.fixture(scope="module")
def domain_reports(zone_data) -> list[Report]:
    backend = StaticBackend(zone_data)

    async def run() -> list[Report]:
        return [await audit_domain(d, backend) for d in ("clean.test", "spf-too-many.test")]

    return asyncio.run(run())


def test_formats():
    from audit.cli_common import FORMAT_CHOICES

    assert FORMATS == ("terminal", "json", "html", "sarif", "junit", "markdown", "jsonl")
    assert FORMAT_CHOICES == FORMATS  # every renderer is reachable from --format


def test_one_report_round_trips_to_its_dict(domain_reports):
    report = domain_reports[1]
    text = render("json", [report])
    doc = json.loads(text)
    assert doc == json.loads(json.dumps(report.to_dict()))
    assert list(doc) == list(report.to_dict())  # the model's key order, not sorted
    assert text.startswith('{\n  "schema_version": 1,\n  "kind": "domain",\n')
    assert text.endswith("}\n")


def test_round_trip_keeps_findings_and_facts(domain_reports):
    doc = json.loads(render("json", domain_reports[1:2]))
    found = {(f["rule_id"], f["target"]) for o in doc["outcomes"] for f in o["findings"]}
    assert ("SPF201", "spf-too-many.test") in found
    assert ("SPF201", "clean.test") not in found
    spf = next(o for o in doc["outcomes"] if o["check"] == "spf")
    assert spf["facts"]["spf"]["lookup_count"] == 11
    tree = spf["facts"]["spf"]["tree"]
    assert [c["via"] for c in tree["children"]] == [
        "include:_big.spf-too-many.test",
        "include:_small.spf-too-many.test",
    ]
    assert doc["summary"]["counts"]["high"] >= 1


def test_several_reports_give_an_array_in_order(domain_reports):
    doc = json.loads(render("json", domain_reports))
    assert isinstance(doc, list)
    assert [r["target"] for r in doc] == ["clean.test", "spf-too-many.test"]
    assert doc == [json.loads(json.dumps(r.to_dict())) for r in domain_reports]
    assert json.loads(render("json", [])) == []


def test_output_is_stable(domain_reports):
    assert render("json", domain_reports) == render("json", domain_reports)


def test_non_ascii_is_kept_and_control_characters_are_escaped():
    finding = Finding(SPF_PERMISSIVE_ALL, "bücher.test", "Grüße \x1b[31m", ["v=spf1 +all"])
    outcome = CheckOutcome("spf", "bücher.test", Status.COMPLETED, findings=[finding])
    text = render("json", [Report("domain", "bücher.test", [outcome])])
    assert '"target": "bücher.test"' in text  # ensure_ascii=False
    assert "\x1b" not in text and "\\u001b" in text
    assert json.loads(text)["outcomes"][0]["findings"][0]["message"] == "Grüße \x1b[31m"


def test_unknown_format_is_refused(domain_reports):
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render("pdf", domain_reports)
