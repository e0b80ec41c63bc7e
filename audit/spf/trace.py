"""The result of an SPF evaluation and its human-readable trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")


@dataclass(frozen=True)
class TraceStep:
    """One thing the evaluator did. `depth` is the include/redirect depth (0 = the first record).

    kinds: record (the SPF record read for a domain), term (a term evaluated and its outcome),
    lookup (a DNS-querying term counted against the limit of 10), void (a lookup that found
    nothing, counted against the limit of 2), dns (a query made and its answer), exp (the
    explanation), error (why a permerror/temperror happened), result (a check_host() result).
    """

    depth: int
    kind: str
    message: str
    domain: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "kind": self.kind,
            "message": self.message,
            "domain": self.domain,
        }


@dataclass
class SpfResult:
    """check_host()'s answer: the result, why, and every step that led there."""

    result: str
    ip: str
    domain: str
    sender: str
    helo: str | None = None
    explanation: str | None = None  # the expanded exp= text, only for fail
    matched: str | None = None  # the term that decided the result, as written
    matched_domain: str | None = None  # the domain whose record holds `matched`
    reason: str | None = None  # why none/permerror/temperror (or the default result)
    lookups: int = 0
    void_lookups: int = 0
    trace: list[TraceStep] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "ip": self.ip,
            "domain": self.domain,
            "sender": self.sender,
            "helo": self.helo,
            "explanation": self.explanation,
            "matched": self.matched,
            "matched_domain": self.matched_domain,
            "reason": self.reason,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
            "trace": [s.to_dict() for s in self.trace],
        }


_MARKS = {
    "record": "record",
    "term": "term",
    "lookup": "lookup",
    "void": "void",
    "dns": "dns",
    "exp": "exp",
    "error": "ERROR",
    "result": "=>",
}


def render_trace(result: SpfResult) -> str:
    """Plain text: one result line, what decided it, then the trace indented by include depth."""
    head = f"{result.result}: {result.ip} for {result.sender or '(none)'} at {result.domain}"
    lines = [head]
    if result.matched:
        lines.append(f"  matched {result.matched!r} in the record of {result.matched_domain}")
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    if result.explanation:
        lines.append(f"  explanation: {result.explanation}")
    lines.append(f"  DNS lookups: {result.lookups}/10, void lookups: {result.void_lookups}/2")
    lines.append("trace:")
    for step in result.trace:
        indent = "  " * (step.depth + 1)
        lines.append(f"{indent}{_MARKS.get(step.kind, step.kind):<6} {step.message}")
    return "\n".join(lines)
