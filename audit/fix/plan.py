"""What `audit fix` proposes, as data: record changes and policy files. The renderers
(reports/fix.py) read these; audit/fix/planner.py makes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Change:
    """Publish `new` as the whole RRset at (name, rtype); `old` is what is there now."""

    name: str
    rtype: str
    old: list[str]
    new: list[str]
    clears: list[str]
    note: str = ""
    leaves: list[str] = field(default_factory=list)  # rule ids this step knowingly brings

    @property
    def old_value(self) -> str:
        gone = [v for v in self.old if v not in self.new]
        return " | ".join(gone) if gone else "(none)"

    @property
    def new_value(self) -> str:
        added = [v for v in self.new if v not in self.old]
        return " | ".join(added) if added else "(removed)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.rtype,
            "old": self.old_value,
            "new": self.new_value,
            "rrset_before": list(self.old),
            "rrset_after": list(self.new),
            "clears": list(self.clears),
            "leaves": list(self.leaves),
            "note": self.note,
        }


@dataclass
class PolicyFile:
    url: str
    text: str
    clears: list[str]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "text": self.text, "clears": self.clears, "note": self.note}


@dataclass
class FixPlan:
    domain: str
    changes: list[Change] = field(default_factory=list)
    files: list[PolicyFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "changes": [c.to_dict() for c in self.changes],
            "files": [f.to_dict() for f in self.files],
            "warnings": list(self.warnings),
        }
