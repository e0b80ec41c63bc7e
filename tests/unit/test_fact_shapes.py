"""Typed facts: the schema's facts definitions match the dataclasses, field for field and type
for type; the JSON of a real check is what it was before the facts were typed; a report read
back from JSON renders from rebuilt dataclasses."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
import types
import typing
from typing import Any

import pytest

from audit import fact_types as shapes
from audit.checks.domain import dkim, esp, sending_paths, spf
from audit.dmarc_reports.reading import read_report_files
from audit.fact_json import MAX_FACT_ITEMS, facts_json, facts_of, from_json, to_json
from audit.fact_types import (
    FACT_SCHEMA,
    DkimFacts,
    EspDetection,
    PlacementRow,
    ReadinessFacts,
    ReportsSummary,
    SeedFacts,
    SendingPathsFacts,
    SourceRow,
    SpfFacts,
    SpfNode,
    SpfTerm,
    TlsReportsFacts,
)
from audit.fact_types import dkim as dkim_shapes
from audit.fact_types import dmarc_reports as report_shapes
from audit.fact_types import esp as esp_shapes
from audit.fact_types import seed as seed_shapes
from audit.fact_types import sending_paths as path_shapes
from audit.fact_types import spf as spf_shapes
from audit.facts.paths import declared_paths
from audit.init_config import detected_paths, found_selectors
from audit.model import CheckOutcome, Report, Status
from audit.net.dns import StaticBackend
from audit.report_analysis import analyse_dmarc, analyse_tls
from audit.report_load import report_from_dict
from audit.seed.confirm import SeedObservation, confirm
from reports import render
from tests.conftest import FIXTURES
from tests.unit.test_report_schema import SCHEMA, VALIDATOR
from tests.unit.test_seed_confirm import _copy_report

DEFS = SCHEMA["$defs"]
JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    return DEFS[ref.removeprefix("#/$defs/")] if ref else node


def _schema_types(node: dict[str, Any]) -> set[str]:
    node = _resolve(node)
    if "enum" in node:
        names = {type(v): JSON_TYPE.get(type(v), "null") for v in node["enum"]}
        return set(names.values())
    kind = node["type"]
    return {kind} if isinstance(kind, str) else set(kind)


def _python_types(tp: Any) -> tuple[set[str], list[Any]]:
    """(JSON types of `tp`, the member types to compare further: a dataclass or a list's items)."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        out: set[str] = set()
        nested: list[Any] = []
        for arg in typing.get_args(tp):
            kinds, more = _python_types(arg)
            out |= kinds
            nested += more
        return out, nested
    if tp is type(None):
        return {"null"}, []
    if typing.get_origin(tp) in (list, tuple, dict):
        return {"array" if typing.get_origin(tp) is not dict else "object"}, [tp]
    if dataclasses.is_dataclass(tp):
        return {"object"}, [tp]
    return {JSON_TYPE[typing.get_origin(tp) or tp]}, []


def _compare(cls: type, node: dict[str, Any], where: str, seen: set[type]) -> None:
    node = _resolve(node)
    seen.add(cls)
    hints = typing.get_type_hints(cls)
    props = node.get("properties", {})
    fields, inline = [], []
    for field in dataclasses.fields(cls):  # an INLINE field's own fields sit in this object
        if field.metadata.get("inline"):
            (inner,) = [a for a in typing.get_args(hints[field.name]) if a is not type(None)]
            seen.add(inner)
            inner_hints = typing.get_type_hints(inner)
            inline += [(f, inner_hints) for f in dataclasses.fields(inner)]
        else:
            fields.append((field, hints))
    names = [f.name for f, _ in fields + inline]
    assert sorted(props) == sorted(names), f"{where}: schema properties vs {cls.__name__} fields"
    omittable = {f.name for f, _ in fields if f.metadata.get("omit_none")}
    required = {f.name for f, _ in fields} - omittable  # inline ones are there only sometimes
    assert set(node.get("required", [])) == required, f"{where}: required"
    for field, hints in fields + inline:
        kinds, nested = _python_types(hints[field.name])
        if field.name in omittable:
            kinds.discard("null")  # left out of the JSON while None, never written as null
        here = f"{where}.{field.name}"
        assert _schema_types(props[field.name]) == kinds, here
        for tp in nested:
            if dataclasses.is_dataclass(tp):
                if tp not in seen or "$ref" not in props[field.name]:
                    _compare(tp, props[field.name], here, seen)
            else:
                _compare_members(tp, _resolve(props[field.name]), here, seen)


def _compare_members(tp: Any, node: dict[str, Any], where: str, seen: set[type]) -> None:
    """A list's items or a dict's values against `items` / `additionalProperties`."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is dict:
        if args[1] is Any:
            return
        member, node, where = args[1], node["additionalProperties"], f"{where}{{}}"
    else:
        member, node, where = args[0], node["items"], f"{where}[]"
    kinds, nested = _python_types(member)
    assert _schema_types(node) == kinds, where
    for inner in nested:
        if dataclasses.is_dataclass(inner):
            if inner not in seen or "$ref" not in node:
                _compare(inner, node, where, seen)
        else:
            _compare_members(inner, _resolve(node), where, seen)


@pytest.mark.parametrize("name", sorted(FACT_SCHEMA))
def test_schema_definition_matches_the_dataclass(name):
    _compare(FACT_SCHEMA[name], DEFS[name], name, set())


def test_every_fact_shape_is_described_by_the_schema():
    seen: set[type] = set()
    for name, cls in FACT_SCHEMA.items():
        _compare(cls, DEFS[name], name, seen)
    declared = {
        obj
        for module in (spf_shapes, path_shapes, report_shapes, esp_shapes, dkim_shapes, seed_shapes)
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ == module.__name__
    }
    assert declared == seen
    assert set(shapes.__all__) >= {c.__name__ for c in FACT_SCHEMA.values()}


PLACEMENT = {
    "type": "object",
    "description": "provider -> where its seed copies landed",
    "additionalProperties": {"$ref": "#/$defs/placement_row"},
}
ESP_PROVIDERS = {"type": "array", "items": {"$ref": "#/$defs/esp_detection"}}


def test_the_outcome_schema_points_at_the_fact_definitions():
    facts = DEFS["outcome"]["properties"]["facts"]
    assert facts["properties"]["sending_paths"] == {"$ref": "#/$defs/sending_paths"}
    assert facts["properties"]["seed"] == {"$ref": "#/$defs/seed_facts"}
    assert facts["properties"]["spf_terms"]["items"] == {"$ref": "#/$defs/spf_term"}
    assert facts["dependentSchemas"]["spf_terms"]["properties"]["spf"] == {
        "$ref": "#/$defs/spf_facts"
    }
    by_check = {
        rule["if"]["properties"]["check"]["const"]: rule["then"]["properties"]["facts"]
        for rule in DEFS["outcome"]["allOf"]
    }
    assert {check: facts["properties"] for check, facts in by_check.items()} == {
        "reports": {"reports": {"$ref": "#/$defs/reports_summary"}},
        "sources": {"sources": {"type": "array", "items": {"$ref": "#/$defs/source_row"}}},
        "readiness": {"readiness": {"$ref": "#/$defs/readiness"}},
        "tls-reports": {"tls_reports": {"$ref": "#/$defs/tls_reports"}},
        "esp": {**by_check["esp"]["properties"], "providers": ESP_PROVIDERS},
        "dkim": {"dkim": {"$ref": "#/$defs/dkim_facts"}},
        "placement": {"placement": PLACEMENT},
    }


def test_a_drifted_field_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Drifted:
        domain: str
        term: str
        cost: str  # the schema says integer
        target: str | None
        void: bool
        hosts: tuple[str, ...]
        note: str | None
        failed: str | None

    with pytest.raises(AssertionError, match="cost"):
        _compare(Drifted, DEFS["spf_term"], "spf_term", set())


def _domain_report(run_domain_check, domain: str, **paths: Any) -> Report:
    facts = run_domain_check(spf.check, domain).facts
    outcomes = [CheckOutcome("spf", domain, Status.COMPLETED, facts=facts)]
    if paths:
        result = run_domain_check(
            sending_paths.check, domain, sending_paths=declared_paths(**paths)
        )
        outcomes.append(CheckOutcome("sending_paths", domain, result.status, facts=result.facts))
    return Report("domain", domain, outcomes)


def test_checks_put_typed_facts_and_their_json_validates(run_domain_check):
    report = _domain_report(
        run_domain_check, "path-own.test", ips=["198.51.100.7"],
        return_path="bounces.path-own.test", dkim_selectors=["s1"],
    )  # fmt: skip
    spf_facts = report.outcomes[0].facts["spf"]
    assert isinstance(spf_facts, SpfFacts) and isinstance(spf_facts.tree, SpfNode)
    assert all(isinstance(t, SpfTerm) for t in report.outcomes[0].facts["spf_terms"])
    paths = report.outcomes[1].facts["sending_paths"]
    assert isinstance(paths, SendingPathsFacts)
    (row,) = paths.paths
    assert (row.name, row.spf.result, row.alignment.dkim, row.dmarc) == (
        "own-mta", "pass", True, "pass",
    )  # fmt: skip
    assert (row.alignment.spf.rfc7489, row.alignment.spf.rfc9989) == (True, True)
    data = report.to_dict()
    VALIDATOR.validate(data)
    assert data["outcomes"][1]["facts"]["sending_paths"]["paths"][0]["alignment"] == {
        "spf": {"rfc7489": True, "rfc9989": True},
        "dkim": True,
    }


def test_json_round_trip_rebuilds_equal_dataclasses(run_domain_check):
    report = _domain_report(run_domain_check, "spf-too-many.test")
    stored = json.loads(json.dumps(report.to_dict()))
    again = report_from_dict(stored)
    # read back, the facts stay as they were stored: re-rendering gives the same JSON
    assert again.outcomes[0].facts == stored["outcomes"][0]["facts"]
    assert json.dumps(again.to_dict()["outcomes"]) == json.dumps(stored["outcomes"])
    rebuilt = facts_of(again.outcomes[0].facts, "spf", SpfFacts)
    assert rebuilt == report.outcomes[0].facts["spf"]
    assert rebuilt is not None and rebuilt.lookup_count == 11


def test_rendered_from_typed_facts_and_from_stored_json_alike(run_domain_check):
    report = _domain_report(
        run_domain_check, "path-own.test", ips=["198.51.100.7"],
        return_path="bounces.path-own.test",
    )  # fmt: skip
    stored = report_from_dict(json.loads(json.dumps(report.to_dict())))
    for fmt in ("html", "markdown", "terminal"):
        assert render(fmt, [stored]) == render(fmt, [report]), fmt
    html = render("html", [report])
    assert "own-mta" in html and "SPF include tree" in html


def test_typed_lists_are_capped_in_the_json_not_in_memory():
    hosts = tuple(f"mx{i}.x.test" for i in range(MAX_FACT_ITEMS + 5))
    term = SpfTerm("x.test", "mx", 1, None, False, hosts, None, None)
    facts = {"spf_terms": [term]}
    assert len(term.hosts) == MAX_FACT_ITEMS + 5
    out = facts_json(facts)["spf_terms"][0]
    assert len(out["hosts"]) == MAX_FACT_ITEMS and out["hosts_skipped"] == 5


def test_optional_keys_are_left_out_while_none():
    bare = SendingPathsFacts(from_domain="x.test")
    assert to_json(bare) == {"from_domain": "x.test", "paths": []}
    noted = SendingPathsFacts(from_domain="x.test", note="none declared")
    assert list(to_json(noted)) == ["from_domain", "paths", "note"]


def test_malformed_stored_facts_read_as_empty_values_not_crashes():
    node = from_json(SpfNode, {"domain": 5, "lookups": "many", "children": ["x", {"via": 3}, None]})
    assert (node.domain, node.lookups, node.via, node.error) == ("5", 0, None, None)
    (child,) = node.children  # the entries that are not records are dropped
    assert child.via == "3" and child.children == ()
    assert facts_of({"spf": "text"}, "spf", SpfFacts) is None
    assert facts_of({}, "spf", SpfFacts) is None
    deep: dict[str, Any] = {"domain": "d"}
    for _ in range(200):
        deep = {"domain": "d", "children": [deep]}
    assert from_json(SpfNode, deep).domain == "d"  # depth-bounded, no RecursionError


SAMPLES = FIXTURES / "dmarc_reports" / "parsedmarc"


def _dmarc_report(zone_data) -> Report:
    read = read_report_files([SAMPLES / "example.net.xml"])
    backend = StaticBackend(zone_data)
    return asyncio.run(analyse_dmarc(read, "example.com", backend, {}))


def test_dmarc_reports_facts_are_typed_and_render_alike_from_json(zone_data):
    report = _dmarc_report(zone_data)
    facts = {o.check: o.facts for o in report.outcomes}
    summary = facts["reports"]["reports"]
    assert isinstance(summary, ReportsSummary) and summary.aggregate_reports == 1
    (source, *_) = facts["sources"]["sources"]
    assert isinstance(source, SourceRow) and source.messages > 0
    assert isinstance(facts["readiness"]["readiness"], ReadinessFacts)
    assert [p.policy for p in facts["readiness"]["readiness"].policies] == [
        "quarantine",
        "reject",
    ]
    data = report.to_dict()
    VALIDATOR.validate(data)
    stored = report_from_dict(json.loads(json.dumps(data)))
    for fmt in ("html", "markdown", "terminal"):
        assert render(fmt, [stored]) == render(fmt, [report]), fmt


def test_tls_reports_facts_are_typed_and_validate():
    read = read_report_files([SAMPLES / "rfc8460.json"])
    (report,) = asyncio.run(analyse_tls(read, None, None))
    facts = report.outcomes[0].facts["tls_reports"]
    assert isinstance(facts, TlsReportsFacts) and facts.domain_audit == "not run (--no-audit)"
    (policy,) = facts.policies
    assert (policy.policy_type, policy.policy_domain) == ("sts", "company-y.example")
    assert (policy.successful_sessions, policy.failed_sessions) == (5326, 303)
    VALIDATOR.validate(report.to_dict())
    stored = report_from_dict(json.loads(json.dumps(report.to_dict())))
    assert render("terminal", [stored]) == render("terminal", [report])


def test_init_reads_detected_providers_typed_and_stored(run_domain_check):
    result = run_domain_check(esp.check, "esp-m365.test")
    assert all(isinstance(p, EspDetection) for p in result.facts["providers"])
    outcome = CheckOutcome("esp", "esp-m365.test", result.status, facts=result.facts)
    report = Report("domain", "esp-m365.test", [outcome])
    VALIDATOR.validate(report.to_dict())
    stored = report_from_dict(json.loads(json.dumps(report.to_dict())))
    seen = detected_paths(report)
    assert seen == detected_paths(stored)
    assert seen["microsoft-365"]["selectors"] == ["selector1", "selector2"]


def test_dkim_keys_typed_json_flat_and_read_back(run_domain_check):
    result = run_domain_check(dkim.check, "dkim-good.test")
    facts = result.facts["dkim"]
    assert isinstance(facts, DkimFacts)
    outcome = CheckOutcome("dkim", "dkim-good.test", result.status, facts=result.facts)
    report = Report("domain", "dkim-good.test", [outcome])
    data = report.to_dict()
    VALIDATOR.validate(data)
    stored = json.loads(json.dumps(data))
    rebuilt = facts_of(report_from_dict(stored).outcomes[0].facts, "dkim", DkimFacts)
    assert rebuilt == facts  # the inline key tags come back as the nested record
    assert found_selectors(report) == found_selectors(report_from_dict(stored))
    assert {s for s, _ in found_selectors(report)} == {"selector1", "s1"}
    # a message report's dkim facts (a list of verdicts) are not held to the domain shape
    message = {**data["outcomes"][0], "facts": {"dkim": [{"result": "pass"}]}}
    VALIDATOR.validate({**data, "kind": "message", "outcomes": [message]})


def test_seed_facts_typed_validated_and_rendered_alike_from_json():
    agreeing = {"method": "dkim", "subject": "d=good.test", "receiver": "pass", "ours": "pass",
                "agree": True, "note": ""}  # fmt: skip
    observations = [
        SeedObservation("locked@seeds.test", collect_error="login failed"),
        SeedObservation(
            "ok@seeds.test", folder="INBOX", placement="inbox", delay_s=3.14159,
            message_report=_copy_report(comparison=[agreeing]),
        ),
    ]  # fmt: skip
    report = Report("seed", "good.test", confirm(observations, None, "good.test"))
    seeds = {o.target: o.facts["seed"] for o in report.outcomes if "seed" in o.facts}
    ok, locked = seeds["ok@seeds.test"], seeds["locked@seeds.test"]
    assert isinstance(ok, SeedFacts) and (ok.placement, ok.delay_s) == ("inbox", 3.14)
    assert (ok.receiver.spf, ok.receiver.dkim, ok.receiver.dmarc) == ("pass", "pass", "pass")
    assert ok.comparison[0].agree is True and ok.message_audit == ()
    assert (locked.placement, locked.collect_error, locked.message_audit) == (
        "unknown", "login failed", None,
    )  # fmt: skip
    data = report.to_dict()
    VALIDATOR.validate(data)
    by_target = {o["target"]: o["facts"]["seed"] for o in data["outcomes"] if "seed" in o["facts"]}
    assert "message_audit" not in by_target["locked@seeds.test"]  # absent, as before
    assert by_target["locked@seeds.test"]["collect_error"] == "login failed"
    stored = report_from_dict(json.loads(json.dumps(data)))
    html = render("html", [report])
    # fingerprints aside (stored ones are kept as stored), the page is the same
    unprinted = re.compile(r'fingerprint">[0-9a-f]+<')
    assert unprinted.sub("", render("html", [stored])) == unprinted.sub("", html)
    assert "ok@seeds.test: DKIM d=good.test: pass (receiver and prediction agree)" in html
    (placement,) = [o.facts["placement"] for o in report.outcomes if o.check == "placement"]
    assert placement["generic"] == PlacementRow(1, 0, 0, 0, 1, 1.0)
    assert '<td class="num">100.0%</td>' in html
