"""The report model every check produces and every renderer consumes.

Facts first, verdicts second: a CheckOutcome carries the facts a check gathered (`facts`) and
the Findings it judged from them. A Report is the whole run about one target; the JSON schema
(`audit/schema/report.schema.json`, `schema_version` 2) describes it and the document around it
(audit/json_document.py: `{"schema_version": 2, "reports": [...]}`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from audit.fact_json import facts_json
from audit.fingerprint import fingerprint

SCHEMA_VERSION = 2  # 2: every JSON output is one envelope object (audit/json_document.py)
EXIT_INTERNAL_ERROR = 4  # a crashed check or an unexpected exception: a bug to report


class Severity(enum.Enum):
    """How much a finding hurts delivery or security; ordered info < ... < critical."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __lt__(self, other: Severity) -> bool:
        return self.rank < other.rank

    def __le__(self, other: Severity) -> bool:
        return self.rank <= other.rank

    def __gt__(self, other: Severity) -> bool:
        return self.rank > other.rank

    def __ge__(self, other: Severity) -> bool:
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {names})") from None


_SEVERITY_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@dataclass(frozen=True)
class Rule:
    """A stable rule id (`SPF201`), its slug name, default severity and one-line summary.

    `temperror` marks rules that say "we could not tell" (DNS001): they make a run
    inconclusive (exit 3) instead of failing it.
    """

    id: str
    name: str
    severity: Severity
    summary: str
    temperror: bool = False
    retired: bool = False

    @property
    def family(self) -> str:
        return self.id.rstrip("0123456789")


class Status(enum.Enum):
    """How a check ended. A crash is `error`, never a missing section."""

    COMPLETED = "completed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Suppression:
    """Why a finding does not count toward the exit code: an `[[ignore]]` of the project config
    (kind "config", with its reason and date) or a fingerprint in the baseline (kind "baseline").
    The finding stays in every report, marked."""

    kind: str  # "config" | "baseline"
    reason: str
    until: str | None = None  # ISO date of a config ignore

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "until": self.until}


@dataclass
class Finding:
    """One verdict about one target, with the evidence it rests on and the fix for this case."""

    rule: Rule
    target: str
    message: str
    evidence: list[str] = field(default_factory=list)
    fix: str | None = None
    severity: Severity | None = None  # overrides rule.severity where the case warrants it
    # What identifies this case across runs when the evidence holds volatile text (see
    # audit/fingerprint.py); None: the evidence with dates, times and durations blanked.
    fingerprint_key: str | None = None
    ignored: Suppression | None = None
    stored_fingerprint: str | None = field(default=None, repr=False, compare=False)

    @property
    def effective_severity(self) -> Severity:
        return self.severity or self.rule.severity

    def fingerprint(self, scope: str) -> str:
        """Stable id of this finding within the run about `scope` (the report's target)."""
        return self.stored_fingerprint or fingerprint(self, scope)

    def to_dict(self, scope: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule.id,
            "rule_name": self.rule.name,
            "severity": self.effective_severity.value,
            "target": self.target,
            "message": self.message,
            "evidence": list(self.evidence),
            "fix": self.fix,
        }
        if scope is not None:
            out["fingerprint"] = self.fingerprint(scope)
            out["ignored"] = self.ignored.to_dict() if self.ignored else None
        return out


@dataclass
class CheckResult:
    """What a check returns: its facts, its findings, and whether it reached a verdict.

    `facts` maps a fact name to its value: a typed dataclass of audit/fact_types/ for the
    families that have one (spf, spf_terms, sending_paths), plain JSON data for the others.
    CheckOutcome.to_dict serialises both through audit.fact_json.facts_json."""

    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    status: Status = Status.COMPLETED
    error: str | None = None


