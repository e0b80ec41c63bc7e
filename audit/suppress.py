"""Accepted findings: `[[ignore]]` tables of the project config and the baseline file.

A suppressed finding is never dropped: it stays in every report, marked with why
(`Finding.ignored`), and only stops counting toward the exit code. An ignore past its `until`
date no longer suppresses anything and is reported itself (CFG001); one that matched nothing is
listed (CFG003). The baseline is a JSON file of finding fingerprints (audit/fingerprint.py):
`audit check --baseline FILE` fails only on findings whose fingerprint is not in it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from audit.config import Ignore
from audit.model import Finding, Report, Suppression
from audit.rules.cfg import IGNORE_EXPIRED, IGNORE_UNUSED

BASELINE_VERSION = 1


def _where(ignore: Ignore) -> str:
    target = ignore.target or "any target"
    return f"the [[ignore]] of {ignore.rule} on {target} (line {ignore.line})"


def _evidence(ignore: Ignore) -> list[str]:
    out = [f'rule = "{ignore.rule}"']
    if ignore.target:
        out.append(f'target = "{ignore.target}"')
    out.append(f'reason = "{ignore.reason}"')
    if ignore.until:
        out.append(f"until = {ignore.until.isoformat()}")
    return out


def matches(ignore: Ignore, finding: Finding, scope: str) -> bool:
    """Same rule, and the target (a shell pattern) names the finding's target or the run's."""
    if finding.rule.id != ignore.rule:
        return False
    if ignore.target is None:
        return True
    names = {finding.target.lower().rstrip("."), scope.lower().rstrip(".")}
    return any(fnmatchcase(name, ignore.target) for name in names)


def apply_ignores(
    reports: Sequence[Report], ignores: Iterable[Ignore], today: dt.date, source: str
) -> list[Finding]:
    """Mark the findings the ignores in force cover; CFG001/CFG003 findings about the ignores."""
    out: list[Finding] = []
    for ignore in ignores:
        if ignore.expired(today):
            out.append(
                Finding(
                    IGNORE_EXPIRED,
                    source,
                    f"{_where(ignore)} expired on {ignore.until}: the findings it covered count "
                    f"again (reason given: {ignore.reason})",
                    evidence=_evidence(ignore),
                    fix="fix the finding and delete the [[ignore]], or set a new `until` date "
                    "with a current reason",
                )
            )
            continue
        mark = Suppression(
            "config", ignore.reason, ignore.until.isoformat() if ignore.until else None
        )
        used = False
        for report in reports:
            for finding in report.findings():
                if finding.ignored is None and matches(ignore, finding, report.target):
                    finding.ignored = mark
                    used = True
        if not used:
            out.append(
                Finding(
                    IGNORE_UNUSED,
                    source,
                    f"{_where(ignore)} matched no finding: delete it if the fix it waited for "
                    "has landed",
                    evidence=_evidence(ignore),
                )
            )
    return out


# --- baseline -----------------------------------------------------------------------------


class BaselineError(ValueError):
    """A baseline file that cannot be read; str() is one line."""


def load_baseline(path: Path) -> set[str]:
    """The fingerprints accepted in a baseline file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(
            f"baseline {str(path)!r} does not exist (audit baseline write creates it)"
        ) from None
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {str(path)!r}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {str(path)!r} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION:
        raise BaselineError(f"baseline {str(path)!r} is not an audit baseline (version 1)")
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise BaselineError(f"baseline {str(path)!r} is not an audit baseline (version 1)")
    fingerprints = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise BaselineError(f"baseline {str(path)!r}: an entry has no fingerprint")
        fingerprints.add(entry["fingerprint"])
    return fingerprints


def apply_baseline(reports: Sequence[Report], accepted: set[str], label: str) -> int:
    """Mark findings whose fingerprint is in the baseline; how many were marked."""
    mark = Suppression("baseline", f"accepted in the baseline {label}")
    count = 0
    for report in reports:
        for finding in report.findings():
            if finding.ignored is None and finding.fingerprint(report.target) in accepted:
                finding.ignored = mark
                count += 1
    return count


def baseline_document(reports: Sequence[Report]) -> dict[str, Any]:
    """Every finding of the run (config ignores included: the baseline outlives them)."""
    entries = {}
    for report in reports:
        for finding in report.findings():
            fp = finding.fingerprint(report.target)
            entries[fp] = {
                "fingerprint": fp,
                "rule": finding.rule.id,
                "scope": report.target,
                "target": finding.target,
                "message": finding.message,
            }
    return {
        "version": BASELINE_VERSION,
        "tool": "audit",
        "findings": sorted(entries.values(), key=lambda e: (e["scope"], e["rule"], e["target"])),
    }


def write_baseline(path: Path, reports: Sequence[Report]) -> tuple[int, int, int]:
    """Write (atomically) the baseline of `reports`; (accepted, new, dropped) counts."""
    try:
        before = load_baseline(path) if path.exists() else set()
    except BaselineError:
        before = set()
    document = baseline_document(reports)
    now = {e["fingerprint"] for e in document["findings"]}
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(temporary, path)
    return len(now), len(now - before), len(before - now)
