"""`--format sarif` through the CLI as a CI job runs it: one run per invocation whatever the
number of targets (GitHub code scanning rejects a file with more than 20 runs), each result
carrying its target as a logical location, rules listed once with their docs, and the file
valid against the official SARIF 2.1.0 schema (fixtures/sarif, OASIS, with its license)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from audit.rules import rule_doc
from tests.conftest import FIXTURES, ZONES
from tests.e2e.test_cli import audit

SARIF_SCHEMA = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text("utf-8"))
SARIF_VALIDATOR = jsonschema.Draft7Validator(SARIF_SCHEMA)
# 24 fixture domains (more than code scanning's 20-run limit), some clean, most failing
DOMAINS = [
    "clean.test", "spf-too-many.test", "dmarc-missing.test", "dmarc-none.test",
    "dmarc-external-rua.test", "dmarc-pct.test", "dmarc-sp-none.test", "dmarc-syntax.test",
    "dmarc-multiple.test", "dmarc-norua.test", "dmarc-np.test", "dmarc-strict.test",
    "dkim-good.test", "dkim-weak.test", "dkim-none.test", "dkim-revoked.test",
    "dkim-testing.test", "dkim-tiny.test", "mx-null.test", "mx-missing.test",
    "mx-cname.test", "mx-unresolvable.test", "mx-ip-literal.test", "bimi-ok.test",
]  # fmt: skip


def sarif_of(text: str) -> dict:
    """The one run of a SARIF output, after validating the whole file."""
    doc = json.loads(text)
    SARIF_VALIDATOR.validate(doc)
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    return run


def found(run: dict) -> set[tuple[str, str]]:
    """(rule id, audited target) of every result, the target read from its logical location."""
    out = set()
    for result in run["results"]:
        target = result["locations"][0]["logicalLocations"][0]
        assert target["kind"] == "module"
        assert run["logicalLocations"][target["index"]]["name"] == target["name"]
        out.add((result["ruleId"], target["name"]))
    return out


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> tuple[int, dict]:
    out = tmp_path_factory.mktemp("sarif") / "audit.sarif"
    proc = audit("domain", *DOMAINS, "--zone-dir", str(ZONES), "--format", "sarif",
                 "--output", str(out), timeout=300)  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, sarif_of(out.read_text("utf-8"))


def test_24_targets_give_one_valid_run_with_every_target(many):
    code, run = many
    assert code == 1
    targets = [loc for loc in run["logicalLocations"] if loc["kind"] == "module"]
    assert [t["name"] for t in targets] == DOMAINS  # every target, in the order given
    assert [t["fullyQualifiedName"] for t in targets] == [f"domain/{d}" for d in DOMAINS]
    (invocation,) = run["invocations"]
    per_target = {t["target"]: t["exitCode"] for t in invocation["properties"]["targets"]}
    assert per_target["clean.test"] == 0 and per_target["spf-too-many.test"] == 1
    assert invocation["exitCode"] == 1  # any failing target fails the invocation


def test_results_name_their_target(many):
    _, run = many
    hits = found(run)
    for expected in [
        ("SPF201", "spf-too-many.test"),
        ("DMARC001", "dmarc-missing.test"),
        ("DMARC101", "dmarc-none.test"),
        ("MX002", "mx-null.test"),
    ]:
        assert expected in hits, expected
    # near misses: the clean domain and a domain with DMARC get no DMARC001
    assert ("DMARC001", "clean.test") not in hits
    assert ("DMARC001", "dmarc-none.test") not in hits
    assert not any(target == "clean.test" for _, target in hits)


def test_subjects_sit_under_their_target(many):
    """A finding about a name other than the audited domain (an MX host, an include) carries
    it as a second logical location whose parent is the target."""
    _, run = many
    subjects = [loc for loc in run["logicalLocations"] if loc["kind"] == "resource"]
    assert subjects
    for subject in subjects:
        parent = run["logicalLocations"][subject["parentIndex"]]
        assert parent["kind"] == "module"
        assert subject["fullyQualifiedName"] == f"{parent['fullyQualifiedName']}/{subject['name']}"
    for result in run["results"]:
        where = result["locations"][0]["logicalLocations"]
        assert result["properties"]["target"] == where[0]["name"]
        if len(where) == 2:
            assert run["logicalLocations"][where[1]["index"]]["parentIndex"] == where[0]["index"]
            assert where[1]["name"] == result["properties"]["subject"] != where[0]["name"]


def test_rules_listed_once_with_their_docs(many):
    _, run = many
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    assert set(ids) == {r["ruleId"] for r in run["results"]}  # no unused rule, none missing
    assert ids.count("DMARC001") == 1  # fired on several targets, described once
    for rule, result in ((rules[r["ruleIndex"]], r) for r in run["results"]):
        assert rule["id"] == result["ruleId"]
    spf201 = rules[ids.index("SPF201")]
    doc = rule_doc("SPF201")
    assert doc and doc.startswith("# SPF201")
    assert spf201["help"] == {"text": doc, "markdown": doc}
    assert spf201["helpUri"].startswith("file:///") and spf201["helpUri"].endswith("/SPF201.md")
    assert Path(spf201["helpUri"].removeprefix("file://")).read_text("utf-8") == doc


def test_message_files_share_one_run_too(tmp_path):
    eml = (
        b"From: News <news@clean.test>\r\nTo: r@receiver.example\r\nSubject: Hello\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@clean.test>\r\n\r\nHi.\r\n"
    )
    files = []
    for name in ("a.eml", "b.eml"):
        (tmp_path / name).write_bytes(eml)
        files.append(str(tmp_path / name))
    proc = audit("message", *files, "--zone-dir", str(ZONES), "--format", "sarif")
    assert "Traceback" not in proc.stderr, proc.stderr
    run = sarif_of(proc.stdout)
    assert run["automationDetails"]["id"] == "audit/message/"
    modules = [loc["name"] for loc in run["logicalLocations"] if loc["kind"] == "module"]
    assert modules == files
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris == {"a.eml", "b.eml"}  # outside the working directory: the file name
