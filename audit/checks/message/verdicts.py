"""The verdicts message checks share: computed once per message (MessageContext.shared), read
by DMARC, alignment, "via", unsubscribe and the bulk-sender table.

A check asks the context, which asks its VerdictProviders (audit.checks.message.providers;
the real getter of each family by default):
  await ctx.dkim_verdicts() -> list[DkimVerdict]   (real: audit.checks.message.dkim)
  await ctx.spf_verdict()   -> SpfVerdict          (real: audit.checks.message.spf)
  await ctx.dmarc_verdict() -> DmarcVerdict        (real: audit.checks.message.dmarc)
  await ctx.arc_verdict()   -> ArcVerdict          (real: audit.checks.message.arc)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

_SCALARS = frozenset((str, int, float, bool, type(None)))


def plain(value: Any) -> Any:
    """What `dataclasses.asdict` gives (lists, tuples and dicts copied, dataclasses as dicts),
    without its deep copy of every string and number: every message's report goes through it."""
    if type(value) in _SCALARS:
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return type(value)(plain(item) for item in value)
    if isinstance(value, dict):
        return type(value)((plain(k), plain(v)) for k, v in value.items())
    return copy.deepcopy(value)


@dataclass
class DkimVerdict:
    """One DKIM-Signature header, verified the way a receiver does (RFC 6376 6)."""

    index: int  # 0 = the topmost DKIM-Signature header
    result: str  # pass | fail | neutral | temperror | permerror
    reason: str  # why, in words: "body hash did not verify", "key not found (NXDOMAIN)"
    domain: str | None = None  # d=
    selector: str | None = None  # s=
    algorithm: str | None = None  # a=
    canonicalization: str | None = None  # c=
    identity: str | None = None  # i=
    signed_headers: list[str] = field(default_factory=list)  # h=, lower-cased, in order
    body_length: int | None = None  # l=
    body_hash_ok: bool | None = None
    key_type: str | None = None
    key_bits: int | None = None
    timestamp: int | None = None  # t=
    expiration: int | None = None  # x=
    expired: bool = False
    from_signed: bool = False
    from_oversigned: bool = False  # h= lists From more times than the message has From headers
    header: str = ""  # the DKIM-Signature header as it appears (for evidence)

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    def covers(self, header_name: str) -> bool:
        return header_name.lower() in self.signed_headers

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass
class SpfVerdict:
    """SPF for the connecting IP against MAIL FROM (or HELO when MAIL FROM is empty)."""

    result: str  # pass | fail | softfail | neutral | none | permerror | temperror
    identity: str  # "mailfrom" | "helo"
    domain: str | None  # the domain SPF was evaluated for
    ip: str | None
    sender: str | None
    helo: str | None
    explanation: str | None = None
    trace: list[str] = field(default_factory=list)  # human-readable trace lines
    reason: str = ""  # e.g. "no connecting IP found in the Received chain"

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass
class DmarcVerdict:
    """DMARC for the RFC5322.From domain: result, which identifier aligned, what policy asks."""

    result: str  # pass | fail | none (no policy applies) | temperror | permerror
    from_domain: str | None
    policy_domain: str | None  # where the record was found
    record: str | None
    policy: str | None  # the p/sp/np that applies to this From domain
    disposition: str  # none | quarantine | reject: what the receiver is asked to do
    dkim_aligned: list[str] = field(default_factory=list)  # d= of passing, aligned signatures
    spf_aligned: bool = False
    adkim: str = "r"
    aspf: str = "r"
    reason: str = ""
    rfc9989_note: str | None = None  # where RFC 7489 and RFC 9989 receivers differ, in words
    # both readings and which decides (audit.facts.dmarc_readings, as DMARC005 says)
    readings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return plain(self)


@dataclass
class ArcVerdict:
    """ARC chain validation (RFC 8617): cv and each instance's sealer."""

    cv: str  # none | pass | fail
    reason: str = ""
    instances: list[dict[str, Any]] = field(default_factory=list)  # {i, d, s, cv, ams_ok}
    temperror: bool = False  # a key lookup timed out/SERVFAILed: cv=fail may be that, not forgery

    def to_dict(self) -> dict[str, Any]:
        return plain(self)
