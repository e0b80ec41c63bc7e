"""The import contract (.importlinter, docs/architecture.md) fails when someone breaks it.

scripts/test.sh runs `lint-imports` on the real tree; here the checker runs on a copy of audit/
and reports/ with one violation planted, and must name the contract it breaks (and only that
one): an engine module importing reports, a cycle, one check family importing another, an
upward import. The clean copy passes, so a broken result is the planted import, not the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOORS = "audit's floors: imports point downwards only"
NO_REPORTS = "The engine never imports reports"
FAMILIES = "Domain check families never import each other"
ACYCLIC = "No import cycles between sibling packages or modules"


def _copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("audit", "reports"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def _lint(tree: Path) -> tuple[int, dict[str, bool]]:
    """lint-imports on `tree`: its exit code and, per contract name prefix, whether it was kept."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
         "--no-cache"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    text = " ".join(done.stdout.split())  # contract names wrap at the terminal width
    kept = {}
    for name in (FLOORS, NO_REPORTS, FAMILIES, ACYCLIC):
        start = text.index(name)
        verdicts = [(text.find(" KEPT", start), True), (text.find(" BROKEN", start), False)]
        kept[name] = min((i, v) for i, v in verdicts if i >= 0)[1]
    return done.returncode, kept


def _plant(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8")


def test_the_clean_copy_keeps_every_contract(tmp_path: Path) -> None:
    code, kept = _lint(_copy(tmp_path))
    assert code == 0
    assert all(kept.values()), kept


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the engine rendering a report itself (the receive web view did): reports is the cli's
        ("audit.net.https", "from reports import render", {NO_REPORTS, FLOORS}),
        # the model reaching up into the rule registry (the old model <-> rules cycle)
        ("audit.model", "from audit.report_load import report_from_dict", {FLOORS, ACYCLIC}),
        # one check family using another's internals instead of audit/facts
        ("audit.checks.domain.ptr", "from audit.checks.domain.mx import check", {FAMILIES}),
        # a command module importing audit.cli (the old cli <-> cli_seed cycle)
        ("audit.cli_seed", "import audit.cli", {FLOORS, ACYCLIC}),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, line: str, broken: set[str]
) -> None:
    tree = _copy(tmp_path)
    _plant(tree, module, line)
    code, kept = _lint(tree)
    assert code == 1
    assert {name for name, ok in kept.items() if not ok} == broken
