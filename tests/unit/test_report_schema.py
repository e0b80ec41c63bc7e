"""The committed JSON schema (schema_version 2) describes what `--format json` really writes (the
envelope around Report.to_dict() objects), and rejects documents that break the contract."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from audit.domain_audit import audit_domain
from audit.message.load import RawMessage
from audit.message_audit import audit_message
from audit.model import CheckOutcome, Finding, QueryRecord, Report, Severity, Status
from audit.net.dns import StaticBackend
from audit.rules import all_rules
from audit.rules.spf import SPF_PERMISSIVE_ALL
from reports import render

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "audit" / "schema" / "report.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DOCUMENT_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)  # a whole `--format json` output
# one report (Report.to_dict(), a JSONL line): the schema's $defs/report
REPORT_SCHEMA = {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": "#/$defs/report"}
VALIDATOR = jsonschema.Draft202012Validator(REPORT_SCHEMA)
MESSAGE = (
    b"From: News <news@msg-dkim.test>\r\nTo: r@receiver.example\r\nSubject: Hello\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@msg-dkim.test>\r\n\r\nHi.\r\n"
)


@pytest.fixture(scope="module")
def real_reports(zone_data) -> list[Report]:
    """Reports from the real engine: domain audits of fixture zones and a message audit."""
    backend = StaticBackend(zone_data)

    async def run() -> list[Report]:
        domains = ["clean.test", "spf-too-many.test", "dmarc-external-rua.test", "mx-null.test"]
        out = [await audit_domain(d, backend) for d in domains]
        out.append(await audit_message(RawMessage("hello.eml", MESSAGE), backend))
        return out

    return asyncio.run(run())


def every_status_report() -> Report:
    """Every status, a severity override, a null fix and free-form facts."""
    finding = Finding(SPF_PERMISSIVE_ALL, "a.test", "msg", ["v=spf1 +all"], None, Severity.CRITICAL)
    outcomes = [
        CheckOutcome(
            "spf", "a.test", Status.COMPLETED, {"spf": {"n": [1, {"x": None}]}}, [finding]
        ),
        CheckOutcome("dkim", "a.test", Status.INCONCLUSIVE, duration_ms=1.5),
        CheckOutcome("mx", "a.test", Status.ERROR, error="RuntimeError: boom"),
        CheckOutcome("ptr", "a.test", Status.SKIPPED),
    ]
    queries = [
        QueryRecord("a.test", "TXT", "NOERROR", ('"v=spf1 +all"',), 0.4),
        QueryRecord("b.test", "MX", "TIMEOUT", (), 5000.0, "Timeout"),
    ]
    return Report("seed", "a.test", outcomes, queries, tool_version="0.1.0", duration_ms=12.0)


def test_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_real_reports_validate_as_one_document_whatever_their_number(real_reports):
    for chosen in ([], real_reports[:1], real_reports[4:], real_reports):
        doc = json.loads(render("json", chosen))
        DOCUMENT_VALIDATOR.validate(doc)
        assert list(doc) == ["schema_version", "reports"] and doc["schema_version"] == 2
        assert [r["target"] for r in doc["reports"]] == [r.target for r in chosen]
    several = json.loads(render("json", real_reports))["reports"]
    assert [r["kind"] for r in several] == ["domain"] * 4 + ["message"]
    for line in render("jsonl", real_reports).splitlines():  # JSONL: one bare report a line
        VALIDATOR.validate(json.loads(line))


@pytest.mark.parametrize(
    "shape",
    ["bare report (schema 1, one target)", "bare array (schema 1, several)", "schema_version 1",
     "no reports", "reports not a list", "extra key"],
)  # fmt: skip
def test_the_old_shapes_and_a_broken_envelope_fail(shape):
    report = every_status_report().to_dict()
    good = {"schema_version": 2, "reports": [report]}
    DOCUMENT_VALIDATOR.validate(good)
    broken = {
        "bare report (schema 1, one target)": report,
        "bare array (schema 1, several)": [report, report],
        "schema_version 1": {**good, "schema_version": 1},
        "no reports": {"schema_version": 2},
        "reports not a list": {"schema_version": 2, "reports": report},
        "extra key": {**good, "generated_by": "me"},
    }[shape]
    with pytest.raises(jsonschema.ValidationError):
        DOCUMENT_VALIDATOR.validate(broken)


def test_every_status_and_kind_validates():
    doc = every_status_report().to_dict()
    VALIDATOR.validate(doc)
    assert set(doc["summary"]["checks"].values()) == {s.value for s in Status}
    for kind in ("domain", "message", "seed", "config"):
        VALIDATOR.validate({**doc, "kind": kind})


MISSING = object()


def _mutated(doc: dict, path: str, value: object) -> dict:
    """A copy of `doc` with the value at the dotted `path` replaced (or removed: MISSING)."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is MISSING:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("schema_version", 1),
        ("kind", "server"),
        ("target", None),
        ("generated_at", "yesterday"),
        ("summary.counts.catastrophic", 1),
        ("summary.counts.high", -1),
        ("summary.checks.spf", "done"),
        ("outcomes.0.status", "finished"),
        ("outcomes.0.facts", ["not", "an", "object"]),
        ("outcomes.0.findings.0.severity", "catastrophic"),
        ("outcomes.0.findings.0.rule_id", "spf101"),
        ("outcomes.0.findings.0.rule_id", "SPF1011"),
        ("outcomes.0.findings.0.evidence", "v=spf1 +all"),
        ("outcomes.0.findings.0.fix", MISSING),
        ("queries.1.status", "REFUSED"),
        ("outcomes.0.findings.0.fingerprint", "SPF101:a.test"),
        ("outcomes.0.findings.0.ignored", {"kind": "noqa", "reason": "x", "until": None}),
        ("outcomes.0.findings.0.ignored", {"kind": "config", "reason": "x", "until": "soon"}),
        ("outcomes.0.findings.0.ignored", "yes"),
        ("summary.ignored", -1),
        ("surprise", True),
    ],
)
def test_a_wrong_document_fails(path, value):
    doc = every_status_report().to_dict()
    VALIDATOR.validate(doc)
    broken = _mutated(doc, path, value)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)
    with pytest.raises(jsonschema.ValidationError):  # one bad report spoils the document
        DOCUMENT_VALIDATOR.validate({"schema_version": 2, "reports": [doc, broken]})


