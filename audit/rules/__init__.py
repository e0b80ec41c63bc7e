"""The rule registry: every Rule defined in a module of this package, and its Markdown doc.

Rules live in one module per family (`audit/rules/spf.py` ...); each rule's doc is
`audit/rules/<ID>.md` beside them. A test fails if a rule lacks a doc or a doc lacks a rule.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from audit.model import Rule

DOC_DIR = Path(__file__).parent


@cache
def all_rules() -> dict[str, Rule]:
    """Every registered rule by id, in id order. Ids are unique across families."""
    found: dict[str, Rule] = {}
    for module_info in pkgutil.iter_modules([str(DOC_DIR)]):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, Rule):
                existing = found.get(value.id)
                if existing is not None and existing != value:
                    raise RuntimeError(f"rule id {value.id} defined twice")
                found[value.id] = value
    return dict(sorted(found.items()))


def get_rule(rule_id: str) -> Rule | None:
    return all_rules().get(rule_id.strip().upper())


def rule_doc(rule_id: str) -> str | None:
    path = DOC_DIR / f"{rule_id.strip().upper()}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def documented_ids() -> set[str]:
    return {p.stem for p in DOC_DIR.glob("*.md")}
