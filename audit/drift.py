"""What changed between two runs: findings new, resolved and unchanged (by fingerprint), and
the DNS answers that changed (from the two runs' query logs: name, type, before, after).

Reports are paired by (kind, target); a target audited in only one run has all its findings
new or resolved. A query asked in only one run is listed with "(not asked)" on the other side:
a record that appeared can make the audit ask new names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.model import Finding, QueryRecord, Report

NOT_ASKED = "(not asked)"


@dataclass(frozen=True)
class FindingChange:
    scope: str  # the report's target
    finding: Finding
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "fingerprint": self.fingerprint, **self.finding.to_dict()}


@dataclass(frozen=True)
class DnsChange:
    name: str
    rdtype: str
    before: str
    after: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.rdtype, "before": self.before, "after": self.after}


@dataclass
class Drift:
    before_label: str
    after_label: str
    new: list[FindingChange] = field(default_factory=list)
    resolved: list[FindingChange] = field(default_factory=list)
    unchanged: list[FindingChange] = field(default_factory=list)
    dns: list[DnsChange] = field(default_factory=list)
    targets_added: list[str] = field(default_factory=list)
    targets_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.resolved or self.dns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before_label,
            "after": self.after_label,
            "summary": {
                "new": len(self.new),
                "resolved": len(self.resolved),
                "unchanged": len(self.unchanged),
                "dns_changed": len(self.dns),
            },
            "new": [c.to_dict() for c in self.new],
            "resolved": [c.to_dict() for c in self.resolved],
            "unchanged": [c.to_dict() for c in self.unchanged],
            "dns": [c.to_dict() for c in self.dns],
            "targets_added": self.targets_added,
            "targets_removed": self.targets_removed,
        }


def _answer(query: QueryRecord) -> str:
    """A query's outcome as one comparable text: the status, or the answers sorted."""
    if query.status == "NOERROR" and query.answers:
        return " | ".join(sorted(query.answers))
    return query.status


def _answers(reports: Sequence[Report]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for report in reports:
        for query in report.queries:
            if query.status in ("TIMEOUT", "SERVFAIL"):
                continue  # unknown is not a change of the record
            out.setdefault((query.name.lower().rstrip("."), query.rdtype.upper()), _answer(query))
    return out


def _by_fingerprint(reports: Sequence[Report]) -> dict[str, FindingChange]:
    out: dict[str, FindingChange] = {}
    for report in reports:
        for finding in report.findings():
            fp = finding.fingerprint(report.target)
            out.setdefault(fp, FindingChange(report.target, finding, fp))
    return out


def compare(
    before: Sequence[Report], after: Sequence[Report], before_label: str, after_label: str
) -> Drift:
    drift = Drift(before_label, after_label)
    old, new = _by_fingerprint(before), _by_fingerprint(after)
    drift.new = [c for fp, c in new.items() if fp not in old]
    drift.resolved = [c for fp, c in old.items() if fp not in new]
    drift.unchanged = [c for fp, c in new.items() if fp in old]
    old_dns, new_dns = _answers(before), _answers(after)
    for key in sorted(old_dns.keys() | new_dns.keys()):
        was, now = old_dns.get(key, NOT_ASKED), new_dns.get(key, NOT_ASKED)
        if was != now:
            drift.dns.append(DnsChange(key[0], key[1], was, now))
    old_targets = {(r.kind, r.target) for r in before}
    new_targets = {(r.kind, r.target) for r in after}
    drift.targets_added = sorted(f"{k} {t}" for k, t in new_targets - old_targets)
    drift.targets_removed = sorted(f"{k} {t}" for k, t in old_targets - new_targets)
    return drift
