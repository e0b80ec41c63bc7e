"""The facts of one seed mailbox in `audit seed`: what was sent, where the copy landed, what
the receiver concluded, and how that compares with our own verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.fact_json import OMIT_NONE


@dataclass(frozen=True, slots=True)
class SeedSend:
    status: str  # sent | failed | interrupted | skipped
    error: str | None


@dataclass(frozen=True, slots=True)
class SeedReceiver:
    """The receiver's own verdicts, from the copy's Authentication-Results."""

    authserv_ids: tuple[str, ...]
    spf: str | None
    dkim: str | None
    dmarc: str | None
    arc: str | None
    details: dict[str, Any] | None  # the parsed header, as the message audit read it


@dataclass(frozen=True, slots=True)
class Comparison:
    """One method's verdict, the receiver's against ours (`agree` None: one side undecided)."""

    method: str  # spf | dkim | dmarc | arc
    subject: str  # e.g. "d=example.com s=s1", "smtp.mailfrom=example.com"
    receiver: str | None
    ours: str | None
    agree: bool | None
    note: str


@dataclass(frozen=True, slots=True)
class SeedFacts:
    """`facts.seed` of a `seed ADDRESS` outcome."""

    address: str
    provider: str
    send: SeedSend
    delivered: bool
    folder: str | None
    placement: str | None  # inbox | spam | other | missing | unknown
    delay_s: float | None
    receiver: SeedReceiver
    comparison: tuple[Comparison, ...]
    notes: tuple[str, ...]
    collect_error: str | None = field(default=None, metadata=OMIT_NONE)
    # the copy's message-audit findings (rule_id, severity, message), when it was audited
    message_audit: tuple[dict[str, Any], ...] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, slots=True)
class PlacementRow:
    """Where one provider's seed copies landed (`facts.placement[provider]`)."""

    inbox: int
    spam: int
    other: int
    missing: int
    unknown: int  # not sent, or the mailbox could not be read
    inbox_rate: float | None  # inbox / (inbox + spam + other + missing); None: none judged
