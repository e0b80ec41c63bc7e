"""Stable finding fingerprints: the same fault gives the same id run after run.

A fingerprint is a hash of the rule id, the run's target (scope), the finding's target and what
identifies the case: `Finding.fingerprint_key` when the check sets one, else the evidence lines,
sorted (concurrent lookups may list them in any order) and with the volatile parts blanked:
dates and times (certificate expiry, message dates, MTA-STS ids that are timestamps), durations
and counts of days or seconds ("in 12 days", "340 ms"). The message text is never used: it
carries days-left counts and wording that may improve between versions. A changed record (a
different SPF include, another key size) changes the evidence and so the fingerprint: a baseline
then no longer covers it, which is the point.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Protocol


class _RuleId(Protocol):
    @property
    def id(self) -> str: ...


class Fingerprinted(Protocol):
    """What a fingerprint reads of a Finding (audit.model builds on this module)."""

    @property
    def rule(self) -> _RuleId: ...
    @property
    def target(self) -> str: ...
    @property
    def evidence(self) -> list[str]: ...
    @property
    def fingerprint_key(self) -> str | None: ...

VERSION = "v1"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_VOLATILE = [
    # 2026-12-04, 2026-12-04T11:22:33Z, 20261204T112233, 2026-12-04 11:22:33+00:00
    re.compile(
        r"\b(?:19|20)\d{2}-?[01]\d-?[0-3]\d(?:[T ][0-2]\d:?[0-5]\d(?::?[0-6]\d(?:\.\d+)?)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?"
    ),
    # Fri, 04 Dec 2026 (RFC 5322), then Dec  4 11:22:33 2026 GMT (OpenSSL)
    re.compile(rf"(?:{_DAY},?\s+)?\d{{1,2}}\s+{_MONTH}\s+\d{{4}}", re.IGNORECASE),
    re.compile(
        rf"\b{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?(?:\s+\d{{1,2}}:\d{{2}}(?::\d{{2}})?)?"
        r"(?:\s+\d{4})?(?:\s+(?:GMT|UTC))?",
        re.IGNORECASE,
    ),
    re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b"),
    # durations and ages: 340 ms, 1.5s, 12 days, in 3 hours, t=1764847353 (Unix times)
    re.compile(
        r"\b\d+(?:\.\d+)?\s*(?:ms|milliseconds?|s|sec|seconds?|min|minutes?|h|hours?|days?"
        r"|weeks?|months?)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b1[5-9]\d{8}\b"),
]


# A run repeats the same evidence lines (one sender, many messages): each is normalized once.
@functools.lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """`text` with dates, times and durations replaced by `#` and whitespace collapsed."""
    for pattern in _VOLATILE:
        text = pattern.sub("#", text)
    return " ".join(text.split())


def identity(finding: Fingerprinted) -> str:
    """The identifying text of a finding (what the hash is taken of, after rule and targets)."""
    if finding.fingerprint_key is not None:
        return finding.fingerprint_key
    return "\n".join(sorted({normalize(line) for line in finding.evidence}))


def fingerprint(finding: Fingerprinted, scope: str) -> str:
    """32 hex digits: sha256 over version, rule, scope, target and identity."""
    parts = [VERSION, finding.rule.id, scope.lower(), finding.target.lower(), identity(finding)]
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