@dataclass
class CheckOutcome:
    """A check's result as placed in the report: named, timed, and never silently missing."""

    check: str
    target: str
    status: Status
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "target": self.target,
            "status": self.status.value,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
            "facts": facts_json(self.facts),
            "findings": [f.to_dict(self.target) for f in self.findings],
        }


@dataclass(frozen=True)
class QueryRecord:
    """One DNS query as the resolver layer made it: the evidence behind every DNS fact."""

    name: str
    rdtype: str
    status: str
    answers: tuple[str, ...]
    elapsed_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.rdtype,
            "status": self.status,
            "answers": list(self.answers),
            "elapsed_ms": round(self.elapsed_ms, 3),
            "error": self.error,
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Report:
    """A whole run about one target (`kind` domain, message or seed)."""

    kind: str
    target: str
    outcomes: list[CheckOutcome] = field(default_factory=list)
    queries: list[QueryRecord] = field(default_factory=list)
    generated_at: str = field(default_factory=_now)
    tool_version: str = ""
    duration_ms: float = 0.0
    # The records that clear the findings (audit.fix.plan.FixPlan), attached for the HTML report's
    # "Fix it" section; not part of the JSON (audit fix --format json has it).
    fix_plan: Any = field(default=None, repr=False, compare=False)
    # This report's JSON Lines text when the object is only its digest: rebuilt from what a
    # worker process sent (audit.batch.report_from_message), with its findings and statuses but
    # without its facts and queries. Writers use this text as it is; not part of the JSON.
    rendered: str | None = field(default=None, repr=False, compare=False)

    def findings(self) -> list[Finding]:
        return [f for o in self.outcomes for f in o.findings]

    def verdict_findings(self) -> list[Finding]:
        """Findings that judge the target (not the 'could not tell' ones)."""
        return [f for f in self.findings() if not f.rule.temperror]

    @property
    def inconclusive(self) -> bool:
        """A check could not decide. A check whose only "could not tell" findings were all
        accepted (ignored or in the baseline) counts as decided: the gate accepted it."""
        return any(_undecided(o) for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Severity}
        for f in self.findings():
            counts[f.effective_severity.value] += 1
        return counts

    @property
    def crashed(self) -> bool:
        """A check raised instead of returning a result: a bug in the tool, not in the target."""
        return any(o.status is Status.ERROR for o in self.outcomes)

    def exit_code(self, fail_on: Severity) -> int:
        """0 clean, 1 a finding at or above `fail_on` (not ignored nor in the baseline),
        4 a check crashed (an internal error), 3 inconclusive; the first that applies wins."""
        if any(
            f.effective_severity >= fail_on and f.ignored is None for f in self.verdict_findings()
        ):
            return 1
        if self.crashed:
            return EXIT_INTERNAL_ERROR
        if self.inconclusive:
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "target": self.target,
            "generated_at": self.generated_at,
            "tool_version": self.tool_version,
            "duration_ms": round(self.duration_ms, 3),
            "summary": {
                "counts": self.counts(),
                "inconclusive": self.inconclusive,
                "ignored": sum(1 for f in self.findings() if f.ignored),
                "checks": {o.check: o.status.value for o in self.outcomes},
            },
            "outcomes": [o.to_dict() for o in self.outcomes],
            "queries": [q.to_dict() for q in self.queries],
        }


def _undecided(outcome: CheckOutcome) -> bool:
    if outcome.status is Status.ERROR:
        return True
    temperrors = [f for f in outcome.findings if f.rule.temperror]
    open_ones = [f for f in temperrors if f.ignored is None]
    if outcome.status is Status.INCONCLUSIVE:
        return not temperrors or bool(open_ones)
    return bool(open_ones)


def combined_exit_code(reports: list[Report], fail_on: Severity) -> int:
    """The gate for several targets in one run: any failure wins, then a crash, then any
    inconclusive."""
    codes = [r.exit_code(fail_on) for r in reports]
    for code in (1, EXIT_INTERNAL_ERROR, 3):
        if code in codes:
            return code
    return 0
