"""JSON output: one document, {"schema_version": 2, "reports": [Report.to_dict(), ...]}, whatever
the number of targets, in the model's key order, indent 2, non-ASCII kept as is; and the reader
that takes that envelope and the schema 1 shapes (a bare object, an array)."""

from __future__ import annotations

import asyncio
import json

import pytest

from audit.domain_audit import audit_domain
from audit.json_document import report_dicts
from audit.model import CheckOutcome, Finding, Report, Status
from audit.net.dns import StaticBackend
from audit.report_load import report_from_dict
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


def test_one_report_is_the_one_element_of_reports(domain_reports):
    report = domain_reports[1]
    text = render("json", [report])
    doc = json.loads(text)
    assert list(doc) == ["schema_version", "reports"] and doc["schema_version"] == 2
    (only,) = doc["reports"]
    assert only == json.loads(json.dumps(report.to_dict()))
    assert list(only) == list(report.to_dict())  # the model's key order, not sorted
    assert text.startswith('{\n  "schema_version": 2,\n  "reports": [\n    {\n')
    assert '\n      "kind": "domain",\n' in text
    assert text.endswith("}\n  ]\n}\n")


def test_round_trip_keeps_findings_and_facts(domain_reports):
    (doc,) = json.loads(render("json", domain_reports[1:2]))["reports"]
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


def test_several_and_none_give_the_same_shape_in_order(domain_reports):
    doc = json.loads(render("json", domain_reports))
    assert list(doc) == ["schema_version", "reports"]
    assert [r["target"] for r in doc["reports"]] == ["clean.test", "spf-too-many.test"]
    assert doc["reports"] == [json.loads(json.dumps(r.to_dict())) for r in domain_reports]
    assert json.loads(render("json", [])) == {"schema_version": 2, "reports": []}


def test_jsonl_lines_stay_bare_reports(domain_reports):
    lines = render("jsonl", domain_reports).splitlines()
    assert [json.loads(line) for line in lines] == json.loads(render("json", domain_reports))[
        "reports"
    ]


def test_reader_takes_the_envelope_and_the_schema_1_shapes(domain_reports):
    """A report file written before schema 2 (a bare object, an array) still loads."""
    dicts = [json.loads(json.dumps(r.to_dict())) for r in domain_reports]
    old_one = {**dicts[1], "schema_version": 1}
    assert report_dicts(json.loads(render("json", domain_reports))) == dicts
    assert report_dicts(old_one) == [old_one]
    assert report_dicts([{**d, "schema_version": 1} for d in dicts])[1]["target"] == (
        "spf-too-many.test"
    )
    assert report_dicts({"schema_version": 2, "reports": []}) == []
    again = report_from_dict(report_dicts(old_one)[0])
    assert {f.rule.id for f in again.findings()} == {
        f.rule.id for f in domain_reports[1].findings()
    }


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"schema_version": 3, "reports": []}, r"newer audit \(schema_version 3;"),
        ({"reports": []}, "no schema_version"),
        ({"schema_version": 2, "reports": {"kind": "domain"}}, "not a list of report objects"),
        ({"schema_version": 2, "reports": ["x"]}, "not a list of report objects"),
        ("text", "not an object or an array"),
    ],
)
def test_reader_refuses_what_is_no_report_document(data, says):
    with pytest.raises(ValueError, match=says):
        report_dicts(data)


def test_output_is_stable(domain_reports):
    assert render("json", domain_reports) == render("json", domain_reports)


def test_non_ascii_is_kept_and_control_characters_are_escaped():
    finding = Finding(SPF_PERMISSIVE_ALL, "bücher.test", "Grüße \x1b[31m", ["v=spf1 +all"])
    outcome = CheckOutcome("spf", "bücher.test", Status.COMPLETED, findings=[finding])
    text = render("json", [Report("domain", "bücher.test", [outcome])])
    assert '"target": "bücher.test"' in text  # ensure_ascii=False
    assert "\x1b" not in text and "\\u001b" in text
    (report,) = json.loads(text)["reports"]
    assert report["outcomes"][0]["findings"][0]["message"] == "Grüße \x1b[31m"


def test_unknown_format_is_refused(domain_reports):
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render("pdf", domain_reports)
