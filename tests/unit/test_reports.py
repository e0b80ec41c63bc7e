"""Renderers: JSON validates against the committed schema, HTML escapes attacker data,
terminal names rule, target and fix."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import jsonschema
import pytest

from audit.domain_audit import audit_domain
from audit.model import CheckOutcome, Finding, QueryRecord, Report, Status
from audit.net.dns import StaticBackend
from audit.rules.spf import SPF_PERMISSIVE_ALL
from reports import render

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "audit" / "schema" / "report.schema.json").read_text()
)
EVIL = '<script>alert(1)</script>"><img src=x onerror=alert(1)>&'


@pytest.fixture(scope="module")
def domain_reports(zone_data):
    backend = StaticBackend(zone_data)

    async def all_of(domains):
        return [await audit_domain(d, backend) for d in domains]

    return asyncio.run(all_of(["clean.test", "spf-too-many.test", "dmarc-external-rua.test"]))


def evil_report() -> Report:
    tree = {
        "domain": "evil.test",
        "via": None,
        "record": "v=spf1 " + EVIL,
        "lookups": 1,
        "total_lookups": 1,
        "void_lookups": 0,
        "error": EVIL,
        "children": [],
    }
    finding = Finding(
        SPF_PERMISSIVE_ALL, EVIL, message=EVIL, evidence=[EVIL, "v=spf1 +all"], fix=EVIL
    )
    outcome = CheckOutcome(
        "spf", EVIL, Status.COMPLETED, facts={"spf": {"tree": tree, EVIL: EVIL}}, findings=[finding]
    )
    query = QueryRecord("evil.test", "TXT", "NOERROR", (f'"{EVIL}"',), 1.0, EVIL)
    return Report("domain", EVIL, outcomes=[outcome], queries=[query], tool_version="0")


def test_json_validates_single_and_array(domain_reports):
    single = json.loads(render("json", domain_reports[:1]))
    jsonschema.validate(single, SCHEMA)
    assert single["target"] == "clean.test"
    several = json.loads(render("json", domain_reports))
    jsonschema.validate(several, SCHEMA)
    assert [r["target"] for r in several] == [
        "clean.test",
        "spf-too-many.test",
        "dmarc-external-rua.test",
    ]


def test_schema_rejects_a_wrong_document(domain_reports):
    doc = json.loads(render("json", domain_reports[:1]))
    doc["schema_version"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    doc = json.loads(render("json", domain_reports[1:2]))
    doc["outcomes"][0]["findings"][0]["severity"] = "catastrophic"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_json_round_trips_findings(domain_reports):
    doc = json.loads(render("json", domain_reports[1:2]))
    found = {(f["rule_id"], f["target"]) for o in doc["outcomes"] for f in o["findings"]}
    assert ("SPF201", "spf-too-many.test") in found
    spf = next(o for o in doc["outcomes"] if o["check"] == "spf")
    assert spf["facts"]["spf"]["lookup_count"] == 11


def test_html_escapes_everything_from_dns():
    html = render("html", [evil_report()])
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&amp;" in html
    assert "<script" not in html.lower()


def test_html_shows_tree_queries_and_fix(domain_reports):
    html = render("html", domain_reports[1:2])
    assert html.startswith("<!doctype html>")
    assert "SPF include tree" in html
    assert "include:_big.spf-too-many.test" in html
    assert "_dmarc.spf-too-many.test" in html  # the DNS queries table
    assert "SPF201" in html and "Fix:" in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # self-contained


def test_terminal_names_rule_target_fix_and_verdict(domain_reports):
    text = render("terminal", domain_reports[1:2])
    assert text.startswith("domain spf-too-many.test")
    assert "FAIL" in text
    assert "SPF201 spf-too-many-lookups  spf-too-many.test" in text
    assert "fix: Cut at least 1 lookup(s)" in text
    clean = render("terminal", domain_reports[:1])
    assert "PASS  no findings" in clean


def test_unknown_format():
    with pytest.raises(ValueError):
        render("pdf", [evil_report()])
