"""--format sarif | junit | markdown through the CLI: same exit code as the other formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ZONES
from tests.e2e.test_cli import audit


@pytest.mark.parametrize("fmt", ["sarif", "junit", "markdown", "json"])
def test_domain_formats_agree_on_the_exit_code(fmt: str) -> None:
    proc = audit("domain", "spf-too-many.test", "clean.test", "--zone-dir", str(ZONES),
                 "--format", fmt)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    if fmt == "sarif":
        (run,) = json.loads(proc.stdout)["runs"]  # one run per invocation, both targets in it
        assert run["automationDetails"]["id"] == "audit/domain/"
        assert [loc["name"] for loc in run["logicalLocations"] if loc["kind"] == "module"] == [
            "spf-too-many.test",
            "clean.test",
        ]
        found = {
            (x["ruleId"], x["level"], x["locations"][0]["logicalLocations"][0]["name"])
            for x in run["results"]
        }
        assert ("SPF201", "error", "spf-too-many.test") in found
        assert ("SPF201", "error", "clean.test") not in found
    elif fmt == "json":
        doc = json.loads(proc.stdout)
        assert [r["target"] for r in doc["reports"]] == ["spf-too-many.test", "clean.test"]
    elif fmt == "junit":
        root = ET.fromstring(proc.stdout)
        suites = [s.get("name") for s in root.iter("testsuite")]
        assert suites == ["domain spf-too-many.test", "domain clean.test"]
        failing = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
        assert "spf" in failing
    elif fmt == "markdown":
        assert proc.stdout.startswith("# audit report")
        assert "**SPF201**" in proc.stdout


def test_markdown_to_a_file(tmp_path) -> None:
    out = tmp_path / "report.md"
    proc = audit("domain", "clean.test", "--zone-dir", str(ZONES), "--format", "markdown",
                 "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "## domain audit: clean.test" in out.read_text()