def test_facts_are_a_free_object():
    doc = every_status_report().to_dict()
    doc["outcomes"][0]["facts"] = {"anything": {"goes": [1, "two", None, {"3": 4.5}]}}
    VALIDATOR.validate(doc)


def test_every_registered_rule_fits_the_schema_patterns():
    finding = SCHEMA["$defs"]["finding"]["properties"]
    id_pattern = re.compile(finding["rule_id"]["pattern"])
    name_pattern = re.compile(finding["rule_name"]["pattern"])
    rules = all_rules()
    assert "SPF201" in rules
    for rule in rules.values():
        assert id_pattern.search(rule.id), rule.id
        assert name_pattern.search(rule.name), rule.name
        assert rule.severity.value in SCHEMA["$defs"]["severity"]["enum"]


def test_report_round_trips_through_its_dict() -> None:
    from audit.model import (
        CheckOutcome,
        Finding,
        QueryRecord,
        Report,
        Severity,
        Status,
    )
    from audit.report_load import report_from_dict
    from audit.rules import get_rule

    rule = get_rule("SEED402")
    report = Report(
        kind="seed",
        target="news@example.test run 1",
        outcomes=[
            CheckOutcome(
                "seed:a@x.test",
                "a@x.test",
                Status.COMPLETED,
                facts={"folder": "Junk"},
                findings=[Finding(rule, "a@x.test", "in Junk", ["Junk"], "fix", Severity.CRITICAL)],
            )
        ],
        queries=[QueryRecord("x.test", "TXT", "NOERROR", ("v=spf1 -all",), 1.5)],
        tool_version="0.1.0",
    )
    again = report_from_dict(report.to_dict())
    assert again.to_dict() == report.to_dict()
    assert again.findings()[0].effective_severity is Severity.CRITICAL


def test_ignored_finding_and_fingerprint_in_json_and_back():
    from audit.model import Suppression
    from audit.report_load import report_from_dict

    report = every_status_report()
    finding = report.findings()[0]
    finding.ignored = Suppression("config", "legacy relay until March", "2027-03-01")
    doc = report.to_dict()
    VALIDATOR.validate(doc)
    item = doc["outcomes"][0]["findings"][0]
    assert item["ignored"] == {
        "kind": "config", "reason": "legacy relay until March", "until": "2027-03-01"
    }
    assert item["fingerprint"] == finding.fingerprint("a.test")
    assert re.fullmatch(r"[0-9a-f]{32}", item["fingerprint"])
    assert doc["summary"]["ignored"] == 1
    again = report_from_dict(doc)
    assert again.to_dict() == doc
    # the critical finding is ignored; what is left is the crashed check: an internal error
    assert again.exit_code(Severity.HIGH) == 4
