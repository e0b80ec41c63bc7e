"""No function in audit/ over 80 lines (def line to last line, decorators excluded): a longer
one holds several jobs and should be split along its seams (issue 13)."""

from __future__ import annotations

import ast
from pathlib import Path

import audit

LIMIT = 80
PACKAGE = Path(audit.__file__).resolve().parent


def long_functions(root: Path, limit: int = LIMIT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    where = path.relative_to(root.parent)
                    found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_audit_is_over_80_lines():
    assert long_functions(PACKAGE) == []


def test_the_scan_counts_from_the_def_line_without_decorators(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT - 1))
    (tmp_path / "fits.py").write_text(f"@decorator\n@another\ndef fits():\n{body}\n")
    (tmp_path / "long.py").write_text(f"async def long():\n{body}\n    return x0\n")
    assert long_functions(tmp_path) == [f"{tmp_path.name}/long.py:1 long (81 lines)"]
