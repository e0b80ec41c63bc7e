"""Caps on what hostile input can multiply: findings per rule and items per fact list.

A message can carry 10,000 DKIM-Signature, Received or Authentication-Results headers; a domain
can publish 300 MX hosts or an SPF record of a thousand strings. Each item is cheap for the
attacker and, reported one finding each, turns a 5 MB message into a 20 MB report that hides the
findings that matter. So: the first MAX_FINDINGS_PER_RULE findings of a rule in one check are
kept as they are, and everything past them becomes ONE finding of the same rule (so a gate on
that rule still fires) saying how many were skipped. The runner applies this to every check's
result (audit/runner.py): no check needs its own copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audit.model import Finding, Severity

MAX_FINDINGS_PER_RULE = 20  # per check and rule id; past that, one "N more skipped" finding
MAX_FACT_ITEMS = 100  # entries kept in any fact list (hops, verdicts, hosts); evidence: 20


def _worst(findings: Sequence[Finding]) -> Severity:
    return max(f.effective_severity for f in findings)


def cap_findings(findings: list[Finding], limit: int | None = None) -> list[Finding]:
    """`findings` with at most `limit` per rule id, in their order, plus one summary finding per
    rule that had more, placed after the last kept one of that rule; each finding's evidence
    capped at `limit` lines (a duplicated header listed 10,000 times is 20 lines and a count)."""
    limit = MAX_FINDINGS_PER_RULE if limit is None else limit
    findings = [_cap_evidence(f, limit) for f in findings]
    counts: dict[str, int] = {}
    skipped: dict[str, list[Finding]] = {}
    for finding in findings:
        counts[finding.rule.id] = counts.get(finding.rule.id, 0) + 1
        if counts[finding.rule.id] > limit:
            skipped.setdefault(finding.rule.id, []).append(finding)
    skipped = {rule_id: rest for rule_id, rest in skipped.items() if len(rest) > 1}
    if not skipped:  # one extra finding is kept as is: a summary would not be shorter
        return findings
    out: list[Finding] = []
    seen: dict[str, int] = {}
    for finding in findings:
        rule_id = finding.rule.id
        seen[rule_id] = seen.get(rule_id, 0) + 1
        if seen[rule_id] < limit or (seen[rule_id] == limit and rule_id not in skipped):
            out.append(finding)
        elif seen[rule_id] == limit:
            out.append(finding)
            out.append(_summary(skipped[rule_id], limit))
    return out


def _summary(rest: list[Finding], limit: int) -> Finding:
    first = rest[0]
    targets = list(dict.fromkeys(f.target for f in rest))
    shown = ", ".join(targets[:3]) + (", ..." if len(targets) > 3 else "")
    return Finding(
        first.rule,
        first.target if len(targets) == 1 else f"{len(targets)} more targets",
        message=f"{len(rest)} more {first.rule.id} findings skipped (only the first {limit} "
        f"of {len(rest) + limit} are listed): {shown}",
        evidence=[f"first skipped: {first.message}"[:300]],
        fix=first.fix,
        severity=_worst(rest),
    )


def _cap_evidence(finding: Finding, limit: int) -> Finding:
    if len(finding.evidence) <= limit + 1:
        return finding
    rest = len(finding.evidence) - limit
    finding.evidence = [*finding.evidence[:limit], f"... {rest} more lines skipped"]
    return finding


def cap_facts(facts: Any, limit: int | None = None) -> Any:
    """`facts` with every list cut to `limit` entries, at any depth; a dict holding a cut list
    under `key` says how many entries were left out under `key_skipped`."""
    return _cap(facts, MAX_FACT_ITEMS if limit is None else limit)


def _cap(facts: Any, limit: int) -> Any:
    # Every check's facts of every audit pass through here: scalars, most of the leaves, are
    # kept without a call each.
    if isinstance(facts, dict):
        out: dict[Any, Any] = {}
        for key, value in facts.items():
            if isinstance(value, _CONTAINERS):
                out[key] = _cap(value, limit)
                if not isinstance(value, dict) and len(value) > limit:
                    out[f"{key}_skipped"] = len(value) - limit
            else:
                out[key] = value
        return out
    if isinstance(facts, list | tuple):
        return [_cap(i, limit) if isinstance(i, _CONTAINERS) else i for i in facts[:limit]]
    return facts


_CONTAINERS = (dict, list, tuple)
