"""The GitHub Action (action.yml) run as a script: its `run:` steps in order, with the inputs
substituted as the runner would (the install step offline: --no-index finds the package this
suite tests), `audit check` against Knot, and the gate step's exit code. The SARIF
it writes validates against the SARIF 2.1.0 schema and tracks findings by fingerprint."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import yaml

from tests.conftest import FIXTURES, ROOT
from tests.integration.gate_world import run_audit

SARIF_SCHEMA = FIXTURES / "sarif" / "sarif-schema-2.1.0.json"
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expr: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    match = re.fullmatch(r"inputs\.([\w-]+) == '([^']*)'", expr)
    if match:
        return "true" if inputs[match.group(1)] == match.group(2) else "false"
    if expr.startswith("inputs."):
        return inputs[expr.removeprefix("inputs.")]
    if expr == "steps.check.outputs.exit-code":
        return outputs.get("exit-code", "")
    raise AssertionError(f"the test does not know the expression {expr!r}")


def run_action(action: dict, inputs: dict[str, str], cwd: Path, env: dict[str, str]) -> dict:
    """Each step as the runner runs it; `uses:` steps (setup-python, upload-sarif) are the
    runner's business and are listed, not run. Returns the outputs and the gate's exit code."""
    values = {k: str(v.get("default", "")) for k, v in action["inputs"].items()} | inputs
    outputs: dict[str, str] = {}
    used, gate = [], None
    github_output = cwd / "github_output"

    def expand(text: str) -> str:
        return _EXPR.sub(lambda m: _value(m.group(1), values, outputs), str(text))

    for step in action["runs"]["steps"]:
        if "uses" in step:
            used.append(step["uses"].split("@")[0])
            continue
        if step.get("if") and expand(step["if"]) != "true":
            continue
        step_env = {k: expand(v) for k, v in (step.get("env") or {}).items()}
        step_env["GITHUB_OUTPUT"] = str(github_output)
        github_output.write_text("")
        command = ["bash", "-e", "-c", expand(step["run"])]
        proc = subprocess.run(command, cwd=cwd, text=True, capture_output=True, timeout=300,
                              env={**env, **step_env})  # fmt: skip
        for line in github_output.read_text().splitlines():
            key, _, value = line.partition("=")
            outputs[key] = value
        if step.get("name") == "Gate":
            gate = proc.returncode
        else:
            assert proc.returncode == 0, f"{step['name']}: {proc.stderr[-2000:]}"
    return {"outputs": outputs, "gate": gate, "used": used}


def test_action_steps_gate_and_sarif(knot_server, tmp_path: Path):
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    project = tmp_path / "repo"
    project.mkdir()
    (project / "audit.toml").write_text(f'''\
domains = ["dmarc-none.test", "spf-too-many.test"]
dns_servers = ["{knot_server.dns_server}"]
probes = false   # the MX hosts are documentation addresses: nothing to probe

[[ignore]]
rule = "DMARC101"
target = "dmarc-none.test"
reason = "p=none while the aggregate reports come in"
''')
    env = dict(os.environ)
    # the install step runs for real, offline: pip finds the package this suite tests already
    # installed (setup-python and the network are the runner's part)
    inputs = {"package": "audit", "pip-args": "--no-index --no-deps"}
    first = run_action(action, inputs, project, env)
    assert first["used"] == ["actions/setup-python", "github/codeql-action/upload-sarif"]
    assert first["outputs"]["exit-code"] == "1"  # SPF201 and DMARC001 on spf-too-many.test
    assert first["gate"] == 1
    sarif = json.loads((project / "audit.sarif").read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    (run,) = sarif["runs"]  # one run for the whole `audit check`: its domains and the config
    assert {loc["name"] for loc in run["logicalLocations"] if loc["kind"] == "module"} >= {
        "spf-too-many.test"
    }
    results = run["results"]
    dmarc = next(r for r in results if r["ruleId"] == "DMARC101")
    assert dmarc["suppressions"] == [{
        "kind": "external", "state": "accepted",
        "justification": "p=none while the aggregate reports come in",
    }]  # fmt: skip
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["partialFingerprints"]["auditFingerprint/v1"])
               for r in results)  # fmt: skip
    prints = {r["partialFingerprints"]["auditFingerprint/v1"] for r in results}

    # accept today's findings: the next run passes the gate, with the same fingerprints
    write = subprocess.run(["audit", "baseline", "write"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert write.returncode == 0, write.stderr
    second = run_action(action, {**inputs, "baseline": ".audit-baseline.json"}, project, env)
    assert (second["outputs"]["exit-code"], second["gate"]) == ("0", 0)
    again = json.loads((project / "audit.sarif").read_text())
    jsonschema.validate(again, json.loads(SARIF_SCHEMA.read_text()))
    results = [r for run in again["runs"] for r in run["results"]]
    assert {r["partialFingerprints"]["auditFingerprint/v1"] for r in results} == prints
    spf = next(r for r in results if r["ruleId"] == "SPF201")
    assert spf["baselineState"] == "unchanged" and spf["suppressions"][0]["kind"] == "external"


def test_junit_names_stable_across_runs(knot_server, tmp_path: Path):
    dns = knot_server.dns_server
    (tmp_path / "audit.toml").write_text(
        f'domains = ["spf-too-many.test", "clean.test"]\ndns_servers = ["{dns}"]\n'
    )
    names = []
    for _ in range(2):
        proc = run_audit("check", "--no-probes", "--format", "junit", cwd=tmp_path,
                         state=tmp_path)  # fmt: skip
        assert proc.returncode == 1
        root = ET.fromstring(proc.stdout)
        names.append(sorted((c.get("classname"), c.get("name")) for c in root.iter("testcase")))
    assert names[0] == names[1]
    assert ("domain.spf-too-many.test", "spf") in names[0]
    assert ("config.audit.toml", "config") in names[0]
