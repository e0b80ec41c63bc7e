"""SARIF, JUnit and Markdown: the CI-facing faces of the same Report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from audit.model import CheckOutcome, Finding, Report, Status
from audit.rules import get_rule
from reports import render

HOSTILE = "evil`|<script>alert(1)</script> [x](https://evil.example) \x1b[31m"


def _report() -> Report:
    spf = get_rule("SPF201")
    sts = get_rule("STS001")
    dns = get_rule("DNS001")
    return Report(
        kind="domain",
        target="example.test",
        outcomes=[
            CheckOutcome(
                "spf",
                "example.test",
                Status.COMPLETED,
                findings=[Finding(spf, "example.test", f"too many: {HOSTILE}", [HOSTILE], "cut")],
            ),
            CheckOutcome(
                "mta_sts",
                "example.test",
                Status.COMPLETED,
                findings=[Finding(sts, "example.test", "no record")],
            ),
            CheckOutcome(
                "dkim",
                "example.test",
                Status.INCONCLUSIVE,
                findings=[Finding(dns, "example.test", "timeout")],
                error="lookup timed out",
            ),
            CheckOutcome("starttls", "example.test", Status.SKIPPED, error="probes off"),
            CheckOutcome("mx", "example.test", Status.ERROR, error="RuntimeError: boom"),
        ],
        tool_version="0.1.0",
    )


def test_sarif_has_rules_results_levels_and_exit_code() -> None:
    doc = json.loads(render("sarif", [_report()], fail_on="high"))
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["DNS001", "SPF201", "STS001"]
    levels = {(r["ruleId"], r["level"]) for r in run["results"]}
    assert levels == {("SPF201", "error"), ("STS001", "note"), ("DNS001", "warning")}
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        (location,) = result["locations"][0]["logicalLocations"]  # the subject is the target
        assert (location["name"], location["kind"]) == ("example.test", "module")
        assert location["fullyQualifiedName"] == "domain/example.test"
        # GitHub code scanning refuses results without a repository-relative physical location
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "dns/example.test"
    assert run["invocations"][0]["exitCode"] == 1
    assert run["invocations"][0]["executionSuccessful"] is False  # the mx check crashed
    assert run["automationDetails"]["id"] == "audit/domain/"


def test_junit_maps_checks_to_cases() -> None:
    root = ET.fromstring(render("junit", [_report()], fail_on="high"))
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "5",
        "1",
        "2",
        "1",
    )
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["spf"].find("failure").get("type") == "SPF201"
    assert cases["dkim"].find("error").get("type") == "inconclusive"
    assert cases["starttls"].find("skipped").get("message") == "probes off"
    assert "STS001" in cases["mta_sts"].find("system-out").text  # below fail-on: listed
    assert "\\x1b" in cases["spf"].find("failure").text  # control characters spelled out


def test_junit_with_lower_threshold_fails_the_low_finding_too() -> None:
    root = ET.fromstring(render("junit", [_report()], fail_on="low"))
    assert root.get("failures") == "2"


def test_markdown_escapes_attacker_text() -> None:
    import re

    text = render("markdown", [_report()], fail_on="high")
    assert "**FAIL**" in text
    fences = re.findall(r"(`{3,})text\n(.*?)\n *\1", text, flags=re.S)
    outside = re.sub(r"(`{3,})text\n.*?\n *\1", "", text, flags=re.S)
    assert "<script>" not in outside and "\\<script\\>" in outside
    assert "https:\\/\\/evil.example" in outside  # no autolink
    assert "\x1b" not in text
    # evidence stays verbatim inside a fence longer than any backtick run in it
    assert any("evil`|<script>" in body for _fence, body in fences)
    assert "| spf | completed | 1 |" in text


def test_sarif_several_reports_one_run_valid_against_the_official_schema() -> None:
    """Two targets, an ignored finding, a crashed check and a rule id this version does not
    know: one run, rules once, notifications naming their target, schema-valid."""
    import jsonschema

    from audit.model import Rule, Severity, Suppression
    from tests.conftest import FIXTURES

    first = _report()
    first.findings()[1].ignored = Suppression("config", "legacy relay", "2027-03-01")
    old_rule = Rule("SPF999", "retired-elsewhere", Severity.HIGH, "from a newer audit")
    second = Report(
        kind="domain",
        target="other.test",
        outcomes=[
            CheckOutcome(
                "spf",
                "other.test",
                Status.COMPLETED,
                findings=[
                    Finding(get_rule("SPF201"), "_spf.other.test", "too many"),
                    Finding(old_rule, "other.test", "unknown here"),
                ],
            )
        ],
        tool_version="0.1.0",
    )
    text = render("sarif", [first, second], fail_on="high")
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text("utf-8"))
    doc = json.loads(text)
    jsonschema.Draft7Validator(schema).validate(doc)
    [run] = doc["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["DNS001", "SPF201", "STS001"]
    pairs = [
        (r["ruleId"], [loc["name"] for loc in r["locations"][0]["logicalLocations"]])
        for r in run["results"]
    ]
    assert ("SPF201", ["other.test", "_spf.other.test"]) in pairs
    assert ("SPF201", ["example.test"]) in pairs
    unknown = next(r for r in run["results"] if r["ruleId"] == "SPF999")
    assert "ruleIndex" not in unknown  # not described: no index into the rules
    sts = next(r for r in run["results"] if r["ruleId"] == "STS001")
    assert sts["suppressions"][0]["justification"] == "legacy relay (until 2027-03-01)"
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False  # example.test's mx check crashed
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert texts == [
        "example.test: dkim: inconclusive: lookup timed out",
        "example.test: mx: error: RuntimeError: boom",
    ]
    assert [t["exitCode"] for t in invocation["properties"]["targets"]] == [1, 1]
